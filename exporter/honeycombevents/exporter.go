// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents // import "github.com/prodscope/prodscope/exporter/honeycombevents"

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/metadata"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/sender"
	"github.com/prodscope/prodscope/internal/logthrottle"
	"github.com/prodscope/prodscope/internal/sharedcomponent"
)

// logEvery: a repeated log line (same kind, reason, status and dataset) is
// written at most once per period, with the number left out since.
const logEvery = 10 * time.Second

// eventsExporter is the exporter of one signal: the shell around the
// engine (internal/sender). It hands each request to the engine and records
// the Result the engine returns: self-telemetry, log lines and the counts of
// the status page.
type eventsExporter struct {
	cfg       *Config
	settings  component.TelemetrySettings
	throttled *logthrottle.Logger
	telemetry *metadata.TelemetryBuilder
	// status is shared by the instances of the component ID.
	status *sharedcomponent.Component[*exporterStatus]

	engineCfg sender.Config
	engine    *sender.Sender
}

// signal names the pipeline an exporter instance serves.
type signal int

const (
	signalTraces signal = iota
	signalLogs
	signalMetrics
)

func newEventsExporter(cfg *Config, set exporter.Settings, sig signal) (*eventsExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &eventsExporter{
		cfg:       cfg,
		settings:  set.TelemetrySettings,
		throttled: logthrottle.New(set.Logger, logEvery, 0),
		telemetry: tb,
	}
	e.status, err = statuses.LoadOrStore(sharedcomponent.Key{ID: set.ID, Config: cfg}, func() (*exporterStatus, error) {
		return newExporterStatus(set.ID, cfg), nil
	})
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	format := events.FormatJSON
	if cfg.Encoding == EncodingMsgpack {
		format = events.FormatMsgpack
	}
	// The configured header values are as secret as the key: the engine
	// keeps both out of every message it passes on.
	var secrets []string
	for _, v := range cfg.ClientConfig.Headers.Iter {
		secrets = append(secrets, string(v))
	}
	dataset, unknown := cfg.datasets(sig)
	e.engineCfg = sender.Config{
		Endpoint:    cfg.ClientConfig.Endpoint,
		APIKey:      string(cfg.APIKey),
		Secrets:     secrets,
		Format:      format,
		Compression: cfg.compression(),
		Mapping: events.Config{
			Dataset:              dataset,
			UnknownDataset:       unknown,
			SampleRateAttribute:  cfg.SampleRateAttribute,
			HistogramPercentiles: sig == signalMetrics && cfg.Metrics.HistogramPercentiles,
		},
		Limits:    events.Limits{MaxBatchBytes: cfg.MaxBatchBytes, MaxEventBytes: cfg.MaxEventBytes, MaxFields: cfg.MaxFields},
		UserAgent: fmt.Sprintf("%s/%s honeycombevents", set.BuildInfo.Command, set.BuildInfo.Version),
	}
	return e, nil
}

func (e *eventsExporter) start(ctx context.Context, host component.Host) error {
	// The engine compresses whole batches itself; the client must not.
	clientCfg := e.cfg.ClientConfig
	clientCfg.Compression = ""
	client, err := clientCfg.ToClient(ctx, host.GetExtensions(), e.settings)
	if err != nil {
		return err
	}
	engine, err := sender.New(e.engineCfg, client)
	if err != nil {
		client.CloseIdleConnections()
		return err
	}
	e.engine = engine
	return e.status.Start(ctx, host)
}

func (e *eventsExporter) shutdown(ctx context.Context) error {
	if e.engine != nil {
		e.engine.Close()
	}
	e.telemetry.Shutdown()
	return e.status.Shutdown(ctx)
}

// helperSettings are the settings for exporterhelper: the same, with the
// status page watching the sending queue's gauges.
func (e *eventsExporter) helperSettings(set exporter.Settings) exporter.Settings {
	set.MeterProvider = e.status.Unwrap().queue.Wrap(set.MeterProvider)
	return set
}

func (e *eventsExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	res, err := e.engine.Traces(ctx, td)
	e.record(ctx, &res)
	return err
}

func (e *eventsExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	res, err := e.engine.Logs(ctx, ld)
	e.record(ctx, &res)
	return err
}

func (e *eventsExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	res, err := e.engine.Metrics(ctx, md)
	e.record(ctx, &res)
	return err
}

func reasonOpt(reason string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason)))
}

