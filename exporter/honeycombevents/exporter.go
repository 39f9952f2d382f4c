// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents // import "github.com/prodscope/prodscope/exporter/honeycombevents"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/metadata"
)

const (
	contentTypeJSON    = "application/json"
	contentTypeMsgpack = "application/msgpack"
	headerTeam         = "X-Honeycomb-Team"
	headerRetryAfter   = "Retry-After"

	// maxErrorBodyBytes caps how much of an error response is read.
	maxErrorBodyBytes = 64 * 1024
	// statusBytesPerEvent is the room allowed per event in a 200 response
	// (a status and an error message) on top of maxErrorBodyBytes.
	statusBytesPerEvent = 512
	// maxRetryAfter caps the delay a Retry-After header can ask for.
	maxRetryAfter = time.Hour
	// logSampleTick: a repeated log line is written at most once per tick.
	logSampleTick = 10 * time.Second
)

// Refusal and retry reasons (the reason attribute of the self-telemetry).
const (
	reasonRejected        = "rejected"
	reasonRequestRejected = "request_rejected"
	reasonPerEventStatus  = "per_event_status"
	reasonRequestFailed   = "request_failed"
	reasonThrottled       = "throttled"
	reasonNoStatus        = "no_status"
)

type eventsExporter struct {
	cfg       *Config
	settings  component.TelemetrySettings
	logger    *zap.Logger
	sampled   *zap.Logger
	telemetry *metadata.TelemetryBuilder

	format      events.Format
	contentType string
	batchURL    string
	userAgent   string

	client     *http.Client
	compressor *bodyCompressor
	states     sync.Pool
}

// pushState is the reusable state of one push: the mapper and batcher with
// their buffers, the compressed body buffer, and (while a push runs) where
// the batches the batcher fills go: it is the batcher's sink.
type pushState struct {
	e       *eventsExporter
	mapper  *events.Mapper
	batcher *events.Batcher
	wire    []byte

	ctx     context.Context
	out     *pushOutcome
	metrics bool
}

// SendBatch sends a batch the batcher closed because it was full.
func (s *pushState) SendBatch(b *events.Batch) {
	s.e.sendBatch(s, b)
}

// groups maps metric events to their data points; nil for spans and logs,
// whose events map to their items directly.
func (s *pushState) groups() [][]int32 {
	if s.metrics {
		return s.mapper.MetricGroups()
	}
	return nil
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
		logger:    set.Logger,
		telemetry: tb,
		batchURL:  strings.TrimSuffix(cfg.ClientConfig.Endpoint, "/") + "/1/batch/",
		userAgent: fmt.Sprintf("%s/%s honeycombevents", set.BuildInfo.Command, set.BuildInfo.Version),
	}
	// Per-item failures can repeat for every batch: log each message at most
	// once per tick.
	e.sampled = set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, logSampleTick, 1, 0)
	}))
	if cfg.Encoding == EncodingMsgpack {
		e.format, e.contentType = events.FormatMsgpack, contentTypeMsgpack
	} else {
		e.format, e.contentType = events.FormatJSON, contentTypeJSON
	}
	dataset, unknown := cfg.datasets(sig)
	mapCfg := events.Config{
		Dataset:              dataset,
		UnknownDataset:       unknown,
		SampleRateAttribute:  cfg.SampleRateAttribute,
		HistogramPercentiles: sig == signalMetrics && cfg.Metrics.HistogramPercentiles,
	}
	limits := events.Limits{MaxBatchBytes: cfg.MaxBatchBytes, MaxEventBytes: cfg.MaxEventBytes, MaxFields: cfg.MaxFields}
	e.states.New = func() any {
		s := &pushState{e: e}
		s.batcher = events.NewBatcher(e.format, limits, s)
		s.mapper = events.NewMapper(mapCfg, s.batcher)
		return s
	}
	return e, nil
}

