// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// maxFlattenDepth is how deep nested maps are flattened into dotted keys
// (as Honeycomb does); deeper values are written as JSON strings.
const maxFlattenDepth = 5

// appendValue appends the field(s) of one attribute: scalars as they are,
// maps flattened into "key.sub" fields, arrays and bytes as JSON strings.
// It reports whether it produced a flattened (composed) key.
func appendValue(dst []Field, key string, v pcommon.Value, depth int) ([]Field, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return append(dst, Field{Key: key, Str: v.Str(), Kind: KindString}), false
	case pcommon.ValueTypeInt:
		return append(dst, Field{Key: key, Num: uint64(v.Int()), Kind: KindInt}), false
	case pcommon.ValueTypeDouble:
		return append(dst, Field{Key: key, Num: math.Float64bits(v.Double()), Kind: KindFloat}), false
	case pcommon.ValueTypeBool:
		return append(dst, boolField(key, v.Bool(), false)), false
	case pcommon.ValueTypeMap:
		if depth >= maxFlattenDepth {
			return append(dst, Field{Key: key, Str: jsonString(v), Kind: KindString}), false
		}
		for k, sub := range v.Map().All() {
			dst, _ = appendValue(dst, key+"."+k, sub, depth+1)
		}
		return dst, true
	case pcommon.ValueTypeSlice, pcommon.ValueTypeBytes:
		return append(dst, Field{Key: key, Str: jsonString(v), Kind: KindString}), false
	default: // empty
		return dst, false
	}
}

func jsonString(v pcommon.Value) string {
	b, err := json.Marshal(v.AsRaw())
	if err != nil {
		return v.AsString()
	}
	return string(b)
}

// appendAttrs appends every attribute of m except the one named skip. It
// reports whether any map attribute was flattened.
func appendAttrs(dst []Field, m pcommon.Map, skip string) ([]Field, bool) {
	flattened := false
	for k, v := range m.All() {
		if k == "" || k == skip {
			continue
		}
		var f bool
		dst, f = appendValue(dst, k, v, 0)
		flattened = flattened || f
	}
	return dst, flattened
}

// sampleRateOf reads a sample rate from an attribute value: int, double or
// a decimal string; 0 or less means "not set".
func sampleRateOf(v pcommon.Value) int64 {
	var r int64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		r = v.Int()
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if d >= math.MaxInt32 {
			r = math.MaxInt32
		} else if d >= 1 {
			r = int64(math.Round(d))
		}
	case pcommon.ValueTypeStr:
		s := strings.TrimSpace(v.Str())
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			r = i
		} else if d, err := strconv.ParseFloat(s, 64); err == nil && d >= 1 && !math.IsInf(d, 0) {
			r = int64(math.Round(min(d, math.MaxInt32)))
		}
	}
	return min(r, math.MaxInt32)
}

// SampleRateFromTraceState returns the sample rate implied by the `th`
// (rejection threshold) sub-key of the `ot` entry of a W3C tracestate
// (OpenTelemetry consistent probability sampling): the sampling
// probability is 1 - th/2^56, the rate its inverse, rounded. It returns 0
// when there is no valid threshold.
func SampleRateFromTraceState(ts string) int64 {
	for ts != "" {
		var member string
		member, ts, _ = strings.Cut(ts, ",")
		member = strings.TrimSpace(member)
		ot, ok := strings.CutPrefix(member, "ot=")
		if !ok {
			continue
		}
		for ot != "" {
			var kv string
			kv, ot, _ = strings.Cut(ot, ";")
			th, ok := strings.CutPrefix(kv, "th:")
			if !ok {
				continue
			}
			return sampleRateFromThreshold(th)
		}
		return 0
	}
	return 0
}

func sampleRateFromThreshold(th string) int64 {
	if th == "" || len(th) > 14 {
		return 0
	}
	t, err := strconv.ParseUint(th, 16, 64)
	if err != nil {
		return 0
	}
	// Pad to 14 hex digits (56 bits): "8" means 0x80000000000000.
	t <<= 4 * uint(14-len(th))
	const maxThreshold = uint64(1) << 56
	if t >= maxThreshold {
		return 0
	}
	rate := float64(maxThreshold) / float64(maxThreshold-t)
	if rate >= math.MaxInt32 {
		return math.MaxInt32
	}
	return max(int64(math.Round(rate)), 1)
}