// refusedOpt is the reason attribute of a refusal, with the HTTP status
// when the Events API gave one.
func refusedOpt(o *sender.Outcome) metric.AddOption {
	if o.Status == 0 {
		return reasonOpt(o.Reason)
	}
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", o.Reason), attribute.Int("status_code", o.Status)))
}

// record records what the engine says happened to one request.
func (e *eventsExporter) record(ctx context.Context, r *sender.Result) {
	tb := e.telemetry
	if r.Batches > 0 {
		tb.ExporterHoneycombeventsBatchesSent.Add(ctx, int64(r.Batches))
		tb.ExporterHoneycombeventsBytesUncompressed.Add(ctx, r.BytesUncompressed)
		tb.ExporterHoneycombeventsBytesCompressed.Add(ctx, r.BytesCompressed)
	}
	if r.Splits > 0 {
		tb.ExporterHoneycombeventsBatchesSplit.Add(ctx, int64(r.Splits))
	}
	if r.Sent > 0 {
		tb.ExporterHoneycombeventsEventsSent.Add(ctx, int64(r.Sent))
	}
	for i := range r.Retried {
		tb.ExporterHoneycombeventsEventsRetried.Add(ctx, int64(r.Retried[i].Events), reasonOpt(r.Retried[i].Reason))
	}
	for i := range r.Refused {
		tb.ExporterHoneycombeventsEventsRefused.Add(ctx, int64(r.Refused[i].Events), refusedOpt(&r.Refused[i]))
	}
	for reason := range events.NumReasons {
		if n := r.Trimmed[reason]; n > 0 {
			tb.ExporterHoneycombeventsEventsTrimmed.Add(ctx, int64(n), reasonOpt(reason.String()))
		}
		if n := r.PointsRefused[reason]; n > 0 {
			tb.ExporterHoneycombeventsPointsRefused.Add(ctx, int64(n), reasonOpt(reason.String()))
		}
	}
	e.status.Unwrap().record(r)
	e.logResult(r)
}

// logKey is the rate-limiting key of a line about an outcome: one key per
// kind of line, reason, status and dataset.
func logKey(kind string, o *sender.Outcome) string {
	return kind + "/" + o.Reason + "/" + strconv.Itoa(o.Status) + "/" + o.Dataset
}

// logResult writes the lines an operator needs about lost or held-back
// events. They can repeat for every batch, so each key's line is written at
// most once per logEvery (with suppressed_since_last_log).
func (e *eventsExporter) logResult(r *sender.Result) {
	for reason := range events.NumReasons {
		if n := r.PointsRefused[reason]; n > 0 {
			e.throttled.Warn("points_refused/"+reason.String(), "Metric data points refused",
				zap.String("reason", reason.String()), zap.Int("data_points", n))
		}
	}
	for i := range r.Refused {
		o := &r.Refused[i]
		switch o.Reason {
		case sender.ReasonRejected:
			e.throttled.Warn(logKey("refused", o), "Events API rejected events; they are dropped",
				zap.Int("status_code", o.Status), zap.Int("events", o.Events), zap.String("dataset", o.Dataset),
				zap.String("first_error", o.Message))
		case sender.ReasonRequestRejected:
			e.throttled.Error(logKey("refused", o), "Events API rejected a batch; its events are dropped",
				zap.Int("status_code", o.Status), zap.String("cause", sender.PermanentCause(o.Status)),
				zap.String("dataset", o.Dataset), zap.String("server_message", o.Message), zap.Int("events", o.Events))
		default:
			e.throttled.Warn(logKey("refused", o), "Events refused: over the configured limits even after trimming",
				zap.String("reason", o.Reason), zap.String("dataset", o.Dataset), zap.Int("events", o.Events),
				zap.Int("max_event_bytes", e.cfg.MaxEventBytes), zap.Int("max_fields", e.cfg.MaxFields))
		}
	}
	for i := range r.Retried {
		o := &r.Retried[i]
		switch {
		case o.Reason == sender.ReasonThrottled && o.Status == http.StatusForbidden:
			e.throttled.Warn(logKey("retried", o), "Events API throttled a batch (administrative throttling, HTTP 403); it will be retried",
				zap.String("dataset", o.Dataset), zap.String("server_message", o.Message), zap.Int("events", o.Events))
		case o.Reason == sender.ReasonNoStatus && o.Message != "":
			e.throttled.Warn(logKey("retried", o), "Per-event statuses unusable; the batch's events will be retried",
				zap.String("dataset", o.Dataset), zap.String("error", o.Message), zap.Int("events", o.Events))
		}
	}
}
