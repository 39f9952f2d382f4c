// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package extract finds trace context (trace id, span id, flags) and
// correlation keys in log record attributes and bodies, in the common field
// conventions, without regular expressions: every parser is a linear scan.
package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"encoding/binary"
	"math/bits"
	"strings"
)

// Reason says why a value that looked like an id was refused.
type Reason uint8

const (
	// ReasonNone means the value was valid.
	ReasonNone Reason = iota
	// ReasonLength: the id has the wrong number of digits.
	ReasonLength
	// ReasonNotHex: the id holds a character that is not a (lowercase or uppercase) hex digit.
	ReasonNotHex
	// ReasonAllZero: the id is all zero, which the W3C and OTel specs forbid.
	ReasonAllZero
	// ReasonVersion: a traceparent with the forbidden version ff, or a version 00 with trailing data.
	ReasonVersion
	// ReasonFormat: the value does not have the shape of its convention.
	ReasonFormat
	numReasons
)

// NumReasons is the number of Reason values, ReasonNone included.
const NumReasons = int(numReasons)

// String returns the reason as used in the `reason` telemetry attribute.
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonLength:
		return "length"
	case ReasonNotHex:
		return "not_hex"
	case ReasonAllZero:
		return "all_zero"
	case ReasonVersion:
		return "version"
	case ReasonFormat:
		return "format"
	}
	return "unknown"
}

// Flag bits of a W3C trace context / OTLP log record.
const sampledFlag = 0x01

// Context is a trace context found in a record.
type Context struct {
	TraceID  [16]byte
	SpanID   [8]byte
	Flags    uint32
	HasSpan  bool
	HasFlags bool
	// Conv is the convention the context was written in, set by the
	// search that found it (the parsers of single values leave it unset).
	Conv Convention
}

// hexVal maps a byte to its hex value, or 0xff when it is not a hex digit.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c - 'A' + 10)
	}
	return t
}()

// hexPair maps two bytes (first<<8 | second) to the byte they spell in
// hex, or to 0x100 when either is not a hex digit: a full-width id is
// decoded with one load per byte instead of two (128 KiB, of which the
// digits' entries, about 3 KiB, are what is read).
var hexPair = func() *[1 << 16]uint16 {
	t := new([1 << 16]uint16)
	for i := range t {
		hi, lo := hexVal[i>>8], hexVal[i&0xff]
		if hi == 0xff || lo == 0xff {
			t[i] = 0x100
		} else {
			t[i] = uint16(hi)<<4 | uint16(lo)
		}
	}
	return t
}()

// decodeHexFull decodes exactly 2*len(dst) hex digits of s into dst. It
// reports ReasonNotHex on a bad digit and ReasonAllZero when every digit
// is 0.
func decodeHexFull(dst []byte, s string) Reason {
	s = s[:2*len(dst)]
	var bad, nz uint16
	for j := range dst {
		v := hexPair[uint(s[2*j])<<8|uint(s[2*j+1])]
		bad |= v
		nz |= v
		dst[j] = byte(v & 0xff)
	}
	if bad&0x100 != 0 {
		return ReasonNotHex
	}
	if nz == 0 {
		return ReasonAllZero
	}
	return ReasonNone
}

