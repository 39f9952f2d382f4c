// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package sender is the honeycombevents engine: it maps one request's spans,
// log records or metric points to events, sends them in batches to the
// Honeycomb Events API (POST /1/batch/{dataset}), and returns what happened
// to them (a Result) beside the error exporterhelper acts on. It holds no
// telemetry instruments and writes no logs: the exporter records the Result.
package sender // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/sender"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"
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
	// maxLastErrorLen bounds Result.LastError.
	maxLastErrorLen = 1024
)

// Config is what the engine needs from the exporter's configuration.
type Config struct {
	// Endpoint is the Events API's base URL, such as https://api.honeycomb.io.
	Endpoint string
	// APIKey is sent as X-Honeycomb-Team. Like Secrets, it is replaced by
	// "[redacted]" wherever a server message or error would carry it (a
	// proxy or a debugging endpoint may echo the request's headers).
	APIKey string
	// Secrets are other configured values that must never be shown, such
	// as the values of the configured headers.
	Secrets []string
	// Format is the wire encoding of a batch body.
	Format events.Format
	// Compression is zstd, gzip, or "" for none.
	Compression configcompression.Type
	// Mapping and Limits configure the mapper and the batcher.
	Mapping events.Config
	Limits  events.Limits
	// UserAgent is sent as User-Agent.
	UserAgent string
}

// Sender sends requests to the Events API. It is safe for concurrent use:
// every push takes its own mapper and batcher from a pool.
type Sender struct {
	cfg         Config
	batchURL    string
	contentType string
	client      *http.Client
	compressor  *bodyCompressor
	redactor    *strings.Replacer
	states      sync.Pool
	now         func() time.Time
}

// New returns a Sender that sends with client (the Sender owns it from now
// on: Close closes its idle connections). client must not compress: the
// Sender compresses whole batch bodies itself.
func New(cfg Config, client *http.Client) (*Sender, error) {
	comp, err := newBodyCompressor(cfg.Compression)
	if err != nil {
		return nil, err
	}
	s := &Sender{
		cfg:         cfg,
		batchURL:    strings.TrimSuffix(cfg.Endpoint, "/") + "/1/batch/",
		contentType: contentTypeJSON,
		client:      client,
		compressor:  comp,
		redactor:    newRedactor(append([]string{cfg.APIKey}, cfg.Secrets...)),
		now:         time.Now,
	}
	if cfg.Format == events.FormatMsgpack {
		s.contentType = contentTypeMsgpack
	}
	s.states.New = func() any {
		st := &pushState{s: s}
		st.batcher = events.NewBatcher(cfg.Format, cfg.Limits, st)
		st.mapper = events.NewMapper(cfg.Mapping, st.batcher)
		return st
	}
	return s, nil
}

// Close releases the compressor and the client's idle connections.
func (s *Sender) Close() {
	s.client.CloseIdleConnections()
	s.compressor.close()
}

// Traces sends the spans of td. The error is nil when every event was sent,
// a consumererror.Traces carrying the spans to retry, a retryable error when
// all of them are to be retried, or a permanent error when events were
// refused and none is to be retried.
func (s *Sender) Traces(ctx context.Context, td ptrace.Traces) (Result, error) {
	st := s.begin(ctx, td.SpanCount(), false)
	st.mapper.Traces(td)
	return s.end(st, func(err error, keep events.ItemSet) error {
		return consumererror.NewTraces(err, events.SubsetTraces(td, keep))
	})
}

// Logs sends the log records of ld; the error is as for Traces.
func (s *Sender) Logs(ctx context.Context, ld plog.Logs) (Result, error) {
	st := s.begin(ctx, ld.LogRecordCount(), false)
	st.mapper.Logs(ld)
	return s.end(st, func(err error, keep events.ItemSet) error {
		return consumererror.NewLogs(err, events.SubsetLogs(ld, keep))
	})
}

// Metrics sends the data points of md; the error is as for Traces, with the
// data points of the events to retry.
func (s *Sender) Metrics(ctx context.Context, md pmetric.Metrics) (Result, error) {
	// Metric events are emitted once the whole request is read, so a
	// group's data points are all known when its batch is sent.
	st := s.begin(ctx, md.DataPointCount(), true)
	st.mapper.Metrics(md)
	return s.end(st, func(err error, keep events.ItemSet) error {
		return consumererror.NewMetrics(err, events.SubsetMetrics(md, keep))
	})
}

// pushState is the reusable state of one push: the mapper and batcher with
// their buffers, the compressed body buffer, and (while a push runs) where
// the batches the batcher fills go and what happened to them: it is the
// batcher's sink.
type pushState struct {
	s       *Sender
	mapper  *events.Mapper
	batcher *events.Batcher
	wire    []byte

	ctx     context.Context
	metrics bool
	items   int
	res     Result
	// retry holds the items to hand back for retry; retryErr and permErr
	// are the errors the push returns.
	retry    events.ItemSet
	retryErr error
	permErr  error
}

// SendBatch sends a batch the batcher closed because it was full.
func (st *pushState) SendBatch(b *events.Batch) {
	st.s.sendBatch(st, b)
}

