// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/libhoneyreceiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestRoundTripThroughLibhoneyReceiver sends spans with this exporter to the
// contrib libhoney receiver (the peer the distribution carries) and checks
// that every span comes back with its ids, name and attributes.
func TestRoundTripThroughLibhoneyReceiver(t *testing.T) {
	for _, tc := range []struct {
		enc  Encoding
		comp configcompression.Type
	}{{EncodingJSON, configcompression.TypeZstd}, {EncodingMsgpack, configcompression.TypeGzip}} {
		t.Run(fmt.Sprintf("%s-%s", tc.enc, tc.comp), func(t *testing.T) {
			addr := freeLoopbackAddr(t)
			rf := libhoneyreceiver.NewFactory()
			rcfg := rf.CreateDefaultConfig()
			require.NoError(t, confmap.NewFromStringMap(map[string]any{
				"http": map[string]any{"endpoint": addr, "traces_url_paths": []any{"/1/batch"}},
			}).Unmarshal(rcfg))
			got := new(consumertest.TracesSink)
			rcv, err := rf.CreateTraces(context.Background(), receivertest.NewNopSettings(rf.Type()), rcfg, got)
			require.NoError(t, err)
			require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()

			env := newTestEnv(t, func(c *Config) {
				c.ClientConfig.Endpoint = "http://" + addr
				c.Encoding = tc.enc
				c.ClientConfig.Compression = tc.comp
			})
			td := comparisonTraces()
			first := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
			se := first.Events().AppendEmpty()
			se.SetName("exception")
			se.SetTimestamp(first.StartTimestamp())
			se.Attributes().PutStr("exception.message", "card declined")
			link := first.Links().AppendEmpty()
			link.SetTraceID(pcommon.TraceID{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
			link.SetSpanID(pcommon.SpanID{8, 8, 8, 8, 8, 8, 8, 8})
			var pushErr error
			require.Eventually(t, func() bool { // the receiver's listener starts asynchronously
				pushErr = env.exp.pushTraces(context.Background(), td)
				return pushErr == nil
			}, 5*time.Second, 20*time.Millisecond)

			want := spansByID(td)
			have := map[string]ptrace.Span{}
			for _, tr := range got.AllTraces() {
				for id, s := range spansByID(tr) {
					have[id] = s
				}
			}
			require.Len(t, have, len(want))
			gotFirst := have[first.SpanID().String()]
			require.Equal(t, 1, gotFirst.Events().Len(), "span event attached to its span")
			assert.Equal(t, "exception", gotFirst.Events().At(0).Name())
			msg, _ := gotFirst.Events().At(0).Attributes().Get("exception.message")
			assert.Equal(t, "card declined", msg.Str())
			require.Equal(t, 1, gotFirst.Links().Len(), "link attached to its span")
			assert.Equal(t, link.TraceID(), gotFirst.Links().At(0).TraceID())
			assert.Equal(t, link.SpanID(), gotFirst.Links().At(0).SpanID())
			for id, w := range want {
				g, ok := have[id]
				require.True(t, ok, "span %s did not come back", id)
				assert.Equal(t, w.TraceID(), g.TraceID(), id)
				assert.Equal(t, w.ParentSpanID(), g.ParentSpanID(), id)
				assert.Equal(t, w.Name(), g.Name(), id)
				if tc.enc == EncodingJSON {
					// The receiver (v0.144.0) only reads a msgpack "time"
					// decoded as *time.Time, but msgpack timestamps decode as
					// time.Time values, so it stamps msgpack events with its
					// own clock (libhoney-go's msgpack events too). JSON
					// times come through.
					assert.Equal(t, w.StartTimestamp().AsTime().UTC(), g.StartTimestamp().AsTime().UTC(), id)
				}
				assert.InDelta(t, float64(w.EndTimestamp()-w.StartTimestamp()), float64(g.EndTimestamp()-g.StartTimestamp()), 1e3, "%s duration", id)
				assert.Equal(t, w.Kind(), g.Kind(), id)
				for k, v := range w.Attributes().All() {
					if k == "SampleRate" {
						continue // consumed into the event's samplerate
					}
					gv, ok := g.Attributes().Get(k)
					if !assert.True(t, ok, "span %s lost attribute %s", id, k) {
						continue
					}
					wantV := v.AsRaw()
					if i, isInt := wantV.(int64); isInt && tc.enc == EncodingJSON {
						// The receiver decodes JSON numbers into float64;
						// msgpack keeps integers (checked in the other case).
						wantV = float64(i)
					}
					assert.Equal(t, wantV, gv.AsRaw(), "span %s attribute %s", id, k)
				}
			}
		})
	}
}

func spansByID(td ptrace.Traces) map[string]ptrace.Span {
	out := map[string]ptrace.Span{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		ss := td.ResourceSpans().At(i).ScopeSpans()
		for j := 0; j < ss.Len(); j++ {
			for k := 0; k < ss.At(j).Spans().Len(); k++ {
				s := ss.At(j).Spans().At(k)
				out[s.SpanID().String()] = s
			}
		}
	}
	return out
}
