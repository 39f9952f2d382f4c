// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package engine is the logtracejoin processor's work on the data: it gives
// log records their trace context, from their own fields (extract) or from
// the span of their request (join), holds the records that wait for their
// span, indexes spans and releases the waiting records. Every call returns
// what it did; the processor records that as its telemetry and status
// counts. The engine keeps no counters of its own.
package engine // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/engine"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/join"
)

// JoinConfig configures the join (the processor's join section).
type JoinConfig struct {
	Wait            time.Duration
	MaxWaitingLogs  int
	IndexTTL        time.Duration
	MaxIndexEntries int
}

// Engine is one component instance's state: the extractor and, with the
// join on, the index and the waiting logs. It is safe for concurrent use.
type Engine struct {
	extractor *extract.Extractor
	joiner    *join.Joiner // nil when the join is off
	join      JoinConfig
}

// New returns an Engine; jc nil turns the join off.
func New(ex *extract.Extractor, jc *JoinConfig) *Engine {
	e := &Engine{extractor: ex}
	if jc != nil {
		e.join = *jc
		e.joiner = join.New(jc.Wait, jc.MaxWaitingLogs, jc.IndexTTL, jc.MaxIndexEntries)
	}
	return e
}

// Joins reports whether the join is on.
func (e *Engine) Joins() bool { return e.joiner != nil }

// LogsResult is what ProcessLogs did to one batch.
type LogsResult struct {
	// Records is the number of records in the batch.
	Records int64
	// HadContext records came with a trace id and were left as they were.
	HadContext int64
	// Extracted records got a context from their own fields, by how it was
	// read and its convention.
	Extracted [extract.NumVias][extract.NumConventions]int64
	// Joined records took the context of their request's span from the
	// index at once.
	Joined int64
	// Held records were moved out of the batch to wait for their span; they
	// leave through TakeReleased. The batch keeps Records - Held.
	Held int64
	// NoKey records left without a context and without a correlation key;
	// NoSpan ones had a key whose span is not indexed, and could not wait.
	NoKey, NoSpan int64
	// Invalid counts values that looked like ids but were refused, by reason.
	Invalid [extract.NumReasons]int64
	// Skipped counts what the nested-search bounds left unread in records
	// that got no context from their own fields, by bound.
	Skipped [extract.NumSkips]int64
}

// Passed is the number of records left in the batch, to pass on now.
func (r *LogsResult) Passed() int64 { return r.Records - r.Held }

// scratch is the reusable memory of one ProcessLogs call.
type scratch struct {
	idx    []int32  // positions of the records of one scope that wait
	hashes []uint64 // their correlation key hashes
	// the records of one scope to look up in the index (position, key
	// hash), looked up together under one lock, and what was found
	look     []int32
	lookHash []uint64
	found    []join.Found
	// res is the extraction result reused for every record: about 10 KiB of
	// scratch that would otherwise be allocated on every call.
	res     extract.Result
	batches []*join.Batch
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// ProcessLogs gives each record of ld its trace context. With hold (the
// processor runs and is in a traces pipeline), records whose span is not
// indexed yet are moved out of ld to wait for it, owner saying which logs
// pipeline they go back to; scopes and resources they leave empty are
// dropped from ld.
func (e *Engine) ProcessLogs(ld plog.Logs, owner join.Owner, hold bool, now time.Time) LogsResult {
	var r LogsResult
	canHold := hold && e.joiner != nil && e.joiner.CanHold()
	var gen uint64
	if canHold {
		// read before the lookups: Hold looks a log up again if an entry
		// span was indexed meanwhile
		gen = e.joiner.EntryGen()
	}
	sc := scratchPool.Get().(*scratch)
	defer func() {
		clear(sc.batches)
		sc.batches = sc.batches[:0]
		scratchPool.Put(sc)
	}()
	res := &sc.res
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for k := 0; k < sls.Len(); k++ {
			sl := sls.At(k)
			lrs := sl.LogRecords()
			r.Records += int64(lrs.Len())
			sc.idx, sc.hashes = sc.idx[:0], sc.hashes[:0]
			sc.look, sc.lookHash = sc.look[:0], sc.lookHash[:0]
			for n := 0; n < lrs.Len(); n++ {
				lr := lrs.At(n)
				if !lr.TraceID().IsEmpty() {
					r.HadContext++
					continue
				}
				e.extractor.Extract(lr, res)
				for reason, c := range res.Invalid {
					r.Invalid[reason] += int64(c)
				}
				if res.Via != extract.ViaNone {
					c := &res.Context
					r.Extracted[res.Via][c.Conv]++
					setContext(lr, c.TraceID, c.SpanID, c.Flags, c.HasSpan, c.HasFlags)
					continue
				}
				for reason, c := range res.Skipped {
					r.Skipped[reason] += int64(c)
				}
				if e.joiner == nil || res.CorrelationKey == "" {
					r.NoKey++
					continue
				}
				sc.look = append(sc.look, int32(n))
				sc.lookHash = append(sc.lookHash, join.Hash(res.CorrelationKey))
			}
			if len(sc.look) > 0 {
				sc.found = e.joiner.LookupAll(sc.lookHash, now, sc.found)
				for i, n := range sc.look {
					f := &sc.found[i]
					if f.OK && (f.Rank == join.RankEntry || !canHold) {
						// the entry span is known (or a log cannot wait for it)
						span := &f.Context
						setContext(lrs.At(int(n)), span.TraceID, span.SpanID, uint32(span.Flags), true, true)
						r.Joined++
						continue
					}
					if !canHold {
						r.NoSpan++
						continue
					}
					sc.idx = append(sc.idx, n)
					sc.hashes = append(sc.hashes, sc.lookHash[i])
				}
			}
			if len(sc.idx) == 0 {
				continue
			}
			r.Held += int64(len(sc.idx))
			b, movedResource := join.HoldScope(rl, sl, sls.Len(), sc.idx, sc.hashes, owner, now)
			sc.batches = append(sc.batches, b)
			if movedResource {
				break // rl is empty now
			}
		}
	}
	if len(sc.batches) > 0 {
		// drop the containers the held records left empty
		rls.RemoveIf(func(rl plog.ResourceLogs) bool {
			rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
			return rl.ScopeLogs().Len() == 0
		})
		e.joiner.Hold(sc.batches, gen, now)
	}
	return r
}

