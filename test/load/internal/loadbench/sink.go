// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/pprofile/pprofileotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // otlp_grpc exporters compress with gzip by default
)

// Counts are the items a sink has received, per signal.
type Counts struct {
	Spans, Logs, Points, Profiles, Events int64
	// LogsWithTrace: log records that arrived with a trace id set.
	LogsWithTrace int64
	// PointsWithUserID: data points that still carry a user_id attribute.
	PointsWithUserID int64
}

// Of returns the count of one signal ("events" for the Events API sink).
func (c Counts) Of(signal string) int64 {
	switch signal {
	case Traces:
		return c.Spans
	case Logs:
		return c.Logs
	case Metrics:
		return c.Points
	case Profiles:
		return c.Profiles
	}
	return 0
}

type counters struct {
	spans, logs, points, profiles, events atomic.Int64
	logsWithTrace, pointsWithUserID       atomic.Int64
	last                                  atomic.Int64 // unix nanos of the last arrival
}

func (c *counters) add(n *atomic.Int64, k int) {
	n.Add(int64(k))
	c.last.Store(time.Now().UnixNano())
}

func (c *counters) snapshot() Counts {
	return Counts{
		Spans: c.spans.Load(), Logs: c.logs.Load(), Points: c.points.Load(), Profiles: c.profiles.Load(), Events: c.events.Load(),
		LogsWithTrace: c.logsWithTrace.Load(), PointsWithUserID: c.pointsWithUserID.Load(),
	}
}

// LastArrival is when the sink last counted something (zero if never).
func (c *counters) lastArrival() time.Time {
	n := c.last.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (c *counters) reset() {
	c.spans.Store(0)
	c.logs.Store(0)
	c.points.Store(0)
	c.profiles.Store(0)
	c.events.Store(0)
	c.logsWithTrace.Store(0)
	c.pointsWithUserID.Store(0)
	c.last.Store(0)
}

// OTLPSink is an in-process OTLP/gRPC server that counts what it receives and
// keeps nothing.
type OTLPSink struct {
	counters
	srv  *grpc.Server
	lis  net.Listener
	done chan struct{}
}

type traceSrv struct {
	ptraceotlp.UnimplementedGRPCServer
	s *OTLPSink
}

func (t *traceSrv) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	t.s.add(&t.s.spans, req.Traces().SpanCount())
	return ptraceotlp.NewExportResponse(), nil
}

type logSrv struct {
	plogotlp.UnimplementedGRPCServer
	s *OTLPSink
}

func (l *logSrv) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	ld := req.Logs()
	withTrace := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if !lrs.At(k).TraceID().IsEmpty() {
					withTrace++
				}
			}
		}
	}
	l.s.logsWithTrace.Add(int64(withTrace))
	l.s.add(&l.s.logs, ld.LogRecordCount())
	return plogotlp.NewExportResponse(), nil
}

type metricSrv struct {
	pmetricotlp.UnimplementedGRPCServer
	s *OTLPSink
}

func (m *metricSrv) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := req.Metrics()
	m.s.pointsWithUserID.Add(int64(pointsWithAttr(md, "user_id")))
	m.s.add(&m.s.points, md.DataPointCount())
	return pmetricotlp.NewExportResponse(), nil
}

type profileSrv struct {
	pprofileotlp.UnimplementedGRPCServer
	s *OTLPSink
}

func (p *profileSrv) Export(_ context.Context, req pprofileotlp.ExportRequest) (pprofileotlp.ExportResponse, error) {
	n := 0
	rps := req.Profiles().ResourceProfiles()
	for i := 0; i < rps.Len(); i++ {
		sps := rps.At(i).ScopeProfiles()
		for j := 0; j < sps.Len(); j++ {
			n += sps.At(j).Profiles().Len()
		}
	}
	p.s.add(&p.s.profiles, n)
	return pprofileotlp.NewExportResponse(), nil
}

// StartOTLPSink listens on addr (use "127.0.0.1:0") and serves the OTLP/gRPC
// trace, log, metric and profile services.
func StartOTLPSink(addr string) (*OTLPSink, error) {
	if err := loopbackOnly(addr); err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &OTLPSink{srv: grpc.NewServer(grpc.MaxRecvMsgSize(256 << 20)), lis: lis, done: make(chan struct{})}
	ptraceotlp.RegisterGRPCServer(s.srv, &traceSrv{s: s})
	plogotlp.RegisterGRPCServer(s.srv, &logSrv{s: s})
	pmetricotlp.RegisterGRPCServer(s.srv, &metricSrv{s: s})
	pprofileotlp.RegisterGRPCServer(s.srv, &profileSrv{s: s})
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(lis)
	}()
	return s, nil
}

// Addr is the sink's host:port.
func (s *OTLPSink) Addr() string { return s.lis.Addr().String() }

// Counts is a snapshot of what arrived since the last Reset.
func (s *OTLPSink) Counts() Counts { return s.snapshot() }

// LastArrival is the time of the last export received.
func (s *OTLPSink) LastArrival() time.Time { return s.lastArrival() }

// Reset sets every count to zero.
func (s *OTLPSink) Reset() { s.reset() }

// Stop stops the server (in-flight calls get up to 5 s) and waits for it.
func (s *OTLPSink) Stop() {
	stopped := make(chan struct{})
	go func() { s.srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		s.srv.Stop()
		<-stopped
	}
	<-s.done
}

// HoneycombSink is an in-process Honeycomb Events API endpoint: it accepts
// POST /1/batch/{dataset} with a JSON array body (zstd, gzip or plain),
// answers one {"status":202} per event and counts the events.
type HoneycombSink struct {
	counters
	srv      *http.Server
	lis      net.Listener
	done     chan struct{}
	requests atomic.Int64
	errors   atomic.Int64
	zdec     sync.Pool
}

