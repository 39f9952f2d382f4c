// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkIndexMemory measures the heap an index entry costs (issue
// target: <= 100 bytes per entry), keys being 36-byte request ids.
func BenchmarkIndexMemory(b *testing.B) {
	const n = 1 << 20
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = Hash("5f1c2a7e-8a51-4c3e-9f1b-" + strconv.FormatInt(int64(100000000000+i), 10))
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		j := New(time.Second, 10, time.Hour, n)
		spans := make([]Span, 1)
		for i := range keys {
			spans[0] = Span{Hash: keys[i], Context: sc(byte(i))}
			j.IndexSpans(spans, t0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(j.IndexEntries()), "bytes/entry")
		runtime.KeepAlive(j)
	}
}

// BenchmarkLookup is the index part of the join path.
func BenchmarkLookup(b *testing.B) {
	j := New(time.Second, 10, time.Hour, 1<<16)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "req-" + strconv.Itoa(i)
		j.IndexSpans([]Span{{Hash: Hash(keys[i]), Context: sc(byte(i))}}, t0)
	}
	i := 0
	for b.Loop() {
		if _, _, ok := j.Lookup(Hash(keys[i&(1<<16-1)]), t0); !ok {
			b.Fatal("miss")
		}
		i++
	}
}
