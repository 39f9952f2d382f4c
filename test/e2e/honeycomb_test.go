package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

type spanRecord struct {
	traceID, parentID, name string
	attrs                   map[string]any
}

func indexSpans(tds []ptrace.Traces) map[string]spanRecord {
	out := map[string]spanRecord{}
	for _, td := range tds {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					s := ss.At(k)
					parent := ""
					if !s.ParentSpanID().IsEmpty() {
						parent = s.ParentSpanID().String()
					}
					out[s.SpanID().String()] = spanRecord{s.TraceID().String(), parent, s.Name(), s.Attributes().AsRaw()}
				}
			}
		}
	}
	return out
}

// Round trip through a real peer: otelcol-prodscope exports with
// honeycombevents to a second otelcol-prodscope whose contrib libhoney
// receiver decodes the Events API batches. Every span comes back with its
// trace id, span id, parent id, name and attributes.
func TestHoneycombEventsRoundTripThroughLibhoneyReceiver(t *testing.T) {
	peerAddr := freeAddr(t)

	peer := newCollectorEnv(t)
	peer.env["PEER_LIBHONEY_ENDPOINT"] = peerAddr
	peer.start("test/e2e/testdata/libhoney-peer.yaml")

	sender := newCollectorEnv(t)
	sender.env["PEER_LIBHONEY_ENDPOINT"] = peerAddr
	sender.start("test/e2e/testdata/honeycomb-sender.yaml")

	const traces = 40 // two spans each: a parent and its child
	runTool(t, 2*time.Minute, telemetrygen, "traces", "--otlp-endpoint", sender.otlpGRPC, "--otlp-insecure",
		"--rate", "0", "--traces", fmt.Sprint(traces), "--service", "roundtrip", "--telemetry-attributes", `app.tier="gold"`)

	var sent, received map[string]spanRecord
	eventually(t, 60*time.Second, "every span back from the libhoney receiver", func() (bool, string) {
		sent = indexSpans(readTraces(t, filepath.Join(sender.dataDir, "sent.jsonl")))
		received = indexSpans(readTraces(t, filepath.Join(peer.dataDir, "received.jsonl")))
		return len(sent) == 2*traces && len(received) >= len(sent), fmt.Sprintf("sent %d received %d", len(sent), len(received))
	})
	if len(received) != len(sent) {
		t.Fatalf("received %d spans, sent %d", len(received), len(sent))
	}
	withParent := 0
	for id, s := range sent {
		r, ok := received[id]
		if !ok {
			t.Fatalf("span %s (%s) never came back", id, s.name)
		}
		if r.traceID != s.traceID || r.parentID != s.parentID || r.name != s.name {
			t.Fatalf("span %s: got trace %s parent %q name %q; sent trace %s parent %q name %q",
				id, r.traceID, r.parentID, r.name, s.traceID, s.parentID, s.name)
		}
		if s.parentID != "" {
			withParent++
		}
		for k, v := range s.attrs {
			if got, ok := r.attrs[k]; !ok || fmt.Sprint(got) != fmt.Sprint(v) {
				t.Fatalf("span %s attribute %s: got %v (present %v), sent %v", id, k, got, ok, v)
			}
		}
		if r.attrs["app.tier"] != "gold" {
			t.Fatalf("span %s lost the telemetry attribute app.tier: %v", id, r.attrs)
		}
	}
	if withParent != traces {
		t.Fatalf("%d spans with a parent, want %d", withParent, traces)
	}
}