func (e *eventsExporter) start(ctx context.Context, host component.Host) error {
	comp, err := newBodyCompressor(e.cfg.compression())
	if err != nil {
		return err
	}
	// The exporter compresses whole batches itself; the client must not.
	clientCfg := e.cfg.ClientConfig
	clientCfg.Compression = ""
	client, err := clientCfg.ToClient(ctx, host.GetExtensions(), e.settings)
	if err != nil {
		comp.close()
		return err
	}
	e.client, e.compressor = client, comp
	return nil
}

func (e *eventsExporter) shutdown(context.Context) error {
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	e.compressor.close()
	e.telemetry.Shutdown()
	return nil
}

// beginPush takes a push state from the pool, ready for a new request.
func (e *eventsExporter) beginPush(ctx context.Context, items int, metrics bool) *pushState {
	s := e.states.Get().(*pushState)
	s.mapper.Reset()
	s.ctx, s.out, s.metrics = ctx, &pushOutcome{items: items}, metrics
	return s
}

// endPush sends the batches still open after mapping, records the
// batcher's counters and returns the state to the pool.
func (e *eventsExporter) endPush(s *pushState) *pushOutcome {
	for _, b := range s.batcher.Finish() {
		e.sendBatch(s, b)
	}
	e.recordBatcherStats(s.ctx, &s.batcher.Stats)
	out := s.out
	s.ctx, s.out = nil, nil
	e.states.Put(s)
	return out
}

func (e *eventsExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	s := e.beginPush(ctx, td.SpanCount(), false)
	s.mapper.Traces(td)
	return e.endPush(s).err(func(err error, keep events.ItemSet) error {
		return consumererror.NewTraces(err, events.SubsetTraces(td, keep))
	})
}

func (e *eventsExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	s := e.beginPush(ctx, ld.LogRecordCount(), false)
	s.mapper.Logs(ld)
	return e.endPush(s).err(func(err error, keep events.ItemSet) error {
		return consumererror.NewLogs(err, events.SubsetLogs(ld, keep))
	})
}

func (e *eventsExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	// Metric events are emitted once the whole request is read, so a
	// group's data points are all known when its batch is sent.
	s := e.beginPush(ctx, md.DataPointCount(), true)
	s.mapper.Metrics(md)
	return e.endPush(s).err(func(err error, keep events.ItemSet) error {
		return consumererror.NewMetrics(err, events.SubsetMetrics(md, keep))
	})
}

// pushOutcome gathers what happened to the batches of one push.
type pushOutcome struct {
	items    int
	retry    events.ItemSet
	retryErr error
	permErr  error
}

func (o *pushOutcome) markRetry(b *events.Batch, idx int, groups [][]int32) {
	if o.retry == nil {
		o.retry = events.NewItemSet(o.items)
	}
	item := b.Items[idx]
	if groups != nil {
		if int(item) < len(groups) {
			for _, dp := range groups[item] {
				o.retry.Add(dp)
			}
		}
		return
	}
	o.retry.Add(item)
}

// err turns the outcome into the error exporterhelper acts on: retryable
// failures become a partial error carrying just the failed items, and
// permanent failures a permanent error.
func (o *pushOutcome) err(partial func(error, events.ItemSet) error) error {
	if o.retry != nil {
		err := o.retryErr
		if err == nil {
			err = errors.New("events API returned retryable per-event statuses")
		}
		if o.retry.Count() == o.items {
			return err
		}
		return partial(err, o.retry)
	}
	if o.permErr != nil {
		return consumererror.NewPermanent(o.permErr)
	}
	return nil
}

var (
	attrRejected        = attribute.String("reason", reasonRejected)
	attrRequestRejected = attribute.String("reason", reasonRequestRejected)
)

func reasonOpt(reason string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason)))
}

