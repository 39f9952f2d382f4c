// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syntheticProfile has n samples, each on its own location and function, so that it has
// n samples, n locations, n functions and n+3 strings ("", "samples", "count" and one
// function name per function).
func syntheticProfile(n int) *profile.Profile {
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}}}
	for i := range n {
		f := &profile.Function{ID: uint64(i + 1), Name: "f" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))}
		l := &profile.Location{ID: uint64(i + 1), Line: []profile.Line{{Function: f, Line: 1}}}
		p.Function = append(p.Function, f)
		p.Location = append(p.Location, l)
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{l}, Value: []int64{1}})
	}
	return p
}

func encode(t *testing.T, p *profile.Profile, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if gz {
		require.NoError(t, p.Write(&buf))
	} else {
		require.NoError(t, p.WriteUncompressed(&buf))
	}
	return buf.Bytes()
}

func decode(data []byte, l Limits) (Counts, []byte, error) {
	res := Result{Data: append([]byte(nil), data...)}
	c, err := Decode(context.Background(), &res, l)
	return c, res.Data, err
}

func TestDecodeCountsWhatTheParserFinds(t *testing.T) {
	p := syntheticProfile(300)
	for _, gz := range []bool{false, true} {
		c, data, err := decode(encode(t, p, gz), generous)
		require.NoError(t, err)
		// Worked out from the construction, and checked against the pprof parser itself.
		assert.Equal(t, Counts{Samples: 300, Locations: 300, Functions: 300, Strings: 303}, c)
		back, err := profile.ParseUncompressed(data)
		require.NoError(t, err)
		assert.Len(t, back.Sample, int(c.Samples))
		assert.Len(t, back.Location, int(c.Locations))
		assert.Len(t, back.Function, int(c.Functions))
	}
}

func TestDecodeRefusesEachLimitByOne(t *testing.T) {
	data := encode(t, syntheticProfile(300), true)
	for name, l := range map[string]Limits{
		"max_samples":   {MaxDecompressedBytes: 1 << 20, MaxSamples: 299, MaxLocations: 300, MaxStrings: 303},
		"max_locations": {MaxDecompressedBytes: 1 << 20, MaxSamples: 300, MaxLocations: 299, MaxStrings: 303},
		"max_strings":   {MaxDecompressedBytes: 1 << 20, MaxSamples: 300, MaxLocations: 300, MaxStrings: 302},
	} {
		_, _, err := decode(data, l)
		require.Error(t, err, name)
		assert.Equal(t, ReasonLimit, ReasonOf(err))
		assert.Contains(t, err.Error(), name)
	}
	_, _, err := decode(data, Limits{MaxDecompressedBytes: 1 << 20, MaxSamples: 300, MaxLocations: 300, MaxStrings: 303})
	require.NoError(t, err, "exactly at every limit")
	plain := encode(t, syntheticProfile(300), false)
	_, _, err = decode(data, Limits{MaxDecompressedBytes: int64(len(plain)) - 1, MaxSamples: 300, MaxLocations: 300, MaxStrings: 303})
	assert.Equal(t, ReasonSize, ReasonOf(err))
	_, _, err = decode(plain, Limits{MaxDecompressedBytes: int64(len(plain)) - 1, MaxSamples: 300, MaxLocations: 300, MaxStrings: 303})
	assert.Equal(t, ReasonSize, ReasonOf(err), "uncompressed body over max_decompressed_bytes")
}

// TestDecodeStopsEarlyOnEmptyStrings: 10,000,000 empty strings (20 MB, a few KB gzipped)
// are refused after max_strings of them, long before the body is inflated.
func TestDecodeStopsEarlyOnEmptyStrings(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	row := bytes.Repeat([]byte{fieldStringTable<<3 | 2, 0}, 1<<20)
	for range 10 {
		_, _ = zw.Write(row)
	}
	require.NoError(t, zw.Close())
	_, _, err := decode(buf.Bytes(), Limits{MaxDecompressedBytes: 64 << 20, MaxSamples: 1000, MaxLocations: 1000, MaxStrings: 100_000})
	assert.Equal(t, ReasonLimit, ReasonOf(err))
	assert.Contains(t, err.Error(), "max_strings 100000")
	// The same body is a valid protobuf bomb: with strings allowed, the inflated size stops it.
	_, _, err = decode(buf.Bytes(), Limits{MaxDecompressedBytes: 1 << 20, MaxSamples: 1000, MaxLocations: 1000, MaxStrings: 1 << 30})
	assert.Equal(t, ReasonSize, ReasonOf(err))
}

func TestDecodeNotPprofAndTruncated(t *testing.T) {
	for _, body := range []string{"<!doctype html><html>", `{"error":"nope"}`, "404 page not found\n", "  [1,2]"} {
		res := Result{Data: []byte(body), ContentType: "text/html; charset=utf-8"}
		_, err := Decode(context.Background(), &res, generous)
		assert.Equal(t, ReasonNotPprof, ReasonOf(err), body)
		assert.Contains(t, err.Error(), "Content-Type text/html")
	}
	// Wire type 4 (end group) at the top level: what parse reported as "unknown wire type: 4".
	_, _, err := decode([]byte{0x0c, 0x00}, generous)
	assert.Equal(t, ReasonNotPprof, ReasonOf(err))
	plain := encode(t, syntheticProfile(3), false)
	_, _, err = decode(plain[:len(plain)-1], generous)
	assert.Equal(t, ReasonParse, ReasonOf(err), "cut inside a field")
}

func TestDecodeStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	res := Result{Data: encode(t, syntheticProfile(10), true)}
	_, err := Decode(ctx, &res, generous)
	assert.Equal(t, ReasonTimeout, ReasonOf(err))
}

// FuzzDecode: any bytes are either refused with a known reason or decoded within the limits.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte{0x32, 0x01, 'a', 0x12, 0x00})
	_ = zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{0x0a, 0x80})
	f.Add([]byte("<html>"))
	l := Limits{MaxDecompressedBytes: 1 << 16, MaxSamples: 8, MaxLocations: 8, MaxStrings: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, out, err := decode(data, l)
		if err != nil {
			switch ReasonOf(err) {
			case ReasonParse, ReasonSize, ReasonLimit, ReasonNotPprof:
			default:
				t.Fatalf("unexpected reason of %v", err)
			}
			return
		}
		if int64(len(out)) > l.MaxDecompressedBytes || c.Samples > l.MaxSamples || c.Strings > l.MaxStrings || c.Locations > l.MaxLocations || c.Functions > l.MaxLocations {
			t.Fatalf("decoded past the limits: %d bytes, %+v", len(out), c)
		}
	})
}
