// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/prodscope/prodscope/internal/cputime"
)

// BenchmarkExtractAttributes: a record with its ids in OTel attributes plus
// a few ordinary ones (issue target: <= 150 ns per record).
func BenchmarkExtractAttributes(b *testing.B) {
	ex := New(defaultKeys(), true, false)
	lr := plog.NewLogRecord()
	lr.Attributes().PutStr("level", "info")
	lr.Attributes().PutStr("user_id", "1234")
	lr.Attributes().PutStr("trace_id", tHex)
	lr.Attributes().PutStr("span_id", sHex)
	lr.Attributes().PutStr("code.function", "main.handleOrder")
	var res Result
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		ex.Extract(lr, &res)
	}
	cpu.report(b, 0)
	if res.Source != SourceAttribute {
		b.Fatal("not extracted")
	}
}

// bodyLines are 200-byte lines of the shapes string bodies take.
var bodyLines = map[string]string{
	"slog_json":        pad(`{"time":"2026-11-23T12:00:00.123Z","level":"INFO","msg":"order placed","user_id":"1234","trace_id":"` + tHex + `","span_id":"` + sHex + `"}`),
	"logfmt":           pad(`time=2026-11-23T12:00:00.123Z level=info msg="order placed" user_id=1234 trace_id=` + tHex + ` span_id=` + sHex),
	"text_traceparent": pad(`2026-11-23 12:00:00.123 INFO [orders] order placed for user 1234 traceparent 00-` + tHex + `-` + sHex + `-01`),
	"no_ids_json":      pad(`{"time":"2026-11-23T12:00:00.123Z","level":"INFO","msg":"order placed","user_id":"1234","request_id":"5f1c2a7e-8a51-4c3e-9f1b-7d2d5b1c0e99"}`),
}

func pad(s string) string {
	for len(s) < 200 {
		s += " "
	}
	return s[:200]
}

// BenchmarkScanStringBody: string-body extraction on 200-byte lines
// (issue target: >= 1 GB/s).
func BenchmarkScanStringBody(b *testing.B) {
	ex := New(defaultKeys(), true, false)
	for name, line := range bodyLines {
		b.Run(name, func(b *testing.B) {
			lr := plog.NewLogRecord()
			lr.Body().SetStr(line)
			var res Result
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				ex.Extract(lr, &res)
			}
			cpu.report(b, len(line))
			if name != "no_ids_json" && res.Source != SourceBody {
				b.Fatal("not extracted")
			}
		})
	}
}

// cpuClock measures a benchmark loop's thread CPU time.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock {
	runtime.LockOSThread()
	return cpuClock{start: cputime.Thread()}
}

// report adds cpu-ns/op (and cpu-MB/s when bytes > 0) to the benchmark.
func (c cpuClock) report(b *testing.B, bytes int) {
	d := cputime.Thread() - c.start
	runtime.UnlockOSThread()
	if d <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if bytes > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/d.Seconds()/1e6, "cpu-MB/s")
	}
}
