// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// TestViaAndConvention: every found context says how it was read and in
// which convention it was written.
func TestViaAndConvention(t *testing.T) {
	attrs := func(kv ...string) func(plog.LogRecord) {
		return func(lr plog.LogRecord) {
			for i := 0; i+1 < len(kv); i += 2 {
				lr.Attributes().PutStr(kv[i], kv[i+1])
			}
		}
	}
	body := func(s string) func(plog.LogRecord) {
		return func(lr plog.LogRecord) { lr.Body().SetStr(s) }
	}
	tp := "00-" + tHex + "-" + sHex + "-01"
	cases := []struct {
		name string
		fill func(plog.LogRecord)
		via  Via
		conv Convention
	}{
		{"traceparent attribute", attrs("traceparent", tp), ViaAttribute, ConvW3C},
		{"otel attributes", attrs("trace_id", tHex, "span_id", sHex), ViaAttribute, ConvTraceID},
		{"ecs dotted attribute", attrs("trace.id", tHex), ViaAttribute, ConvTraceID},
		{"datadog decimal", attrs("dd.trace_id", "5208512171318403364", "dd.span_id", "7918400239128113537"), ViaAttribute, ConvDatadog},
		{"b3 multi-header fields", attrs("X-B3-TraceId", tHex, "X-B3-SpanId", sHex), ViaAttribute, ConvB3},
		{"b3 single header", attrs("b3", tHex+"-"+sHex+"-1"), ViaAttribute, ConvB3},
		{"google cloud logging", attrs("logging.googleapis.com/trace", "projects/p/traces/"+tHex), ViaAttribute, ConvGoogle},
		{"jaeger", attrs("uber-trace-id", tHex+":"+sHex+":0:1"), ViaAttribute, ConvJaeger},
		{"x-ray header", attrs("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"), ViaAttribute, ConvXRay},
		{"x-cloud-trace-context", attrs("X-Cloud-Trace-Context", tHex+"/123;o=1"), ViaAttribute, ConvCloudTrace},
		{"map body field", func(lr plog.LogRecord) { lr.Body().SetEmptyMap().PutStr("traceId", tHex) }, ViaBodyField, ConvTraceID},
		{"logfmt body", body("level=info msg=ok trace_id=" + tHex + " span_id=" + sHex), ViaBodyText, ConvTraceID},
		{"json body", body(`{"msg":"ok","traceparent":"` + tp + `"}`), ViaBodyText, ConvW3C},
		{"bare traceparent in text", body("GET /orders done traceparent " + tp + " in 3ms"), ViaBodyText, ConvW3C},
		{"bare x-ray root in text", body("handled Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1 ok"), ViaBodyText, ConvXRay},
		{"text in a string attribute", attrs("log", `{"msg":"ok","trace_id":"`+tHex+`"}`), ViaAttributeText, ConvTraceID},
		{"text in a map body's string field", func(lr plog.LogRecord) {
			lr.Body().SetEmptyMap().PutStr("log", "msg=ok dd.trace_id=5208512171318403364")
		}, ViaBodyText, ConvDatadog},
		{"spring boot 3", body("2026-11-23 INFO [shop," + tHex + "," + sHex + "] ok"), ViaBodyText, ConvSpringBoot3},
		{"spring boot 3.2", body("2026-11-23 INFO [" + tHex + "-" + sHex + "] ok"), ViaBodyText, ConvSpringBoot32},
		{"sleuth", body("2026-11-23 INFO [shop," + tHex + "," + sHex + ",true] ok"), ViaBodyText, ConvSleuth},
		{"nothing", attrs("request_id", "r1"), ViaNone, ConvNone},
	}
	ex := New(defaultKeys(), true, false).WithPatterns(PatternSpringBoot3 | PatternSpringBoot32 | PatternSleuth)
	var res Result
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lr := plog.NewLogRecord()
			c.fill(lr)
			ex.Extract(lr, &res)
			assert.Equal(t, c.via, res.Via)
			assert.Equal(t, c.via.Source(), res.Source)
			assert.Equal(t, c.conv, res.Context.Conv, "%s, not %s", c.conv, res.Context.Conv)
			if c.via != ViaNone {
				require.NotEqual(t, [16]byte{}, res.Context.TraceID)
			}
		})
	}
}

func TestConventionNames(t *testing.T) {
	seen := map[string]Convention{}
	for c := range NumConventions {
		name := c.String()
		assert.NotEqual(t, "unknown", name, "convention %d", c)
		_, dup := seen[name]
		assert.False(t, dup, "%s named twice", name)
		seen[name] = c
	}
	assert.Equal(t, "unknown", NumConventions.String())
}
