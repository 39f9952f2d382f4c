// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/join"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Owner identifies the logs pipeline a held record goes back to (an index
// the processor gives each of its logs pipelines).
type Owner int

// Batch is the log records of one incoming ScopeLogs that wait for their
// spans. They are moved once, together, into a plog.Logs of their own (with
// their resource and scope), and leave from there: when all of a batch's
// records leave in one flush, that plog.Logs is sent on as it is, so a held
// record is moved at most twice and usually once.
type Batch struct {
	// logs holds one ResourceLogs with one ScopeLogs: the records' own
	// resource and scope; records is that ScopeLogs' record slice.
	logs    plog.Logs
	records plog.LogRecordSlice
	owner   Owner
	arrived time.Time
	// held has one entry per record of records, in the same order.
	held []Held

	// mu guards sent and the records once they are released (release.go).
	mu sync.Mutex
	// sent counts the records already moved out and sent on their own.
	sent int
}

// NewBatch returns a batch of len(hashes) held records, the i-th waiting
// for correlation key hash hashes[i], with no records yet (HoldScope fills
// them).
func NewBatch(hashes []uint64, owner Owner, arrived time.Time) *Batch {
	b := &Batch{owner: owner, arrived: arrived, held: make([]Held, len(hashes))}
	for i, h := range hashes {
		b.held[i] = Held{batch: b, index: int32(i), hash: h}
	}
	return b
}

// Held returns the i-th held record of the batch.
func (b *Batch) Held(i int) *Held { return &b.held[i] }

// HoldScope moves the records of sl (a ScopeLogs of rl, which has nScopes
// of them) at positions idx (ascending), waiting for the correlation key
// hashes hashes[i], out of the incoming data into a batch of owner. It
// reports whether rl was moved whole (every record of a one-scope resource
// waits): then rl is left empty and the caller moves on to the next
// resource. Scopes and resources left empty are for the caller to drop.
func HoldScope(rl plog.ResourceLogs, sl plog.ScopeLogs, nScopes int, idx []int32, hashes []uint64, owner Owner, now time.Time) (*Batch, bool) {
	b := NewBatch(hashes, owner, now)
	b.logs = plog.NewLogs()
	lrs := sl.LogRecords()
	if len(idx) == lrs.Len() && nScopes == 1 {
		// every record of the resource waits: move it whole
		rl.MoveTo(b.logs.ResourceLogs().AppendEmpty())
		b.records = b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		return b, true
	}
	nrl := b.logs.ResourceLogs().AppendEmpty()
	rl.Resource().CopyTo(nrl.Resource())
	nrl.SetSchemaUrl(rl.SchemaUrl())
	nsl := nrl.ScopeLogs().AppendEmpty()
	switch {
	case len(idx) == lrs.Len():
		// every record of the scope waits: move it whole
		sl.MoveTo(nsl)
	case 2*len(idx) > lrs.Len():
		// most records wait: move the scope whole and the records that
		// pass on back into a scope of their own
		sl.MoveTo(nsl)
		nsl.Scope().CopyTo(sl.Scope())
		sl.SetSchemaUrl(nsl.SchemaUrl())
		kept := sl.LogRecords()
		kept.EnsureCapacity(nsl.LogRecords().Len() - len(idx))
		n, next := 0, 0
		nsl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
			wait := next < len(idx) && int(idx[next]) == n
			n++
			if wait {
				next++
				return false
			}
			lr.MoveTo(kept.AppendEmpty())
			return true
		})
	default:
		sl.Scope().CopyTo(nsl.Scope())
		nsl.SetSchemaUrl(sl.SchemaUrl())
		held := nsl.LogRecords()
		held.EnsureCapacity(len(idx))
		n, next := 0, 0
		lrs.RemoveIf(func(lr plog.LogRecord) bool {
			wait := next < len(idx) && int(idx[next]) == n
			n++
			if wait {
				lr.MoveTo(held.AppendEmpty())
				next++
			}
			return wait
		})
	}
	b.records = nsl.LogRecords()
	return b, false
}
