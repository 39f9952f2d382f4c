// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package topn // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/topn"

import (
	"strings"

	"github.com/google/pprof/profile"
	"github.com/ianlancetaylor/demangle"
)

// The function names `go tool pprof` shows: C++ symbols (cgo, the race detector's
// runtime) are demangled and simplified the way its default demangler mode does
// (github.com/google/pprof internal/symbolizer, Apache-2.0), Go names are kept.

var demangleOptions = []demangle.Option{demangle.NoParams, demangle.NoEnclosingParams, demangle.NoTemplateParams}

// DisplayName returns the name pprof reports for fn.
func DisplayName(fn *profile.Function) string {
	if fn.Name != "" && fn.SystemName != fn.Name {
		return fn.Name // already demangled by the profile's producer
	}
	sys := fn.SystemName
	if !strings.HasPrefix(sys, "_") {
		// Mangled symbols (_Z..., _R..., and macOS's extra _) all start with '_': Go names
		// skip the demangler, which would return them unchanged.
		return simplify(sys)
	}
	if d := demangle.Filter(sys, demangleOptions...); d != sys {
		return d
	}
	if strings.HasPrefix(sys, "_") {
		if d := demangle.Filter(sys[1:], demangleOptions...); d != sys[1:] {
			return d
		}
	}
	return simplify(sys)
}

// simplify applies pprof's heuristics to names that look like demangled C++ already.
func simplify(name string) string {
	if looksLikeDemangledCPlusPlus(name) {
		name = removeMatching(name, '(', ')')
		name = removeMatching(name, '<', '>')
	}
	return name
}

func looksLikeDemangledCPlusPlus(demangled string) bool {
	if strings.Contains(demangled, ".<") {
		return false
	}
	if strings.Contains(demangled, "]).") {
		return false
	}
	return strings.ContainsAny(demangled, "<>[]") || strings.Contains(demangled, "::")
}

func removeMatching(name string, start, end byte) string {
	s := string(start) + string(end)
	var nesting, first, current int
	for index := strings.IndexAny(name[current:], s); index != -1; index = strings.IndexAny(name[current:], s) {
		switch current += index; name[current] {
		case start:
			nesting++
			if nesting == 1 {
				first = current
			}
		case end:
			nesting--
			switch {
			case nesting < 0:
				return name
			case nesting == 0:
				name = name[:first] + name[current+1:]
				current = first - 1
			}
		}
		current++
	}
	return name
}