// MaxHoneycombBody caps a decoded request body (the Events API limit is 5 MB
// uncompressed; the margin is for the encoder's own split threshold).
const MaxHoneycombBody = 16 << 20

// StartHoneycombSink listens on addr (use "127.0.0.1:0").
func StartHoneycombSink(addr string) (*HoneycombSink, error) {
	if err := loopbackOnly(addr); err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := &HoneycombSink{lis: lis, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /1/batch/{dataset}", h.batch)
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(h.done)
		_ = h.srv.Serve(lis)
	}()
	return h, nil
}

// Addr is the sink's host:port.
func (h *HoneycombSink) Addr() string { return h.lis.Addr().String() }

// Counts is a snapshot (Events) of what arrived since the last Reset.
func (h *HoneycombSink) Counts() Counts { return h.snapshot() }

// LastArrival is the time of the last accepted batch.
func (h *HoneycombSink) LastArrival() time.Time { return h.lastArrival() }

// Errors is the number of requests answered with an error status.
func (h *HoneycombSink) Errors() int64 { return h.errors.Load() }

// Reset sets every count to zero.
func (h *HoneycombSink) Reset() { h.reset(); h.requests.Store(0); h.errors.Store(0) }

// Stop shuts the server down (up to 5 s, even when ctx is already cancelled)
// and waits for it.
func (h *HoneycombSink) Stop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		_ = h.srv.Close()
	}
	<-h.done
}

func (h *HoneycombSink) fail(w http.ResponseWriter, code int, format string, args ...any) {
	h.errors.Add(1)
	http.Error(w, fmt.Sprintf(format, args...), code)
}

func (h *HoneycombSink) batch(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.Header.Get("X-Honeycomb-Team") == "" {
		h.fail(w, http.StatusUnauthorized, "missing X-Honeycomb-Team")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		h.fail(w, http.StatusUnsupportedMediaType, "content type %q: this sink decodes JSON only", ct)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxHoneycombBody+1))
	if err != nil {
		h.fail(w, http.StatusBadRequest, "read: %v", err)
		return
	}
	body, err := h.decode(r.Header.Get("Content-Encoding"), raw)
	if err != nil {
		h.fail(w, http.StatusBadRequest, "decode: %v", err)
		return
	}
	n, err := CountJSONEvents(body)
	if err != nil {
		h.fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	h.add(&h.events, n)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(StatusArray(n, http.StatusAccepted))
}

func (h *HoneycombSink) decode(enc string, raw []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		if len(raw) > MaxHoneycombBody {
			return nil, errors.New("body too large")
		}
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return readCapped(zr)
	case "zstd":
		d, _ := h.zdec.Get().(*zstd.Decoder)
		if d == nil {
			var err error
			d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxHoneycombBody+1))
			if err != nil {
				return nil, err
			}
		}
		if err := d.Reset(bytes.NewReader(raw)); err != nil {
			return nil, err
		}
		out, err := readCapped(d)
		_ = d.Reset(nil)
		h.zdec.Put(d)
		return out, err
	}
	return nil, fmt.Errorf("content encoding %q not supported", enc)
}

func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxHoneycombBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxHoneycombBody {
		return nil, errors.New("decoded body too large")
	}
	return b, nil
}

// CountJSONEvents validates an Events API batch body (a JSON array of
// objects) and returns how many events it holds.
func CountJSONEvents(body []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("batch body: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return 0, errors.New("batch body is not a JSON array")
	}
	n := 0
	for dec.More() {
		var ev json.RawMessage
		if err := dec.Decode(&ev); err != nil {
			return n, fmt.Errorf("event %d: %w", n, err)
		}
		if len(ev) == 0 || ev[0] != '{' {
			return n, fmt.Errorf("event %d is not a JSON object", n)
		}
		n++
	}
	if _, err := dec.Token(); err != nil {
		return n, fmt.Errorf("batch body end: %w", err)
	}
	return n, nil
}

// StatusArray is the Events API batch response: one {"status":code} per event.
func StatusArray(n, code int) []byte {
	var b bytes.Buffer
	b.Grow(n*15 + 2)
	b.WriteByte('[')
	item := fmt.Sprintf(`{"status":%d}`, code)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(item)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// loopbackOnly refuses to listen anywhere but 127.0.0.1.
func loopbackOnly(addr string) error {
	host, _, err := splitHostPort(addr)
	if err != nil {
		return err
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("listen address %q: loopback (127.0.0.1) only", addr)
	}
	return nil
}

// pointsWithAttr counts the data points of md that carry attribute key.
func pointsWithAttr(md pmetric.Metrics, key string) int {
	n := 0
	has := func(m pcommon.Map) {
		if _, ok := m.Get(key); ok {
			n++
		}
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for p := 0; p < m.Gauge().DataPoints().Len(); p++ {
						has(m.Gauge().DataPoints().At(p).Attributes())
					}
				case pmetric.MetricTypeSum:
					for p := 0; p < m.Sum().DataPoints().Len(); p++ {
						has(m.Sum().DataPoints().At(p).Attributes())
					}
				case pmetric.MetricTypeHistogram:
					for p := 0; p < m.Histogram().DataPoints().Len(); p++ {
						has(m.Histogram().DataPoints().At(p).Attributes())
					}
				case pmetric.MetricTypeExponentialHistogram:
					for p := 0; p < m.ExponentialHistogram().DataPoints().Len(); p++ {
						has(m.ExponentialHistogram().DataPoints().At(p).Attributes())
					}
				case pmetric.MetricTypeSummary:
					for p := 0; p < m.Summary().DataPoints().Len(); p++ {
						has(m.Summary().DataPoints().At(p).Attributes())
					}
				}
			}
		}
	}
	return n
}
