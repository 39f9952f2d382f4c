// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

func TestFactoryDefaults(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "honeycombevents", f.Type().String())
	cfg := f.CreateDefaultConfig().(*Config)
	assert.Equal(t, "https://api.honeycomb.io", cfg.ClientConfig.Endpoint)
	assert.Error(t, cfg.Validate(), "api_key has no default")
}

// TestRetriesGoThroughExporterhelper runs the real exporterhelper chain
// (no queue, fast retry): the per-event 500 is retried alone and the
// pipeline call succeeds.
func TestRetriesGoThroughExporterhelper(t *testing.T) {
	sink := hcsink.New(testKey)
	defer sink.Close()
	srv := httptest.NewServer(sink)
	defer srv.Close()
	var calls sync32
	sink.SetFaults(hcsink.Faults{EventStatus: func(ev hcsink.Event) int {
		if ev.Data["name"] == "span-1" && calls.inc("span-1") == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusAccepted
	}})

	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.APIKey = testKey
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.InitialInterval = time.Millisecond
	cfg.RetryConfig.MaxInterval = 5 * time.Millisecond
	cfg.RetryConfig.RandomizationFactor = 0
	exp, err := f.CreateTraces(context.Background(), exportertestSettings(), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()

	require.NoError(t, exp.ConsumeTraces(context.Background(), testTraces("svc", 4)))
	reqs := sink.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, 4, reqs[0].Events)
	assert.Equal(t, 1, reqs[1].Events, "only the failed event is resent")
	assert.ElementsMatch(t, []string{"span-0", "span-2", "span-3", "span-1"}, namesOf(sink.Events()))
}

func TestShutdownWithoutStart(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.APIKey = "k"
	for _, create := range []func() (interface{ Shutdown(context.Context) error }, error){
		func() (interface{ Shutdown(context.Context) error }, error) {
			return f.CreateTraces(context.Background(), exportertestSettings(), cfg)
		},
		func() (interface{ Shutdown(context.Context) error }, error) {
			return f.CreateLogs(context.Background(), exportertestSettings(), cfg)
		},
		func() (interface{ Shutdown(context.Context) error }, error) {
			return f.CreateMetrics(context.Background(), exportertestSettings(), cfg)
		},
	} {
		c, err := create()
		require.NoError(t, err)
		require.NoError(t, c.Shutdown(context.Background()))
	}
}
