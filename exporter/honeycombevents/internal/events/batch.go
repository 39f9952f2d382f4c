// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"encoding/binary"
	"math"
	"slices"
)

// MaxStringBytes is the longest string value Honeycomb stores in a field
// (64 KiB - 1); longer strings are truncated and counted.
const MaxStringBytes = math.MaxUint16

// truncateFloor is the length down to which trimming truncates the largest
// strings of an oversized event before it starts dropping fields.
const truncateFloor = 256

// msgpackArrayHeaderLen is the room reserved for an array32 header.
const msgpackArrayHeaderLen = 5

// Limits bound what the batcher emits.
type Limits struct {
	MaxBatchBytes int
	MaxEventBytes int
	MaxFields     int
}

// Reason says why an event was trimmed or refused.
type Reason uint8

const (
	// ReasonStringTruncated: a string longer than MaxStringBytes was cut.
	ReasonStringTruncated Reason = iota
	// ReasonEventTooLarge: the encoded event exceeded max_event_bytes.
	ReasonEventTooLarge
	// ReasonTooManyFields: the event had more than max_fields fields.
	ReasonTooManyFields
	// ReasonNoValue: a metric number point without a value.
	ReasonNoValue
	// NumReasons is the number of reasons (the length of the Stats arrays).
	NumReasons
)

// String returns the reason's attribute value.
func (r Reason) String() string {
	switch r {
	case ReasonStringTruncated:
		return "string_truncated"
	case ReasonEventTooLarge:
		return "event_too_large"
	case ReasonTooManyFields:
		return "too_many_fields"
	case ReasonNoValue:
		return "no_value"
	}
	return "unknown"
}

// Stats counts what the batcher did to events since the last Reset.
type Stats struct {
	// Events counts the events added; each is either refused or in a batch.
	Events  int
	Trimmed [NumReasons]int
	// Refused counts the refused events by dataset and reason, one entry per
	// pair, in the order they were first refused.
	Refused []Refusal
	// PointsRefused counts metric data points that are in no event: their
	// event was refused, or they had no value.
	PointsRefused [NumReasons]int
}

// Refusal counts the events of one dataset refused for one reason.
type Refusal struct {
	Dataset string
	Reason  Reason
	Events  int
}

// RefusedFor is the number of events refused for reason r, over all datasets.
func (s *Stats) RefusedFor(r Reason) int {
	n := 0
	for _, rf := range s.Refused {
		if rf.Reason == r {
			n += rf.Events
		}
	}
	return n
}

// refuse counts one event of dataset refused for r.
func (s *Stats) refuse(dataset string, r Reason) {
	for i := range s.Refused {
		if rf := &s.Refused[i]; rf.Reason == r && rf.Dataset == dataset {
			rf.Events++
			return
		}
	}
	s.Refused = append(s.Refused, Refusal{Dataset: dataset, Reason: r, Events: 1})
}

// BatchSink receives each batch the batcher closes because it reached
// max_batch_bytes, as soon as it is closed; the batch is reused once
// SendBatch returns. This bounds a request's memory to one open batch per
// dataset.
type BatchSink interface {
	SendBatch(*Batch)
}

// Batch is one request body for one dataset.
type Batch struct {
	Dataset string
	// Body is the uncompressed, complete body (JSON or msgpack array).
	Body []byte
	// Items holds, per event in the body, the index of the source item the
	// event came from (span, log record, or metric group).
	Items []int32
	// ends holds, per event, the offset in Body where its encoding ends.
	ends []int
	open bool
}

// Len is the number of events in the batch.
func (b *Batch) Len() int { return len(b.Items) }

// Batcher packs encoded events into per-dataset batches. It is not safe for
// concurrent use; the exporter keeps one per in-flight request in a pool.
type Batcher struct {
	format  Format
	limits  Limits
	open    map[string]*Batch
	done    []*Batch
	free    []*Batch
	last    *Batch
	scratch []byte
	order   []int
	sink    BatchSink
	Stats   Stats
}

// NewBatcher returns a batcher for the given format and limits. Batches
// that fill up go to sink as soon as they are full; with a nil sink they
// wait for Finish.
func NewBatcher(format Format, limits Limits, sink BatchSink) *Batcher {
	return &Batcher{format: format, limits: limits, sink: sink, open: map[string]*Batch{}}
}

// Reset drops all batches (keeping their buffers for reuse) and the stats.
func (b *Batcher) Reset() {
	for _, bt := range b.done {
		b.release(bt)
	}
	for _, bt := range b.open {
		b.release(bt)
	}
	b.done = b.done[:0]
	clear(b.open)
	b.last = nil
	// The refusal list keeps its buffer: a request with refusals does not
	// allocate a new one each time.
	b.Stats = Stats{Refused: b.Stats.Refused[:0]}
}

