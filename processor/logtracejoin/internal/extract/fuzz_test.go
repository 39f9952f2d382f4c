// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Every fuzz target checks: no panic, and an id is only ever returned when
// the input really holds it (re-encoding the id finds it in the input),
// never all zero.

func containsFold(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

func FuzzParseTraceIDHex(f *testing.F) {
	for _, s := range []string{tHex, "a3ce929d0e0e4736", strings.Repeat("0", 32), "xyz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, r := ParseTraceIDHex(s)
		if r != ReasonNone {
			return
		}
		h := hex.EncodeToString(id[:])
		if allZero(id[:]) || !strings.HasSuffix(h, strings.ToLower(s)) || (len(s) != 32 && len(s) != 16) {
			t.Fatalf("ParseTraceIDHex(%q) = %s", s, h)
		}
	})
}

func FuzzParseSpanIDHex(f *testing.F) {
	for _, s := range []string{sHex, "0000000000000000", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, r := ParseSpanIDHex(s)
		if r == ReasonNone && (allZero(id[:]) || hex.EncodeToString(id[:]) != strings.ToLower(s)) {
			t.Fatalf("ParseSpanIDHex(%q) = %x", s, id)
		}
	})
}

func FuzzParseUint64Decimal(f *testing.F) {
	for _, s := range []string{"5208512171318403364", "0", "18446744073709551616", "-1", "+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, r := ParseUint64Decimal(s)
		if r != ReasonNone {
			return
		}
		want, err := strconv.ParseUint(s, 10, 64)
		if err != nil || want != v || v == 0 {
			t.Fatalf("ParseUint64Decimal(%q) = %d, strconv says %d, %v", s, v, want, err)
		}
	})
}

func FuzzParseTraceparent(f *testing.F) {
	for _, s := range []string{
		"00-" + tHex + "-" + sHex + "-01", "ff-" + tHex + "-" + sHex + "-01",
		"01-" + tHex + "-" + sHex + "-01-x", "00-" + strings.Repeat("0", 32) + "-" + sHex + "-01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, r := ParseTraceparent(s)
		if r != ReasonNone {
			return
		}
		if allZero(c.TraceID[:]) || allZero(c.SpanID[:]) || s[:2] == "ff" ||
			s[3:35] != hex.EncodeToString(c.TraceID[:]) || s[36:52] != hex.EncodeToString(c.SpanID[:]) {
			t.Fatalf("ParseTraceparent(%q) accepted %+v", s, c)
		}
	})
}

func FuzzParseGoogleTrace(f *testing.F) {
	for _, s := range []string{"projects/p/traces/" + tHex, tHex, "projects//traces/", "projects/p/traces/" + strings.Repeat("0", 32)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, r := ParseGoogleTrace(s)
		if r == ReasonNone && (allZero(id[:]) || !strings.HasSuffix(strings.ToLower(s), hex.EncodeToString(id[:]))) {
			t.Fatalf("ParseGoogleTrace(%q) = %x", s, id)
		}
		sid, r := ParseGoogleSpanID(s)
		if r == ReasonNone && allZero(sid[:]) {
			t.Fatalf("ParseGoogleSpanID(%q) = zero", s)
		}
	})
}

func FuzzParseJaeger(f *testing.F) {
	for _, s := range []string{"abc:def:0:1", tHex + "%3A" + sHex + "%3A0%3A1", "0:0:0:0", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, r := ParseJaeger(s)
		if r != ReasonNone {
			return
		}
		tid := strings.TrimLeft(hex.EncodeToString(c.TraceID[:]), "0")
		sid := strings.TrimLeft(hex.EncodeToString(c.SpanID[:]), "0")
		if allZero(c.TraceID[:]) || allZero(c.SpanID[:]) || !containsFold(s, tid) || !containsFold(s, sid) {
			t.Fatalf("ParseJaeger(%q) accepted %+v", s, c)
		}
	})
}

func FuzzParseFlagsString(f *testing.F) {
	for _, s := range []string{"01", "1", "true", "ff", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseFlagsString(s)
		if ok && v > 0xff {
			t.Fatalf("ParseFlagsString(%q) = %d", s, v)
		}
	})
}

// FuzzExtractStringBody runs the whole string-body path (keyed scan and
// free-text traceparent scan): an id it returns must appear in the line.
func FuzzExtractStringBody(f *testing.F) {
	for _, s := range []string{
		`{"level":"INFO","trace_id":"` + tHex + `","span_id":"` + sHex + `"}`,
		"msg=x trace_id=" + tHex + " span_id=" + sHex,
		"at 00-" + tHex + "-" + sHex + "-01 done",
		`{"dd.trace_id":5208512171318403364}`,
		`{\"traceId\":\"` + tHex + `\"}`,
		"uber-trace-id=abc:def:0:1",
		"request_id=r1 x",
		strings.Repeat("=:-\"", 64),
	} {
		f.Add(s)
	}
	ex := New(defaultKeys(), true, false)
	f.Fuzz(func(t *testing.T, s string) {
		lr := plog.NewLogRecord()
		lr.Body().SetStr(s)
		var res Result
		ex.Extract(lr, &res)
		if res.Source == SourceNone {
			if res.Context != (Context{}) {
				t.Fatalf("context set without a source: %q", s)
			}
			return
		}
		tid := res.Context.TraceID
		if allZero(tid[:]) {
			t.Fatalf("zero trace id from %q", s)
		}
		h := strings.TrimLeft(hex.EncodeToString(tid[:]), "0")
		dec := strconv.FormatUint(uint64(tid[8])<<56|uint64(tid[9])<<48|uint64(tid[10])<<40|uint64(tid[11])<<32|
			uint64(tid[12])<<24|uint64(tid[13])<<16|uint64(tid[14])<<8|uint64(tid[15]), 10)
		if !containsFold(s, h) && !strings.Contains(s, dec) {
			t.Fatalf("trace id %x not in input %q", tid, s)
		}
		if res.Context.HasSpan && allZero(res.Context.SpanID[:]) {
			t.Fatalf("zero span id from %q", s)
		}
	})
}

// FuzzExtractMapBody does the same for attribute maps built from the input.
func FuzzExtractAttributes(f *testing.F) {
	f.Add("trace_id", tHex, "span_id", sHex)
	f.Add("dd.trace_id", "5208512171318403364", "dd.span_id", "1")
	f.Add("traceparent", "00-"+tHex+"-"+sHex+"-01", "request_id", "r")
	f.Add("logging.googleapis.com/trace", "projects/p/traces/"+tHex, "logging.googleapis.com/spanId", "7")
	ex := New(defaultKeys(), true, true)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		lr := plog.NewLogRecord()
		lr.Attributes().PutStr(k1, v1)
		lr.Attributes().PutStr(k2, v2)
		in := k1 + "\x00" + v1 + "\x00" + k2 + "\x00" + v2
		var res Result
		ex.Extract(lr, &res)
		if res.Source == SourceNone {
			return
		}
		tid := res.Context.TraceID
		if allZero(tid[:]) {
			t.Fatalf("zero trace id from %q", in)
		}
		h := strings.TrimLeft(hex.EncodeToString(tid[:]), "0")
		dec := strconv.FormatUint(uint64(tid[8])<<56|uint64(tid[9])<<48|uint64(tid[10])<<40|uint64(tid[11])<<32|
			uint64(tid[12])<<24|uint64(tid[13])<<16|uint64(tid[14])<<8|uint64(tid[15]), 10)
		if !containsFold(in, h) && !strings.Contains(in, dec) {
			t.Fatalf("trace id %x not in input %q", tid, in)
		}
	})
}
