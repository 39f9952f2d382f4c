// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package profiletype

import (
	"bytes"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runtimeProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup(name).WriteTo(&buf, 0))
	p, err := profile.Parse(&buf)
	require.NoError(t, err)
	return p
}

func TestCumulativeIndices(t *testing.T) {
	// The runtime's heap profile: alloc_objects, alloc_space, inuse_objects, inuse_space.
	heap := runtimeProfile(t, "heap")
	assert.Equal(t, []int{0, 1}, CumulativeIndices("heap", heap))
	assert.Equal(t, []int{0, 1}, CumulativeIndices("allocs", heap))
	assert.Empty(t, CumulativeIndices("delta_heap", heap), "godeltaprof serves deltas already")
	g := runtimeProfile(t, "goroutine")
	assert.Empty(t, CumulativeIndices("goroutine", g))
	assert.Empty(t, CumulativeIndices("cpu", g))
	assert.Equal(t, []int{0}, CumulativeIndices("threadcreate", g))
	assert.Equal(t, []int{0}, CumulativeIndices("block", g))
	assert.Empty(t, CumulativeIndices("delta_block", g))
}

func TestPaths(t *testing.T) {
	assert.Equal(t, "/debug/pprof/profile?seconds=10", Path("cpu", 10*time.Second))
	for _, typ := range []string{"heap", "allocs", "goroutine", "block", "mutex", "threadcreate", "delta_heap", "delta_block", "delta_mutex"} {
		assert.Equal(t, "/debug/pprof/"+typ, Path(typ, time.Second))
	}
	assert.Equal(t, "/debug/fgprof?format=pprof&seconds=3", WithCPUSeconds("cpu", "/debug/fgprof?format=pprof", 3*time.Second))
	assert.False(t, IsKnown("cmdline"))
	assert.False(t, IsKnown("trace"))
	assert.Len(t, Names, len(Table), "every type listed once")
	for _, n := range Names {
		assert.True(t, IsKnown(n), n)
	}
}
