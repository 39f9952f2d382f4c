// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"

import (
	"context"
	"sync"
	"time"
)

// slotPool is the max_concurrent_scrapes semaphore with two classes of waiters:
// targets whose last scrape succeeded (or that were never scraped) are served first,
// and targets that are failing may hold at most failingCap slots at once, so that a
// crowd of slow or hostile targets can never take every slot away from the healthy ones.
type slotPool struct {
	size int // slots in all

	mu          sync.Mutex
	free        int // slots not held
	failingFree int // of which failing targets may still take
	healthy     []chan struct{}
	failing     []chan struct{}
}

// failingShare is the part of the slots failing targets may hold together.
const failingShare = 4

func newSlotPool(n int) *slotPool {
	return &slotPool{size: n, free: n, failingFree: max(1, n/failingShare)}
}

// held is the number of slots held now.
func (p *slotPool) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size - p.free
}

// acquire takes a slot, waiting until one is free, until the deadline passes or ctx
// ends; it reports whether it holds a slot (then release must be called with the same
// failing value).
func (p *slotPool) acquire(ctx context.Context, failing bool, deadline time.Time) bool {
	p.mu.Lock()
	if p.canTake(failing) && len(p.healthy) == 0 && (!failing || len(p.failing) == 0) {
		p.take(failing)
		p.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	if failing {
		p.failing = append(p.failing, ch)
	} else {
		p.healthy = append(p.healthy, ch)
	}
	p.mu.Unlock()

	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	case <-wait.C:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-ch: // granted while we gave up: hand it back
		p.releaseLocked(failing)
		return false
	default:
	}
	if failing {
		p.failing = removeWaiter(p.failing, ch)
	} else {
		p.healthy = removeWaiter(p.healthy, ch)
	}
	return false
}

func (p *slotPool) canTake(failing bool) bool {
	return p.free > 0 && (!failing || p.failingFree > 0)
}

func (p *slotPool) take(failing bool) {
	p.free--
	if failing {
		p.failingFree--
	}
}

func (p *slotPool) release(failing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(failing)
}

// releaseLocked frees a slot and hands free slots to the waiters, healthy ones first.
func (p *slotPool) releaseLocked(failing bool) {
	p.free++
	if failing {
		p.failingFree++
	}
	for p.free > 0 {
		switch {
		case len(p.healthy) > 0:
			ch := p.healthy[0]
			p.healthy = p.healthy[1:]
			p.take(false)
			close(ch)
		case len(p.failing) > 0 && p.failingFree > 0:
			ch := p.failing[0]
			p.failing = p.failing[1:]
			p.take(true)
			close(ch)
		default:
			return
		}
	}
}

func removeWaiter(q []chan struct{}, ch chan struct{}) []chan struct{} {
	for i, c := range q {
		if c == ch {
			return append(q[:i], q[i+1:]...)
		}
	}
	return q
}
