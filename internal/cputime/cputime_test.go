// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package cputime

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// spin burns CPU on the calling goroutine for about d of wall time.
func spin(d time.Duration) (x uint64) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 10000 {
			x += uint64(i) * x
		}
	}
	return x
}

func TestThreadCountsOnlyWhatRuns(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	t0 := Thread()
	time.Sleep(100 * time.Millisecond) // not running: no CPU time
	slept := Thread() - t0
	assert.Less(t, slept, 50*time.Millisecond)

	t0, p0 := Thread(), Process()
	_ = spin(100 * time.Millisecond)
	ran, proc := Thread()-t0, Process()-p0
	assert.Greater(t, ran, time.Duration(0))
	// The process's CPU time holds the thread's.
	assert.GreaterOrEqual(t, proc, ran)
}
