// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

const (
	tHex = "4bf92f3577b34da6a3ce929d0e0e4736"
	sHex = "00f067aa0ba902b7"
)

func TestParseTraceIDHex(t *testing.T) {
	tests := []struct {
		in   string
		want string
		r    Reason
	}{
		{tHex, tHex, ReasonNone},
		{strings.ToUpper(tHex), tHex, ReasonNone},
		{"a3ce929d0e0e4736", "0000000000000000a3ce929d0e0e4736", ReasonNone},
		{tHex[:31], "", ReasonLength},
		// Jaeger ids printed without their leading zeros (jaeger-client-java
		// Long.toHexString): 13-15 digits are left-padded, shorter refused
		{"3ce929d0e0e4736", "00000000000000000" + "3ce929d0e0e4736", ReasonNone},
		{"929d0e0e4736a", strings.Repeat("0", 19) + "929d0e0e4736a", ReasonNone},
		{"29d0e0e4736a", "", ReasonLength},
		{tHex[:20], "", ReasonLength},
		{tHex + "0", "", ReasonLength},
		{"", "", ReasonLength},
		{strings.Repeat("0", 32), "", ReasonAllZero},
		{strings.Repeat("0", 16), "", ReasonAllZero},
		{"4bf92f3577b34da6a3ce929d0e0e473z", "", ReasonNotHex},
		{"4bf92f3577b34da6a3ce929d0e0e47 6", "", ReasonNotHex},
	}
	for _, tt := range tests {
		id, r := ParseTraceIDHex(tt.in)
		assert.Equal(t, tt.r, r, tt.in)
		if tt.r == ReasonNone {
			assert.Equal(t, tt.want, hex.EncodeToString(id[:]), tt.in)
		}
	}
}

func TestParseSpanIDHex(t *testing.T) {
	id, r := ParseSpanIDHex(sHex)
	require.Equal(t, ReasonNone, r)
	assert.Equal(t, sHex, hex.EncodeToString(id[:]))
	id, r = ParseSpanIDHex("f067aa0ba902b7") // 14 digits: Jaeger without leading zeros
	require.Equal(t, ReasonNone, r)
	assert.Equal(t, sHex, hex.EncodeToString(id[:]))
	_, r = ParseSpanIDHex(sHex[4:])
	assert.Equal(t, ReasonLength, r)
	_, r = ParseSpanIDHex("000000000000000g")
	assert.Equal(t, ReasonNotHex, r)
	_, r = ParseSpanIDHex("0000000000000000")
	assert.Equal(t, ReasonAllZero, r)
}

func TestParseUint64Decimal(t *testing.T) {
	v, r := ParseUint64Decimal("18446744073709551615")
	assert.Equal(t, ReasonNone, r)
	assert.Equal(t, ^uint64(0), v)
	_, r = ParseUint64Decimal("18446744073709551616")
	assert.Equal(t, ReasonLength, r, "overflow")
	_, r = ParseUint64Decimal("0")
	assert.Equal(t, ReasonAllZero, r)
	_, r = ParseUint64Decimal("12a")
	assert.Equal(t, ReasonFormat, r)
	_, r = ParseUint64Decimal("")
	assert.Equal(t, ReasonLength, r)
	assert.Equal(t, "000000000000000048485a3953bb6124", hex.EncodeToString(func() []byte { id := TraceIDFromUint64(5208512171318403364); return id[:] }()))
}

func TestParseTraceparent(t *testing.T) {
	tp := "00-" + tHex + "-" + sHex + "-01"
	c, r := ParseTraceparent(tp)
	require.Equal(t, ReasonNone, r)
	assert.Equal(t, tHex, hex.EncodeToString(c.TraceID[:]))
	assert.Equal(t, sHex, hex.EncodeToString(c.SpanID[:]))
	assert.Equal(t, uint32(1), c.Flags)
	assert.True(t, c.HasSpan && c.HasFlags)

	bad := map[string]Reason{
		"ff-" + tHex + "-" + sHex + "-01": ReasonVersion,
		tp + "-x":                         ReasonVersion,
		tp + "x":                          ReasonVersion,
		"00-" + strings.Repeat("0", 32) + "-" + sHex + "-01": ReasonAllZero,
		"00-" + tHex + "-0000000000000000-01":                ReasonAllZero,
		"00-" + strings.ToUpper(tHex) + "-" + sHex + "-01":   ReasonNotHex,
		"00_" + tHex + "-" + sHex + "-01":                    ReasonFormat,
		"00-" + tHex[:31] + "-" + sHex + "-01":               ReasonLength,
		"0g-" + tHex + "-" + sHex + "-01":                    ReasonNotHex,
	}
	for in, want := range bad {
		_, got := ParseTraceparent(in)
		assert.Equal(t, want, got, in)
	}
	// a future version may carry more fields
	c, r = ParseTraceparent("01-" + tHex + "-" + sHex + "-03-more")
	require.Equal(t, ReasonNone, r)
	assert.Equal(t, uint32(3), c.Flags)
}

