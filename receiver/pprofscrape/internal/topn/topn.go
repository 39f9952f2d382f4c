// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package topn computes per-function flat and cumulative values of a pprof profile
// exactly as `go tool pprof -top` (granularity functions) does, and keeps the top N.
package topn // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/topn"

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/google/pprof/profile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/reuse"
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
	// Nodes are functions named as pprof's NodeInfo.PrintableName with granularity
	// functions: the function name, or the mapping's file name, or <unknown>. Each
	// location maps to the nodes of its lines (inlined frames first), computed once.
	sc := getScratch(p)
	defer putScratch(sc)
	nodes, locs := sc.nodes, &sc.locs
	store, backing := sc.store, sc.backing
	defer func() { sc.store, sc.backing = store, backing }() // keep what they grew to
	nodesOf := func(l *profile.Location) []int32 {
		if ns, ok := locs.get(l.ID); ok {
			return ns
		}
		start := len(backing)
		add := func(name string) {
			nd, ok := nodes[name]
			if !ok {
				nd = nodeIndex(len(store))
				store = append(store, node{seen: -1})
				nodes[name] = nd
			}
			backing = append(backing, nd)
		}
		mappingName := func() string {
			if l.Mapping != nil {
				return convert.MappingName(l.Mapping.File)
			}
			return convert.MappingName("")
		}
		if len(l.Line) == 0 {
			add(mappingName())
		}
		for _, ln := range l.Line {
			name := ""
			if ln.Function != nil {
				name = DisplayName(ln.Function)
			}
			if name == "" {
				name = mappingName()
			}
			add(name)
		}
		ns := backing[start:len(backing):len(backing)]
		locs.set(l.ID, ns)
		return ns
	}

	var res Result
	visit := func(stamp int, s *profile.Sample, v int64) {
		if v == 0 {
			return
		}
		res.Total += v
		leaf := int32(-1)
		// Walk from the root, as pprof does; cum is counted once per node per sample.
		for i := len(s.Location) - 1; i >= 0; i-- {
			ns := nodesOf(s.Location[i])
			for j := len(ns) - 1; j >= 0; j-- {
				nd := &store[ns[j]]
				if nd.seen != stamp {
					nd.seen = stamp
					nd.cum += v
				}
				leaf = ns[j]
			}
		}
		if leaf >= 0 {
			store[leaf].flat += v
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

	entries := sc.entries[:0]
	defer func() { sc.entries = entries[:0] }()
	for name, i := range nodes {
		nd := store[i]
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

// locIndex maps location IDs to their nodes, densely when the IDs allow it.
// node is a function's flat and cum; seen is the last sample that counted its cum.
type node struct {
	flat, cum int64
	seen      int
}

// scratch is what one Compute uses and drops: pooled, since the top-N runs for every
// profile of every target scrape and these were a tenth of the receiver's allocations.
type scratch struct {
	nodes   map[string]int32
	store   []node
	locs    locIndex
	backing []int32
	entries []Entry
}

var scratchPool = sync.Pool{New: func() any { return &scratch{nodes: map[string]int32{}} }}

func getScratch(p *profile.Profile) *scratch {
	sc := scratchPool.Get().(*scratch)
	sc.locs.reset(p)
	sc.store = sc.store[:0]
	sc.backing = slices.Grow(sc.backing[:0], len(p.Location)+len(p.Location)/4)
	return sc
}

func putScratch(sc *scratch) {
	if len(sc.nodes) > reuse.MaxPooled || cap(sc.store) > reuse.MaxPooled || cap(sc.backing) > reuse.MaxPooled || len(sc.locs.dense) > reuse.MaxPooled || cap(sc.entries) > reuse.MaxPooled {
		return
	}
	clear(sc.nodes)
	clear(sc.locs.dense) // drop the references into backing
	sc.locs.sparse = nil
	clear(sc.entries[:cap(sc.entries)]) // drop the names
	scratchPool.Put(sc)
}

type locIndex struct {
	dense  [][]int32
	sparse map[uint64][]int32
}

// reset sizes x for p's locations: dense by ID when the IDs are compact, else a map.
// A dense slice reused from the pool is already cleared (putScratch).
func (x *locIndex) reset(p *profile.Profile) {
	var maxID uint64
	for _, l := range p.Location {
		maxID = max(maxID, l.ID)
	}
	x.sparse = nil
	if maxID <= uint64(4*len(p.Location)+64) {
		if uint64(cap(x.dense)) > maxID {
			x.dense = x.dense[:maxID+1]
		} else {
			x.dense = make([][]int32, maxID+1)
		}
		return
	}
	x.dense = nil
	x.sparse = make(map[uint64][]int32, len(p.Location))
}

func (x *locIndex) get(id uint64) ([]int32, bool) {
	if x.dense != nil {
		if id < uint64(len(x.dense)) && x.dense[id] != nil {
			return x.dense[id], true
		}
		return nil, false
	}
	ns, ok := x.sparse[id]
	return ns, ok
}

func (x *locIndex) set(id uint64, ns []int32) {
	if x.dense != nil && id < uint64(len(x.dense)) {
		x.dense[id] = ns
		return
	}
	if x.sparse == nil {
		x.sparse = map[uint64][]int32{}
	}
	x.sparse[id] = ns
}

// nodeIndex is the index of the next of n function nodes. max_locations keeps them far
// below 2^31, so more is an internal error (the scrape is dropped), never a wrong node.
func nodeIndex(n int) int32 {
	if n < 0 || n > math.MaxInt32 {
		panic("pprofscrape: top-N over 2^31 functions")
	}
	return int32(n)
}