func (e *eventsExporter) recordBatcherStats(ctx context.Context, st *events.Stats) {
	for r := events.Reason(0); r < events.Reason(len(st.PointsRefused)); r++ {
		if n := st.PointsRefused[r]; n > 0 {
			e.telemetry.ExporterHoneycombeventsPointsRefused.Add(ctx, int64(n), reasonOpt(r.String()))
			e.sampled.Warn("Metric data points refused", zap.String("reason", r.String()), zap.Int("data_points", n))
		}
	}
	for r := events.Reason(0); r < events.Reason(len(st.Trimmed)); r++ {
		if n := st.Trimmed[r]; n > 0 {
			e.telemetry.ExporterHoneycombeventsEventsTrimmed.Add(ctx, int64(n), reasonOpt(r.String()))
		}
	}
	for _, rf := range st.Refused {
		e.telemetry.ExporterHoneycombeventsEventsRefused.Add(ctx, int64(rf.Events), reasonOpt(rf.Reason.String()))
		e.sampled.Warn("Events refused: over the configured limits even after trimming",
			zap.String("reason", rf.Reason.String()), zap.String("dataset", rf.Dataset), zap.Int("events", rf.Events),
			zap.Int("max_event_bytes", e.cfg.MaxEventBytes), zap.Int("max_fields", e.cfg.MaxFields))
	}
}

type eventStatus struct {
	Status int    `json:"status" msgpack:"status"`
	Error  string `json:"error,omitempty" msgpack:"error,omitempty"`
}

func (e *eventsExporter) sendBatch(s *pushState, b *events.Batch) {
	ctx, out, groups := s.ctx, s.out, s.groups()
	retryAll := func(reason string, err error) {
		for i := range b.Items {
			out.markRetry(b, i, groups)
		}
		// A throttle error carries the server's delay: keep it over others.
		if out.retryErr == nil || reason == reasonThrottled {
			out.retryErr = err
		}
		e.telemetry.ExporterHoneycombeventsEventsRetried.Add(ctx, int64(b.Len()), reasonOpt(reason))
	}

	body, err := e.compressor.compress(s.wire, b.Body)
	if err != nil {
		retryAll(reasonRequestFailed, fmt.Errorf("compressing batch: %w", err))
		return
	}
	if e.compressor.contentEncoding() != "" {
		s.wire = body
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.batchURL+url.PathEscape(b.Dataset), bytes.NewReader(body))
	if err != nil {
		out.permErr = fmt.Errorf("building request: %w", err)
		e.telemetry.ExporterHoneycombeventsEventsRefused.Add(ctx, int64(b.Len()), metric.WithAttributes(attrRequestRejected))
		return
	}
	req.Header.Set("Content-Type", e.contentType)
	if ce := e.compressor.contentEncoding(); ce != "" {
		req.Header.Set("Content-Encoding", ce)
	}
	req.Header.Set("User-Agent", e.userAgent)
	req.Header.Set(headerTeam, string(e.cfg.APIKey))

	resp, err := e.client.Do(req)
	if err != nil {
		retryAll(reasonRequestFailed, fmt.Errorf("sending batch to dataset %q: %w", b.Dataset, redactURLError(err)))
		return
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBodyBytes)
		_ = resp.Body.Close()
	}()
	e.telemetry.ExporterHoneycombeventsBatchesSent.Add(ctx, 1)
	e.telemetry.ExporterHoneycombeventsBytesUncompressed.Add(ctx, int64(len(b.Body)))
	e.telemetry.ExporterHoneycombeventsBytesCompressed.Add(ctx, int64(len(body)))

	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted:
		e.handleStatuses(ctx, resp, b, groups, out)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		msg := readErrorMessage(resp)
		err := fmt.Errorf("events API throttled the batch to dataset %q: HTTP %d %s", b.Dataset, resp.StatusCode, msg)
		if delay, ok := retryAfter(resp.Header.Get(headerRetryAfter)); ok {
			err = exporterhelper.NewThrottleRetry(err, delay)
		}
		retryAll(reasonThrottled, err)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		msg := readErrorMessage(resp)
		retryAll(reasonRequestFailed, fmt.Errorf("events API failed the batch to dataset %q: HTTP %d %s", b.Dataset, resp.StatusCode, msg))
	case resp.StatusCode == http.StatusRequestEntityTooLarge && b.Len() > 1:
		// The server's limit is below ours: send each half on its own,
		// down to single events. This response is done with first.
		_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBodyBytes)
		_ = resp.Body.Close()
		first, second := b.Split(e.format)
		e.telemetry.ExporterHoneycombeventsBatchesSplit.Add(ctx, 1)
		e.sendBatch(s, first)
		e.sendBatch(s, second)
	case resp.StatusCode == http.StatusForbidden:
		// Honeycomb answers 403 for administrative throttling too; only
		// the body tells it from a key without permission.
		msg := readErrorMessage(resp)
		if !isThrottleMessage(msg) {
			e.refuseBatch(ctx, b, resp.StatusCode, msg, out)
			return
		}
		err := fmt.Errorf("events API throttled the batch to dataset %q (administrative throttling): HTTP 403 %s", b.Dataset, msg)
		if delay, ok := retryAfter(resp.Header.Get(headerRetryAfter)); ok {
			err = exporterhelper.NewThrottleRetry(err, delay)
		}
		e.sampled.Warn("Events API throttled a batch (administrative throttling, HTTP 403); it will be retried",
			zap.String("dataset", b.Dataset), zap.String("server_message", msg), zap.Int("events", b.Len()))
		retryAll(reasonThrottled, err)
	default:
		e.refuseBatch(ctx, b, resp.StatusCode, readErrorMessage(resp), out)
	}
}

