// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"strings"
)

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
