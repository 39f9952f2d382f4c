// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	libhoney "github.com/honeycombio/libhoney-go"
	"github.com/honeycombio/libhoney-go/transmission"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

// libhoneyEvent is what a libhoney-go user would build for a span, following
// Honeycomb's own OTLP translation: the reference our mapping must match.
type libhoneyEvent struct {
	dataset    string
	time       time.Time
	sampleRate uint
	fields     map[string]any
}

func spanKindName(k ptrace.SpanKind) string {
	return map[ptrace.SpanKind]string{
		ptrace.SpanKindServer: "server", ptrace.SpanKindClient: "client", ptrace.SpanKindInternal: "internal",
		ptrace.SpanKindProducer: "producer", ptrace.SpanKindConsumer: "consumer",
	}[k]
}

func hexID[T pcommon.TraceID | pcommon.SpanID](id T) string {
	switch v := any(id).(type) {
	case pcommon.TraceID:
		return hex.EncodeToString(v[:])
	case pcommon.SpanID:
		return hex.EncodeToString(v[:])
	}
	return ""
}

// referenceEvents maps spans the way husky does, into plain maps.
func referenceEvents(td ptrace.Traces) []libhoneyEvent {
	var out []libhoneyEvent
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		svc, _ := rs.Resource().Attributes().Get("service.name")
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				s := ss.Spans().At(k)
				f := map[string]any{
					"trace.trace_id":   hexID(s.TraceID()),
					"trace.span_id":    hexID(s.SpanID()),
					"name":             s.Name(),
					"span.kind":        spanKindName(s.Kind()),
					"type":             spanKindName(s.Kind()),
					"duration_ms":      float64(s.EndTimestamp()-s.StartTimestamp()) / float64(time.Millisecond),
					"status_code":      int(s.Status().Code()),
					"span.num_events":  s.Events().Len(),
					"span.num_links":   s.Links().Len(),
					"meta.signal_type": "trace",
				}
				if !s.ParentSpanID().IsEmpty() {
					f["trace.parent_id"] = hexID(s.ParentSpanID())
				}
				if s.Status().Code() == ptrace.StatusCodeError {
					f["error"] = true
				}
				if ss.Scope().Name() != "" {
					f["library.name"] = ss.Scope().Name()
				}
				rate := uint(1)
				for k, v := range rs.Resource().Attributes().All() {
					f[k] = v.AsRaw()
				}
				for k, v := range s.Attributes().All() {
					if k == "SampleRate" {
						if r := v.Int(); r > 0 {
							rate = uint(r)
						}
						continue
					}
					f[k] = v.AsRaw()
				}
				out = append(out, libhoneyEvent{dataset: svc.Str(), time: s.StartTimestamp().AsTime(), sampleRate: rate, fields: f})
			}
		}
	}
	return out
}

func comparisonTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	start := time.Date(2026, 11, 23, 12, 0, 0, 987654321, time.UTC)
	for r, svc := range []string{"checkout", "payments"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		rs.Resource().Attributes().PutStr("host.name", "node-1")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("shop")
		for i := range 25 {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(pcommon.TraceID{0xaa, byte(r), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, byte(i)})
			s.SetSpanID(pcommon.SpanID{0xbb, byte(r), 0, 0, 0, 0, 0, byte(i)})
			if i > 0 {
				s.SetParentSpanID(pcommon.SpanID{0xbb, byte(r), 0, 0, 0, 0, 0, 0})
			}
			s.SetName("op " + svc)
			s.SetKind(ptrace.SpanKind(1 + i%5))
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Millisecond)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i)*time.Millisecond + time.Duration(i*1234)*time.Microsecond)))
			if i%7 == 3 {
				s.Status().SetCode(ptrace.StatusCodeError)
			}
			a := s.Attributes()
			a.PutStr("http.route", "/cart/{id}")
			a.PutInt("http.response.status_code", int64(200+i))
			a.PutDouble("cart.total", 10.25*float64(i))
			a.PutBool("cart.guest", i%2 == 0)
			a.PutStr("note", "quote \" backslash \\ newline \n unicode é")
			if i%5 == 0 {
				a.PutInt("SampleRate", int64(i+2))
			}
		}
	}
	return td
}

func sendWithLibhoney(t *testing.T, url string, msgpack bool, evs []libhoneyEvent) {
	t.Helper()
	tx := &transmission.Honeycomb{
		MaxBatchSize:          libhoney.DefaultMaxBatchSize,
		BatchTimeout:          libhoney.DefaultBatchTimeout,
		MaxConcurrentBatches:  libhoney.DefaultMaxConcurrentBatches,
		PendingWorkCapacity:   libhoney.DefaultPendingWorkCapacity,
		EnableMsgpackEncoding: msgpack,
		BlockOnSend:           true,
	}
	client, err := libhoney.NewClient(libhoney.ClientConfig{APIKey: testKey, APIHost: url, Transmission: tx})
	require.NoError(t, err)
	for _, e := range evs {
		ev := client.NewEvent()
		ev.Dataset = e.dataset
		ev.Timestamp = e.time
		ev.SampleRate = e.sampleRate
		require.NoError(t, ev.Add(e.fields))
		require.NoError(t, ev.SendPresampled())
	}
	client.Close()
}

func TestMatchesLibhoneyFieldForField(t *testing.T) {
	for _, enc := range []Encoding{EncodingJSON, EncodingMsgpack} {
		t.Run(string(enc), func(t *testing.T) {
			td := comparisonTraces()

			theirSink := hcsink.New(testKey)
			defer theirSink.Close()
			theirSrv := httptest.NewServer(theirSink)
			defer theirSrv.Close()
			sendWithLibhoney(t, theirSrv.URL, enc == EncodingMsgpack, referenceEvents(td))

			env := newTestEnv(t, func(c *Config) { c.Encoding = enc })
			require.NoError(t, env.exp.pushTraces(context.Background(), td))

			theirReqs := theirSink.Requests()
			require.NotEmpty(t, theirReqs)
			for _, r := range theirReqs {
				assert.Equal(t, "zstd", r.ContentEncoding, "libhoney-go compresses with zstd by default")
			}
			for _, r := range env.sink.Requests() {
				assert.Equal(t, "zstd", r.ContentEncoding)
				assert.Equal(t, theirReqs[0].ContentType, r.ContentType)
			}

			theirs := indexBySpan(t, theirSink.Events())
			ours := indexBySpan(t, env.sink.Events())
			require.Len(t, theirs, 50)
			require.Len(t, ours, 50)
			for id, want := range theirs {
				got, ok := ours[id]
				require.True(t, ok, "span %s missing from our events", id)
				assert.Equal(t, want.Dataset, got.Dataset, id)
				assert.Equal(t, want.SampleRate, got.SampleRate, id)
				assert.True(t, want.Time.Equal(got.Time), "%s: time %v vs %v", id, want.Time, got.Time)
				for k, v := range want.Data {
					assert.Equal(t, v, got.Data[k], "span %s field %s", id, k)
				}
			}
			assert.Equal(t, http.StatusOK, env.sink.Requests()[0].Status)
		})
	}
}

func indexBySpan(t *testing.T, evs []hcsink.Event) map[string]hcsink.Event {
	t.Helper()
	out := map[string]hcsink.Event{}
	for _, ev := range evs {
		id, ok := ev.Data["trace.span_id"].(string)
		require.True(t, ok)
		out[id] = ev
	}
	return out
}