// refuseBatch drops a batch the server refused for good: counted, logged
// with the likely cause (never the key), and a permanent error.
func (e *eventsExporter) refuseBatch(ctx context.Context, b *events.Batch, status int, msg string, out *pushOutcome) {
	cause := permanentCause(status)
	out.permErr = fmt.Errorf("events API rejected the batch to dataset %q: HTTP %d (%s) %s", b.Dataset, status, cause, msg)
	e.telemetry.ExporterHoneycombeventsEventsRefused.Add(ctx, int64(b.Len()), metric.WithAttributes(attrRequestRejected, attribute.Int("status_code", status)))
	e.sampled.Error("Events API rejected a batch; its events are dropped",
		zap.Int("status_code", status), zap.String("cause", cause),
		zap.String("dataset", b.Dataset), zap.String("server_message", msg), zap.Int("events", b.Len()))
}

// handleStatuses maps the per-event statuses of a 200 response back to the
// events by index.
func (e *eventsExporter) handleStatuses(ctx context.Context, resp *http.Response, b *events.Batch, groups [][]int32, out *pushOutcome) {
	limit := int64(maxErrorBodyBytes + statusBytesPerEvent*b.Len())
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	var statuses []eventStatus
	switch {
	case err != nil:
		e.sampled.Warn("Could not read the per-event statuses; the batch's events will be retried", zap.Error(err))
	case int64(len(raw)) > limit:
		e.sampled.Warn("Per-event status response over its size cap; the batch's events will be retried", zap.Int64("cap_bytes", limit))
	case len(bytes.TrimSpace(raw)) == 0:
		// An empty 200 acknowledges the whole batch.
		e.telemetry.ExporterHoneycombeventsEventsSent.Add(ctx, int64(b.Len()))
		return
	default:
		statuses, err = decodeStatuses(raw, resp.Header.Get("Content-Type"))
		if err != nil {
			statuses = nil
			e.sampled.Warn("Could not decode the per-event statuses; the batch's events will be retried", zap.Error(err))
		}
	}

	var sent, retried, noStatus int
	rejected := map[int]int{}
	firstError := map[int]string{}
	for i := range b.Items {
		if i >= len(statuses) {
			noStatus++
			out.markRetry(b, i, groups)
			continue
		}
		st := statuses[i].Status
		switch {
		case st >= 200 && st < 300:
			sent++
		case st == http.StatusTooManyRequests || st >= 500:
			retried++
			out.markRetry(b, i, groups)
		default:
			rejected[st]++
			if _, ok := firstError[st]; !ok {
				firstError[st] = statuses[i].Error
			}
		}
	}
	if sent > 0 {
		e.telemetry.ExporterHoneycombeventsEventsSent.Add(ctx, int64(sent))
	}
	if retried > 0 {
		e.telemetry.ExporterHoneycombeventsEventsRetried.Add(ctx, int64(retried), reasonOpt(reasonPerEventStatus))
		if out.retryErr == nil {
			out.retryErr = fmt.Errorf("events API returned retryable statuses for %d events of dataset %q", retried, b.Dataset)
		}
	}
	if noStatus > 0 {
		e.telemetry.ExporterHoneycombeventsEventsRetried.Add(ctx, int64(noStatus), reasonOpt(reasonNoStatus))
		if out.retryErr == nil {
			out.retryErr = fmt.Errorf("events API returned no status for %d events of dataset %q", noStatus, b.Dataset)
		}
	}
	for st, n := range rejected {
		e.telemetry.ExporterHoneycombeventsEventsRefused.Add(ctx, int64(n), metric.WithAttributes(attrRejected, attribute.Int("status_code", st)))
		e.sampled.Warn("Events API rejected events; they are dropped",
			zap.Int("status_code", st), zap.Int("events", n), zap.String("dataset", b.Dataset),
			zap.String("first_error", truncateMessage(firstError[st])))
	}
}

