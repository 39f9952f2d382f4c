// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"fmt"
	"strings"
)

// Patterns selects positional formats: ids written with no key, at a place
// a log pattern gives them. They are off by default: a bracketed pair of
// hex words in an arbitrary line is not an id, so they are read only when
// the user says the lines have that shape.
type Patterns uint8

const (
	// PatternSpringBoot3: Spring Boot 3.0/3.1 with Micrometer Tracing,
	// "[app,traceId,spanId]".
	PatternSpringBoot3 Patterns = 1 << iota
	// PatternSpringBoot32: Spring Boot 3.2+ logging.pattern.correlation,
	// "[traceId-spanId]".
	PatternSpringBoot32
	// PatternSleuth: Spring Cloud Sleuth, "[app,traceId,spanId,exportable]".
	PatternSleuth
)

// PatternNames are the configuration names of the patterns.
var PatternNames = map[string]Patterns{
	"spring_boot_3":   PatternSpringBoot3,
	"spring_boot_3_2": PatternSpringBoot32,
	"sleuth":          PatternSleuth,
}

// ParsePatterns compiles pattern names.
func ParsePatterns(names []string) (Patterns, error) {
	var p Patterns
	for _, n := range names {
		v, ok := PatternNames[n]
		if !ok {
			return 0, fmt.Errorf("unknown pattern %q (known: spring_boot_3, spring_boot_3_2, sleuth)", n)
		}
		p |= v
	}
	return p, nil
}

const (
	// patternWindow: the patterns are looked for in the line's prefix (the
	// place a log pattern puts them), not in the message.
	patternWindow = 512
	maxBracket    = 160
)

// scanPatterns finds the first bracketed group in the line's prefix that
// matches an enabled pattern. Ids must be full width (16 or 32 hex digits
// for a trace id, 16 for a span id): no padding is guessed here.
func scanPatterns(s string, p Patterns) (Context, bool) {
	w := s[:min(len(s), patternWindow)]
	for i := 0; i < len(w); {
		a := strings.IndexByte(w[i:], '[')
		if a < 0 {
			break
		}
		a += i
		i = a + 1
		b := strings.IndexByte(s[a+1:min(len(s), a+1+maxBracket)], ']')
		if b < 0 {
			continue
		}
		inner := s[a+1 : a+1+b]
		if ctx, ok := matchPattern(inner, p); ok {
			return ctx, true
		}
	}
	return Context{}, false
}

func fullTrace(s string) ([16]byte, bool) {
	if len(s) != 16 && len(s) != 32 {
		return [16]byte{}, false
	}
	id, r := ParseTraceIDHex(s)
	return id, r == ReasonNone
}

func fullSpan(s string) ([8]byte, bool) {
	if len(s) != 16 {
		return [8]byte{}, false
	}
	id, r := ParseSpanIDHex(s)
	return id, r == ReasonNone
}

func matchPattern(inner string, p Patterns) (Context, bool) {
	var c Context
	var ok1, ok2 bool
	parts := strings.Split(inner, ",")
	switch {
	case p&PatternSpringBoot32 != 0 && len(parts) == 1:
		t, sp, ok := strings.Cut(inner, "-")
		if !ok {
			return c, false
		}
		c.TraceID, ok1 = fullTrace(t)
		c.SpanID, ok2 = fullSpan(sp)
		c.Conv = ConvSpringBoot32
	case p&PatternSpringBoot3 != 0 && len(parts) == 3:
		c.TraceID, ok1 = fullTrace(parts[1])
		c.SpanID, ok2 = fullSpan(parts[2])
		c.Conv = ConvSpringBoot3
	case p&PatternSleuth != 0 && len(parts) == 4:
		c.Conv = ConvSleuth
		c.TraceID, ok1 = fullTrace(parts[1])
		c.SpanID, ok2 = fullSpan(parts[2])
		switch parts[3] {
		case "true":
			c.Flags, c.HasFlags = sampledFlag, true
		case "false":
			c.HasFlags = true
		default:
			return Context{}, false
		}
	}
	if !ok1 || !ok2 {
		return Context{}, false
	}
	c.HasSpan = true
	return c, true
}
