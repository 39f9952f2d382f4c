// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/topn"
)

// bigHeapProfile builds a heap profile shaped like a large Go service's: 2,000 functions,
// 6,000 locations, `samples` distinct stacks of depth 8..40, a bytes label per sample.
// scale multiplies the cumulative alloc values (a later scrape of the same process).
func bigHeapProfile(samples int, scale int64) *profile.Profile {
	rng := rand.New(rand.NewPCG(1, 2))
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}, {Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:     524288,
		TimeNanos:  1_750_000_000_000_000_000 + scale*60e9,
	}
	m := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x4000000, File: "/app/server", BuildID: "0123456789abcdef", HasFunctions: true, HasFilenames: true, HasLineNumbers: true}
	p.Mapping = []*profile.Mapping{m}
	for i := range 2000 {
		p.Function = append(p.Function, &profile.Function{
			ID: uint64(i + 1), Name: fmt.Sprintf("github.com/acme/shop/internal/pkg%02d.(*Type%03d).Method%d", i%40, i%300, i),
			SystemName: fmt.Sprintf("github.com/acme/shop/internal/pkg%02d.(*Type%03d).Method%d", i%40, i%300, i),
			Filename:   fmt.Sprintf("/src/github.com/acme/shop/internal/pkg%02d/file%03d.go", i%40, i%300), StartLine: int64(10 + i%500),
		})
	}
	for i := range 6000 {
		l := &profile.Location{ID: uint64(i + 1), Mapping: m, Address: 0x401000 + uint64(i)*0x40}
		l.Line = append(l.Line, profile.Line{Function: p.Function[rng.IntN(2000)], Line: int64(20 + rng.IntN(400))})
		if i%5 == 0 { // some inlined frames
			l.Line = append(l.Line, profile.Line{Function: p.Function[rng.IntN(2000)], Line: int64(20 + rng.IntN(400))})
		}
		p.Location = append(p.Location, l)
	}
	for range samples {
		depth := 8 + rng.IntN(33)
		s := &profile.Sample{NumLabel: map[string][]int64{"bytes": {int64(8 << rng.IntN(10))}}}
		for range depth {
			s.Location = append(s.Location, p.Location[rng.IntN(6000)])
		}
		objs := int64(1 + rng.IntN(1000))
		inuse := objs / int64(1+rng.IntN(4))
		size := s.NumLabel["bytes"][0]
		s.Value = []int64{objs * scale, objs * size * scale, inuse, inuse * size}
		p.Sample = append(p.Sample, s)
	}
	return p
}

func gz(b *testing.B, p *profile.Profile) []byte {
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func parseBytes(b *testing.B, data []byte) *profile.Profile {
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkHeap compares, on the same heap profile in the same run, one profile.Parse
// (the baseline) with our delta + conversion to OTLP profiles (target: ≤ 2× Parse), and
// with the whole per-profile scrape work (parse + delta + conversion + top-N).
func BenchmarkHeap(b *testing.B) {
	for _, samples := range []int{500, 5000} {
		prevData := gz(b, bigHeapProfile(samples, 1))
		curData := gz(b, bigHeapProfile(samples, 2))
		b.Run(fmt.Sprintf("samples=%d/Parse", samples), func(b *testing.B) {
			b.SetBytes(int64(len(curData)))
			for b.Loop() {
				parseBytes(b, curData)
			}
		})
		// The receiver's own path to a parsed profile: inflate while scanning against the
		// limits (fetch.Decode), then parse the uncompressed bytes. Same-run ratio to Parse
		// is the cost of the budget checks.
		b.Run(fmt.Sprintf("samples=%d/DecodeParse", samples), func(b *testing.B) {
			b.SetBytes(int64(len(curData)))
			limits := fetch.Limits{MaxDecompressedBytes: 64 << 20, MaxSamples: 1 << 20, MaxLocations: 1 << 20, MaxStrings: 1 << 20}
			for b.Loop() {
				res := fetch.Result{Data: append([]byte(nil), curData...)}
				if _, err := fetch.Decode(context.Background(), &res, limits); err != nil {
					b.Fatal(err)
				}
				if _, err := profile.ParseUncompressed(res.Data); err != nil {
					b.Fatal(err)
				}
				res.Release()
			}
		})
		b.Run(fmt.Sprintf("samples=%d/DeltaConvert", samples), func(b *testing.B) {
			prev, cur := parseBytes(b, prevData), parseBytes(b, curData)
			cum := profiletype.CumulativeIndices("heap", cur)
			b.SetBytes(int64(len(curData)))
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				tr := delta.NewTracker()
				tr.Next(prev, cum)
				b.StartTimer()
				d, out := tr.Next(cur, cum)
				if out != delta.Delta {
					b.Fatal("no delta")
				}
				pd := pprofile.NewProfiles()
				sp := pd.ResourceProfiles().AppendEmpty().ScopeProfiles().AppendEmpty()
				convert.NewBuilder(pd).Append(sp, convert.Input{Profile: cur, Type: "heap", Cumulative: cum, Delta: d})
			}
		})
		b.Run(fmt.Sprintf("samples=%d/TopN", samples), func(b *testing.B) {
			cur := parseBytes(b, curData)
			for b.Loop() {
				topn.Compute(cur, nil, func(i int) int64 { return cur.Sample[i].Value[3] }, 10)
			}
		})
	}
}