// decodeStatuses parses the per-event status array of a 200 response, in
// msgpack when the server says so and JSON otherwise.
func decodeStatuses(raw []byte, contentType string) ([]eventStatus, error) {
	var statuses []eventStatus
	var err error
	if strings.HasPrefix(contentType, contentTypeMsgpack) || strings.HasPrefix(contentType, "application/x-msgpack") {
		// The msgpack decoder preallocates by declared length; a status
		// takes at least 2 bytes, so a longer declared array is bogus.
		if n, ok := msgpackArrayLen(raw); !ok || n > len(raw)/2 {
			return nil, errors.New("msgpack status array: bad or oversized header")
		}
		err = msgpack.Unmarshal(raw, &statuses)
	} else {
		err = json.Unmarshal(raw, &statuses)
	}
	if err != nil {
		return nil, err
	}
	return statuses, nil
}

// msgpackArrayLen reads a msgpack array header.
func msgpackArrayLen(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch c := b[0]; {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), true
	case c == 0xdc && len(b) >= 3:
		return int(b[1])<<8 | int(b[2]), true
	case c == 0xdd && len(b) >= 5:
		return int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]), true
	case c == 0xc0: // nil
		return 0, true
	}
	return 0, false
}

// permanentCause names the likely cause of a whole-request 4xx.
func permanentCause(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "malformed request: check encoding and compression"
	case http.StatusUnauthorized:
		return "API key rejected: check api_key"
	case http.StatusForbidden:
		return "API key lacks permission to send events to this dataset (not throttling)"
	case http.StatusNotFound:
		return "not found: check endpoint and dataset"
	case http.StatusRequestEntityTooLarge:
		return "event too large for the server even alone: lower max_event_bytes"
	default:
		return http.StatusText(code)
	}
}

// isThrottleMessage tells Honeycomb's 403 for administrative throttling
// ("event dropped due to administrative throttling") from a 403 for a key
// without permission.
func isThrottleMessage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "throttl")
}

// readErrorMessage reads at most maxErrorBodyBytes of an error body and
// extracts the Events API's {"error": "..."} message when there is one.
func readErrorMessage(resp *http.Response) string {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		return truncateMessage(body.Error)
	}
	return truncateMessage(strings.TrimSpace(string(raw)))
}

func truncateMessage(s string) string {
	const maxLen = 256
	if len(s) > maxLen {
		return strings.ToValidUTF8(s[:maxLen], "") + "..."
	}
	return s
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter), true
	}
	return 0, false
}

// redactURLError drops userinfo from the URL of a transport error.
func redactURLError(err error) error {
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			urlErr.URL = u.Redacted()
		}
	}
	return err
}
