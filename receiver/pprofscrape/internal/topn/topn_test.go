// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package topn

import (
	"bytes"
	"crypto/sha256"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	sink [][]byte
	spin [32]byte
)

func allocate(n int) {
	for i := range n {
		sink = append(sink, make([]byte, 128+i%8192))
	}
}

func cpuProfile(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, pprof.StartCPUProfile(&buf))
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		spin = sha256.Sum256(spin[:])
		allocate(1)
	}
	pprof.StopCPUProfile()
	return buf.Bytes()
}

const n = 10

func pprofTop(t *testing.T, sampleIndex, unit string, cum bool, files ...string) []pproftest.TopLine {
	// No local symbolization from the test binary: the receiver only has what the
	// profile carries. (pprof still demangles.)
	args := []string{"-top", "-symbolize=remote", "-nodecount=" + strconv.Itoa(n), "-nodefraction=0", "-edgefraction=0", "-sample_index=" + sampleIndex}
	if unit != "" {
		args = append(args, "-unit="+unit)
	}
	if cum {
		args = append(args, "-cum")
	}
	if len(files) == 2 {
		args = append(args, "-base", files[0])
		files = files[1:]
	}
	return pproftest.ParseTop(t, pproftest.GoToolPprof(t, append(args, files[0])...))
}

func compare(t *testing.T, res Result, flat, cum []pproftest.TopLine) {
	t.Helper()
	require.NotEmpty(t, flat)
	require.Len(t, res.ByFlat, len(flat))
	for i, want := range flat {
		got := res.ByFlat[i]
		assert.Equal(t, want, pproftest.TopLine{Name: got.Name, Flat: got.Flat, Cum: got.Cum}, "flat rank %d", i)
	}
	require.Len(t, res.ByCum, len(cum))
	for i, want := range cum {
		got := res.ByCum[i]
		assert.Equal(t, want, pproftest.TopLine{Name: got.Name, Flat: got.Flat, Cum: got.Cum}, "cum rank %d", i)
	}
	var sum int64
	for _, e := range res.ByFlat {
		sum += e.Flat
	}
	assert.Equal(t, res.Total, sum+res.FlatOther)
}

// TestTopEqualsGoToolPprof compares our top-N with `go tool pprof -top` (and -top -cum)
// run on the same raw profile.
func TestTopEqualsGoToolPprof(t *testing.T) {
	allocate(3000)
	runtime.GC()
	cases := []struct {
		name, index, unit string
		raw               []byte
	}{
		{"heap", "inuse_space", "B", pproftest.Profile(t, "heap")},
		{"goroutine", "goroutine", "", pproftest.Profile(t, "goroutine")},
		{"cpu", "cpu", "ns", cpuProfile(t)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := profile.Parse(bytes.NewReader(tc.raw))
			require.NoError(t, err)
			vi := -1
			for i, st := range p.SampleType {
				if st.Type == tc.index {
					vi = i
				}
			}
			require.GreaterOrEqual(t, vi, 0)
			res := Compute(p, nil, func(i int) int64 { return p.Sample[i].Value[vi] }, n)

			f := pproftest.WriteTemp(t, tc.name+".pb.gz", tc.raw)
			compare(t, res, pprofTop(t, tc.index, tc.unit, false, f), pprofTop(t, tc.index, tc.unit, true, f))
		})
	}
}

// TestTopOfDeltaEqualsGoToolPprofBase: the top-N of our allocation delta equals
// `go tool pprof -top -base prev cur`.
func TestTopOfDeltaEqualsGoToolPprofBase(t *testing.T) {
	runtime.GC()
	raw1 := pproftest.Profile(t, "allocs")
	allocate(20000)
	runtime.GC()
	runtime.GC()
	raw2 := pproftest.Profile(t, "allocs")
	p1, err := profile.Parse(bytes.NewReader(raw1))
	require.NoError(t, err)
	p2, err := profile.Parse(bytes.NewReader(raw2))
	require.NoError(t, err)

	tr := delta.NewTracker()
	cum := profiletype.CumulativeIndices("allocs", p1)
	tr.Next(p1, cum)
	d, out := tr.Next(p2, cum)
	require.Equal(t, delta.Delta, out)
	res := Compute(p2, d.Samples, func(r int) int64 { return d.Row(r)[1] }, n) // alloc_space

	f1 := pproftest.WriteTemp(t, "base.pb.gz", raw1)
	f2 := pproftest.WriteTemp(t, "cur.pb.gz", raw2)
	compare(t, res, pprofTop(t, "alloc_space", "B", false, f1, f2), pprofTop(t, "alloc_space", "B", true, f1, f2))
}

func TestOtherAndSmallN(t *testing.T) {
	fa := &profile.Function{ID: 1, Name: "a"}
	fb := &profile.Function{ID: 2, Name: "b"}
	fm := &profile.Function{ID: 3, Name: "main"}
	la := &profile.Location{ID: 1, Line: []profile.Line{{Function: fa}}}
	lb := &profile.Location{ID: 2, Line: []profile.Line{{Function: fb}}}
	lm := &profile.Location{ID: 3, Line: []profile.Line{{Function: fm}}}
	lx := &profile.Location{ID: 4, Address: 0x1234, Mapping: &profile.Mapping{ID: 1, File: "/usr/lib/libc.so.6"}}
	p := &profile.Profile{
		Sample: []*profile.Sample{
			{Location: []*profile.Location{la, lm}, Value: []int64{5}},
			{Location: []*profile.Location{lb, lm}, Value: []int64{3}},
			{Location: []*profile.Location{lx, lb, lm}, Value: []int64{2}},
			{Location: []*profile.Location{lm, lm}, Value: []int64{1}}, // recursion: cum once
			{Location: []*profile.Location{la}, Value: []int64{0}},
		},
	}
	res := Compute(p, nil, func(i int) int64 { return p.Sample[i].Value[0] }, 2)
	assert.Equal(t, int64(11), res.Total)
	assert.Equal(t, []Entry{{"a", 5, 5}, {"b", 3, 5}}, res.ByFlat)
	assert.Equal(t, int64(3), res.FlatOther, "libc.so.6 (2) + main (1)")
	assert.Equal(t, []Entry{{"main", 1, 11}, {"a", 5, 5}}, res.ByCum)
	assert.Equal(t, 4, res.Functions)

	res = Compute(p, nil, func(i int) int64 { return p.Sample[i].Value[0] }, 10)
	assert.Len(t, res.ByFlat, 4)
	assert.Equal(t, "[libc.so.6]", res.ByFlat[2].Name)
	assert.Equal(t, int64(0), res.FlatOther)
}
