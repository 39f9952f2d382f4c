// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package statusregistry is the process-wide registry through which prodscope's
// components publish what they are doing to the data, for the statusz extension
// to show. A component instance registers a Source on Start and unregisters on
// Shutdown; the extension asks every registered Source for a bounded Snapshot
// when a page is requested. No component depends on the extension: with no
// extension in the build, nobody asks, and a registration costs one map entry.
package statusregistry // import "github.com/prodscope/prodscope/internal/statusregistry"

import (
	"cmp"
	"slices"
	"strconv"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Source produces a component's snapshot on request. StatusSnapshot is called
// from the status page's HTTP handler, never on the data path; it takes the
// component's own lock only as long as copying its counters needs, and returns
// at most limit entries in every list (saying how many it left out).
type Source interface {
	StatusSnapshot(limit int) Snapshot
}

// SourceFunc adapts a function to Source.
type SourceFunc func(limit int) Snapshot

// StatusSnapshot calls f.
func (f SourceFunc) StatusSnapshot(limit int) Snapshot { return f(limit) }

// MaxInstances bounds the registry: a collector runs a handful of our
// component instances; a registration past this bound is refused (and counted)
// rather than growing the map without limit.
const MaxInstances = 1024

// Registry holds the registered sources. The zero value is not usable; use New
// or the process-wide Default.
type Registry struct {
	mu      sync.Mutex
	next    uint64
	entries map[uint64]entry
	refused uint64
}

type entry struct {
	id   component.ID
	kind component.Kind
	src  Source
}

// New returns an empty registry (tests use their own; components use Default).
func New() *Registry { return &Registry{entries: map[uint64]entry{}} }

// Default is the process-wide registry that components and the extension share.
var Default = New()

// Register adds src for the component instance id of the given kind and
// returns the function that removes it (idempotent; call it on Shutdown).
// A component instance shared by several pipelines registers once.
func (r *Registry) Register(id component.ID, kind component.Kind, src Source) (unregister func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) >= MaxInstances || src == nil {
		r.refused++
		return func() {}
	}
	r.next++
	key := r.next
	r.entries[key] = entry{id: id, kind: kind, src: src}
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.entries, key)
			r.mu.Unlock()
		})
	}
}

// Register adds src to the Default registry.
func Register(id component.ID, kind component.Kind, src Source) (unregister func()) {
	return Default.Register(id, kind, src)
}

// Refused is how many registrations the bound refused.
func (r *Registry) Refused() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// Snapshots asks every registered source for its snapshot (each list at most
// limit long) and returns them ordered by component type, then ID. Sources are
// called outside the registry's lock, so a slow source never blocks a Register.
func (r *Registry) Snapshots(limit int) []Snapshot {
	r.mu.Lock()
	entries := make([]entry, 0, len(r.entries))
	for _, e := range r.entries {
		entries = append(entries, e)
	}
	r.mu.Unlock()

	out := make([]Snapshot, 0, len(entries))
	for _, e := range entries {
		s := e.src.StatusSnapshot(limit)
		s.ID = e.id.String()
		s.Type = e.id.Type().String()
		s.Kind = e.kind.String()
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Snapshot) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// SnapshotsOf returns the snapshots of the instances registered as id (one,
// normally; none once it shut down).
func (r *Registry) SnapshotsOf(id component.ID, limit int) []Snapshot {
	var out []Snapshot
	for _, s := range r.Snapshots(limit) {
		if s.ID == id.String() {
			out = append(out, s)
		}
	}
	return out
}

// Top sorts items by cmp and keeps the first limit of them (at least one),
// returning how many it left out. Sources use it to bound every list of their
// snapshot.
func Top[T any](items []T, limit int, cmp func(a, b T) int) (kept []T, omitted int) {
	slices.SortStableFunc(items, cmp)
	limit = max(limit, 1)
	if len(items) <= limit {
		return items, 0
	}
	return items[:limit], len(items) - limit
}

// TopCounts orders counts most first (then by name) and bounds them to limit
// (at least 1). Count lists (Changed, Refused, Enriched) have no *Omitted
// field: over the bound, the last entry is "(N more)" with the sum of the N
// left out, so the counts still add up.
func TopCounts(counts []Count, limit int) []Count {
	slices.SortFunc(counts, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.What, b.What))
	})
	limit = max(limit, 1)
	if len(counts) <= limit {
		return counts
	}
	var rest int64
	for _, c := range counts[limit-1:] {
		rest += c.N
	}
	omitted := len(counts) - limit + 1
	return append(counts[:limit-1:limit-1], Count{What: "(" + strconv.Itoa(omitted) + " more)", N: rest})
}