// decodeHexRight decodes s (len(s) <= 2*len(dst)) into the low (right) end
// of dst, left-padding with zeros. It reports ReasonNotHex on a bad digit.
func decodeHexRight(dst []byte, s string) Reason {
	clear(dst)
	// walk from the right, two digits per byte
	j := len(dst) - 1
	for i := len(s); i > 0; i -= 2 {
		lo := hexVal[s[i-1]]
		var hi byte
		if i >= 2 {
			hi = hexVal[s[i-2]]
		}
		if lo == 0xff || hi == 0xff {
			return ReasonNotHex
		}
		dst[j] = hi<<4 | lo
		j--
	}
	return ReasonNone
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Short hex ids: Jaeger clients (jaeger-client-java's Long.toHexString,
// older Go clients' %x) omit the leading zeros of 64-bit ids. A 64-bit id
// of up to padDigits fewer digits is left-padded; shorter values are
// refused, so that a word or a number is never taken for an id (ids with
// more than three leading zero nibbles, 1 in 4096 of random ids, are lost).
// 128-bit ids must be whole: 31 digits is far more often a truncated id
// than a padded one, and a wrong id is worse than none.
const padDigits = 3

// ParseTraceIDHex parses a hex trace id of 32 digits, or of 16 digits (a
// 64-bit B3/Jaeger id, left-padded with zeros; up to three leading zeros
// may be missing from it). Case-insensitive.
func ParseTraceIDHex(s string) ([16]byte, Reason) {
	var id [16]byte
	if n := len(s); n < 16-padDigits || n > 16 && n != 32 {
		return id, ReasonLength
	}
	if len(s) == 32 {
		if r := decodeHexFull(id[:], s); r != ReasonNone {
			return [16]byte{}, r
		}
		return id, ReasonNone
	}
	if r := decodeHexRight(id[:], s); r != ReasonNone {
		return [16]byte{}, r
	}
	if allZero(id[:]) {
		return id, ReasonAllZero
	}
	return id, ReasonNone
}

// ParseSpanIDHex parses a span id of 16 hex digits (up to three leading
// zeros may be missing).
func ParseSpanIDHex(s string) ([8]byte, Reason) {
	var id [8]byte
	if len(s) < 16-padDigits || len(s) > 16 {
		return id, ReasonLength
	}
	if len(s) == 16 {
		if r := decodeHexFull(id[:], s); r != ReasonNone {
			return [8]byte{}, r
		}
		return id, ReasonNone
	}
	if r := decodeHexRight(id[:], s); r != ReasonNone {
		return [8]byte{}, r
	}
	if allZero(id[:]) {
		return id, ReasonAllZero
	}
	return id, ReasonNone
}

// parseVarHex parses 1..2*len(dst) hex digits into dst, left-padded (Jaeger
// omits leading zeros).
func parseVarHex(dst []byte, s string) Reason {
	if s == "" || len(s) > 2*len(dst) {
		clear(dst)
		return ReasonLength
	}
	if r := decodeHexRight(dst, s); r != ReasonNone {
		clear(dst)
		return r
	}
	if allZero(dst) {
		return ReasonAllZero
	}
	return ReasonNone
}

// ParseUint64Decimal parses a non-zero decimal 64-bit unsigned integer, as
// Datadog writes its ids (dd.trace_id, dd.span_id).
func ParseUint64Decimal(s string) (uint64, Reason) {
	if s == "" || len(s) > 20 {
		return 0, ReasonLength
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ReasonFormat
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, ReasonLength // overflows 64 bits
		}
		n = n*10 + d
	}
	if n == 0 {
		return 0, ReasonAllZero
	}
	return n, ReasonNone
}

func putUint64(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte(v)
		v >>= 8
	}
}

// TraceIDFromUint64 sets a 64-bit id into the low half of a trace id, as
// OpenTelemetry does with Datadog and 64-bit B3 ids.
func TraceIDFromUint64(v uint64) [16]byte {
	var id [16]byte
	putUint64(id[8:], v)
	return id
}

