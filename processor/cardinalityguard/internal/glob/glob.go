// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package glob compiles and matches the metric-name patterns of the
// cardinalityguard overrides: `*` matches any run of characters (dots
// included), `?` one character, `[abc]`, `[a-z]` and `[!a-z]` a character
// class, and `\` escapes the next character. Matching is linear in
// practice: one backtrack point (the last `*`), no recursion.
package glob // import "github.com/prodscope/prodscope/processor/cardinalityguard/internal/glob"

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

type tokenKind uint8

const (
	literal tokenKind = iota
	anyOne
	anyRun
	class
)

type charRange struct{ lo, hi rune }

type token struct {
	kind    tokenKind
	r       rune
	negated bool
	ranges  []charRange
}

// Pattern is a compiled glob.
type Pattern struct {
	src    string
	tokens []token
}

// String returns the source of the pattern.
func (p *Pattern) String() string { return p.src }

// Compile parses a glob. It fails on an empty pattern, invalid UTF-8, an
// unclosed or empty character class, a reversed range and a trailing `\`.
func Compile(src string) (*Pattern, error) {
	if src == "" {
		return nil, errors.New("empty pattern")
	}
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("pattern %q is not valid UTF-8", src)
	}
	p := &Pattern{src: src}
	rs := []rune(src)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			// Consecutive stars are one star.
			if n := len(p.tokens); n > 0 && p.tokens[n-1].kind == anyRun {
				continue
			}
			p.tokens = append(p.tokens, token{kind: anyRun})
		case '?':
			p.tokens = append(p.tokens, token{kind: anyOne})
		case '\\':
			if i+1 >= len(rs) {
				return nil, fmt.Errorf("pattern %q ends with an unescaped '\\'", src)
			}
			i++
			p.tokens = append(p.tokens, token{kind: literal, r: rs[i]})
		case '[':
			t, next, err := parseClass(rs, i+1)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", src, err)
			}
			p.tokens = append(p.tokens, t)
			i = next
		default:
			p.tokens = append(p.tokens, token{kind: literal, r: rs[i]})
		}
	}
	return p, nil
}

// parseClass parses a class whose body starts at rs[i]; it returns the token
// and the index of the closing ']'.
func parseClass(rs []rune, i int) (token, int, error) {
	t := token{kind: class}
	if i < len(rs) && (rs[i] == '!' || rs[i] == '^') {
		t.negated = true
		i++
	}
	first := true
	for i < len(rs) {
		c := rs[i]
		if c == ']' && !first {
			if len(t.ranges) == 0 {
				return token{}, 0, errors.New("empty character class")
			}
			return t, i, nil
		}
		first = false
		if c == '\\' {
			i++
			if i >= len(rs) {
				break
			}
			c = rs[i]
		}
		lo, hi := c, c
		if i+2 < len(rs) && rs[i+1] == '-' && rs[i+2] != ']' {
			hi = rs[i+2]
			if hi == '\\' {
				if i+3 >= len(rs) {
					break
				}
				hi = rs[i+3]
				i++
			}
			if hi < lo {
				return token{}, 0, fmt.Errorf("reversed range %c-%c", lo, hi)
			}
			i += 2
		}
		t.ranges = append(t.ranges, charRange{lo, hi})
		i++
	}
	return token{}, 0, errors.New("unclosed character class '['")
}

func (t *token) matches(r rune) bool {
	switch t.kind {
	case literal:
		return r == t.r
	case anyOne:
		return true
	case class:
		in := false
		for _, cr := range t.ranges {
			if r >= cr.lo && r <= cr.hi {
				in = true
				break
			}
		}
		return in != t.negated
	}
	return false
}

// Match reports whether name matches the whole pattern.
func (p *Pattern) Match(name string) bool {
	ti, ni := 0, 0
	starTok, starName := -1, 0
	for ni < len(name) {
		r, size := utf8.DecodeRuneInString(name[ni:])
		if ti < len(p.tokens) {
			t := &p.tokens[ti]
			if t.kind == anyRun {
				starTok, starName = ti, ni
				ti++
				continue
			}
			if t.matches(r) {
				ti++
				ni += size
				continue
			}
		}
		if starTok < 0 {
			return false
		}
		// Let the last star absorb one more character and retry.
		_, size = utf8.DecodeRuneInString(name[starName:])
		starName += size
		ti, ni = starTok+1, starName
	}
	for ti < len(p.tokens) && p.tokens[ti].kind == anyRun {
		ti++
	}
	return ti == len(p.tokens)
}