// groups maps metric events to their data points; nil for spans and logs,
// whose events map to their items directly.
func (st *pushState) groups() [][]int32 {
	if st.metrics {
		return st.mapper.MetricGroups()
	}
	return nil
}

func (st *pushState) markRetry(b *events.Batch, idx int, groups [][]int32) {
	if st.retry == nil {
		st.retry = events.NewItemSet(st.items)
	}
	item := b.Items[idx]
	if groups != nil {
		if int(item) < len(groups) {
			for _, dp := range groups[item] {
				st.retry.Add(dp)
			}
		}
		return
	}
	st.retry.Add(item)
}

// err turns the push into the error exporterhelper acts on: retryable
// failures become a partial error carrying just the failed items, and
// permanent failures a permanent error.
func (st *pushState) err(partial func(error, events.ItemSet) error) error {
	if st.retry != nil {
		err := st.retryErr
		if err == nil {
			err = errors.New("events API returned retryable per-event statuses")
		}
		if st.retry.Count() == st.items {
			return err
		}
		return partial(err, st.retry)
	}
	if st.permErr != nil {
		return consumererror.NewPermanent(st.permErr)
	}
	return nil
}

// begin takes a push state from the pool, ready for a new request.
func (s *Sender) begin(ctx context.Context, items int, metrics bool) *pushState {
	st := s.states.Get().(*pushState)
	st.mapper.Reset()
	st.ctx, st.items, st.metrics = ctx, items, metrics
	return st
}

// end sends the batches still open after mapping, takes the batcher's
// counts and returns the state to the pool.
func (s *Sender) end(st *pushState, partial func(error, events.ItemSet) error) (Result, error) {
	for _, b := range st.batcher.Finish() {
		s.sendBatch(st, b)
	}
	st.res.addBatcherStats(&st.batcher.Stats)
	res, err := st.res, st.err(partial)
	st.ctx, st.res, st.retry, st.retryErr, st.permErr = nil, Result{}, nil, nil, nil
	s.states.Put(st)
	return res, err
}

func (s *Sender) sendBatch(st *pushState, b *events.Batch) {
	ctx, res, groups := st.ctx, &st.res, st.groups()
	// retryAll hands the whole batch back for retry: err is what the push
	// returns, msg its text for LastError, detail what the server said (or
	// the transport error) for the outcome.
	retryAll := func(reason string, status int, err error, msg, detail string) {
		for i := range b.Items {
			st.markRetry(b, i, groups)
		}
		// A throttle error carries the server's delay: keep it over others.
		if st.retryErr == nil || reason == ReasonThrottled {
			st.retryErr = err
		}
		res.retried(b.Dataset, reason, status, b.Len(), detail)
		s.fail(res, msg)
	}

	body, err := s.compressor.compress(st.wire, b.Body)
	if err != nil {
		err = fmt.Errorf("compressing batch: %w", err)
		retryAll(ReasonRequestFailed, 0, err, err.Error(), err.Error())
		return
	}
	if s.compressor.contentEncoding() != "" {
		st.wire = body
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.batchURL+url.PathEscape(b.Dataset), bytes.NewReader(body))
	if err != nil {
		st.permErr = fmt.Errorf("building request: %w", err)
		res.refused(b.Dataset, ReasonRequestRejected, 0, b.Len(), s.clean(st.permErr.Error()))
		s.fail(res, st.permErr.Error())
		return
	}
	req.Header.Set("Content-Type", s.contentType)
	if ce := s.compressor.contentEncoding(); ce != "" {
		req.Header.Set("Content-Encoding", ce)
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set(headerTeam, s.cfg.APIKey)

	resp, err := s.client.Do(req)
	if err != nil {
		err = fmt.Errorf("sending batch to dataset %q: %w", b.Dataset, redactURLError(err))
		retryAll(ReasonRequestFailed, 0, err, err.Error(), s.clean(err.Error()))
		return
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBodyBytes)
		_ = resp.Body.Close()
	}()
	res.Batches++
	res.BytesUncompressed += int64(len(b.Body))
	res.BytesCompressed += int64(len(body))

	switch code := resp.StatusCode; {
	case code == http.StatusOK || code == http.StatusAccepted:
		s.handleStatuses(st, resp, b, groups)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		srvMsg := s.serverMessage(resp)
		msg := fmt.Sprintf("events API throttled the batch to dataset %q: HTTP %d %s", b.Dataset, code, srvMsg)
		retryAll(ReasonThrottled, code, throttleError(msg, resp), msg, srvMsg)
	case code >= 500 || code == http.StatusRequestTimeout:
		srvMsg := s.serverMessage(resp)
		msg := fmt.Sprintf("events API failed the batch to dataset %q: HTTP %d %s", b.Dataset, code, srvMsg)
		retryAll(ReasonRequestFailed, code, errors.New(msg), msg, srvMsg)
	case code == http.StatusRequestEntityTooLarge && b.Len() > 1:
		// The server's limit is below ours: send each half on its own,
		// down to single events. This response is done with first.
		_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBodyBytes)
		_ = resp.Body.Close()
		first, second := b.Split(s.cfg.Format)
		res.Splits++
		s.sendBatch(st, first)
		s.sendBatch(st, second)
	case code == http.StatusForbidden:
		// Honeycomb answers 403 for administrative throttling too; only
		// the body tells it from a key without permission.
		srvMsg := s.serverMessage(resp)
		if !isThrottleMessage(srvMsg) {
			s.refuseBatch(st, b, code, srvMsg)
			return
		}
		msg := fmt.Sprintf("events API throttled the batch to dataset %q (administrative throttling): HTTP 403 %s", b.Dataset, srvMsg)
		retryAll(ReasonThrottled, code, throttleError(msg, resp), msg, srvMsg)
	default:
		s.refuseBatch(st, b, code, s.serverMessage(resp))
	}
}

