// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Ids of another request (an upstream's), planted as decoys.
const (
	uHex  = "11111111111111111111111111111111"
	usHex = "2222222222222222"
)

func extractBody(t *testing.T, ex *Extractor, body string) Result {
	t.Helper()
	lr := plog.NewLogRecord()
	lr.Body().SetStr(body)
	var res Result
	ex.Extract(lr, &res)
	return res
}

func assertIDs(t *testing.T, res Result, trace, span string, msg string) {
	t.Helper()
	if trace == "" {
		assert.Equal(t, SourceNone, res.Source, msg)
		assert.Equal(t, Context{}, res.Context, msg)
		return
	}
	require.NotEqual(t, SourceNone, res.Source, msg)
	assert.Equal(t, trace, hex.EncodeToString(res.Context.TraceID[:]), msg)
	if span == "" {
		assert.False(t, res.Context.HasSpan, "no span id beside this trace id: %s", msg)
	} else {
		assert.True(t, res.Context.HasSpan, msg)
		assert.Equal(t, span, hex.EncodeToString(res.Context.SpanID[:]), msg)
	}
}

// Defect 1 of issue 13: an earlier mention of a key hid the real field.
func TestDefectEarlierMentionHidesField(t *testing.T) {
	ex := New(DefaultKeys(), true, false)
	for _, line := range []string{
		`{"msg":"no trace_id: falling back","trace_id":"` + tHex + `","span_id":"` + sHex + `"}`,
		`msg="header trace_id=unknown" trace_id=` + tHex + ` span_id=` + sHex,
		// the same key twice among the line's own fields: the invalid one is
		// counted and the next one taken
		`trace_id=unknown trace_id=` + tHex + ` span_id=` + sHex,
		`{"trace_id":"unknown","trace_id":"` + tHex + `","span_id":"` + sHex + `"}`,
	} {
		assertIDs(t, extractBody(t, ex, line), tHex, sHex, line)
	}
}

// Defect 2 of issue 13: a JSON-quoted pair inside a value beat the line's
// own key=value fields, and trace and span ids were picked independently.
func TestDefectQuotedPairBeatsOwnFields(t *testing.T) {
	ex := New(DefaultKeys(), true, false)
	for _, line := range []string{
		`trace_id=` + tHex + ` span_id=` + sHex + ` msg="upstream said {"trace_id":"` + uHex + `"}"`,
		`msg="upstream said {"trace_id":"` + uHex + `","span_id":"` + usHex + `"}" trace_id=` + tHex + ` span_id=` + sHex,
		// slog text with an upstream JSON error body in an attribute
		`time=2026-01-02T03:04:05Z level=ERROR msg="upstream failed" body="{\"trace_id\":\"` + uHex + `\",\"span_id\":\"` + usHex + `\"}" trace_id=` + tHex + ` span_id=` + sHex,
		// JSON line: a nested upstream object and an upstream body in a string
		`{"upstream":{"trace_id":"` + uHex + `","span_id":"` + usHex + `"},"err":"{\"trace_id\":\"` + uHex + `\"}","trace_id":"` + tHex + `","span_id":"` + sHex + `"}`,
	} {
		assertIDs(t, extractBody(t, ex, line), tHex, sHex, line)
	}

	// never a pair that did not exist: the line's own trace id goes alone
	line := `{"msg":"upstream said span_id=` + usHex + `","trace_id":"` + tHex + `"}`
	assertIDs(t, extractBody(t, ex, line), tHex, "", line)
	line = `trace_id=` + tHex + ` msg="upstream {\"span_id\":\"` + usHex + `\"}"`
	assertIDs(t, extractBody(t, ex, line), tHex, "", line)
	// a line with id fields of its own never takes nested ones: its span id
	// alone, or an invalid trace id, gives nothing
	line = `span_id=` + sHex + ` msg="upstream said {"trace_id":"` + uHex + `"}"`
	assertIDs(t, extractBody(t, ex, line), "", "", line)
	line = `{"trace_id":"none","upstream":"trace_id=` + uHex + `"}`
	assertIDs(t, extractBody(t, ex, line), "", "", line)
}