func (b *Batcher) release(bt *Batch) {
	bt.Body = bt.Body[:0]
	bt.Items = bt.Items[:0]
	bt.ends = bt.ends[:0]
	bt.Dataset = ""
	bt.open = false
	b.free = append(b.free, bt)
}

func (b *Batcher) newBatch(dataset string) *Batch {
	var bt *Batch
	if n := len(b.free); n > 0 {
		bt = b.free[n-1]
		b.free = b.free[:n-1]
	} else {
		bt = &Batch{}
	}
	bt.Dataset = dataset
	bt.open = true
	if b.format == FormatMsgpack {
		bt.Body = append(bt.Body, make([]byte, msgpackArrayHeaderLen)...)
	} else {
		bt.Body = append(bt.Body, '[')
	}
	return bt
}

func (b *Batcher) batchFor(dataset string) *Batch {
	if b.last != nil && b.last.Dataset == dataset {
		return b.last
	}
	bt, ok := b.open[dataset]
	if !ok {
		bt = b.newBatch(dataset)
		b.open[dataset] = bt
	}
	b.last = bt
	return bt
}

func (b *Batcher) close(bt *Batch) {
	if b.format == FormatMsgpack {
		bt.Body[0] = 0xdd
		binary.BigEndian.PutUint32(bt.Body[1:], u32(len(bt.Items)))
	} else {
		bt.Body = append(bt.Body, ']')
	}
	bt.open = false
	b.done = append(b.done, bt)
}

// Add encodes ev into the batch of its dataset. It applies the string,
// field-count and size limits, trimming the event or refusing it; it returns
// false and the reason when the event was refused. ev.Fields may be modified.
func (b *Batcher) Add(dataset string, ev *Event, item int32) (Reason, bool) {
	b.Stats.Events++
	for i := range ev.Fields {
		if f := &ev.Fields[i]; f.Kind == KindString && len(f.Str) > MaxStringBytes {
			f.Str = truncateUTF8(f.Str, MaxStringBytes)
			b.Stats.Trimmed[ReasonStringTruncated]++
		}
	}
	if len(ev.Fields) > b.limits.MaxFields {
		if !b.dropFields(ev) {
			b.Stats.refuse(dataset, ReasonTooManyFields)
			return ReasonTooManyFields, false
		}
		b.Stats.Trimmed[ReasonTooManyFields]++
	}
	bt := b.batchFor(dataset)
	start := len(bt.Body)
	if b.format == FormatJSON && len(bt.Items) > 0 {
		bt.Body = append(bt.Body, ',')
	}
	evStart := len(bt.Body)
	bt.Body = AppendEvent(bt.Body, b.format, ev)
	if len(bt.Body)-evStart > b.limits.MaxEventBytes {
		bt.Body = bt.Body[:start]
		if !b.trimToSize(ev) {
			b.Stats.refuse(dataset, ReasonEventTooLarge)
			return ReasonEventTooLarge, false
		}
		b.Stats.Trimmed[ReasonEventTooLarge]++
		if b.format == FormatJSON && len(bt.Items) > 0 {
			bt.Body = append(bt.Body, ',')
		}
		evStart = len(bt.Body)
		bt.Body = append(bt.Body, b.scratch...)
	}
	// One byte for the closing bracket of a JSON array.
	if len(bt.Body)+1 > b.limits.MaxBatchBytes && len(bt.Items) > 0 {
		b.scratch = append(b.scratch[:0], bt.Body[evStart:]...)
		bt.Body = bt.Body[:start]
		delete(b.open, dataset)
		b.close(bt)
		if b.sink != nil {
			b.done = b.done[:len(b.done)-1]
			b.sink.SendBatch(bt)
			b.release(bt)
		}
		bt = b.newBatch(dataset)
		b.open[dataset] = bt
		b.last = bt
		bt.Body = append(bt.Body, b.scratch...)
	}
	bt.Items = append(bt.Items, item)
	bt.ends = append(bt.ends, len(bt.Body))
	return 0, true
}

// Split returns two new batches holding the first and the second half of
// b's events (for a server that refuses b as too large). b must hold at
// least two events and be closed.
func (b *Batch) Split(format Format) (first, second *Batch) {
	n := len(b.Items) / 2
	return b.slice(format, 0, n), b.slice(format, n, len(b.Items))
}

