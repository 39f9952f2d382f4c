// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
		"--rate", "0", "--traces", strconv.Itoa(traces), "--service", "roundtrip", "--telemetry-attributes", `app.tier="gold"`)

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

// The Honeycomb sink fails whole requests (500, 429, 503) and answers a
// per-event 500, 429 or 400 for 30% of events. Every event is delivered or
// counted as refused with its reason: none is lost silently.
func TestFaultHoneycombSinkErrorsNothingSilentlyLost(t *testing.T) {
	bin := buildOnce(t, "hcsink", "exporter/honeycombevents", "./cmd/hcsink")
	addr := freeAddr(t)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	//nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	sink := exec.CommandContext(ctx, bin, "-listen", addr, "-api-key", "e2e-secret-key",
		"-event-500-pct", "10", "-event-429-pct", "10", "-event-400-pct", "10",
		"-request-statuses", "500,429,503,500", "-retry-after", "0", "-seed", "7", "-out", events)
	sinkOut := &lockedBuffer{}
	sink.Stdout, sink.Stderr = sinkOut, sinkOut
	if err := sink.Start(); err != nil {
		t.Fatal(err)
	}
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sink.Wait() }()
	defer func() {
		_ = sink.Process.Kill()
	}()
	eventually(t, 10*time.Second, "hcsink listening", func() (bool, string) {
		return strings.Contains(sinkOut.String(), "listening on"), sinkOut.String()
	})

	c := newCollectorEnv(t)
	c.env["PEER_HONEYCOMB_ENDPOINT"] = addr
	c.start("test/e2e/testdata/honeycomb-faulty.yaml")

	const spans = 1000
	runTool(t, 2*time.Minute, telemetrygen, "traces", "--otlp-endpoint", c.otlpGRPC, "--otlp-insecure",
		"--rate", "0", "--traces", strconv.Itoa(spans/2), "--service", "faults")

	var sent, refused, retried float64
	eventually(t, 90*time.Second, "every event delivered or refused", func() (bool, string) {
		sent, _ = c.scrapeMetric(t, "otelcol_exporter_honeycombevents_events_sent")
		refused, _ = c.scrapeMetric(t, "otelcol_exporter_honeycombevents_events_refused")
		retried, _ = c.scrapeMetric(t, "otelcol_exporter_honeycombevents_events_retried")
		q, _ := c.scrapeMetric(t, "otelcol_exporter_queue_size")
		return sent+refused >= spans && q == 0, fmt.Sprintf("sent %v refused %v retried %v queue %v", sent, refused, retried, q)
	})
	rejected, _ := c.scrapeMetricLabel(t, "otelcol_exporter_honeycombevents_events_refused", `reason="rejected"`)
	c.stop()
	_ = sink.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-sinkDone:
		if err != nil {
			t.Fatalf("hcsink: %v\n%s", err, sinkOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hcsink did not stop")
	}

	// What the sink accepted, by span id.
	accepted := map[string]int{}
	for _, line := range readLines(t, events) {
		var ev struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		id, _ := ev.Data["trace.span_id"].(string)
		accepted[id]++
	}
	dups := 0
	for _, n := range accepted {
		dups += n - 1
	}
	if float64(len(accepted))+refused != spans {
		t.Fatalf("%d distinct events accepted + %v refused != %d spans sent (sent metric %v, retried %v)", len(accepted), refused, spans, sent, retried)
	}
	if refused == 0 || retried == 0 {
		t.Fatalf("the injected failures did not show: refused %v retried %v", refused, retried)
	}
	if rejected != refused {
		t.Fatalf("refused %v, of which %v with reason rejected: want all per-event 400s", refused, rejected)
	}
	t.Logf("honeycomb faults: %d spans, %d delivered (%d duplicates), %v refused (reason rejected), %v retried", spans, len(accepted), dups, refused, retried)
}