// One source: trace id, span id and flags come from one field set, in
// attributes and map bodies too.
func TestOneSourceInMaps(t *testing.T) {
	ex := New(DefaultKeys(), true, false)
	lr := plog.NewLogRecord()
	require.NoError(t, lr.Attributes().FromRaw(map[string]any{
		"trace_id": tHex,
		"upstream": map[string]any{"trace_id": uHex, "span_id": usHex, "trace_flags": "01"},
	}))
	var res Result
	ex.Extract(lr, &res)
	assertIDs(t, res, tHex, "", "top-level trace id, no span id of its own")
	assert.False(t, res.Context.HasFlags)

	// the top-level set has nothing valid: the nested set gives its whole context
	lr = plog.NewLogRecord()
	require.NoError(t, lr.Attributes().FromRaw(map[string]any{
		"span_id": "zz",
		"otel":    map[string]any{"trace_id": tHex, "span_id": sHex},
	}))
	ex.Extract(lr, &res)
	assertIDs(t, res, tHex, sHex, "slog group")
	assert.Equal(t, uint32(1), res.Invalid[ReasonLength])
}

// Top-level fields win over nested ones, whatever their order.
func TestTopLevelWins(t *testing.T) {
	ex := New(DefaultKeys(), true, false)
	for _, line := range []string{
		`{"otel":{"trace_id":"` + uHex + `","span_id":"` + usHex + `"},"trace_id":"` + tHex + `","span_id":"` + sHex + `"}`,
		`{"trace_id":"` + tHex + `","span_id":"` + sHex + `","otel":{"trace_id":"` + uHex + `","span_id":"` + usHex + `"}}`,
		`{"Scopes":[{"TraceId":"` + uHex + `","SpanId":"` + usHex + `"}],"TraceId":"` + tHex + `","SpanId":"` + sHex + `"}`,
		`otel.trace_id=` + uHex + ` otel.span_id=` + usHex + ` trace_id=` + tHex + ` span_id=` + sHex,
	} {
		assertIDs(t, extractBody(t, ex, line), tHex, sHex, line)
	}
}

// decoyLine builds a line of n decoys (each a key mention, an unclosed
// object or string, or a near-traceparent) followed by the real ids.
func decoyLine(n int) string {
	// each decoy padded to 10 bytes: a million of them make 10 MiB
	decoys := []string{
		"trace_id=x", `"span_id":`, "{\"a\":", "msg=\"", "00-", "span_id: ", "[a,b]", "Root=1-",
	}
	var b strings.Builder
	b.Grow(10*n + 64)
	for i := 0; i < n; i++ {
		d := decoys[i%len(decoys)]
		b.WriteString(d)
		b.WriteString("          "[:10-len(d)])
	}
	b.WriteString(" trace_id=" + tHex + " span_id=" + sHex)
	return b.String()
}

// TestMillionDecoys: a million decoys in a 10 MiB line. The real ids after
// them are still found (every candidate is tried); BenchmarkDecoys shows the
// time per byte is the same at 640 KiB and 10 MiB (linear).
func TestMillionDecoys(t *testing.T) {
	if testing.Short() {
		t.Skip("10 MiB line")
	}
	line := decoyLine(1 << 20)
	require.GreaterOrEqual(t, len(line), 10<<20)
	ex := New(DefaultKeys(), true, false).WithPatterns(PatternSpringBoot3 | PatternSpringBoot32 | PatternSleuth)
	res := extractBody(t, ex, line)
	// the unclosed msg=" decoys quote nothing, so the last fields are the
	// line's own: found after every invalid candidate was refused
	assertIDs(t, res, tHex, sHex, "decoys")
	assert.Positive(t, res.Invalid[ReasonLength]+res.Invalid[ReasonFormat])
}

func BenchmarkDecoys(b *testing.B) {
	ex := New(DefaultKeys(), true, false)
	for _, n := range []int{1 << 16, 1 << 20} {
		line := decoyLine(n)
		b.Run(humanBytes(len(line)), func(b *testing.B) {
			lr := plog.NewLogRecord()
			lr.Body().SetStr(line)
			var res Result
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				ex.Extract(lr, &res)
			}
			if res.Source != SourceBody {
				b.Fatal("not found")
			}
		})
	}
}

func humanBytes(n int) string {
	if n >= 1<<20 {
		return itoa(n>>20) + "MiB"
	}
	return itoa(n>>10) + "KiB"
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStringEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`"abc"`, 4},
		{`"\\"x"`, 3},
		{`"\"x"`, 4},
		{`"a\\\"b"`, 7},
		{`"` + strings.Repeat("a", 20) + `\"` + `b"`, 24},
		{`"` + strings.Repeat("a", 20) + `\\` + `"b"`, 23},
		{`"abc`, -1},
		{`'it\'s'`, 6},
	} {
		var ts textScratch
		assert.Equal(t, tc.want, ts.stringEnd(tc.in, 0), tc.in)
	}
}

