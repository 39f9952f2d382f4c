// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"fmt"
	"strings"
	"time"
)

// Meta describes where and how a benchmark ran, for the report header.
type Meta struct {
	Command     string
	Machine     string
	Binary      string
	BenchBinary string
	Options     string
}

// Report renders the whole Markdown report.
func Report(res *Results, m Meta) string {
	var b strings.Builder
	b.WriteString("## End-to-end load benchmark (test/load)\n\n")
	fmt.Fprintf(&b, "Run %s, %s long.\n\n", res.Started.UTC().Format(time.RFC3339), res.Finished.Sub(res.Started).Round(time.Second))
	fmt.Fprintf(&b, "Command: `%s`\n\n", m.Command)
	if m.Machine != "" {
		fmt.Fprintf(&b, "Machine: %s\n\n", m.Machine)
	}
	if m.Binary != "" {
		fmt.Fprintf(&b, "Binary: %s\n\n", m.Binary)
	}
	if m.Options != "" {
		fmt.Fprintf(&b, "Settings: %s\n\n", m.Options)
	}
	if len(res.Runs) > 0 {
		b.WriteString("### Per signal (means over rounds; ratios against the same signal's baseline at the same load)\n\n")
		b.WriteString(RenderSummary(Summarize(res.Runs, Baselines(res.Variants))))
		b.WriteString("\nPipelines:\n\n")
		b.WriteString("- every pipeline: `otlp` (gRPC) -> [processor] -> `batch` -> exporter; baseline = `batch` only; exporter `otlp_grpc` (default gzip) to the in-process OTLP sink unless noted; every exporter has `sending_queue: {queue_size: 20, block_on_overflow: true}` so overload pushes back on telemetrygen\n")
		b.WriteString(Notes(res.Variants))
		b.WriteString("\nColumns: items/s in = items the collector's receivers accepted (its own `otelcol_receiver_accepted_*` counters) per second; items/s at sink = items (Events API events for honeycombevents) that reached the sink, divided by the time from telemetrygen's start to the last arrival; CPU s / M items = collector user+system CPU seconds (`/proc/<pid>/stat`) during the run per million accepted items; peak RSS = `VmHWM` of the collector process.\n\n")
	}
	if len(res.Pprof) > 0 {
		b.WriteString("### pprofscrape vs contrib pprofreceiver (same in-process net/http/pprof targets)\n\n")
		b.WriteString(RenderPprof(res.Pprof))
		b.WriteString("\n")
	}
	if len(res.Runs) > 0 {
		b.WriteString("<details><summary>Every run, in order</summary>\n\n")
		b.WriteString(RenderRuns(res.Runs))
		b.WriteString("\n</details>\n")
	}
	return b.String()
}
