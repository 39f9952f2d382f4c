// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"fmt"
	"strconv"
	"strings"
)

// RunResult is one measured run of one variant at one load.
type RunResult struct {
	Signal  string
	Variant string
	Load    string // "fixed" or "max"
	Round   int
	// In: items the collector's receivers accepted (its own counter);
	// -1 when its metrics could not be read.
	In int64
	// Refused: items the receivers refused (back-pressure), -1 if unknown.
	Refused int64
	// Out: items (or Events API events) that reached the sink.
	Out int64
	// Elapsed: from the start of telemetrygen to the last arrival at the sink.
	ElapsedSec float64
	CPUSec     float64
	PeakRSS    int64 // bytes
	// Check: what the sink saw of the pipeline's effect (share of logs with a
	// trace id, share of points still carrying user_id); "" when not checked.
	Check string
	Err   string
}

// OutPerSec is the sustained throughput: items at the sink per second.
func (r RunResult) OutPerSec() float64 {
	if r.ElapsedSec <= 0 {
		return 0
	}
	return float64(r.Out) / r.ElapsedSec
}

// CPUPerMillion is collector CPU seconds per million items accepted (items
// at the sink when the accepted count is unknown).
func (r RunResult) CPUPerMillion() float64 {
	n := r.In
	if n <= 0 {
		n = r.Out
	}
	if n <= 0 {
		return 0
	}
	return r.CPUSec / float64(n) * 1e6
}

// Summary aggregates the rounds of one (signal, load, variant).
type Summary struct {
	Signal, Load, Variant, Baseline string
	Rounds                          int
	Failed                          int
	InPerSec, OutPerSec             float64 // means over successful rounds
	CPUPerMillion                   float64 // mean
	PeakRSSMB                       float64 // max over rounds
	OutRatio, CPURatio, RSSRatio    float64 // vs Baseline (0 when none)
	Errors                          []string
}

type key struct{ signal, load, variant string }

// Summarize groups runs by (signal, load, variant), in the order of first
// appearance, and computes the ratios against each variant's baseline
// (baselines maps signal+"/"+variant to its baseline's name).
func Summarize(runs []RunResult, baselines map[string]string) []Summary {
	var order []key
	groups := map[key][]RunResult{}
	for _, r := range runs {
		k := key{r.Signal, r.Load, r.Variant}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	byKey := map[key]*Summary{}
	var out []Summary
	for _, k := range order {
		s := Summary{Signal: k.signal, Load: k.load, Variant: k.variant, Baseline: baselines[k.signal+"/"+k.variant]}
		var ok int
		for _, r := range groups[k] {
			s.Rounds++
			if r.Err != "" {
				s.Failed++
				s.Errors = append(s.Errors, r.Err)
				continue
			}
			ok++
			if r.ElapsedSec > 0 && r.In > 0 {
				s.InPerSec += float64(r.In) / r.ElapsedSec
			}
			s.OutPerSec += r.OutPerSec()
			s.CPUPerMillion += r.CPUPerMillion()
			if mb := float64(r.PeakRSS) / (1 << 20); mb > s.PeakRSSMB {
				s.PeakRSSMB = mb
			}
		}
		if ok > 0 {
			s.InPerSec /= float64(ok)
			s.OutPerSec /= float64(ok)
			s.CPUPerMillion /= float64(ok)
		}
		out = append(out, s)
	}
	for i := range out {
		byKey[key{out[i].Signal, out[i].Load, out[i].Variant}] = &out[i]
	}
	for i := range out {
		s := &out[i]
		if s.Baseline == "" {
			continue
		}
		b := byKey[key{s.Signal, s.Load, s.Baseline}]
		if b == nil {
			continue
		}
		s.OutRatio = ratio(s.OutPerSec, b.OutPerSec)
		s.CPURatio = ratio(s.CPUPerMillion, b.CPUPerMillion)
		s.RSSRatio = ratio(s.PeakRSSMB, b.PeakRSSMB)
	}
	return out
}

func ratio(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}

// RenderSummary renders the per-signal Markdown table.
func RenderSummary(sums []Summary) string {
	var b strings.Builder
	b.WriteString("| signal | load | pipeline | items/s in | items/s at sink | CPU s / M items | peak RSS MiB | items/s vs baseline | CPU/item vs baseline | RSS vs baseline | rounds ok |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |\n",
			s.Signal, s.Load, s.Variant,
			num(s.InPerSec, 0), num(s.OutPerSec, 0), num(s.CPUPerMillion, 2), num(s.PeakRSSMB, 0),
			ratioCell(s.OutRatio, s.Baseline), ratioCell(s.CPURatio, s.Baseline), ratioCell(s.RSSRatio, s.Baseline),
			s.Rounds-s.Failed, s.Rounds)
	}
	return b.String()
}

