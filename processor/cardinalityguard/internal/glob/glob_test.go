// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package glob

import (
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"http.server.*", "http.server.request.duration", true},
		{"http.server.*", "http.server.", true},
		{"http.server.*", "http.client.request.duration", false},
		{"*", "", true},
		{"*", "anything.at/all", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*.duration", "rpc.server.duration", true},
		{"*.duration", "rpc.server.durations", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"[ab]x", "bx", true},
		{"[ab]x", "cx", false},
		{"[!ab]x", "cx", true},
		{"[a-c]1", "b1", true},
		{"[a-c]1", "d1", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "aXb", false},
		{"é*", "été", true},
		{"operation_error", "operation_error", true},
		{"operation_error", "operation_errors", false},
	}
	for _, c := range cases {
		p, err := Compile(c.pattern)
		require.NoError(t, err, c.pattern)
		assert.Equal(t, c.want, p.Match(c.name), "%q ~ %q", c.pattern, c.name)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, bad := range []string{"", "[abc", `abc\`, "[]", "[z-a]", "a[", "\xff"} {
		_, err := Compile(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// FuzzGlob checks the parser never panics and that, for patterns without
// classes or escapes and names without '/', matching agrees with path.Match.
func FuzzGlob(f *testing.F) {
	for _, s := range []string{"http.server.*", "*", "a?c", "[a-z]*", `a\*`, "[!x]y", "**a*"} {
		f.Add(s, "http.server.duration")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		got := p.Match(name)
		if strings.ContainsAny(pattern, `[]\`) || strings.Contains(name, "/") || strings.Contains(pattern, "/") {
			return
		}
		want, perr := path.Match(pattern, name)
		if perr == nil && got != want {
			t.Fatalf("Compile(%q).Match(%q) = %v, path.Match = %v", pattern, name, got, want)
		}
	})
}
