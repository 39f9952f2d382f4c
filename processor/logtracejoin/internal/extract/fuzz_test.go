// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Every fuzz target checks: no panic, and an id is only ever returned when
// the input really holds it (re-encoding the id finds it in the input),
// never all zero.

func containsFold(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

// idInInput reports whether a trace id is written in the input: as hex
// (leading zeros may be missing; X-Ray splits it with a '-'), or as a
// decimal of its low 64 bits or of all 128 (Datadog).
func idInInput(in string, tid [16]byte) bool {
	h := strings.TrimLeft(hex.EncodeToString(tid[:]), "0")
	if containsFold(in, h) || containsFold(strings.ReplaceAll(in, "-", ""), h) {
		return true
	}
	lo := new(big.Int).SetBytes(tid[8:])
	all := new(big.Int).SetBytes(tid[:])
	return strings.Contains(in, lo.String()) || strings.Contains(in, all.String())
}

func FuzzParseTraceIDHex(f *testing.F) {
	for _, s := range []string{tHex, "a3ce929d0e0e4736", strings.Repeat("0", 32), "xyz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, r := ParseTraceIDHex(s)
		if len(s) == 32 {
			// a full-width id is accepted exactly when encoding/hex decodes
			// it to something other than zeros
			want, err := hex.DecodeString(s)
			ok := err == nil && strings.Trim(s, "0") != ""
			if (r == ReasonNone) != ok || ok && !bytes.Equal(want, id[:]) {
				t.Fatalf("ParseTraceIDHex(%q) = %x, %v; encoding/hex: %x, %v", s, id, r, want, err)
			}
		}
		if r != ReasonNone {
			return
		}
		h := hex.EncodeToString(id[:])
		if allZero(id[:]) || !strings.HasSuffix(h, strings.ToLower(s)) || (len(s) != 32 && (len(s) < 16-padDigits || len(s) > 16)) {
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
		if len(s) == 16 {
			want, err := hex.DecodeString(s)
			ok := err == nil && strings.Trim(s, "0") != ""
			if (r == ReasonNone) != ok || ok && !bytes.Equal(want, id[:]) {
				t.Fatalf("ParseSpanIDHex(%q) = %x, %v; encoding/hex: %x, %v", s, id, r, want, err)
			}
		}
		if r == ReasonNone && (allZero(id[:]) || !strings.HasSuffix(hex.EncodeToString(id[:]), strings.ToLower(s))) {
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
		`{"otel":{"trace_id":"` + tHex + `"},"msg":"trace_id=x"}`,
		`msg="a {\"trace_id\":\"` + tHex + `\"}" x`,
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"X-Cloud-Trace-Context: " + tHex + "/123;o=1",
		"b3=" + tHex + "-" + sHex + "-1",
		`{'trace_id': '` + tHex + `'}`,
		`{"dd":{"trace_id":"94386005405806469283853436813476972262"}}`,
		`{"Scopes":[{"TraceId":"` + tHex + `"}]}`,
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
		if !idInInput(s, tid) {
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
		if !idInInput(in, tid) {
			t.Fatalf("trace id %x not in input %q", tid, in)
		}
	})
}

// FuzzParseUint128Decimal checks the Datadog 128-bit decimal parser
// against math/big.
func FuzzParseUint128Decimal(f *testing.F) {
	for _, s := range []string{"1", "94386005405806469283853436813476972262", "340282366920938463463374607431768211455", "340282366920938463463374607431768211456", "0", "12a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, r := ParseUint128Decimal(s)
		want, ok := new(big.Int).SetString(s, 10)
		if !ok || !isDigits(s) || len(s) > 39 || want.BitLen() > 128 || want.Sign() == 0 {
			if r == ReasonNone {
				t.Fatalf("%q accepted", s)
			}
			return
		}
		if r != ReasonNone {
			t.Fatalf("%q refused: %v", s, r)
		}
		if got := new(big.Int).SetBytes(id[:]); got.Cmp(want) != 0 {
			t.Fatalf("%q: got %s", s, got)
		}
	})
}

// FuzzParseHeaders runs the B3 single, X-Ray and X-Cloud-Trace-Context
// parsers: an accepted value has a non-zero trace id written in it, and a
// span id only when it is non-zero.
func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{
		tHex + "-" + sHex + "-1", tHex[16:] + "-" + sHex + "-d-" + sHex, "0",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "1-5759e988-bd862e3fe1be46a994272793",
		tHex + "/123;o=1", tHex, tHex + "/;o=0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []func(string) (Context, Reason){ParseB3Single, ParseXRay, ParseCloudTraceContext} {
			c, r := p(s)
			if r != ReasonNone {
				if c != (Context{}) {
					t.Fatalf("refused %q with a context", s)
				}
				continue
			}
			if allZero(c.TraceID[:]) || !idInInput(s, c.TraceID) {
				t.Fatalf("trace id %x from %q", c.TraceID, s)
			}
			if c.HasSpan && allZero(c.SpanID[:]) {
				t.Fatalf("zero span id from %q", s)
			}
		}
	})
}