// slice builds a closed batch of events [i, j) of b.
func (b *Batch) slice(format Format, i, j int) *Batch {
	start := func(k int) int {
		if k == 0 {
			if format == FormatMsgpack {
				return msgpackArrayHeaderLen
			}
			return 1
		}
		if format == FormatJSON {
			return b.ends[k-1] + 1 // the comma
		}
		return b.ends[k-1]
	}
	out := &Batch{Dataset: b.Dataset}
	if format == FormatMsgpack {
		out.Body = make([]byte, msgpackArrayHeaderLen, msgpackArrayHeaderLen+b.ends[j-1]-start(i))
		out.Body[0] = 0xdd
		binary.BigEndian.PutUint32(out.Body[1:], u32(j-i))
	} else {
		out.Body = append(make([]byte, 0, b.ends[j-1]-start(i)+2), '[')
	}
	for k := i; k < j; k++ {
		if format == FormatJSON && k > i {
			out.Body = append(out.Body, ',')
		}
		out.Body = append(out.Body, b.Body[start(k):b.ends[k]]...)
		out.ends = append(out.ends, len(out.Body))
	}
	if format == FormatJSON {
		out.Body = append(out.Body, ']')
	}
	out.Items = append([]int32(nil), b.Items[i:j]...)
	return out
}

// dropFields removes non-fixed fields from the end until the event fits
// max_fields; false when the fixed fields alone exceed it.
func (b *Batcher) dropFields(ev *Event) bool {
	excess := len(ev.Fields) - b.limits.MaxFields
	out := ev.Fields[:0]
	// Walk backwards so the last-added (item) attributes go first.
	keep := make([]bool, len(ev.Fields))
	for i := len(ev.Fields) - 1; i >= 0; i-- {
		if excess > 0 && !ev.Fields[i].Fixed {
			excess--
			continue
		}
		keep[i] = true
	}
	if excess > 0 {
		return false
	}
	for i := range ev.Fields {
		if keep[i] {
			out = append(out, ev.Fields[i])
		}
	}
	ev.Fields = out
	return true
}

// trimToSize truncates the largest strings (down to truncateFloor), then
// drops the largest non-fixed fields, until the encoded event fits
// max_event_bytes. Each round plans all cuts from one encoding, so the
// work stays linear in the event's size; a few rounds absorb escaping
// overhead the plan underestimated. The encoded event is left in b.scratch.
func (b *Batcher) trimToSize(ev *Event) bool {
	for range 8 {
		b.scratch = AppendEvent(b.scratch[:0], b.format, ev)
		excess := len(b.scratch) - b.limits.MaxEventBytes
		if excess <= 0 {
			return true
		}
		// Escaping can make a string's encoding longer than its bytes.
		excess += excess/8 + 16

		idx := b.order[:0]
		for i := range ev.Fields {
			if f := &ev.Fields[i]; f.Kind == KindString && !f.Fixed && len(f.Str) > truncateFloor {
				idx = append(idx, i)
			}
		}
		slices.SortFunc(idx, func(x, y int) int { return len(ev.Fields[y].Str) - len(ev.Fields[x].Str) })
		for _, i := range idx {
			if excess <= 0 {
				break
			}
			f := &ev.Fields[i]
			cut := min(len(f.Str)-truncateFloor, excess)
			f.Str = truncateUTF8(f.Str, len(f.Str)-cut)
			excess -= cut
		}
		if excess > 0 {
			idx = idx[:0]
			for i := range ev.Fields {
				if !ev.Fields[i].Fixed {
					idx = append(idx, i)
				}
			}
			size := func(i int) int { return len(ev.Fields[i].Key) + len(ev.Fields[i].Str) + 24 }
			slices.SortFunc(idx, func(x, y int) int { return size(y) - size(x) })
			drop := map[int]bool{}
			for _, i := range idx {
				if excess <= 0 {
					break
				}
				drop[i] = true
				excess -= size(i)
			}
			if len(drop) == 0 {
				return false
			}
			out := ev.Fields[:0]
			for i := range ev.Fields {
				if !drop[i] {
					out = append(out, ev.Fields[i])
				}
			}
			ev.Fields = out
		}
		b.order = idx
	}
	b.scratch = AppendEvent(b.scratch[:0], b.format, ev)
	return len(b.scratch) <= b.limits.MaxEventBytes
}

// Finish closes every open batch and returns all batches, in the order
// they were closed. The batches stay valid until the next Reset.
func (b *Batcher) Finish() []*Batch {
	datasets := make([]string, 0, len(b.open))
	for ds := range b.open {
		datasets = append(datasets, ds)
	}
	slices.Sort(datasets)
	for _, ds := range datasets {
		bt := b.open[ds]
		if len(bt.Items) == 0 {
			b.release(bt)
		} else {
			b.close(bt)
		}
		delete(b.open, ds)
	}
	b.last = nil
	return b.done
}
