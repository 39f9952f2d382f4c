// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp exporter compresses with gzip by default
	"google.golang.org/grpc/status"
)

func spanIDs(t *testing.T, path string) (unique map[string]int, total int) {
	unique = map[string]int{}
	for _, td := range readTraces(t, path) {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < ss.Len(); j++ {
				spans := ss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					unique[spans.At(k).SpanID().String()]++
					total++
				}
			}
		}
	}
	return unique, total
}

// The gateway is killed with kill -9 while its persistent queue holds data,
// then restarted on the same storage: every span still reaches the sink.
// Duplicates (a batch in flight at the kill is sent again) are counted and
// reported, never hidden.
func TestFaultGatewayKill9PersistentQueue(t *testing.T) {
	storage := t.TempDir()
	sinkAddr := freeAddr(t)

	gw := newCollectorEnv(t)
	gw.env["PRODSCOPE_STORAGE_DIR"] = storage
	gw.env["SINK_OTLP_ENDPOINT"] = sinkAddr
	gw.start("test/e2e/testdata/gateway-persistent.yaml")

	const spans = 600
	runTool(t, 2*time.Minute, telemetrygen, "traces", "--otlp-endpoint", gw.otlpGRPC, "--otlp-insecure",
		"--rate", "0", "--traces", strconv.Itoa(spans/2), "--service", "kill9")
	// The sink is down: what the gateway accepted sits in its disk queue.
	eventually(t, 20*time.Second, "spans queued on disk", func() (bool, string) {
		v, _ := gw.scrapeMetric(t, "otelcol_exporter_queue_size")
		return v >= spans, fmt.Sprintf("queue size %v", v)
	})
	if err := gw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("gateway after kill -9: %v", <-gw.done)
	gw.done <- nil // for the cleanup's stop: the kill was the test's

	sink := newCollectorEnv(t)
	sink.otlpGRPC = sinkAddr
	sink.env["PRODSCOPE_OTLP_GRPC_ENDPOINT"] = sinkAddr
	sink.start("test/e2e/testdata/sink.yaml")

	restarted := newCollectorEnv(t)
	restarted.env["PRODSCOPE_STORAGE_DIR"] = storage
	restarted.env["SINK_OTLP_ENDPOINT"] = sinkAddr
	restarted.start("test/e2e/testdata/gateway-persistent.yaml")

	var unique map[string]int
	var total int
	eventually(t, 60*time.Second, "every queued span delivered after the restart", func() (bool, string) {
		unique, total = spanIDs(t, filepath.Join(sink.dataDir, "traces.jsonl"))
		return len(unique) >= spans, fmt.Sprintf("unique spans %d/%d (total %d)", len(unique), spans, total)
	})
	if len(unique) != spans {
		t.Fatalf("sink has %d distinct spans, sent %d", len(unique), spans)
	}
	t.Logf("kill -9: %d spans sent, %d distinct delivered, %d duplicates from redelivery", spans, len(unique), total-len(unique))
}

// Logs that carry a correlation key but whose spans never come, at a high
// rate: logtracejoin's waiting set never exceeds max_waiting_logs (1000 in the
// config) and every log comes out.
func TestFaultLogsWithoutSpansStayBounded(t *testing.T) {
	c := newCollectorEnv(t)
	c.start("test/e2e/testdata/logs-no-spans.yaml")

	const logs = 20000
	stop := make(chan struct{})
	maxWaiting := make(chan float64, 1)
	go func() {
		var m float64
		defer func() { maxWaiting <- m }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if v, ok := c.scrapeMetric(t, "otelcol_processor_logtracejoin_waiting_logs"); ok && v > m {
				m = v
			}
		}
	}()
	runTool(t, 2*time.Minute, telemetrygen, "logs", "--otlp-endpoint", c.otlpGRPC, "--otlp-insecure",
		"--rate", "0", "--workers", "2", "--logs", strconv.Itoa(logs/2), "--service", "nospans",
		"--telemetry-attributes", `request_id="req-never-a-span"`)

	count := func() int {
		n := 0
		for _, ld := range readLogs(t, filepath.Join(c.dataDir, "logs.jsonl")) {
			n += ld.LogRecordCount()
		}
		return n
	}
	eventually(t, 60*time.Second, "every log out", func() (bool, string) {
		n := count()
		return n >= logs, fmt.Sprintf("%d/%d logs out", n, logs)
	})
	close(stop)
	peak := <-maxWaiting
	if n := count(); n != logs {
		t.Fatalf("%d logs out, %d in", n, logs)
	}
	if peak > 1000 {
		t.Fatalf("waiting logs peaked at %v, max_waiting_logs is 1000", peak)
	}
	if peak == 0 {
		t.Fatalf("waiting logs never observed above 0: the join did not hold logs (metric missing?)")
	}
	unmatched, _ := c.scrapeMetric(t, "otelcol_processor_logtracejoin_records_unmatched")
	if unmatched != logs {
		t.Fatalf("records_unmatched = %v, want %d", unmatched, logs)
	}
	t.Logf("logs without spans: %d in, %d out, waiting peak %v (limit 1000)", logs, logs, peak)
}