// SpanIDFromUint64 returns the span id of a 64-bit integer.
func SpanIDFromUint64(v uint64) [8]byte {
	var id [8]byte
	putUint64(id[:], v)
	return id
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseTraceparent parses a W3C traceparent header value,
// version-traceid-parentid-flags, per the W3C Trace Context spec: lowercase
// hex only, version ff is invalid, version 00 has exactly 55 characters,
// higher versions may carry more fields after a '-', ids must not be all zero.
func ParseTraceparent(s string) (Context, Reason) {
	var c Context
	if len(s) < 55 {
		return c, ReasonLength
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return c, ReasonFormat
	}
	ver, tid, sid, flags := s[0:2], s[3:35], s[36:52], s[53:55]
	if !isLowerHex(ver) || !isLowerHex(tid) || !isLowerHex(sid) || !isLowerHex(flags) {
		return c, ReasonNotHex
	}
	if ver == "ff" {
		return c, ReasonVersion
	}
	if len(s) > 55 && (ver == "00" || s[55] != '-') {
		return c, ReasonVersion
	}
	decodeHexRight(c.TraceID[:], tid)
	decodeHexRight(c.SpanID[:], sid)
	if allZero(c.TraceID[:]) || allZero(c.SpanID[:]) {
		return Context{}, ReasonAllZero
	}
	c.Flags = uint32(hexVal[flags[0]]<<4 | hexVal[flags[1]])
	c.HasSpan, c.HasFlags = true, true
	return c, ReasonNone
}

// ParseGoogleTrace parses a Google Cloud Logging trace field:
// "projects/PROJECT/traces/TRACE_ID", or a bare 32-hex trace id.
func ParseGoogleTrace(s string) ([16]byte, Reason) {
	if strings.HasPrefix(s, "projects/") {
		i := strings.Index(s, "/traces/")
		if i < len("projects/") {
			return [16]byte{}, ReasonFormat
		}
		s = s[i+len("/traces/"):]
	}
	if len(s) != 32 {
		return [16]byte{}, ReasonLength
	}
	return ParseTraceIDHex(s)
}

// ParseGoogleSpanID parses a Google Cloud Logging spanId: 16 hex digits, or
// a decimal 64-bit integer (older Cloud Trace span ids).
func ParseGoogleSpanID(s string) ([8]byte, Reason) {
	if len(s) == 16 {
		if id, r := ParseSpanIDHex(s); r == ReasonNone {
			return id, r
		}
	}
	if v, r := ParseUint64Decimal(s); r == ReasonNone {
		return SpanIDFromUint64(v), r
	}
	return ParseSpanIDHex(s)
}

// ParseJaeger parses a Jaeger uber-trace-id, "traceid:spanid:parentid:flags",
// with 1-32 and 1-16 hex digit ids (leading zeros may be omitted). The
// URL-encoded separator "%3A" is accepted too.
func ParseJaeger(s string) (Context, Reason) {
	var c Context
	if len(s) > 128 {
		return c, ReasonLength
	}
	var parts [4]string
	n := 0
	for n < 3 {
		i := strings.IndexByte(s, ':')
		w := 1
		if j := strings.Index(s, "%3A"); j >= 0 && (i < 0 || j < i) {
			i, w = j, 3
		} else if j := strings.Index(s, "%3a"); j >= 0 && (i < 0 || j < i) {
			i, w = j, 3
		}
		if i < 0 {
			return Context{}, ReasonFormat
		}
		parts[n] = s[:i]
		s = s[i+w:]
		n++
	}
	parts[3] = s
	if r := parseVarHex(c.TraceID[:], parts[0]); r != ReasonNone {
		return Context{}, r
	}
	if r := parseVarHex(c.SpanID[:], parts[1]); r != ReasonNone {
		return Context{}, r
	}
	var f [1]byte
	if parts[3] == "" || len(parts[3]) > 2 || decodeHexRight(f[:], parts[3]) != ReasonNone {
		return Context{}, ReasonFormat
	}
	c.Flags = uint32(f[0]) & sampledFlag
	c.HasSpan, c.HasFlags = true, true
	return c, ReasonNone
}

// ParseFlagsString parses trace flags written as a hex byte ("01", "1"), or
// as a boolean ("true"/"false") meaning sampled.
func ParseFlagsString(s string) (uint32, bool) {
	switch s {
	case "true", "True", "TRUE":
		return sampledFlag, true
	case "false", "False", "FALSE":
		return 0, true
	}
	if s == "" || len(s) > 2 {
		return 0, false
	}
	var f [1]byte
	if decodeHexRight(f[:], s) != ReasonNone {
		return 0, false
	}
	return uint32(f[0]) & 0xff, true
}

// ParseUint128Decimal parses a non-zero decimal unsigned integer of up to
// 128 bits (39 digits), as Datadog logs 128-bit trace ids, into a trace id
// (big-endian).
func ParseUint128Decimal(s string) ([16]byte, Reason) {
	var id [16]byte
	if s == "" || len(s) > 39 {
		return id, ReasonLength
	}
	var hi, lo uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return id, ReasonFormat
		}
		// (hi,lo) = (hi,lo)*10 + d
		h1, l1 := bits.Mul64(lo, 10)
		h2, h2lo := bits.Mul64(hi, 10)
		if h2 != 0 {
			return [16]byte{}, ReasonLength
		}
		var carry uint64
		lo, carry = bits.Add64(l1, uint64(c-'0'), 0)
		var c2 uint64
		hi, c2 = bits.Add64(h2lo, h1, carry)
		if c2 != 0 {
			return [16]byte{}, ReasonLength
		}
	}
	putUint64(id[:8], hi)
	putUint64(id[8:], lo)
	if hi == 0 && lo == 0 {
		return id, ReasonAllZero
	}
	return id, ReasonNone
}

