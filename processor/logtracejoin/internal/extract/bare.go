// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"strings"
)

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
