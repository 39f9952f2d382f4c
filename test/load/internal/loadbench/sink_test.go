// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
)

func TestOTLPSinkCounts(t *testing.T) {
	s, err := StartOTLPSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < 7; i++ {
		ss.AppendEmpty().SetName("s")
	}
	// gzip, as the collector's otlp_grpc exporter sends by default.
	if _, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td), grpc.UseCompressor(grpcgzip.Name)); err != nil {
		t.Fatal(err)
	}
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lr.AppendEmpty().SetTraceID(pcommon.TraceID{1, 2, 3})
	lr.AppendEmpty()
	if _, err := plogotlp.NewGRPCClient(cc).Export(ctx, plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}
	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge()
	for i := 0; i < 3; i++ {
		dp := g.DataPoints().AppendEmpty()
		dp.SetIntValue(int64(i))
		if i > 0 {
			dp.Attributes().PutStr("user_id", "1234")
		}
	}
	h := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty().SetEmptyHistogram()
	h.DataPoints().AppendEmpty().Attributes().PutStr("user_id", "1")
	if _, err := pmetricotlp.NewGRPCClient(cc).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md)); err != nil {
		t.Fatal(err)
	}
	c := s.Counts()
	if c.Spans != 7 || c.Logs != 2 || c.Points != 4 || c.Of(Traces) != 7 || c.Of(Logs) != 2 || c.Of(Metrics) != 4 ||
		c.LogsWithTrace != 1 || c.PointsWithUserID != 3 {
		t.Errorf("counts %+v", c)
	}
	if s.LastArrival().IsZero() {
		t.Error("no last arrival")
	}
	s.Reset()
	if c := s.Counts(); c != (Counts{}) || !s.LastArrival().IsZero() {
		t.Errorf("after reset %+v", c)
	}
}

func TestSinksRefuseNonLoopback(t *testing.T) {
	if _, err := StartOTLPSink("0.0.0.0:0"); err == nil {
		t.Error("OTLP sink listened on 0.0.0.0")
	}
	if _, err := StartHoneycombSink(":0"); err == nil {
		t.Error("honeycomb sink listened on all interfaces")
	}
}

func post(t *testing.T, url, enc string, body []byte, team string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	if team != "" {
		req.Header.Set("X-Honeycomb-Team", team)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHoneycombSink(t *testing.T) {
	h, err := StartHoneycombSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(t.Context())
	defer http.DefaultClient.CloseIdleConnections()
	url := "http://" + h.Addr() + "/1/batch/checkout"
	batch := []byte(`[{"time":"2026-01-01T00:00:00Z","data":{"name":"a"}},{"data":{"name":"b","n":1}},{"samplerate":5,"data":{}}]`)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(batch)
	_ = zw.Close()
	enc, _ := zstd.NewWriter(nil)
	zs := enc.EncodeAll(batch, nil)
	_ = enc.Close()

	for _, c := range []struct {
		enc  string
		body []byte
	}{{"", batch}, {"gzip", gz.Bytes()}, {"zstd", zs}} {
		code, body := post(t, url, c.enc, c.body, "k")
		if code != http.StatusOK || body != `[{"status":202},{"status":202},{"status":202}]` {
			t.Errorf("%q: %d %s", c.enc, code, body)
		}
	}
	if got := h.Counts().Events; got != 9 {
		t.Errorf("events %d, want 9", got)
	}
	if h.Errors() != 0 {
		t.Errorf("errors %d", h.Errors())
	}
	if code, _ := post(t, url, "", batch, ""); code != http.StatusUnauthorized {
		t.Errorf("no team: %d", code)
	}
	if code, _ := post(t, url, "br", batch, "k"); code != http.StatusBadRequest {
		t.Errorf("unknown encoding: %d", code)
	}
	if code, _ := post(t, url, "", []byte(`{"data":{}}`), "k"); code != http.StatusBadRequest {
		t.Errorf("not an array: %d", code)
	}
	if h.Errors() != 3 {
		t.Errorf("errors %d, want 3", h.Errors())
	}
	h.Reset()
	if h.Counts().Events != 0 || h.Errors() != 0 {
		t.Error("reset")
	}
}

func TestCountJSONEvents(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
	}{{`[]`, 0}, {` [ {"data":{}} , {"data":{"a":[1,2]}} ] `, 2}} {
		if n, err := CountJSONEvents([]byte(tc.body)); err != nil || n != tc.want {
			t.Errorf("%q: %d, %v", tc.body, n, err)
		}
	}
	for _, bad := range []string{``, `{}`, `[1]`, `[{"data":{}}`, `["x"]`} {
		if _, err := CountJSONEvents([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got := string(StatusArray(2, 202)); got != `[{"status":202},{"status":202}]` {
		t.Errorf("status array %s", got)
	}
	if got := string(StatusArray(0, 202)); got != `[]` {
		t.Errorf("empty status array %s", got)
	}
	if !strings.HasPrefix(string(StatusArray(1, 500)), `[{"status":500}`) {
		t.Error("code")
	}
}
