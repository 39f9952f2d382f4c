// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

func FuzzAdjustedCountFromTraceState(f *testing.F) {
	for _, s := range []string{"ot=th:8", "ot=rv:abc;th:c", "a=b,ot=th:0", "ot=th:", "ot=th:ffffffffffffff", ",,ot=;;th:1", "th=8", "th=;th=5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ts string) {
		c, ok := AdjustedCountFromTraceState(ts)
		if !ok {
			return
		}
		if c < 1 || math.IsNaN(c) || math.IsInf(c, 0) {
			t.Fatalf("adjusted count %v out of range for %q", c, ts)
		}
		r := wholeSampleRate(c, func() float64 { return 0.5 })
		if r < 1 || r > math.MaxInt32 {
			t.Fatalf("rate %d out of range for %q", r, ts)
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\\n", "\xff\xfe", "日本", "\u2028\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(out, &back), "%q", out)
		require.Equal(t, replaceInvalidBytes(s), back)
	})
}

// replaceInvalidBytes replaces every byte of invalid UTF-8 with U+FFFD, as
// encoding/json does.
func replaceInvalidBytes(s string) string {
	var sb strings.Builder
	for s != "" {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			sb.WriteString("\uFFFD")
		} else {
			sb.WriteString(s[:size])
		}
		s = s[size:]
	}
	return sb.String()
}

func FuzzEncodeEvent(f *testing.F) {
	f.Add("key", "value", int64(-5), 1.25, true, int64(1700000000123456789), int64(3))
	f.Add("", "\xff", int64(math.MaxInt64), math.Inf(1), false, int64(0), int64(1))
	f.Fuzz(func(t *testing.T, key, str string, i int64, fl float64, b bool, tm, rate int64) {
		ev := Event{TimeUnixNano: tm, SampleRate: rate, Fields: []Field{
			strField(key+"s", str, false), intField(key+"i", i, false), floatField(key+"f", fl, false), boolField(key+"b", b, false),
		}}
		if !utf8.ValidString(key) {
			// JSON replaces invalid bytes in keys; the msgpack check below
			// still covers them.
			key = strings.ToValidUTF8(key, "_")
			ev.Fields[0].Key, ev.Fields[1].Key, ev.Fields[2].Key, ev.Fields[3].Key = key+"s", key+"i", key+"f", key+"b"
		}
		js := AppendEvent([]byte{'['}, FormatJSON, &ev)
		js = append(js, ']')
		evs, err := hcsink.DecodeJSON(js)
		require.NoError(t, err, "%s", js)
		require.Len(t, evs, 1)
		require.Equal(t, i, evs[0].Data[key+"i"])
		mp := AppendEvent([]byte{0x91}, FormatMsgpack, &ev)
		evs, err = hcsink.DecodeMsgpack(mp)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, str, evs[0].Data[key+"s"])
		require.Equal(t, i, evs[0].Data[key+"i"])
		require.Equal(t, b, evs[0].Data[key+"b"])
		if tm != 0 {
			require.Equal(t, tm, evs[0].Time.UnixNano())
		}
	})
}
