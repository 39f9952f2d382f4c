// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package reuse holds what the per-profile scratch space of the delta, top-N and
// conversion steps shares: they keep it in pools between scrapes, up to one bound.
package reuse // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/reuse"

// MaxPooled bounds the entries a pooled scratch keeps (of each of its slices and maps),
// so that one huge profile does not leave a huge scratch in a pool.
const MaxPooled = 1 << 16

// Zeroed returns s resized to n zero entries, reusing its array when it is large enough.
func Zeroed[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}
