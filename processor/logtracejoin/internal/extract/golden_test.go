// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// goldenCase is one real-world log shape and what must be extracted from it.
type goldenCase struct {
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes"`
	Body       any            `json:"body"`
	Want       struct {
		TraceID        string         `json:"trace_id"`
		SpanID         string         `json:"span_id"`
		Flags          *uint32        `json:"flags"`
		Source         string         `json:"source"`
		Invalid        map[string]int `json:"invalid"`
		CorrelationKey string         `json:"correlation_key"`
	} `json:"want"`
}

// toRaw turns decoded JSON into pcommon raw values: integral numbers become
// int64, others float64; {"$bytes": "<hex>"} becomes a bytes value.
func putValue(t *testing.T, v pcommon.Value, x any) {
	switch x := x.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			v.SetInt(n)
		} else {
			f, err := x.Float64()
			require.NoError(t, err)
			v.SetDouble(f)
		}
	case string:
		v.SetStr(x)
	case bool:
		v.SetBool(x)
	case []any:
		s := v.SetEmptySlice()
		for _, e := range x {
			putValue(t, s.AppendEmpty(), e)
		}
	case map[string]any:
		if b, ok := x["$bytes"].(string); ok && len(x) == 1 {
			raw, err := hex.DecodeString(b)
			require.NoError(t, err)
			v.SetEmptyBytes().FromRaw(raw)
			return
		}
		putMap(t, v.SetEmptyMap(), x)
	default:
		t.Fatalf("unsupported golden value %T", x)
	}
}

func putMap(t *testing.T, m pcommon.Map, x map[string]any) {
	for k, e := range x {
		putValue(t, m.PutEmpty(k), e)
	}
}

func loadGolden(t *testing.T) []goldenCase {
	raw, err := os.ReadFile("testdata/golden.json")
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var cases []goldenCase
	require.NoError(t, dec.Decode(&cases))
	return cases
}

func defaultKeys() Keys { return DefaultKeys() }

func sourceName(s Source) string {
	switch s {
	case SourceAttribute:
		return "attribute"
	case SourceBody:
		return "body"
	}
	return "none"
}

// TestGolden runs the golden table of real-world log shapes
// (testdata/golden.json): each convention, slog JSON lines, logfmt, text
// with a traceparent in the middle, invalid and hostile inputs.
func TestGolden(t *testing.T) {
	cases := loadGolden(t)
	require.GreaterOrEqual(t, len(cases), 30)
	ex := New(defaultKeys(), true, false)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			lr := plog.NewLogRecord()
			putMap(t, lr.Attributes(), tc.Attributes)
			if tc.Body != nil {
				putValue(t, lr.Body(), tc.Body)
			}
			var res Result
			ex.Extract(lr, &res)
			assert.Equal(t, tc.Want.Source, sourceName(res.Source))
			if tc.Want.TraceID != "" {
				assert.Equal(t, tc.Want.TraceID, hex.EncodeToString(res.Context.TraceID[:]))
			} else {
				assert.Equal(t, [16]byte{}, res.Context.TraceID, "no trace id may be set")
			}
			if tc.Want.SpanID != "" {
				assert.True(t, res.Context.HasSpan)
				assert.Equal(t, tc.Want.SpanID, hex.EncodeToString(res.Context.SpanID[:]))
			} else {
				assert.False(t, res.Context.HasSpan)
			}
			if tc.Want.Flags != nil {
				assert.True(t, res.Context.HasFlags)
				assert.Equal(t, *tc.Want.Flags, res.Context.Flags)
			} else {
				assert.False(t, res.Context.HasFlags)
			}
			gotInvalid := map[string]int{}
			for r, n := range res.Invalid {
				if n > 0 {
					gotInvalid[Reason(r).String()] = int(n)
				}
			}
			wantInvalid := tc.Want.Invalid
			if wantInvalid == nil {
				wantInvalid = map[string]int{}
			}
			assert.Equal(t, wantInvalid, gotInvalid)
			assert.Equal(t, tc.Want.CorrelationKey, res.CorrelationKey)
		})
	}
}
