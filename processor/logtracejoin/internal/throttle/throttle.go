// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package throttle rate-limits a repeating log line.
package throttle // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/throttle"

import (
	"sync"
	"time"
)

// Throttle runs a logging function at most once per period and tells it
// how many calls were suppressed in between. Safe for concurrent use.
type Throttle struct {
	every      time.Duration
	now        func() time.Time
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// New returns a Throttle of one call per every, on clock now.
func New(every time.Duration, now func() time.Time) *Throttle {
	return &Throttle{every: every, now: now}
}

// Do calls f unless it was called less than a period ago.
func (r *Throttle) Do(f func(suppressed int)) {
	r.mu.Lock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	f(n)
}