// ParseB3Single parses a B3 single header, "{trace}-{span}[-{sampling}[-{parent}]]":
// a 16 or 32 hex trace id, a 16 hex span id, sampling "1", "0" or "d"
// (debug, which implies sampled).
func ParseB3Single(s string) (Context, Reason) {
	var c Context
	if len(s) > 128 {
		return c, ReasonLength
	}
	i := strings.IndexByte(s, '-')
	if i < 0 {
		return c, ReasonFormat
	}
	tid, rest := s[:i], s[i+1:]
	if len(tid) != 16 && len(tid) != 32 {
		return c, ReasonLength
	}
	sid, rest, more := strings.Cut(rest, "-")
	if len(sid) != 16 {
		return c, ReasonLength
	}
	var r Reason
	if c.TraceID, r = ParseTraceIDHex(tid); r != ReasonNone {
		return Context{}, r
	}
	if c.SpanID, r = ParseSpanIDHex(sid); r != ReasonNone {
		return Context{}, r
	}
	c.HasSpan = true
	if more {
		sampling, parent, hasParent := strings.Cut(rest, "-")
		switch sampling {
		case "1", "d":
			c.Flags, c.HasFlags = sampledFlag, true
		case "0":
			c.HasFlags = true
		default:
			return Context{}, ReasonFormat
		}
		if hasParent && len(parent) != 16 {
			return Context{}, ReasonFormat
		}
	}
	return c, ReasonNone
}

// ParseXRayTraceID parses an AWS X-Ray trace id, "1-<8 hex time>-<24 hex>",
// into the 128-bit id the OTel X-Ray propagator makes of it (the two parts
// concatenated).
func ParseXRayTraceID(s string) ([16]byte, Reason) {
	var id [16]byte
	if len(s) != 35 {
		return id, ReasonLength
	}
	if s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return id, ReasonFormat
	}
	var buf [32]byte
	copy(buf[:8], s[2:10])
	copy(buf[8:], s[11:])
	if r := decodeHexRight(id[:], string(buf[:])); r != ReasonNone {
		return [16]byte{}, r
	}
	if allZero(id[:]) {
		return id, ReasonAllZero
	}
	return id, ReasonNone
}

// ParseXRay parses an X-Amzn-Trace-Id header value,
// "Root=1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy;Parent=<16 hex>;Sampled=1" (fields
// in any order, others such as Self= and Lineage= ignored), or a bare X-Ray
// trace id as AWS Lambda Powertools logs it in xray_trace_id.
func ParseXRay(s string) (Context, Reason) {
	var c Context
	if len(s) > 512 {
		return c, ReasonLength
	}
	if strings.HasPrefix(s, "1-") {
		id, r := ParseXRayTraceID(s)
		c.TraceID = id
		if r != ReasonNone {
			return Context{}, r
		}
		return c, ReasonNone
	}
	root := false
	for s != "" {
		var field string
		field, s, _ = strings.Cut(s, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			id, r := ParseXRayTraceID(v)
			if r != ReasonNone {
				return Context{}, r
			}
			c.TraceID, root = id, true
		case "Parent":
			id, r := ParseSpanIDHex(v)
			if r != ReasonNone || len(v) != 16 {
				return Context{}, ReasonFormat
			}
			c.SpanID, c.HasSpan = id, true
		case "Sampled":
			switch v {
			case "1":
				c.Flags, c.HasFlags = sampledFlag, true
			case "0":
				c.Flags, c.HasFlags = 0, true
			}
		}
	}
	if !root {
		return Context{}, ReasonFormat
	}
	return c, ReasonNone
}

// ParseCloudTraceContext parses a GCP X-Cloud-Trace-Context header value,
// "<32 hex trace>/<decimal span>;o=<options>" (span and options optional;
// o=1 means sampled).
func ParseCloudTraceContext(s string) (Context, Reason) {
	var c Context
	if len(s) > 128 {
		return c, ReasonLength
	}
	s, opts, hasOpts := strings.Cut(s, ";")
	tid, sid, hasSpan := strings.Cut(s, "/")
	if len(tid) != 32 {
		return c, ReasonLength
	}
	var r Reason
	if c.TraceID, r = ParseTraceIDHex(tid); r != ReasonNone {
		return Context{}, r
	}
	if hasSpan && sid != "" {
		v, r := ParseUint64Decimal(sid)
		if r != ReasonNone {
			return Context{}, r
		}
		c.SpanID, c.HasSpan = SpanIDFromUint64(v), true
	}
	if hasOpts {
		switch opts {
		case "o=1":
			c.Flags, c.HasFlags = sampledFlag, true
		case "o=0":
			c.HasFlags = true
		default:
			return Context{}, ReasonFormat
		}
	}
	return c, ReasonNone
}
