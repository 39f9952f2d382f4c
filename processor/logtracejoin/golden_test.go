// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

var update = flag.Bool("update", false, "rewrite the expected golden files")

// TestGoldenExtract runs testdata/golden/extract_input.json (one record per
// convention, plus kept, invalid and empty records) through the processor
// and compares the result with extract_expected.json (OTLP JSON). The
// expected file was generated with -update and checked by hand: the ids in
// it are the ones in the inputs (Datadog decimals in the low half, B3 and
// Jaeger left-padded), the kept record keeps its own ids, invalid ones get none.
func TestGoldenExtract(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "golden", "extract_input.json"))
	require.NoError(t, err)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	require.NoError(t, err)
	in := ld.LogRecordCount()

	h := newHarness(t, createDefaultConfig().(*Config), true)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	require.Len(t, h.logOut.AllLogs(), 1)
	got := h.logOut.AllLogs()[0]
	require.Equal(t, in, got.LogRecordCount())

	gotJSON, err := (&plog.JSONMarshaler{}).MarshalLogs(got)
	require.NoError(t, err)
	var pretty any
	require.NoError(t, json.Unmarshal(gotJSON, &pretty))
	gotPretty, err := json.MarshalIndent(pretty, "", " ")
	require.NoError(t, err)

	const expPath = "testdata/golden/extract_expected.json"
	if *update {
		require.NoError(t, os.WriteFile(expPath, append(gotPretty, '\n'), 0o600))
	}
	want, err := os.ReadFile(expPath)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(gotPretty))
}
