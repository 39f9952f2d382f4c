// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// conformanceLine is one line of testdata/conformance: a line a real
// logging library wrote (go_libraries.jsonl, written by
// internal/conformance/gen inside real OTel SDK spans: the expected ids are
// the span's, not read from the line) or a line written as the named
// library's or product's documentation shows it (documented.jsonl), with
// the ids it must give. Decoy lines name the ids that must win, or expect
// none.
type conformanceLine struct {
	Source     string   `json:"source"`
	Line       string   `json:"line"`
	TraceID    string   `json:"trace_id"`
	SpanID     string   `json:"span_id"`
	Flags      string   `json:"flags"`
	Patterns   []string `json:"patterns"`
	ExpectNone bool     `json:"expect_none"`
}

func loadConformance(t *testing.T) []conformanceLine {
	var all []conformanceLine
	for _, f := range []string{"go_libraries.jsonl", "documented.jsonl"} {
		raw, err := fs.ReadFile(os.DirFS("testdata/conformance"), f)
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c conformanceLine
			require.NoError(t, json.Unmarshal(sc.Bytes(), &c), f)
			require.True(t, c.ExpectNone || c.TraceID != "", "%s: a line names its ids or expects none", c.Source)
			all = append(all, c)
		}
		require.NoError(t, sc.Err())
	}
	return all
}

// parsedShape returns the line as a json_parser would leave it in
// attributes: the JSON object of the line (or the one that follows a text
// prefix, as a regex + json_parser pipeline does for CRI and zap console
// lines), or the key=value pairs of a logfmt line. ok is false for lines
// no such parser reads (plain text, Python reprs).
func parsedShape(line string) (map[string]any, bool) {
	if i := strings.IndexByte(line, '{'); i >= 0 {
		dec := json.NewDecoder(strings.NewReader(line[i:]))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) == nil && !dec.More() {
			return jsonToRaw(m).(map[string]any), true
		}
	}
	return parseLogfmt(line)
}

// jsonToRaw turns json.Number into int64 when integral (as OTLP/JSON and
// the stanza parsers keep integers), float64 otherwise.
func jsonToRaw(x any) any {
	switch x := x.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, v := range x {
			x[k] = jsonToRaw(v)
		}
		return x
	case []any:
		for i, v := range x {
			x[i] = jsonToRaw(v)
		}
		return x
	}
	return x
}

// parseLogfmt reads a line made only of key=value tokens (values bare or
// Go-quoted), as the key_value parser would.
func parseLogfmt(line string) (map[string]any, bool) {
	m := map[string]any{}
	s := strings.TrimSpace(line)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \"") {
			return nil, false
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, false
			}
			if v, err = strconv.Unquote(q); err != nil {
				return nil, false
			}
			s = s[len(q):]
			if s != "" && s[0] != ' ' {
				return nil, false
			}
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			v = s[:end]
			s = s[end:]
		}
		m[k] = v
		s = strings.TrimLeft(s, " ")
	}
	return m, len(m) > 0
}

// TestConformance pushes every corpus line through the processor three
// ways: as a string body, as parsed attributes and as a map body. Any wrong
// id fails, and so does any miss.
func TestConformance(t *testing.T) {
	lines := loadConformance(t)
	require.GreaterOrEqual(t, len(lines), 60)
	dd := 0
	for _, c := range lines {
		if strings.HasPrefix(c.Source, "dd-trace-go") && !c.ExpectNone {
			dd++
		}
	}
	require.GreaterOrEqual(t, dd, 4, "lines written by dd-trace-go's own log injection")
	shapes := 0
	for i, c := range lines {
		t.Run(strconv.Itoa(i), func(t *testing.T) { shapes += checkConformance(t, c) })
	}
	t.Logf("%d lines, %d shapes", len(lines), shapes)
}

func checkConformance(t *testing.T, c conformanceLine) int {
	{
		cfg := createDefaultConfig().(*Config)
		cfg.Patterns = c.Patterns
		cfg.Join.Enabled = false
		h := newHarness(t, cfg, true)

		ld := plog.NewLogs()
		recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		recs.AppendEmpty().Body().SetStr(c.Line)
		names := []string{"string body"}
		if m, ok := parsedShape(c.Line); ok {
			require.NoError(t, recs.AppendEmpty().Attributes().FromRaw(m), c.Source)
			require.NoError(t, recs.AppendEmpty().Body().SetEmptyMap().FromRaw(m), c.Source)
			names = append(names, "attributes", "map body")
		}
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
		require.Len(t, h.logOut.AllLogs(), 1)
		out := h.logOut.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		require.Equal(t, len(names), out.Len())
		for i, name := range names {
			lr := out.At(i)
			what := c.Source + " (" + name + "): " + c.Line
			if c.ExpectNone {
				assert.True(t, lr.TraceID().IsEmpty(), "no id may be set: %s, got %s", what, lr.TraceID())
				assert.True(t, lr.SpanID().IsEmpty(), "no span id may be set: %s", what)
				continue
			}
			assert.Equal(t, c.TraceID, lr.TraceID().String(), "trace id: %s", what)
			if c.SpanID != "" {
				assert.Equal(t, c.SpanID, lr.SpanID().String(), "span id: %s", what)
			} else {
				assert.Equal(t, pcommon.NewSpanIDEmpty(), lr.SpanID(), "no span id beside this trace id: %s", what)
			}
			if c.Flags != "" {
				f, err := strconv.ParseUint(c.Flags, 16, 8)
				require.NoError(t, err)
				assert.Equal(t, uint32(f), uint32(lr.Flags()), "flags: %s", what)
			}
		}
		return len(names)
	}
}