// A flood of 1,000,000 distinct values of one label through cardinalityguard:
// output series stay within the configured limits and the collector's memory
// stays under a bound derived from the config.
func TestFaultLabelFloodStaysBounded(t *testing.T) {
	c := newCollectorEnv(t)
	c.start("test/e2e/testdata/label-flood.yaml")
	baseRSS, _ := rssBytes(t, c.cmd.Process.Pid)

	conn, err := grpc.NewClient(c.otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pmetricotlp.NewGRPCClient(conn)

	const total, perRequest = 1_000_000, 10_000
	start := time.Now()
	for sent := 0; sent < total; sent += perRequest {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "flood")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("operation_error")
		sum := m.SetEmptySum()
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		sum.SetIsMonotonic(true)
		now := pcommon.NewTimestampFromTime(time.Now())
		for i := 0; i < perRequest; i++ {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(now - 1e9)
			dp.SetTimestamp(now)
			dp.SetIntValue(1)
			dp.Attributes().PutStr("user_id", fmt.Sprintf("user-%07d", sent+i))
			dp.Attributes().PutStr("operation", "create_order")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := client.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md))
		cancel()
		if err != nil {
			t.Fatalf("export after %d points: %v", sent, err)
		}
	}
	t.Logf("sent %d points in %v", total, time.Since(start).Round(time.Millisecond))

	// Every point is accounted for: sums of the merged delta series equal the input.
	users := map[string]bool{}
	series := map[string]bool{}
	var out int64
	eventually(t, 30*time.Second, "the flood's sum out", func() (bool, string) {
		users, series, out = map[string]bool{}, map[string]bool{}, 0
		for _, md := range readMetrics(t, filepath.Join(c.dataDir, "metrics.jsonl")) {
			rms := md.ResourceMetrics()
			for i := 0; i < rms.Len(); i++ {
				sms := rms.At(i).ScopeMetrics()
				for j := 0; j < sms.Len(); j++ {
					ms := sms.At(j).Metrics()
					for k := 0; k < ms.Len(); k++ {
						dps := ms.At(k).Sum().DataPoints()
						for p := 0; p < dps.Len(); p++ {
							dp := dps.At(p)
							out += dp.IntValue()
							if u, ok := dp.Attributes().Get("user_id"); ok {
								users[u.AsString()] = true
							}
							series[fmt.Sprint(dp.Attributes().AsRaw())] = true
						}
					}
				}
			}
		}
		return out == total, fmt.Sprintf("sum out %d of %d", out, total)
	})
	if len(users) > 100 {
		t.Fatalf("%d distinct user_id values came out, max_values_per_label is 100", len(users))
	}
	if len(series) > 2000 {
		t.Fatalf("%d series came out, max_series_per_metric is 2000", len(series))
	}
	_, peak := rssBytes(t, c.cmd.Process.Pid)
	// Bound from the config: 100,000 tracked series at a generous 1 KiB each,
	// plus 256 MiB for requests in flight (10,000-point batches decoded and
	// copied), above the RSS before the flood.
	bound := baseRSS + 100_000*1024 + 256<<20
	if peak > bound {
		t.Fatalf("peak RSS %d MiB over the bound %d MiB (base %d MiB)", peak>>20, bound>>20, baseRSS>>20)
	}
	tracked, _ := c.scrapeMetric(t, "otelcol_processor_cardinalityguard_series_tracked")
	if tracked > 100_000 {
		t.Fatalf("series tracked %v over max_series_total", tracked)
	}
	t.Logf("label flood: %d points in, %d series and %d user_id values out, peak RSS %d MiB (base %d, bound %d), tracked %v",
		total, len(series), len(users), peak>>20, baseRSS>>20, bound>>20, tracked)
}

// gatedTraceSink is an OTLP/gRPC trace sink on 127.0.0.1 that holds every
// request (answering nothing until the client gives up) while closed, and
// accepts and counts spans by service name while open.
type gatedTraceSink struct {
	ptraceotlp.UnimplementedGRPCServer
	open  chan struct{}
	mu    sync.Mutex
	spans map[string]int
	srv   *grpc.Server
	addr  string
}

