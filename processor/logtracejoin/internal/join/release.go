// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/join"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// OwnerLogs is what leaves for one logs pipeline in one release.
type OwnerLogs struct {
	Owner Owner
	Logs  plog.Logs
}

// Released is the outcome of one TakeReleased: the records to send, per
// pipeline, and what became of them. A Released is reused across calls
// (Reset keeps its memory, up to a bound).
type Released struct {
	Logs []OwnerLogs
	// Matched records left with their span's context set; the others by
	// outcome.
	Matched, Expired, Overflow, Shutdown int64
	// MatchedWaits and UnmatchedWaits are how long each record waited.
	MatchedWaits, UnmatchedWaits []time.Duration

	ready  []*Held
	order  []*Held
	groups []flushGroup
	byB    map[*Batch]int32
}

// flushGroup is the records of one held batch that leave in one release.
type flushGroup struct {
	b        *Batch
	n, start int
}

// maxPooled bounds the slices a Released keeps for the next call.
const maxPooled = 4096

// Reset empties r for the next call, dropping slices grown past maxPooled.
func (r *Released) Reset() {
	shrink := func(n int) bool { return n > maxPooled }
	clear(r.Logs)
	r.Logs = r.Logs[:0]
	r.Matched, r.Expired, r.Overflow, r.Shutdown = 0, 0, 0, 0
	r.MatchedWaits, r.UnmatchedWaits = r.MatchedWaits[:0], r.UnmatchedWaits[:0]
	clear(r.ready)
	clear(r.order)
	clear(r.groups)
	clear(r.byB)
	r.ready, r.order, r.groups = r.ready[:0], r.order[:0], r.groups[:0]
	if shrink(cap(r.ready)) || shrink(cap(r.order)) || shrink(cap(r.groups)) || shrink(cap(r.MatchedWaits)) || shrink(cap(r.UnmatchedWaits)) {
		*r = Released{}
	}
}

var releasedPool = sync.Pool{New: func() any { return new(Released) }}

// GetReleased returns an empty Released from a pool; PutReleased returns it.
func GetReleased() *Released { return releasedPool.Get().(*Released) }

// PutReleased resets r and returns it to the pool.
func PutReleased(r *Released) {
	r.Reset()
	releasedPool.Put(r)
}

// TakeReleased moves the logs released since the last call into r: one
// plog.Logs per pipeline, records of one incoming scope kept together, a
// matched record's trace id, span id and flags set. A held batch whose
// records all leave in this call is sent as it is (its plog.Logs, records
// in place); otherwise the records leaving are moved into a new
// ResourceLogs/ScopeLogs with the batch's resource and scope. It is safe
// for concurrent use (each call with its own r).
func (j *Joiner) TakeReleased(r *Released) {
	r.ready = j.TakeReadyInto(r.ready[:0])
	if len(r.ready) == 0 {
		return
	}
	if r.byB == nil {
		r.byB = map[*Batch]int32{}
	}
	// group the records by batch (counting sort: one pass to count, one
	// to place), so that each batch is locked once; r comes empty (from
	// GetReleased), ng counts its groups
	last, ng := int32(-1), int32(0)
	for _, h := range r.ready {
		g := last
		if g < 0 || r.groups[g].b != h.batch {
			var ok bool
			if g, ok = r.byB[h.batch]; !ok {
				g = ng
				ng++
				r.groups = append(r.groups, flushGroup{b: h.batch})
				r.byB[h.batch] = g
			}
			last = g
		}
		h.mark = g
		r.groups[g].n++
	}
	start := 0
	for i := range r.groups {
		r.groups[i].start = start
		start += r.groups[i].n
		r.groups[i].n = 0
	}
	r.order = append(r.order[:0], make([]*Held, len(r.ready))...)
	for _, h := range r.ready {
		g := &r.groups[h.mark]
		r.order[g.start+g.n] = h
		g.n++
	}
	for gi := range r.groups {
		g := &r.groups[gi]
		r.releaseGroup(g.b, r.order[g.start:g.start+g.n])
	}
}

// releaseGroup moves the records members of batch b out.
func (r *Released) releaseGroup(b *Batch, members []*Held) {
	out := r.out(b.owner)
	b.mu.Lock()
	defer b.mu.Unlock()
	whole := b.sent+len(members) == len(b.held)
	var dst plog.LogRecordSlice
	if !whole {
		src := b.logs.ResourceLogs().At(0)
		rl := out.ResourceLogs().AppendEmpty()
		src.Resource().CopyTo(rl.Resource())
		rl.SetSchemaUrl(src.SchemaUrl())
		srcSL := src.ScopeLogs().At(0)
		sl := rl.ScopeLogs().AppendEmpty()
		srcSL.Scope().CopyTo(sl.Scope())
		sl.SetSchemaUrl(srcSL.SchemaUrl())
		dst = sl.LogRecords()
		dst.EnsureCapacity(len(members))
	}
	for _, h := range members {
		lr := b.records.At(int(h.index))
		if !whole {
			d := dst.AppendEmpty()
			lr.MoveTo(d)
			lr = d
			h.sent = true
		}
		if h.Outcome == Matched {
			lr.SetTraceID(pcommon.TraceID(h.Context.TraceID))
			lr.SetSpanID(pcommon.SpanID(h.Context.SpanID))
			lr.SetFlags(plog.LogRecordFlags(h.Context.Flags))
			r.Matched++
			r.MatchedWaits = append(r.MatchedWaits, h.Waited)
			continue
		}
		r.UnmatchedWaits = append(r.UnmatchedWaits, h.Waited)
		switch h.Outcome {
		case Expired:
			r.Expired++
		case Overflow:
			r.Overflow++
		case Shutdown:
			r.Shutdown++
		}
	}
	if whole {
		if b.sent > 0 {
			// drop the places of the records sent earlier
			i := 0
			b.records.RemoveIf(func(plog.LogRecord) bool {
				sent := b.held[i].sent
				i++
				return sent
			})
		}
		b.logs.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	b.sent += len(members)
}

// out returns the plog.Logs of this release for owner.
func (r *Released) out(owner Owner) plog.Logs {
	for _, o := range r.Logs {
		if o.Owner == owner {
			return o.Logs
		}
	}
	ld := plog.NewLogs()
	r.Logs = append(r.Logs, OwnerLogs{Owner: owner, Logs: ld})
	return ld
}
