// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	libhoney "github.com/honeycombio/libhoney-go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
	"github.com/prodscope/prodscope/internal/cputime"
)

const (
	benchEvents      = 100_000
	benchAttrs       = 20
	benchSpansPerReq = 1000
)

// benchTraces builds n span-shaped items with benchAttrs attributes each,
// split into ptrace.Traces of benchSpansPerReq spans (what a batch
// processor hands an exporter).
func benchTraces(dataset string, n int) []ptrace.Traces {
	var out []ptrace.Traces
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := 0; i < n; {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", dataset)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("shop")
		for j := 0; j < benchSpansPerReq && i < n; j, i = j+1, i+1 {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(pcommon.TraceID{1, byte(i >> 16), byte(i >> 8), byte(i), 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
			s.SetSpanID(pcommon.SpanID{2, byte(i >> 16), byte(i >> 8), byte(i), 5, 6, 7, 8})
			s.SetParentSpanID(pcommon.SpanID{3, byte(i >> 16), byte(i >> 8), byte(i), 5, 6, 7, 8})
			s.SetName("GET /api/cart/{id}")
			s.SetKind(ptrace.SpanKindServer)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Microsecond)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i)*time.Microsecond + 1234*time.Microsecond)))
			a := s.Attributes()
			for k := range benchAttrs {
				key := fmt.Sprintf("app.attr_%02d", k)
				switch k % 4 {
				case 0:
					a.PutStr(key, fmt.Sprintf("value-%d-%d", k, i%97))
				case 1:
					a.PutInt(key, int64(i*k))
				case 2:
					a.PutDouble(key, float64(i)*0.5)
				default:
					a.PutBool(key, i%2 == 0)
				}
			}
		}
		out = append(out, td)
	}
	return out
}

type benchKV struct {
	key string
	val any
}

// benchLibhoneyFields is the same events as libhoney-go input (husky-style
// fields, prebuilt so that building them is not measured).
func benchLibhoneyFields(tds []ptrace.Traces) ([][]benchKV, []time.Time) {
	var fields [][]benchKV
	var times []time.Time
	for _, td := range tds {
		for _, ev := range referenceEvents(td) {
			kvs := make([]benchKV, 0, len(ev.fields))
			for k, v := range ev.fields {
				kvs = append(kvs, benchKV{k, v})
			}
			fields = append(fields, kvs)
			times = append(times, ev.time)
		}
	}
	return fields, times
}