func startGatedTraceSink(t *testing.T) *gatedTraceSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &gatedTraceSink{open: make(chan struct{}), spans: map[string]int{}, srv: grpc.NewServer(grpc.MaxRecvMsgSize(256 << 20)), addr: l.Addr().String()}
	ptraceotlp.RegisterGRPCServer(s.srv, s)
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(s.srv.Stop)
	return s
}

func (s *gatedTraceSink) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	select {
	case <-s.open:
	case <-ctx.Done():
		// A stalled backend: the client retries Unavailable.
		return ptraceotlp.NewExportResponse(), status.Error(codes.Unavailable, "backend stalled")
	}
	td := req.Traces()
	s.mu.Lock()
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			s.spans[serviceName(rs.Resource())] += rs.ScopeSpans().At(j).Spans().Len()
		}
	}
	s.mu.Unlock()
	return ptraceotlp.NewExportResponse(), nil
}

func (s *gatedTraceSink) count(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans[service]
}

// memory_limiter engages under an overload (the backend stalls and the
// in-memory queue grows) and the collector recovers when the load stops and
// the backend answers again: the queue drains, memory falls back within
// limits, and data sent afterwards is accepted and delivered.
func TestFaultMemoryLimiterEngagesAndRecovers(t *testing.T) {
	sink := startGatedTraceSink(t)
	c := newCollectorEnv(t)
	c.env["SINK_OTLP_ENDPOINT"] = sink.addr
	c.start("test/e2e/testdata/memory-limiter.yaml")

	// Overload: telemetrygen at full speed, bounded; it keeps going when the
	// collector refuses (it logs the errors).
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	load := startTool(ctx, telemetrygen, "traces", "--otlp-endpoint", c.otlpGRPC, "--otlp-insecure",
		"--rate", "0", "--workers", "4", "--duration", "60s", "--child-spans", "5", "--service", "overload",
		"--telemetry-attributes", `payload="`+strings.Repeat("x", 16<<10)+`"`)
	engaged := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !engaged; {
		engaged = strings.Contains(c.out.String(), "Memory usage is above")
		time.Sleep(200 * time.Millisecond)
	}
	_ = load.stop() // telemetrygen ends by the interrupt; the overload is what counts
	if !engaged {
		heap, _ := c.scrapeMetric(t, "otelcol_process_runtime_heap_alloc_bytes")
		accepted, _ := c.scrapeMetric(t, "otelcol_receiver_accepted_spans")
		queued, _ := c.scrapeMetric(t, "otelcol_exporter_queue_size")
		sent, _ := c.scrapeMetric(t, "otelcol_exporter_sent_spans")
		failed, _ := c.scrapeMetric(t, "otelcol_exporter_send_failed_spans")
		t.Fatalf("memory_limiter never engaged under the overload (heap %v MiB, %v spans accepted, %v queued, %v sent, %v failed, %d at the sink)",
			heap/(1<<20), accepted, queued, sent, failed, sink.count("overload"))
	}
	refused, _ := c.scrapeMetric(t, "otelcol_receiver_refused_spans")
	if refused == 0 {
		t.Fatalf("memory_limiter engaged but no span was refused to the client")
	}

	// The backend answers again: the queue drains and memory falls back under
	// the soft limit (limit_mib 100 - spike_limit_mib 25 = 75 MiB).
	close(sink.open)
	eventually(t, 90*time.Second, "memory back under the soft limit", func() (bool, string) {
		heap, ok := c.scrapeMetric(t, "otelcol_process_runtime_heap_alloc_bytes")
		queued, _ := c.scrapeMetric(t, "otelcol_exporter_queue_size")
		return ok && heap < 75<<20 && queued == 0, fmt.Sprintf("heap %.0f MiB, %v queued, %d overload spans delivered", heap/(1<<20), queued, sink.count("overload"))
	})
	// Recovered: new data is accepted (nothing more refused) and delivered.
	refusedBefore, _ := c.scrapeMetric(t, "otelcol_receiver_refused_spans")
	runTool(t, time.Minute, telemetrygen, "traces", "--otlp-endpoint", c.otlpGRPC, "--otlp-insecure",
		"--rate", "0", "--traces", "50", "--service", "after-recovery")
	eventually(t, 60*time.Second, "data after recovery delivered", func() (bool, string) {
		n := sink.count("after-recovery")
		return n == 100, fmt.Sprintf("%d of 100 spans after recovery", n)
	})
	if refusedAfter, _ := c.scrapeMetric(t, "otelcol_receiver_refused_spans"); refusedAfter != refusedBefore {
		t.Fatalf("after recovery %v more spans were refused", refusedAfter-refusedBefore)
	}
	t.Logf("memory_limiter: engaged, %v spans refused, %d overload spans delivered after the backend came back", refused, sink.count("overload"))
}
