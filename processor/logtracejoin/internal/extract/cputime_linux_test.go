// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package extract

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUTime is the CPU time of the calling OS thread. Benchmarks lock
// their goroutine to a thread and report it next to wall time: on shared
// machines the wall time includes time the thread was not running.
func threadCPUTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
