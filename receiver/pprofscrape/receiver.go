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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"
)

const (
	transport  = "http"
	dataFormat = "pprof"
)

// pprofReceiver is the component shell: it owns the HTTP client, the self-telemetry and
// the scheduler (the engine). The scheduler reports what each target scrape did; the
// shell records it (telemetry, the status page's counts) and hands the output to the
// registered consumers.
type pprofReceiver struct {
	cfg      *Config
	set      receiver.Settings
	obsrecv  *receiverhelper.ObsReport
	tel      *metadata.TelemetryBuilder
	metrics  consumer.Metrics
	profiles xconsumer.Profiles
	counts   *counts

	mu         sync.Mutex
	scheduler  *scrape.Scheduler
	conns      *fetch.Conns
	status     *statusSource
	unregister func()
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
	return &pprofReceiver{cfg: cfg, set: set, obsrecv: obsrecv, counts: newCounts()}, nil
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

// newMetricsBuilder returns the constructor of the metrics output's builders, or nil
// when no metrics pipeline uses the receiver.
func (r *pprofReceiver) newMetricsBuilder() func() *metadata.MetricsBuilder {
	if r.metrics == nil {
		return nil
	}
	return func() *metadata.MetricsBuilder { return metadata.NewMetricsBuilder(r.cfg.MetricsBuilderConfig, r.set) }
}

// topN is top_functions, or 0 (the top-N is not computed) when neither top-N metric is
// emitted.
func (r *pprofReceiver) topN() int {
	m := r.cfg.Metrics
	if r.metrics == nil || (!m.PprofFunctionFlat.Enabled && !m.PprofFunctionCum.Enabled) {
		return 0
	}
	return r.cfg.TopFunctions
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
	if ka := r.cfg.ClientConfig.Keepalive.Get(); ka != nil {
		// Without keep-alive every connection closes after its request: nothing to track.
		r.conns = fetch.NewConns(r.cfg.connLifetime(), r.cfg.trackedConns(ka.MaxIdleConns))
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
		TopN:                r.topN(),
		Links:               convert.LinkLabels{TraceID: r.cfg.TraceIDLabel, SpanID: r.cfg.SpanIDLabel},
		Client:              client,
		Conns:               r.conns,
		Logger:              r.set.Logger,
		Profiles:            r.profiles != nil,
		NewMetricsBuilder:   r.newMetricsBuilder(),
		Report:              r.report,
		ScopeVersion:        r.set.BuildInfo.Version,
	})
	r.counts.started = time.Now()
	r.scheduler.Start(ctx)
	// One registration for the instance the metrics and profiles pipelines share.
	r.status = &statusSource{counts: r.counts, scheduler: r.scheduler}
	r.unregister = statusregistry.Register(r.set.ID, component.KindReceiver, r.status)
	return nil
}

func (r *pprofReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scheduler == nil {
		return nil
	}
	r.unregister()
	err := r.scheduler.Shutdown(ctx)
	// The connections kept between scrapes (keepalive) end with the receiver.
	r.conns.Close()
	if n := r.conns.Untracked(); n > 0 {
		r.set.Logger.Info("Some kept connections were not tracked (more than max_idle_conns plus those in flight) and close with idle_conn_timeout instead of now",
			zap.Int64("untracked_connections", n))
	}
	r.tel.Shutdown()
	return err
}

// report records what one target scrape did (self-telemetry and the status counts) and
// passes its output on. The scheduler calls it on the target's loop.
func (r *pprofReceiver) report(ctx context.Context, res *scrape.Result) {
	if res.Refused != "" {
		r.tel.ReceiverPprofscrapeScrapesRefused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", res.Refused)))
		r.counts.refuse(res.Refused)
		return
	}
	target := attribute.String("target", res.Target)
	for _, p := range res.Profiles {
		typ := attribute.String("profile.type", p.Type)
		r.tel.ReceiverPprofscrapeScrapeBytes.Add(ctx, p.WireBytes, metric.WithAttributes(target))
		r.tel.ReceiverPprofscrapeScrapeDuration.Record(ctx, p.Duration.Seconds(), metric.WithAttributes(typ, target))
		if p.Reason != "" {
			r.tel.ReceiverPprofscrapeScrapeErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", string(p.Reason)), typ, target))
			r.counts.refuse(string(p.Reason))
			continue
		}
		r.tel.ReceiverPprofscrapeSamples.Add(ctx, int64(p.Samples), metric.WithAttributes(typ, target))
		r.counts.samplesIn.Add(int64(p.Samples))
	}
	if res.Panicked {
		r.tel.ReceiverPprofscrapeScrapeErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", string(fetch.ReasonParse)), target))
		r.counts.refuse(string(fetch.ReasonParse))
	}
	up := int64(0)
	if res.Up {
		up = 1
	}
	r.tel.ReceiverPprofscrapeTargetUp.Record(ctx, up, metric.WithAttributes(target))
	r.counts.deltas.Add(int64(res.Deltas))
	r.counts.resets.Add(int64(res.Resets))
	if res.HasProfiles {
		r.consumeProfiles(ctx, res.ProfileData, res.ProfileSamples)
	}
	if res.HasMetrics {
		r.consumeMetrics(ctx, res.Metrics)
	}
}

func (r *pprofReceiver) consumeProfiles(ctx context.Context, pd pprofile.Profiles, samples int) {
	ctx = r.obsrecv.StartProfilesOp(ctx)
	err := r.profiles.ConsumeProfiles(ctx, pd)
	r.obsrecv.EndProfilesOp(ctx, dataFormat, samples, err)
	if err == nil {
		r.counts.samplesOut.Add(int64(samples))
	}
	r.logConsumeError(err, "profiles")
}

func (r *pprofReceiver) consumeMetrics(ctx context.Context, md pmetric.Metrics) {
	ctx = r.obsrecv.StartMetricsOp(ctx)
	points := md.DataPointCount()
	r.counts.points.Add(int64(points))
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
