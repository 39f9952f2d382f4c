// Copyright prodscope authors
// SPDX-License-Identifier: Apache-2.0

// Package topn computes per-function flat and cumulative values of a pprof profile
// exactly as `go tool pprof -top` (granularity functions) does, and keeps the top N.
package topn // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/topn"

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/google/pprof/profile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
)

// Entry is one function's value.
type Entry struct {
	Name string
	Flat int64
	Cum  int64
}

// Result holds the total and the top-N functions.
type Result struct {
	// Total is the sum of the value over all samples.
	Total int64
	// ByFlat is the top N by |flat|, ordered as `pprof -top` (then by name, then |cum|).
	ByFlat []Entry
	// ByCum is the top N by |cum|, ordered as `pprof -top -cum` (then by name, then |flat|).
	ByCum []Entry
	// FlatOther is Total minus the flat of ByFlat: the flat of every other function.
	FlatOther int64
	// Functions is how many functions had a non-zero flat or cum.
	Functions int
}

// Value returns the value of sample i (a raw sample value or a delta).
type Value func(i int) int64

// Compute walks the samples selected by indices (nil: all samples) with their values.
func Compute(p *profile.Profile, indices []int32, value Value, n int) Result {
	// Name of each (location, line) node, as pprof's NodeInfo.PrintableName with
	// granularity functions: the function name, or the mapping's file name, or <unknown>.
	type node struct {
		flat, cum int64
		seen      int
	}
	nodes := map[string]*node{}
	names := make(map[uint64][]*node, len(p.Location))
	display := make(map[*profile.Function]string, len(p.Function))
	nameOf := func(f *profile.Function) string {
		n, ok := display[f]
		if !ok {
			n = DisplayName(f)
			display[f] = n
		}
		return n
	}
	nodesOf := func(l *profile.Location) []*node {
		if ns, ok := names[l.ID]; ok {
			return ns
		}
		var ns []*node
		add := func(name string) {
			nd := nodes[name]
			if nd == nil {
				nd = &node{seen: -1}
				nodes[name] = nd
			}
			ns = append(ns, nd)
		}
		if len(l.Line) == 0 {
			file := ""
			if l.Mapping != nil {
				file = l.Mapping.File
			}
			add(convert.MappingName(file))
		}
		for _, ln := range l.Line {
			switch {
			case ln.Function != nil && nameOf(ln.Function) != "":
				add(nameOf(ln.Function))
			default:
				file := ""
				if l.Mapping != nil {
					file = l.Mapping.File
				}
				add(convert.MappingName(file))
			}
		}
		names[l.ID] = ns
		return ns
	}

	var res Result
	visit := func(stamp int, s *profile.Sample, v int64) {
		if v == 0 {
			return
		}
		res.Total += v
		var leaf *node
		// Walk from the root, as pprof does; cum is counted once per node per sample.
		for i := len(s.Location) - 1; i >= 0; i-- {
			ns := nodesOf(s.Location[i])
			for j := len(ns) - 1; j >= 0; j-- {
				nd := ns[j]
				if nd.seen != stamp {
					nd.seen = stamp
					nd.cum += v
				}
				leaf = nd
			}
		}
		if leaf != nil {
			leaf.flat += v
		}
	}
	if indices == nil {
		for i, s := range p.Sample {
			visit(i, s, value(i))
		}
	} else {
		for r, i := range indices {
			visit(r, p.Sample[i], value(r))
		}
	}

	entries := make([]Entry, 0, len(nodes))
	for name, nd := range nodes {
		if nd.flat == 0 && nd.cum == 0 {
			continue
		}
		entries = append(entries, Entry{Name: name, Flat: nd.flat, Cum: nd.cum})
	}
	res.Functions = len(entries)

	slices.SortFunc(entries, func(a, b Entry) int {
		if c := cmp.Compare(abs(b.Flat), abs(a.Flat)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(abs(b.Cum), abs(a.Cum))
	})
	res.ByFlat = slices.Clone(entries[:min(n, len(entries))])
	res.FlatOther = res.Total
	for _, e := range res.ByFlat {
		res.FlatOther -= e.Flat
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		if c := cmp.Compare(abs(b.Cum), abs(a.Cum)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(abs(b.Flat), abs(a.Flat))
	})
	res.ByCum = slices.Clone(entries[:min(n, len(entries))])
	return res
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// String formats an entry for logs and test failures.
func (e Entry) String() string { return fmt.Sprintf("%s flat=%d cum=%d", e.Name, e.Flat, e.Cum) }
