// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite the golden expected_N.json files")

// TestGolden runs every testdata/golden/<case>: config.yaml on top of the
// defaults, then input_1.json, input_2.json, ... through one processor
// instance; each output must equal expected_N.json.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml"))
			require.NoError(t, err)
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, cm.Unmarshal(cfg))
			require.NoError(t, cfg.Validate())

			sink := new(consumertest.MetricsSink)
			p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
			require.NoError(t, err)
			require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

			var um pmetric.JSONUnmarshaler
			var jm pmetric.JSONMarshaler
			files := os.DirFS(dir)
			for i := 1; ; i++ {
				raw, err := fs.ReadFile(files, fmt.Sprintf("input_%d.json", i))
				if errors.Is(err, fs.ErrNotExist) {
					require.Greater(t, i, 1, "no input_1.json")
					break
				}
				require.NoError(t, err)
				in, err := um.UnmarshalMetrics(raw)
				require.NoError(t, err)
				require.NoError(t, p.ConsumeMetrics(context.Background(), in))
				got := sink.AllMetrics()[len(sink.AllMetrics())-1]
				expected := fmt.Sprintf("expected_%d.json", i)
				if *update {
					b, merr := jm.MarshalMetrics(got)
					require.NoError(t, merr)
					require.NoError(t, os.WriteFile(filepath.Join(dir, expected), prettyJSON(t, b), 0o600))
					continue
				}
				raw, err = fs.ReadFile(files, expected)
				require.NoError(t, err)
				want, err := um.UnmarshalMetrics(raw)
				require.NoError(t, err)
				assert.Equal(t, want, got, "batch %d of %s", i, dir)
			}
		})
	}
}