// RenderRuns renders every run, in the order it ran.
func RenderRuns(runs []RunResult) string {
	var b strings.Builder
	b.WriteString("| # | round | signal | load | pipeline | accepted | refused | at sink | s | items/s at sink | CPU s | CPU s / M | peak RSS MiB | at the sink | error |\n")
	b.WriteString("|--:|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n")
	for i, r := range runs {
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s | %s | %d | %.1f | %s | %.2f | %s | %s | %s | %s |\n",
			i+1, r.Round, r.Signal, r.Load, r.Variant, count(r.In), count(r.Refused), r.Out, r.ElapsedSec,
			num(r.OutPerSec(), 0), r.CPUSec, num(r.CPUPerMillion(), 2), num(float64(r.PeakRSS)/(1<<20), 0), cell(r.Check), cell(r.Err))
	}
	return b.String()
}

// PprofResult is one run of the pprof comparison.
type PprofResult struct {
	Mode     string
	Round    int
	Targets  int
	Interval string
	Seconds  float64
	CPUSec   float64
	PeakRSS  int64
	Profiles int64
	Points   int64
	// Scrapes and ScrapeErrors from pprofscrape's own telemetry (-1: unknown).
	Scrapes      int64
	ScrapeErrors int64
	Err          string
}

// RenderPprof renders the pprof comparison: per mode, means over rounds.
func RenderPprof(rs []PprofResult) string {
	type agg struct {
		n, failed                    int
		cpu, rss, secs, prof, points float64
		scrapes, scrapeErrs          float64
		scrapesKnown                 bool
		targets                      int
		interval                     string
		errs                         []string
	}
	var order []string
	m := map[string]*agg{}
	for _, r := range rs {
		a := m[r.Mode]
		if a == nil {
			a = &agg{}
			m[r.Mode] = a
			order = append(order, r.Mode)
		}
		a.targets, a.interval = r.Targets, r.Interval
		if r.Err != "" {
			a.failed++
			a.errs = append(a.errs, r.Err)
			continue
		}
		a.n++
		a.cpu += r.CPUSec
		a.secs += r.Seconds
		a.prof += float64(r.Profiles)
		a.points += float64(r.Points)
		if r.Scrapes >= 0 {
			a.scrapes += float64(r.Scrapes)
			a.scrapeErrs += float64(max(r.ScrapeErrors, 0))
			a.scrapesKnown = true
		}
		if mb := float64(r.PeakRSS) / (1 << 20); mb > a.rss {
			a.rss = mb
		}
	}
	var b strings.Builder
	b.WriteString("| receiver | targets | interval | rounds ok | collector CPU % of one core | CPU s per minute | CPU ms per scrape | scrapes (errors) per run | peak RSS MiB | profiles/s at sink | metric points/s at sink | error |\n")
	b.WriteString("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, mode := range order {
		a := m[mode]
		errs := ""
		if len(a.errs) > 0 {
			// Rounds fail alike; the first error stands for them.
			errs = a.errs[0]
			if len(a.errs) > 1 {
				errs = fmt.Sprintf("%d rounds: %s", len(a.errs), errs)
			}
		}
		if a.n == 0 {
			fmt.Fprintf(&b, "| %s | %d | %s | 0/%d | - | - | - | - | - | - | - | %s |\n", mode, a.targets, a.interval, a.failed, cell(errs))
			continue
		}
		cpuPct := a.cpu / a.secs * 100
		perScrape, scrapes := "-", "-"
		if a.scrapesKnown {
			scrapes = fmt.Sprintf("%.0f (%.0f)", a.scrapes/float64(a.n), a.scrapeErrs/float64(a.n))
			if a.scrapes > 0 {
				perScrape = fmt.Sprintf("%.2f", a.cpu/a.scrapes*1000)
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d/%d | %.1f | %.2f | %s | %s | %.0f | %.1f | %.0f | %s |\n",
			mode, a.targets, a.interval, a.n, a.n+a.failed, cpuPct, a.cpu/a.secs*60, perScrape, scrapes, a.rss,
			a.prof/a.secs, a.points/a.secs, cell(errs))
	}
	return b.String()
}

// Notes lists each variant's note once, in order, as a Markdown list.
func Notes(vs []Variant) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, v := range vs {
		k := v.Signal + "/" + v.Name
		if v.Note == "" || seen[k] {
			continue
		}
		seen[k] = true
		fmt.Fprintf(&b, "- %s / %s: %s\n", v.Signal, v.Name, v.Note)
	}
	return b.String()
}

func num(v float64, prec int) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func count(n int64) string {
	if n < 0 {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}

func ratioCell(r float64, baseline string) string {
	if baseline == "" {
		return "1 (baseline)"
	}
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	return truncate(s, 300)
}

// CheckNote describes the effect the sink observed, per signal: the share of
// log records with a trace id, the share of data points still carrying
// user_id. Empty for traces and for the Events API sink.
func CheckNote(signal, exporter string, c Counts) string {
	if exporter == ExportHoneycomb {
		return ""
	}
	switch signal {
	case Logs:
		if c.Logs > 0 {
			return fmt.Sprintf("%.1f%% with trace id", 100*float64(c.LogsWithTrace)/float64(c.Logs))
		}
	case Metrics:
		if c.Points > 0 {
			return fmt.Sprintf("%.1f%% with user_id", 100*float64(c.PointsWithUserID)/float64(c.Points))
		}
	}
	return ""
}