// throttleError is the retryable error of a throttled batch, carrying the
// server's Retry-After delay when it gave one.
func throttleError(msg string, resp *http.Response) error {
	err := errors.New(msg)
	if delay, ok := retryAfter(resp.Header.Get(headerRetryAfter)); ok {
		return exporterhelper.NewThrottleRetry(err, delay)
	}
	return err
}

// refuseBatch drops a batch the server refused for good: counted with the
// likely cause, and a permanent error.
func (s *Sender) refuseBatch(st *pushState, b *events.Batch, status int, srvMsg string) {
	st.permErr = fmt.Errorf("events API rejected the batch to dataset %q: HTTP %d (%s) %s", b.Dataset, status, PermanentCause(status), srvMsg)
	st.res.refused(b.Dataset, ReasonRequestRejected, status, b.Len(), srvMsg)
	s.fail(&st.res, st.permErr.Error())
}

// fail sets the push's last error: msg with the secrets replaced, cut to
// maxLastErrorLen.
func (s *Sender) fail(res *Result, msg string) {
	res.failed(s.now(), truncate(s.redactor.Replace(msg), maxLastErrorLen))
}

// statusCount counts the events of a batch with one per-event status.
type statusCount struct {
	status, n int
	first     string // the first event's error message
}

func countStatus(list []statusCount, es eventStatus) []statusCount {
	for i := range list {
		if list[i].status == es.Status {
			list[i].n++
			return list
		}
	}
	return append(list, statusCount{status: es.Status, n: 1, first: es.Error})
}

// handleStatuses maps the per-event statuses of a 200 response back to the
// events by index.
func (s *Sender) handleStatuses(st *pushState, resp *http.Response, b *events.Batch, groups [][]int32) {
	res := &st.res
	limit := int64(maxErrorBodyBytes + statusBytesPerEvent*b.Len())
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	var statuses []eventStatus
	var problem string
	switch {
	case err != nil:
		problem = "could not read the per-event statuses: " + err.Error()
	case int64(len(raw)) > limit:
		problem = fmt.Sprintf("per-event status response over its size cap (%d bytes)", limit)
	case len(bytes.TrimSpace(raw)) == 0:
		// An empty 200 acknowledges the whole batch.
		res.Sent += b.Len()
		return
	default:
		statuses, err = decodeStatuses(raw, resp.Header.Get("Content-Type"))
		if err != nil {
			statuses = nil
			problem = "could not decode the per-event statuses: " + err.Error()
		}
	}

	var noStatus int
	var retried, rejected []statusCount
	for i := range b.Items {
		if i >= len(statuses) {
			noStatus++
			st.markRetry(b, i, groups)
			continue
		}
		switch es := statuses[i]; {
		case es.Status >= 200 && es.Status < 300:
			res.Sent++
		case es.Status == http.StatusTooManyRequests || es.Status >= 500:
			retried = countStatus(retried, es)
			st.markRetry(b, i, groups)
		default:
			rejected = countStatus(rejected, es)
		}
	}
	for _, c := range retried {
		res.retried(b.Dataset, ReasonPerEventStatus, c.status, c.n, s.clean(c.first))
		msg := fmt.Sprintf("events API returned retryable statuses for %d events of dataset %q", c.n, b.Dataset)
		if st.retryErr == nil {
			st.retryErr = errors.New(msg)
		}
		s.fail(res, fmt.Sprintf("%s: HTTP %d %s", msg, c.status, s.clean(c.first)))
	}
	if noStatus > 0 {
		msg := fmt.Sprintf("events API returned no status for %d events of dataset %q", noStatus, b.Dataset)
		if problem != "" {
			problem = s.clean(problem)
			msg += ": " + problem
		}
		res.retried(b.Dataset, ReasonNoStatus, 0, noStatus, problem)
		if st.retryErr == nil {
			st.retryErr = errors.New(msg)
		}
		s.fail(res, msg)
	}
	for _, c := range rejected {
		res.refused(b.Dataset, ReasonRejected, c.status, c.n, s.clean(c.first))
		s.fail(res, fmt.Sprintf("events API rejected %d events of dataset %q: HTTP %d %s", c.n, b.Dataset, c.status, s.clean(c.first)))
	}
}