func TestParseGoogleAndJaeger(t *testing.T) {
	id, r := ParseGoogleTrace("projects/my-proj/traces/" + tHex)
	require.Equal(t, ReasonNone, r)
	assert.Equal(t, tHex, hex.EncodeToString(id[:]))
	_, r = ParseGoogleTrace("projects/my-proj/traces/a3ce929d0e0e4736")
	assert.Equal(t, ReasonLength, r, "Google trace ids are 128-bit")
	_, r = ParseGoogleTrace("projects/traces/")
	assert.Equal(t, ReasonFormat, r)

	c, r := ParseJaeger("1:2:0:1")
	require.Equal(t, ReasonNone, r)
	assert.Equal(t, "00000000000000000000000000000001", hex.EncodeToString(c.TraceID[:]))
	assert.Equal(t, "0000000000000002", hex.EncodeToString(c.SpanID[:]))
	assert.Equal(t, uint32(1), c.Flags)
	for _, in := range []string{"0:2:0:1", "1:0:0:1", "1:2:0", "1:2:0:", "1:2:0:1ff", strings.Repeat("a", 33) + ":1:0:1", "x:1:0:1"} {
		_, r := ParseJaeger(in)
		assert.NotEqual(t, ReasonNone, r, in)
	}
}

func TestParseFlagsString(t *testing.T) {
	for in, want := range map[string]uint32{"01": 1, "1": 1, "00": 0, "true": 1, "false": 0, "03": 3} {
		got, ok := ParseFlagsString(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "001", "zz", "yes"} {
		_, ok := ParseFlagsString(in)
		assert.False(t, ok, in)
	}
}

func TestRemoveSourceFields(t *testing.T) {
	ex := New(defaultKeys(), true, true)

	lr := plog.NewLogRecord()
	lr.Attributes().PutStr("trace_id", tHex)
	lr.Attributes().PutStr("span_id", sHex)
	lr.Attributes().PutStr("user_id", "1234")
	var res Result
	ex.Extract(lr, &res)
	require.Equal(t, SourceAttribute, res.Source)
	assert.Equal(t, map[string]any{"user_id": "1234"}, lr.Attributes().AsRaw())

	lr = plog.NewLogRecord()
	body := lr.Body().SetEmptyMap()
	require.NoError(t, body.FromRaw(map[string]any{"msg": "x", "trace": map[string]any{"id": tHex}, "span": map[string]any{"id": sHex}}))
	ex.Extract(lr, &res)
	require.Equal(t, SourceBody, res.Source)
	assert.Equal(t, map[string]any{"msg": "x"}, lr.Body().Map().AsRaw(), "emptied parents go too")

	lr = plog.NewLogRecord()
	require.NoError(t, lr.Attributes().FromRaw(map[string]any{"dd": map[string]any{"trace_id": "5208512171318403364", "service": "shop"}}))
	ex.Extract(lr, &res)
	require.Equal(t, SourceAttribute, res.Source)
	assert.Equal(t, map[string]any{"dd": map[string]any{"service": "shop"}}, lr.Attributes().AsRaw(), "a parent with other fields stays")

	// invalid values are left in place
	lr = plog.NewLogRecord()
	lr.Attributes().PutStr("trace_id", "zz")
	ex.Extract(lr, &res)
	require.Equal(t, SourceNone, res.Source)
	assert.Equal(t, map[string]any{"trace_id": "zz"}, lr.Attributes().AsRaw())

	// string bodies are never rewritten
	lr = plog.NewLogRecord()
	lr.Body().SetStr("trace_id=" + tHex)
	ex.Extract(lr, &res)
	require.Equal(t, SourceBody, res.Source)
	assert.Equal(t, "trace_id="+tHex, lr.Body().Str())
}

func TestFromBodyDisabled(t *testing.T) {
	ex := New(defaultKeys(), false, false)
	lr := plog.NewLogRecord()
	lr.Body().SetStr("trace_id=" + tHex + " request_id=r1")
	var res Result
	ex.Extract(lr, &res)
	assert.Equal(t, SourceNone, res.Source)
	assert.Empty(t, res.CorrelationKey)
}

func TestCustomKeys(t *testing.T) {
	ex := New(Keys{TraceID: []string{"tid"}, SpanID: []string{"sid"}, CorrelationKeys: []string{"rid"}}, true, false)
	lr := plog.NewLogRecord()
	lr.Attributes().PutStr("trace_id", tHex) // not configured any more
	lr.Attributes().PutStr("rid", "r-1")
	var res Result
	ex.Extract(lr, &res)
	assert.Equal(t, SourceNone, res.Source)
	assert.Equal(t, "r-1", res.CorrelationKey)
	lr.Attributes().PutStr("tid", tHex)
	ex.Extract(lr, &res)
	assert.Equal(t, SourceAttribute, res.Source)
}

func TestHostileBodies(t *testing.T) {
	// inputs built to make a backtracking matcher explode: the scanner's
	// work per separator is bounded, so the result is just "nothing".
	hostile := []string{
		strings.Repeat("trace_id=", 10000),
		strings.Repeat(`"trace_id":"`, 10000),
		strings.Repeat("00-", 10000),
		strings.Repeat("a", 100000) + ":" + strings.Repeat("-", 100000),
		strings.Repeat(`"`, 50000) + ":",
	}
	ex := New(defaultKeys(), true, false)
	for _, h := range hostile {
		lr := plog.NewLogRecord()
		lr.Body().SetStr(h)
		var res Result
		ex.Extract(lr, &res)
		assert.Equal(t, SourceNone, res.Source)
	}
}

func TestSpanCorrelationKey(t *testing.T) {
	ex := New(defaultKeys(), true, false)
	m := plog.NewLogRecord().Attributes()
	assert.Empty(t, ex.CorrelationKey(m))
	m.PutStr("request_id", "low")
	assert.Equal(t, "low", ex.CorrelationKey(m))
	m.PutEmptySlice("http.request.header.x-request-id").AppendEmpty().SetStr("high")
	assert.Equal(t, "high", ex.CorrelationKey(m), "earlier key in correlation_keys wins")
	m.PutEmptySlice("http.request.header.x-request-id")
	assert.Equal(t, "low", ex.CorrelationKey(m), "an empty slice is no value")
	m.Remove("request_id")
	m.PutInt("x_request_id", 42)
	assert.Equal(t, "42", ex.CorrelationKey(m))
}

// TestFullWidthHexAgainstEncodingHex: every byte value at every position
// of a full-width trace and span id is accepted or refused exactly as
// encoding/hex decodes it (the pair table of decodeHexFull).
func TestFullWidthHexAgainstEncodingHex(t *testing.T) {
	check := func(s string, got []byte, r Reason) {
		want, err := hex.DecodeString(s)
		switch {
		case err != nil:
			assert.Equal(t, ReasonNotHex, r, "%q", s)
		case strings.Trim(s, "0") == "":
			assert.Equal(t, ReasonAllZero, r, "%q", s)
		default:
			assert.Equal(t, ReasonNone, r, "%q", s)
			assert.Equal(t, want, got, "%q", s)
		}
	}
	for _, base := range []string{tHex, strings.ToUpper(tHex), strings.Repeat("0", 32)} {
		for pos := range 32 {
			for c := range 256 {
				s := base[:pos] + string([]byte{byte(c)}) + base[pos+1:]
				id, r := ParseTraceIDHex(s)
				check(s, id[:], r)
				if pos < 16 {
					sid, r := ParseSpanIDHex(s[:16])
					check(s[:16], sid[:], r)
				}
			}
		}
	}
}
