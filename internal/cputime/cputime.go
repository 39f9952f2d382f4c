// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package cputime reads CPU time for benchmarks. On a shared machine wall time
// includes time a benchmark's thread was not running; prodscope's benchmarks
// report CPU time beside it (docs/benchmarks.md). Outside Linux both readings
// are 0 and the CPU-time figures read 0.
package cputime // import "github.com/prodscope/prodscope/internal/cputime"

import "time"

// Thread is the CPU time (user + system) of the calling OS thread. A benchmark
// that reads it locks its goroutine to its thread (runtime.LockOSThread) and
// measures only what runs on that goroutine.
func Thread() time.Duration { return thread() }

// Process is the CPU time (user + system) of the whole process, every thread:
// what a benchmark whose work spreads over goroutines (an exporter's queue, a
// scrape scheduler) costs.
func Process() time.Duration { return process() }
