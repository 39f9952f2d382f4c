// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// maxFlattenDepth is how deep nested maps are flattened into dotted keys
// (as Honeycomb does); deeper values are written as JSON strings.
const maxFlattenDepth = 5

// appendValue appends the field(s) of one attribute as Honeycomb's ingest
// does: scalars as they are, maps flattened into "key.sub" fields, arrays,
// bytes and maps deeper than maxFlattenDepth as JSON strings. It reports
// whether it produced a flattened (composed) key.
func appendValue(dst []Field, key string, v pcommon.Value, depth int) ([]Field, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return append(dst, Field{Key: key, Str: v.Str(), Kind: KindString}), false
	case pcommon.ValueTypeInt:
		return append(dst, intField(key, v.Int(), false)), false
	case pcommon.ValueTypeDouble:
		return append(dst, Field{Key: key, Num: math.Float64bits(v.Double()), Kind: KindFloat}), false
	case pcommon.ValueTypeBool:
		return append(dst, boolField(key, v.Bool(), false)), false
	case pcommon.ValueTypeMap:
		if depth >= maxFlattenDepth {
			return appendJSONField(dst, key, v), false
		}
		for k, sub := range v.Map().All() {
			dst, _ = appendValue(dst, key+"."+k, sub, depth+1)
		}
		return dst, true
	case pcommon.ValueTypeSlice, pcommon.ValueTypeBytes:
		return appendJSONField(dst, key, v), false
	default: // empty
		return dst, false
	}
}

// appendJSONField appends v as a JSON string field, encoded as Honeycomb's
// ingest encodes it: HTML escaping off, map keys sorted, bytes as base64,
// and the trailing newline of a JSON stream encoder. A value JSON cannot
// hold (a NaN or infinity inside an array) leaves the field out, as
// Honeycomb's ingest does.
func appendJSONField(dst []Field, key string, v pcommon.Value) []Field {
	s, ok := jsonString(v)
	if !ok {
		return dst
	}
	return append(dst, Field{Key: key, Str: s, Kind: KindString})
}

func jsonString(v pcommon.Value) (string, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.AsRaw()); err != nil {
		return "", false
	}
	return buf.String(), true
}

// appendAttrs appends every attribute of m. It reports whether any map
// attribute was flattened.
func appendAttrs(dst []Field, m pcommon.Map) ([]Field, bool) {
	flattened := false
	for k, v := range m.All() {
		if k == "" {
			continue
		}
		var f bool
		dst, f = appendValue(dst, k, v, 0)
		flattened = flattened || f
	}
	return dst, flattened
}

// sampleRateOfField reads a sample rate from a field as Honeycomb's ingest
// does: ints as they are, floats and decimal strings rounded half up,
// anything at or over MaxInt32 clamped to it, and everything else (bools,
// unparsable strings, 0, negative, NaN) read as 1.
func sampleRateOfField(f *Field) int64 {
	var r int64
	switch f.Kind {
	case KindInt:
		r = min(f.Int(), math.MaxInt32)
	case KindFloat:
		r = rateFromFloat(math.Float64frombits(f.Num))
	case KindString:
		if d, err := strconv.ParseFloat(f.Str, 64); err == nil {
			r = rateFromFloat(d)
		}
	}
	if r <= 0 {
		return 1
	}
	return r
}

func rateFromFloat(d float64) int64 {
	switch {
	case math.IsNaN(d):
		return 1
	case d >= math.MaxInt32:
		return math.MaxInt32
	case d < 0:
		return 1
	}
	return int64(d + 0.5)
}

// AdjustedCountFromTraceState returns the adjusted count (the inverse of
// the sampling probability) that a W3C tracestate's OpenTelemetry
// rejection threshold implies, found as Honeycomb's ingest finds it: the
// `th` sub-key of the `ot` member (`ot=th:8`, probability 1 - 8/16), else
// a legacy `th=8` among the ";"-separated pairs of the whole tracestate.
// It reports false when there is no valid threshold.
func AdjustedCountFromTraceState(ts string) (float64, bool) {
	th, ok := otThreshold(ts)
	if !ok {
		th, ok = legacyThreshold(ts)
	}
	if !ok {
		return 0, false
	}
	return adjustedCount(th)
}

func otThreshold(ts string) (string, bool) {
	for ts != "" {
		var member string
		member, ts, _ = strings.Cut(ts, ",")
		// W3C tracestate allows optional white space around members;
		// Honeycomb's ingest does not trim it (a deliberate difference).
		ot, ok := strings.CutPrefix(strings.TrimSpace(member), "ot=")
		if !ok {
			continue
		}
		for ot != "" {
			var kv string
			kv, ot, _ = strings.Cut(ot, ";")
			if k, v, ok := strings.Cut(kv, ":"); ok && k == "th" && !strings.Contains(v, ":") {
				return v, true
			}
		}
	}
	return "", false
}

// legacyThreshold reads the pre-specification form `th=<hex>`: the
// tracestate split at ";" into key=value pairs.
func legacyThreshold(ts string) (string, bool) {
	th, found := "", false
	for ts != "" {
		var kv string
		kv, ts, _ = strings.Cut(ts, ";")
		if strings.Count(kv, "=") != 1 {
			continue
		}
		if k, v, _ := strings.Cut(kv, "="); k == "th" {
			th, found = v, true // the last one wins, as in a map
		}
	}
	return th, found
}

// adjustedCount converts a threshold (1 to 14 hex digits, right-padded
// with zeros to 56 bits) to its adjusted count 2^56 / (2^56 - threshold).
func adjustedCount(th string) (float64, bool) {
	if th == "" || len(th) > 14 {
		return 0, false
	}
	t, err := strconv.ParseUint(th, 16, 64)
	if err != nil {
		return 0, false
	}
	t <<= 4 * uint(14-len(th))
	const maxThreshold = uint64(1) << 56
	return float64(maxThreshold) / float64(maxThreshold-t), true
}

// wholeSampleRate turns an adjusted count into the whole sample rate an
// event can carry, as Honeycomb's ingest does: over 100 it is truncated
// (within 1 %); below, it is the floor or the ceiling at random, the
// ceiling with probability equal to the fractional part, so that weighted
// counts stay unbiased (th:5, 16/11 = 1.4545: 2 with p = 0.4545, else 1).
// Rates are clamped to MaxInt32 (Honeycomb's ingest overflows instead).
func wholeSampleRate(count float64, rnd func() float64) int64 {
	if count >= math.MaxInt32 {
		return math.MaxInt32
	}
	lo := math.Floor(count)
	if lo > 100 || lo == count {
		return max(int64(lo), 1)
	}
	if rnd() < count-lo {
		return int64(lo) + 1
	}
	return max(int64(lo), 1)
}