// TestNestedBounds: nested field sets are searched to MaxDepth and at most
// MaxNested per level (the README's limits), in string bodies and maps.
func TestNestedBounds(t *testing.T) {
	ex := New(DefaultKeys(), true, false)
	ids := `{"trace_id":"` + tHex + `","span_id":"` + sHex + `"}`
	nest := func(depth int) string {
		s := ids
		for range depth - 1 {
			s = `{"g":` + s + `}`
		}
		return `{"msg":"x","g":` + s + `}`
	}
	assertIDs(t, extractBody(t, ex, nest(MaxDepth)), tHex, sHex, "at MaxDepth")
	res := extractBody(t, ex, nest(MaxDepth+1))
	assertIDs(t, res, "", "", "below MaxDepth")
	// the one object refused is the ids object itself, at depth MaxDepth+1
	assert.Equal(t, [NumSkips]uint32{SkipDepth: 1}, res.Skipped, "refused for depth")

	siblings := func(at int) string {
		var b strings.Builder
		b.WriteString(`{"msg":"x"`)
		for i := 1; i <= MaxNested+4; i++ {
			b.WriteString(`,"o` + strconv.Itoa(i) + `":`)
			if i == at {
				b.WriteString(ids)
			} else {
				b.WriteString(`{"k":1}`)
			}
		}
		b.WriteString("}")
		return b.String()
	}
	assertIDs(t, extractBody(t, ex, siblings(MaxNested)), tHex, sHex, "the last nested set searched")
	res = extractBody(t, ex, siblings(MaxNested+1))
	assertIDs(t, res, "", "", "over MaxNested")
	// MaxNested+4 sibling objects, MaxNested of them searched
	assert.Equal(t, [NumSkips]uint32{SkipCount: 4}, res.Skipped, "refused for count")

	// the same bound in a map body
	lr := plog.NewLogRecord()
	m := lr.Body().SetEmptyMap()
	for i := 1; i <= MaxNested+1; i++ {
		o := m.PutEmptyMap("o" + strconv.Itoa(i))
		if i == MaxNested+1 {
			o.PutStr("trace_id", tHex)
		}
	}
	ex.Extract(lr, &res)
	assert.Equal(t, SourceNone, res.Source, "over MaxNested in a map")
	assert.Equal(t, [NumSkips]uint32{SkipCount: 1}, res.Skipped, "refused for count in a map")

	// and one level deeper than MaxDepth in a map body, through an array
	lr = plog.NewLogRecord()
	m = lr.Body().SetEmptyMap()
	for range MaxDepth { // the innermost "g" is at depth MaxDepth
		m = m.PutEmptyMap("g")
	}
	arr := m.PutEmptySlice("scopes") // its maps would be at MaxDepth+1
	arr.AppendEmpty().SetEmptyMap().PutStr("trace_id", tHex)
	arr.AppendEmpty().SetEmptyMap().PutStr("trace_id", tHex)
	arr.AppendEmpty().SetStr("not a map")
	ex.Extract(lr, &res)
	assert.Equal(t, SourceNone, res.Source, "below MaxDepth in a map")
	assert.Equal(t, [NumSkips]uint32{SkipDepth: 2}, res.Skipped, "the two maps of the array")
}

// TestTextLevelBound: text nested in text is searched MaxTextLevel levels
// deep (a JSON line in a string of a JSON line in a string of the body);
// a deeper one is counted as refused.
func TestTextLevelBound(t *testing.T) {
	ex := New(DefaultKeys(), true, false)
	quote := strconv.Quote // JSON-compatible for ASCII
	wrap := func(s string, levels int) string {
		for range levels {
			s = `{"level":"info","log":` + quote(s) + `}`
		}
		return s
	}
	ids := `{"trace_id":"` + tHex + `","span_id":"` + sHex + `"}`
	res := extractBody(t, ex, wrap(ids, MaxTextLevel))
	assertIDs(t, res, tHex, sHex, "at MaxTextLevel")
	res = extractBody(t, ex, wrap(ids, MaxTextLevel+1))
	assertIDs(t, res, "", "", "below MaxTextLevel")
	assert.Equal(t, [NumSkips]uint32{SkipTextLevel: 1}, res.Skipped, "refused for text level")
	// a record with nothing nested refuses nothing
	res = extractBody(t, ex, `{"level":"info","msg":"no ids here at all, nothing nested"}`)
	assert.Equal(t, [NumSkips]uint32{}, res.Skipped)
}
