// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"strings"
	"testing"
)

func TestSummarizeAndRender(t *testing.T) {
	runs := []RunResult{
		{Signal: Logs, Variant: "baseline", Load: "max", Round: 1, In: 100000, Out: 100000, ElapsedSec: 10, CPUSec: 2, PeakRSS: 100 << 20},
		{Signal: Logs, Variant: "logtracejoin", Load: "max", Round: 1, In: 80000, Out: 80000, ElapsedSec: 10, CPUSec: 2, PeakRSS: 150 << 20},
		{Signal: Logs, Variant: "baseline", Load: "max", Round: 2, In: 100000, Out: 100000, ElapsedSec: 10, CPUSec: 2, PeakRSS: 120 << 20},
		{Signal: Logs, Variant: "logtracejoin", Load: "max", Round: 2, In: 80000, Out: 80000, ElapsedSec: 10, CPUSec: 2, PeakRSS: 140 << 20},
		{Signal: Logs, Variant: "broken", Load: "max", Round: 1, In: -1, Refused: -1, Err: "collector exited | badly\nreally"},
	}
	bases := map[string]string{"logs/logtracejoin": "baseline", "logs/broken": "baseline"}
	sums := Summarize(runs, bases)
	if len(sums) != 3 {
		t.Fatalf("%d summaries, want 3", len(sums))
	}
	b, l, x := sums[0], sums[1], sums[2]
	if b.Variant != "baseline" || b.OutPerSec != 10000 || b.CPUPerMillion != 20 || b.PeakRSSMB != 120 {
		t.Errorf("baseline %+v", b)
	}
	if l.OutPerSec != 8000 || l.CPUPerMillion != 25 || l.PeakRSSMB != 150 {
		t.Errorf("logtracejoin %+v", l)
	}
	if l.OutRatio != 0.8 || l.CPURatio != 1.25 || l.RSSRatio != 1.25 {
		t.Errorf("ratios %v %v %v", l.OutRatio, l.CPURatio, l.RSSRatio)
	}
	if x.Failed != 1 || x.OutRatio != 0 {
		t.Errorf("broken %+v", x)
	}

	tab := RenderSummary(sums)
	lines := strings.Split(strings.TrimSpace(tab), "\n")
	if len(lines) != 5 {
		t.Fatalf("summary table has %d lines:\n%s", len(lines), tab)
	}
	cols := strings.Count(lines[0], "|")
	for _, ln := range lines {
		if strings.Count(ln, "|") != cols {
			t.Errorf("ragged row %q", ln)
		}
	}
	for _, want := range []string{"| logs | max | baseline | 10000 | 10000 | 20.00 | 120 | 1 (baseline)", "| logs | max | logtracejoin | 8000 | 8000 | 25.00 | 150 | 0.80 | 1.25 | 1.25 | 2/2 |", "| 0/1 |"} {
		if !strings.Contains(tab, want) {
			t.Errorf("summary lacks %q:\n%s", want, tab)
		}
	}

	all := RenderRuns(runs)
	if !strings.Contains(all, `collector exited \| badly really`) {
		t.Errorf("error cell not escaped:\n%s", all)
	}
	if !strings.Contains(all, "| ? | ? |") {
		t.Errorf("unknown counts not shown as ?:\n%s", all)
	}
	rl := strings.Split(strings.TrimSpace(all), "\n")
	for _, ln := range rl {
		if strings.Count(strings.ReplaceAll(ln, `\|`, ""), "|") != strings.Count(rl[0], "|") {
			t.Errorf("ragged run row %q", ln)
		}
	}
}

func TestCPUPerMillionFallsBackToOut(t *testing.T) {
	r := RunResult{In: -1, Out: 500000, CPUSec: 1}
	if got := r.CPUPerMillion(); got != 2 {
		t.Errorf("got %v", got)
	}
	if (RunResult{}).CPUPerMillion() != 0 || (RunResult{}).OutPerSec() != 0 {
		t.Error("zero run not zero")
	}
}

func TestRenderPprof(t *testing.T) {
	rs := []PprofResult{
		{Mode: "idle", Round: 1, Seconds: 10, CPUSec: 0.1, PeakRSS: 90 << 20, Scrapes: -1, ScrapeErrors: -1},
		{Mode: "pprofscrape", Round: 1, Targets: 20, Interval: "3s", Seconds: 10, CPUSec: 0.5, PeakRSS: 120 << 20, Profiles: 500, Points: 4000, Scrapes: 200, ScrapeErrors: 2},
		{Mode: "pprofscrape", Round: 2, Targets: 20, Interval: "3s", Seconds: 10, CPUSec: 0.3, PeakRSS: 110 << 20, Profiles: 500, Points: 4000, Scrapes: 200},
		{Mode: "pprofreceiver", Round: 1, Targets: 20, Interval: "3s", Err: "not implemented"},
		{Mode: "pprofreceiver", Round: 2, Targets: 20, Interval: "3s", Err: "not implemented"},
	}
	tab := RenderPprof(rs)
	for _, want := range []string{
		"| pprofscrape | 20 | 3s | 2/2 | 4.0 | 2.40 | 2.00 | 200 (1) | 120 | 50.0 | 400 |",
		"| pprofreceiver | 20 | 3s | 0/2 | - | - | - | - | - | - | - | 2 rounds: not implemented |",
		"| idle | 0 |  | 1/1 | 1.0 | 0.60 | - | - | 90 |",
	} {
		if !strings.Contains(tab, want) {
			t.Errorf("pprof table lacks %q:\n%s", want, tab)
		}
	}
}

func TestNotesOncePerVariant(t *testing.T) {
	vs := []Variant{{Signal: Logs, Name: "a", Note: "n1"}, {Signal: Logs, Name: "a", Note: "n1"}, {Signal: Traces, Name: "b"}}
	if got := Notes(vs); got != "- logs / a: n1\n" {
		t.Errorf("notes %q", got)
	}
}

func TestReportSections(t *testing.T) {
	res := &Results{
		Variants: []Variant{{Signal: Logs, Name: "baseline"}},
		Runs:     []RunResult{{Signal: Logs, Variant: "baseline", Load: "fixed", Round: 1, In: 10, Out: 10, ElapsedSec: 1, CPUSec: 0.1}},
		Pprof:    []PprofResult{{Mode: "idle", Seconds: 1, CPUSec: 0.01, Scrapes: -1}},
	}
	rep := Report(res, Meta{Command: "go run ./cmd/loadbench", Machine: "2 CPUs"})
	for _, want := range []string{"Command: `go run ./cmd/loadbench`", "Machine: 2 CPUs", "### Per signal", "### pprofscrape vs contrib pprofreceiver", "<details>"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestCheckNote(t *testing.T) {
	if got := CheckNote(Logs, ExportOTLP, Counts{Logs: 200, LogsWithTrace: 150}); got != "75.0% with trace id" {
		t.Errorf("logs %q", got)
	}
	if got := CheckNote(Metrics, "", Counts{Points: 10}); got != "0.0% with user_id" {
		t.Errorf("metrics %q", got)
	}
	if CheckNote(Logs, ExportHoneycomb, Counts{Logs: 1}) != "" || CheckNote(Traces, ExportOTLP, Counts{Spans: 1}) != "" || CheckNote(Logs, ExportOTLP, Counts{}) != "" {
		t.Error("note where none is due")
	}
}