// startSinkProcess builds cmd/hcsink into a temporary GOBIN and runs it
// there on a loopback port.
func startSinkProcess(b *testing.B) (string, func()) {
	b.Helper()
	dir := b.TempDir()
	build := exec.Command("go", "install", "./cmd/hcsink")
	build.Env = append(os.Environ(), "GOBIN="+dir)
	build.Stderr = os.Stderr
	require.NoError(b, build.Run())
	cmd := exec.Command("./hcsink", "-listen", "127.0.0.1:0", "-api-key", testKey)
	cmd.Dir = dir // a relative command path is taken relative to Dir
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	cmd.Stderr = os.Stderr
	require.NoError(b, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(b, err)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	return "http://" + addr, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
}

func sinkStats(b *testing.B, url string) hcsink.Stats {
	b.Helper()
	resp, err := http.Get(url + "/stats")
	require.NoError(b, err)
	defer resp.Body.Close()
	var st hcsink.Stats
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// BenchmarkVersusLibhoney sends the same 100,000 span events (20 attributes
// each) through this exporter (full exporterhelper chain, default queue)
// and through libhoney-go v1.27.1 (default configuration), zstd on both, to
// one hcsink process, and reports events per CPU-second of this process and
// the share of events delivered.
func BenchmarkVersusLibhoney(b *testing.B) {
	url, stop := startSinkProcess(b)
	defer stop()

	var oursRate, theirsRate, oursDelivered, theirsDelivered, theirsOverflow, oursDelRate, theirsDelRate float64
	b.ResetTimer()
	for range b.N {
		before := sinkStats(b, url)

		// Ours. Each side's input is built before its measured phase and
		// collected after it; runtime.GC() keeps one phase's garbage from
		// being collected (and charged) during the other.
		ours := benchTraces("ours", benchEvents)
		runtime.GC()
		f := NewFactory()
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.ClientConfig.Endpoint = url
		cfg.APIKey = testKey
		exp, err := f.CreateTraces(context.Background(), exportertestSettings(), cfg)
		require.NoError(b, err)
		require.NoError(b, exp.Start(context.Background(), componenttest.NewNopHost()))
		c0 := cputime.Process()
		for _, td := range ours {
			require.NoError(b, exp.ConsumeTraces(context.Background(), td))
		}
		require.NoError(b, exp.Shutdown(context.Background())) // drains the queue
		oursCPU := cputime.Process() - c0
		ours = nil //nolint:ineffassign // released so the GC can reclaim it before libhoney-go is measured

		// libhoney-go, default configuration.
		theirs, times := benchLibhoneyFields(benchTraces("libhoney", benchEvents))
		runtime.GC()
		client, err := libhoney.NewClient(libhoney.ClientConfig{APIKey: testKey, Dataset: "libhoney", APIHost: url})
		require.NoError(b, err)
		var overflow atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range client.TxResponses() {
				if r.Err != nil && strings.Contains(r.Err.Error(), "queue overflow") {
					overflow.Add(1)
				}
			}
		}()
		c1 := cputime.Process()
		for i, kvs := range theirs {
			ev := client.NewEvent()
			ev.Timestamp = times[i]
			for _, kv := range kvs {
				ev.AddField(kv.key, kv.val)
			}
			_ = ev.SendPresampled()
		}
		client.Close()
		theirsCPU := cputime.Process() - c1
		wg.Wait()
		theirs, times = nil, nil //nolint:ineffassign // released before the next iteration
		runtime.GC()

		after := sinkStats(b, url)
		oursN := after.ByDataset["ours"] - before.ByDataset["ours"]
		theirsN := after.ByDataset["libhoney"] - before.ByDataset["libhoney"]
		oursRate += float64(benchEvents) / oursCPU.Seconds()
		theirsRate += float64(benchEvents) / theirsCPU.Seconds()
		oursDelivered += 100 * float64(oursN) / benchEvents
		theirsDelivered += 100 * float64(theirsN) / benchEvents
		theirsOverflow += float64(overflow.Load())
		oursDelRate += float64(oursN) / oursCPU.Seconds()
		theirsDelRate += float64(theirsN) / theirsCPU.Seconds()
	}
	n := float64(b.N)
	b.ReportMetric(oursRate/n, "ours_events/cpu_s")
	b.ReportMetric(theirsRate/n, "libhoney_events/cpu_s")
	b.ReportMetric(oursRate/theirsRate, "ratio")
	b.ReportMetric(oursDelivered/n, "ours_delivered_%")
	b.ReportMetric(theirsDelivered/n, "libhoney_delivered_%")
	b.ReportMetric(theirsOverflow/n, "libhoney_queue_overflows")
	b.ReportMetric(oursDelRate/n, "ours_delivered/cpu_s")
	b.ReportMetric(theirsDelRate/n, "libhoney_delivered/cpu_s")
}

// BenchmarkEncodeSpans measures mapping, encoding and batching of 1000
// span events (20 attributes each) per op; allocs/event must stay <= 1.
func BenchmarkEncodeSpans(b *testing.B) {
	for _, format := range []events.Format{events.FormatJSON, events.FormatMsgpack} {
		name := map[events.Format]string{events.FormatJSON: "json", events.FormatMsgpack: "msgpack"}[format]
		b.Run(name, func(b *testing.B) {
			td := benchTraces("svc", benchSpansPerReq)[0]
			batcher := events.NewBatcher(format, events.Limits{MaxBatchBytes: 5_000_000, MaxEventBytes: 1_000_000, MaxFields: 2000}, nil)
			m := events.NewMapper(events.Config{UnknownDataset: "u"}, batcher)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m.Reset()
				m.Traces(td)
				batcher.Finish()
			}
			b.StopTimer()
			perOp := testing.AllocsPerRun(10, func() {
				m.Reset()
				m.Traces(td)
				batcher.Finish()
			})
			b.ReportMetric(perOp/benchSpansPerReq, "allocs/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchSpansPerReq, "ns/event")
		})
	}
}

// BenchmarkPushTraces measures a whole push (map, encode, zstd, HTTP, status
// parsing) of 1000 spans to an in-process server that only reads the body
// and acknowledges 1000 events, so the figure is the exporter's own cost.
func BenchmarkPushTraces(b *testing.B) {
	ack := []byte("[" + strings.TrimSuffix(strings.Repeat(`{"status":202},`, benchSpansPerReq), ",") + "]")
	srv := newLoopbackServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ack)
	}))
	defer srv.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.APIKey = testKey
	exp, err := newEventsExporter(cfg, exportertestSettings(), signalTraces)
	require.NoError(b, err)
	require.NoError(b, exp.start(context.Background(), componenttest.NewNopHost()))
	defer func() { _ = exp.shutdown(context.Background()) }()
	td := benchTraces("svc", benchSpansPerReq)[0]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := exp.pushTraces(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
}
