// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"math/bits"
	"strings"
)

const (
	// maxKeyLen bounds how far back from a separator a key is looked for.
	maxKeyLen = 128
	// maxValueLen bounds a scanned value.
	maxValueLen = 512
)

// keyChar reports the bytes an unquoted key is made of.
var keyChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_.-/@" {
		t[c] = true
	}
	return t
}()

// valueEnd reports the bytes that end an unquoted value.
var valueEnd = func() (t [256]bool) {
	for _, c := range " \t\r\n,;}]&\"')\\" {
		t[c] = true
	}
	return t
}()

// scanText finds `key=value`, `key="value"`, `key: value` and JSON
// `"key":"value"` / `"key":123` pairs for configured keys in a plain-text or
// JSON-text string. It visits every ':' and '=' once (found with
// strings.IndexByte), looks back at most maxKeyLen bytes for the key and
// forward at most maxValueLen bytes for the value: linear in len(s), no
// backtracking.
func (e *Extractor) scanText(s string, f *found) {
	e.scanSep(s, ':', f)
	e.scanSep(s, '=', f)
}

func (e *Extractor) scanSep(s string, sep byte, f *found) {
	ks := e.ks
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], sep)
		if j < 0 {
			return
		}
		p := i + j
		i = p + 1
		key := keyBefore(s, p, ks)
		if key == "" {
			continue
		}
		info, ok := ks.lookup(key)
		if !ok {
			continue
		}
		// JSON numbers (dd.trace_id 123, trace_flags 1) are offered as
		// strings: the id parsers know which keys are decimal.
		if val := valueAfter(s, p+1); val != "" {
			f.offer(info, key, false, vtStr, val, 0)
		}
	}
}

// keyBefore returns the key that ends just before the separator at p:
// "key" (JSON, possibly with spaces before the ':' and escaped quotes) or an
// unquoted run of key characters.
func keyBefore(s string, p int, ks *keySet) string {
	k := p
	for k > 0 && (s[k-1] == ' ' || s[k-1] == '\t') && p-k < 8 {
		k--
	}
	if k > 0 && s[k-1] == '"' {
		end := k - 1
		if end > 0 && s[end-1] == '\\' { // escaped JSON inside a string: \"key\":
			end--
		}
		if end == 0 || !ks.last[s[end-1]] || end >= 2 && !ks.endsLike(s[end-2], s[end-1]) {
			return ""
		}
		lo := end - maxKeyLen
		if lo < 0 {
			lo = 0
		}
		q := strings.LastIndexByte(s[lo:end], '"')
		if q < 0 {
			return ""
		}
		return s[lo+q+1 : end]
	}
	if k == 0 || !ks.last[s[k-1]] || k >= 2 && !ks.endsLike(s[k-2], s[k-1]) {
		return ""
	}
	start := k
	for start > 0 && keyChar[s[start-1]] && k-start < maxKeyLen {
		start--
	}
	return s[start:k]
}

// valueAfter returns the value that starts at v (after optional spaces):
// a quoted string (up to the closing quote, a backslash ending it early) or
// an unquoted token up to a delimiter.
func valueAfter(s string, v int) string {
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if v >= len(s) {
		return ""
	}
	quoted := false
	if s[v] == '\\' && v+1 < len(s) && s[v+1] == '"' {
		v += 2
		quoted = true
	} else if s[v] == '"' || s[v] == '\'' {
		v++
		quoted = true
	}
	limit := v + maxValueLen
	if limit > len(s) {
		limit = len(s)
	}
	if quoted {
		// the value ends at the closing quote; a backslash (escaped JSON)
		// or a single quote ends it early: ids hold neither
		return s[v:quotedEnd(s, v, limit)]
	}
	return s[v:unquotedEnd(s, v, limit)]
}

// SWAR (SIMD within a register): eight bytes of a string are tested at once.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load64 reads s[i:i+8] little-endian (one load: the compiler merges the
// byte loads).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// eqMask has the high bit set in the lowest byte of x equal to c (bytes
// above it may be marked falsely, through the borrow; only the lowest
// marked byte is read).
func eqMask(x uint64, c byte) uint64 {
	y := x ^ (lsb * uint64(c))
	return (y - lsb) &^ y & msb
}

// quotedEnd returns the position of the first '"', '\\' or '\” in
// s[v:limit], or limit.
func quotedEnd(s string, v, limit int) int {
	i := v
	for ; i+8 <= limit; i += 8 {
		x := load64(s, i)
		if m := eqMask(x, '"') | eqMask(x, '\\') | eqMask(x, '\''); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < limit; i++ {
		if c := s[i]; c == '"' || c == '\\' || c == '\'' {
			return i
		}
	}
	return limit
}

// unquotedEnd returns the position of the first valueEnd byte in
// s[v:limit], or limit.
func unquotedEnd(s string, v, limit int) int {
	i := v
	for i < limit && !valueEnd[s[i]] {
		i++
	}
	return i
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isHexByte(c byte) bool { return hexVal[c] != 0xff }

// ScanTraceparent finds the first valid W3C traceparent anywhere in s (a
// plain-text line with "traceparent 00-...-...-01" in the middle). Each '-'
// is visited once and checked in constant time: linear in len(s). Values
// with a traceparent's shape that fail validation are counted in inv.
func ScanTraceparent(s string, inv *[NumReasons]uint32) (Context, bool) {
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '-')
		if j < 0 {
			break
		}
		p := i + j
		i = p + 1
		start := p - 2
		end := start + 55
		if start < 0 || end > len(s) {
			continue
		}
		if s[p+33] != '-' || s[p+50] != '-' || !isHexByte(s[start]) || !isHexByte(s[start+1]) ||
			!isHexByte(s[end-2]) || !isHexByte(s[end-1]) {
			continue
		}
		if start > 0 && isAlnum(s[start-1]) {
			continue
		}
		if end < len(s) && isAlnum(s[end]) {
			continue
		}
		tp := s[start:end]
		if end < len(s) && s[end] == '-' {
			if s[start:start+2] == "00" {
				inv[ReasonVersion]++
				i = end
				continue
			}
		}
		ctx, r := ParseTraceparent(tp)
		if r == ReasonNone {
			return ctx, true
		}
		inv[r]++
		i = end
	}
	return Context{}, false
}
