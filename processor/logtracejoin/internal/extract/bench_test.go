// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
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
	for b.Loop() {
		ex.Extract(lr, &res)
	}
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
			for b.Loop() {
				ex.Extract(lr, &res)
			}
			if name != "no_ids_json" && res.Source != SourceBody {
				b.Fatal("not extracted")
			}
		})
	}
}
