// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	rpprof "runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type memLogs struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

func (m *memLogs) Export(_ context.Context, rs []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.recs = append(m.recs, r.Clone())
	}
	return nil
}
func (m *memLogs) Shutdown(context.Context) error   { return nil }
func (m *memLogs) ForceFlush(context.Context) error { return nil }

type harness struct {
	spans  *tracetest.InMemoryExporter
	logs   *memLogs
	reader *sdkmetric.ManualReader
	shop   *shop
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{spans: tracetest.NewInMemoryExporter(), logs: &memLogs{}, reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(h.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(h.logs)))
	tel := newTelemetry(tp, mp, lp, false)
	s, err := newShop(tel)
	if err != nil {
		t.Fatal(err)
	}
	s.outOfStock = func() bool { return false } // deterministic: only user 1234 fails
	h.shop = s
	return h
}

func (h *harness) post(t *testing.T, user, reqID string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/orders?user_id="+user+"&item=book", http.NoBody)
	req.Header.Set(requestIDHeader, reqID)
	rr := httptest.NewRecorder()
	h.shop.handler().ServeHTTP(rr, req)
	return rr
}

func TestUser1234CannotCreateOrder(t *testing.T) {
	h := newHarness(t)
	rr := h.post(t, "1234", "req-fail")
	if rr.Code != http.StatusInternalServerError || !strings.Contains(rr.Body.String(), "can not create order") {
		t.Fatalf("user 1234: got %d %q, want 500 'can not create order'", rr.Code, rr.Body.String())
	}
	ok := h.post(t, "7", "req-ok")
	if ok.Code != http.StatusOK {
		t.Fatalf("user 7: got %d %q", ok.Code, ok.Body.String())
	}
	var o order
	if err := json.Unmarshal(ok.Body.Bytes(), &o); err != nil || o.UserID != 7 || o.ID != 1 {
		t.Fatalf("order body %q: %+v %v", ok.Body.String(), o, err)
	}

	// operation_error counts user 1234's failure with the user_id label.
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "operation_error" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				v, _ := dp.Attributes.Value(attribute.Key("user_id"))
				if v.AsString() == "1234" && dp.Value == 1 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Fatal("operation_error{user_id=1234} == 1 not found")
	}
}

func TestServerSpanCarriesRequestIDAndLogsMixContext(t *testing.T) {
	h := newHarness(t)
	h.post(t, "1234", "req-abc")

	var server *tracetest.SpanStub
	for i, s := range h.spans.GetSpans() {
		if s.SpanKind == trace.SpanKindServer {
			server = &h.spans.GetSpans()[i]
		}
	}
	if server == nil {
		t.Fatal("no server span")
	}
	var rid []string
	for _, kv := range server.Attributes {
		if kv.Key == "http.request.header.x-request-id" {
			rid = kv.Value.AsStringSlice()
		}
	}
	if len(rid) != 1 || rid[0] != "req-abc" {
		t.Fatalf("server span x-request-id = %v", rid)
	}

	var withCtx, withoutCtx, shipped int
	for _, r := range h.logs.recs {
		if strings.HasPrefix(r.Body().AsString(), "{") {
			// shipper line: JSON text, no trace context, request id inside the text
			var line map[string]any
			if err := json.Unmarshal([]byte(r.Body().AsString()), &line); err == nil {
				if line["request_id"] != "req-abc" || r.TraceID().IsValid() {
					t.Fatalf("shipped line %q trace=%v", r.Body().AsString(), r.TraceID())
				}
				shipped++
				continue
			}
		}
		var reqID string
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key == "request_id" {
				reqID = kv.Value.AsString()
			}
			return true
		})
		if reqID != "req-abc" {
			t.Fatalf("log %q without request_id", r.Body().AsString())
		}
		if r.TraceID() == server.SpanContext.TraceID() {
			withCtx++
		} else if !r.TraceID().IsValid() {
			withoutCtx++
		}
	}
	if withCtx != 2 || withoutCtx != 1 || shipped != 1 {
		t.Fatalf("logs with context %d (want 2), without %d (want 1), shipped %d (want 1)", withCtx, withoutCtx, shipped)
	}
}

func TestParseFlagsRejectsBadValues(t *testing.T) {
	if _, err := parseFlags([]string{"-rate", "0"}); err == nil || !strings.Contains(err.Error(), "-rate") {
		t.Fatalf("rate 0: %v", err)
	}
	o, err := parseFlags([]string{"-duration", "3s", "-users", "10"})
	if err != nil || o.duration != 3*time.Second || o.users != 10 {
		t.Fatalf("%+v %v", o, err)
	}
}

func TestOutOfStockCountsEveryUsersErrors(t *testing.T) {
	h := newHarness(t)
	h.shop.outOfStock = func() bool { return true }
	for _, u := range []string{"7", "8", "9"} {
		if rr := h.post(t, u, "req-"+u); rr.Code != http.StatusInternalServerError || !strings.Contains(rr.Body.String(), "out of stock") {
			t.Fatalf("user %s: %d %q", u, rr.Code, rr.Body.String())
		}
	}
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	users := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "operation_error" {
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					v, _ := dp.Attributes.Value(attribute.Key("user_id"))
					users[v.AsString()] += dp.Value
				}
			}
		}
	}
	if len(users) != 3 || users["7"] != 1 || users["9"] != 1 {
		t.Fatalf("operation_error by user = %v, want 7, 8, 9 once each", users)
	}
}

// TestOrderCPUSamplesCarryTheServerSpan: while orders of user 1234 are handled under the
// CPU profiler, the samples of the order's work carry the trace_id and span_id labels of
// a failing server span (what pprofscrape turns into trace links).
func TestOrderCPUSamplesCarryTheServerSpan(t *testing.T) {
	h := newHarness(t)
	var buf bytes.Buffer
	if err := rpprof.StartCPUProfile(&buf); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		h.post(t, "1234", fmt.Sprintf("req-%d", i))
	}
	rpprof.StopCPUProfile()
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	failing := map[string]string{} // span id -> trace id of the failing server spans
	for _, s := range h.spans.GetSpans() {
		if s.SpanKind == trace.SpanKindServer && s.Status.Code == codes.Error {
			failing[s.SpanContext.SpanID().String()] = s.SpanContext.TraceID().String()
		}
	}
	linked := 0
	for _, s := range p.Sample {
		sp, tr := s.Label["span_id"], s.Label["trace_id"]
		if len(sp) != 1 || len(tr) != 1 {
			continue
		}
		if failing[sp[0]] != tr[0] {
			t.Fatalf("sample labeled span %s trace %s: not a failing server span", sp[0], tr[0])
		}
		linked++
	}
	if linked == 0 {
		t.Fatalf("no CPU sample carries a failing order's span (%d samples, %d failing spans)", len(p.Sample), len(failing))
	}
}