func setContext(lr plog.LogRecord, tid [16]byte, sid [8]byte, flags uint32, hasSpan, hasFlags bool) {
	lr.SetTraceID(pcommon.TraceID(tid))
	if hasSpan {
		lr.SetSpanID(pcommon.SpanID(sid))
	}
	if hasFlags {
		lr.SetFlags(plog.LogRecordFlags(flags))
	}
}

// IndexTraces indexes the spans of td that carry a correlation key; logs
// waiting for them become ready for TakeReleased. It returns the index
// entries evicted meanwhile. Without the join it does nothing.
func (e *Engine) IndexTraces(td ptrace.Traces, now time.Time) join.Evictions {
	if e.joiner == nil {
		return join.Evictions{}
	}
	_, ev := e.joiner.IndexTraces(td, e.extractor.CorrelationKey, now)
	return ev
}

// Expire makes the logs that waited the full wait ready for TakeReleased,
// and evicts index entries past their TTL.
func (e *Engine) Expire(now time.Time) join.Evictions {
	if e.joiner == nil {
		return join.Evictions{}
	}
	return e.joiner.Expire(now)
}

// ReleaseAll makes every waiting log ready (shutdown); logs handed over
// afterwards are not held.
func (e *Engine) ReleaseAll(now time.Time) {
	if e.joiner != nil {
		e.joiner.ReleaseAll(now)
	}
}

// TakeReleased moves the logs ready to leave into r (see join.Released:
// the logs per pipeline, and what became of them).
func (e *Engine) TakeReleased(r *join.Released) {
	if e.joiner != nil {
		e.joiner.TakeReleased(r)
	}
}

// State is the engine's state now, against its bounds.
type State struct {
	// Joins: the join is on. CanHold: logs may wait for their span
	// (wait and max_waiting_logs are positive).
	Joins, CanHold  bool
	Waiting         int
	MaxWaitingLogs  int
	IndexEntries    int
	MaxIndexEntries int
}

// State copies the engine's state (under the join's lock).
func (e *Engine) State() State {
	if e.joiner == nil {
		return State{}
	}
	st := e.joiner.Stats()
	return State{
		Joins:           true,
		CanHold:         e.joiner.CanHold(),
		Waiting:         st.Waiting,
		MaxWaitingLogs:  e.join.MaxWaitingLogs,
		IndexEntries:    st.IndexEntries,
		MaxIndexEntries: e.join.MaxIndexEntries,
	}
}
