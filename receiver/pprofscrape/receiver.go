// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape // import "github.com/prodscope/prodscope/receiver/pprofscrape"

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"
)

const (
	transport  = "http"
	dataFormat = "pprof"
)

// pprofReceiver is the component shell: it owns the HTTP client, the telemetry and the
// scheduler, and hands each scrape to the registered consumers.
type pprofReceiver struct {
	cfg      *Config
	set      receiver.Settings
	obsrecv  *receiverhelper.ObsReport
	tel      *metadata.TelemetryBuilder
	metrics  consumer.Metrics
	profiles xconsumer.Profiles

	mu        sync.Mutex
	scheduler *scrape.Scheduler
}

func newReceiver(cfg *Config, set receiver.Settings) (*pprofReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              transport,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	return &pprofReceiver{cfg: cfg, set: set, obsrecv: obsrecv}, nil
}

func (r *pprofReceiver) setMetrics(next consumer.Metrics)    { r.metrics = next }
func (r *pprofReceiver) setProfiles(next xconsumer.Profiles) { r.profiles = next }

// targets is the static list plus the top-level endpoint, each with its profiles: one
// scrape.Target per target and distinct collection interval.
func (r *pprofReceiver) targets() []scrape.Target {
	var out []scrape.Target
	if r.cfg.ClientConfig.Endpoint != "" {
		out = append(out, r.split(scrape.Target{
			Endpoint:   normalizeEndpoint(r.cfg.ClientConfig.Endpoint),
			PathPrefix: r.cfg.PathPrefix,
			Resource:   r.cfg.ResourceAttributes,
		}, r.cfg.Profiles)...)
	}
	for _, t := range r.cfg.Targets {
		names := t.Profiles
		if len(names) == 0 {
			names = r.cfg.Profiles
		}
		prefix := r.cfg.PathPrefix
		if t.PathPrefix != nil {
			prefix = *t.PathPrefix
		}
		out = append(out, r.split(scrape.Target{Name: t.Name, Endpoint: t.Endpoint, PathPrefix: prefix, Resource: t.ResourceAttributes}, names)...)
	}
	return out
}

// split gives base its profiles' paths and types, one Target per collection interval
// (in the order the intervals first appear in names).
func (r *pprofReceiver) split(base scrape.Target, names []string) []scrape.Target {
	var out []scrape.Target
	byInterval := map[time.Duration]int{}
	for _, n := range names {
		iv := r.cfg.intervalOf(n)
		i, ok := byInterval[iv]
		if !ok {
			t := base
			t.Interval, t.Paths, t.TypeOf = iv, map[string]string{}, map[string]string{}
			i = len(out)
			byInterval[iv] = i
			out = append(out, t)
		}
		t := &out[i]
		t.Types = append(t.Types, n)
		if ps, ok := r.cfg.ProfileSettings[n]; ok {
			if ps.Path != "" {
				t.Paths[n] = ps.Path
			}
			if kind := r.cfg.typeOf(n); kind != n {
				t.TypeOf[n] = kind
			}
		}
	}
	return out
}

func (r *pprofReceiver) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scheduler != nil {
		return nil
	}
	client, err := r.cfg.ClientConfig.ToClient(ctx, host.GetExtensions(), r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	tel, err := metadata.NewTelemetryBuilder(r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	r.tel = tel
	emit := scrape.Emitter{}
	if r.profiles != nil {
		emit.Profiles = r.consumeProfiles
	}
	if r.metrics != nil {
		emit.Metrics = r.consumeMetrics
	}
	r.scheduler = scrape.New(scrape.Settings{
		Targets:             r.targets(),
		Interval:            r.cfg.CollectionInterval,
		InitialDelay:        r.cfg.InitialDelay,
		Timeout:             r.cfg.ClientConfig.Timeout,
		CPUDuration:         r.cfg.CPUDuration,
		MaxBodyBytes:        r.cfg.MaxBodyBytes,
		Limits:              r.cfg.limits(),
		MaxConcurrent:       r.cfg.MaxConcurrentScrapes,
		MaxConcurrentParses: r.cfg.MaxConcurrentParses,
		TopN:                r.cfg.TopFunctions,
		Links:               convert.LinkLabels{TraceID: r.cfg.TraceIDLabel, SpanID: r.cfg.SpanIDLabel},
		Client:              client,
		Telemetry:           tel,
		Logger:              r.set.Logger,
		Emit:                emit,
		ScopeVersion:        r.set.BuildInfo.Version,
	})
	r.scheduler.Start()
	return nil
}

func (r *pprofReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scheduler == nil {
		return nil
	}
	err := r.scheduler.Shutdown(ctx)
	r.tel.Shutdown()
	return err
}

func (r *pprofReceiver) consumeProfiles(ctx context.Context, pd pprofile.Profiles, samples int) {
	ctx = r.obsrecv.StartProfilesOp(ctx)
	err := r.profiles.ConsumeProfiles(ctx, pd)
	r.obsrecv.EndProfilesOp(ctx, dataFormat, samples, err)
	r.logConsumeError(err, "profiles")
}

func (r *pprofReceiver) consumeMetrics(ctx context.Context, md pmetric.Metrics) {
	ctx = r.obsrecv.StartMetricsOp(ctx)
	points := md.DataPointCount()
	err := r.metrics.ConsumeMetrics(ctx, md)
	r.obsrecv.EndMetricsOp(ctx, dataFormat, points, err)
	r.logConsumeError(err, "metrics")
}

func (r *pprofReceiver) logConsumeError(err error, signal string) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	// The obsreport counters above count every refusal; sample the log line.
	r.set.Logger.Debug("Next consumer refused pprof scrape", zap.String("signal", signal), zap.Error(err))
}
