// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/metadatatest"
)

func TestTooLargeSplitsTheBatchAndResendsTheHalves(t *testing.T) {
	env := newTestEnv(t, nil)
	// A server that takes at most 2 events per request: 5 -> 2+3 -> 2+1+2.
	env.sink.SetFaults(hcsink.Faults{MaxEventsPerRequest: 2})
	require.NoError(t, env.exp.pushTraces(context.Background(), testTraces("svc", 5)))
	assert.ElementsMatch(t, []string{"span-0", "span-1", "span-2", "span-3", "span-4"}, namesOf(env.sink.Events()))
	var sizes []int
	for _, r := range env.sink.Requests() {
		sizes = append(sizes, r.Events)
	}
	assert.Equal(t, []int{5, 2, 3, 1, 2}, sizes)
	metadatatest.AssertEqualExporterHoneycombeventsBatchesSplit(t, env.tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

func TestTooLargeSplitsDownToOneEventThenRefuses(t *testing.T) {
	for _, enc := range []Encoding{EncodingJSON, EncodingMsgpack} {
		t.Run(string(enc), func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) { c.Encoding = enc })
			// 3 events: 413 for the batch; its halves: span-0 alone, 413, so
			// refused; span-1+2, 413, split again: span-1 alone, 413,
			// refused; span-2 alone, accepted.
			env.sink.SetFaults(hcsink.Faults{RequestStatuses: []int{413, 413, 413, 413}})
			err := env.exp.pushTraces(context.Background(), testTraces("svc", 3))
			require.Error(t, err)
			assert.True(t, consumererror.IsPermanent(err))
			assert.Contains(t, err.Error(), "HTTP 413")
			assert.Equal(t, []string{"span-2"}, namesOf(env.sink.Events()))
			metadatatest.AssertEqualExporterHoneycombeventsEventsRefused(t, env.tt, []metricdata.DataPoint[int64]{{
				Value:      2,
				Attributes: attribute.NewSet(attribute.String("reason", "request_rejected"), attribute.Int("status_code", 413)),
			}}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestForbiddenThrottlingIsRetriedAndToldFromAuth(t *testing.T) {
	env := newTestEnv(t, nil)
	env.sink.SetFaults(hcsink.Faults{RequestStatuses: []int{http.StatusForbidden}, RequestMessage: "event dropped due to administrative throttling"})
	err := env.exp.pushTraces(context.Background(), testTraces("svc", 3))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "throttling is retried")
	assert.Contains(t, err.Error(), "administrative throttling")
	lines := env.logs.FilterMessageSnippet("administrative throttling").All()
	require.Len(t, lines, 1)
	assert.Empty(t, env.logs.FilterMessage("Events API rejected a batch; its events are dropped").All())
	metadatatest.AssertEqualExporterHoneycombeventsEventsRetried(t, env.tt, []metricdata.DataPoint[int64]{{
		Value: 3, Attributes: attribute.NewSet(attribute.String("reason", "throttled")),
	}}, metricdatatest.IgnoreTimestamp())
	require.NoError(t, env.exp.pushTraces(context.Background(), testTraces("svc", 3)))

	env = newTestEnv(t, nil)
	env.sink.SetFaults(hcsink.Faults{RequestStatuses: []int{http.StatusForbidden}, RequestMessage: "this API key does not have permission to send events"})
	err = env.exp.pushTraces(context.Background(), testTraces("svc", 3))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	lines = env.logs.FilterMessage("Events API rejected a batch; its events are dropped").All()
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0].ContextMap()["cause"], "lacks permission")
	assert.Contains(t, lines[0].ContextMap()["cause"], "not throttling")
}

func logsWithoutService(n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "h")
	for range n {
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("line")
	}
	return ld
}

func TestUnknownDatasetPerSignal(t *testing.T) {
	logs := newTestEnvFor(t, signalLogs, nil)
	require.NoError(t, logs.exp.pushLogs(context.Background(), logsWithoutService(2)))
	require.Len(t, logs.sink.Requests(), 1)
	assert.Equal(t, "unknown_log_source", logs.sink.Requests()[0].Dataset, "Honeycomb's dataset for logs without service.name")

	traces := newTestEnvFor(t, signalTraces, nil)
	td := testTraces("svc", 1)
	td.ResourceSpans().At(0).Resource().Attributes().Remove("service.name")
	require.NoError(t, traces.exp.pushTraces(context.Background(), td))
	assert.Equal(t, "unknown_service", traces.sink.Requests()[0].Dataset)
}

func TestPerSignalDatasets(t *testing.T) {
	mutate := func(c *Config) {
		c.Traces.Dataset = "spans"
		c.Metrics.Dataset = "otel metrics"
		c.Logs.UnknownDataset = "nameless"
	}
	traces := newTestEnvFor(t, signalTraces, mutate)
	require.NoError(t, traces.exp.pushTraces(context.Background(), testTraces("checkout", 2)))
	assert.Equal(t, "spans", traces.sink.Requests()[0].Dataset)

	metrics := newTestEnvFor(t, signalMetrics, mutate)
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("up")
	m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	require.NoError(t, metrics.exp.pushMetrics(context.Background(), md))
	assert.Equal(t, "otel metrics", metrics.sink.Requests()[0].Dataset)

	logs := newTestEnvFor(t, signalLogs, mutate)
	require.NoError(t, logs.exp.pushLogs(context.Background(), logsWithoutService(1)))
	assert.Equal(t, "nameless", logs.sink.Requests()[0].Dataset)
}

func TestClassicKeySendsToTheConfiguredDataset(t *testing.T) {
	const classic = "0123456789abcdef0123456789abcdef"
	env := newTestEnv(t, func(c *Config) {
		c.APIKey = configopaque.String(classic)
		c.Dataset = "classic-ds"
	})
	env.sink.APIKey = classic
	td := testTraces("checkout", 2)
	more := testTraces("cart", 1)
	more.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	require.NoError(t, env.exp.pushTraces(context.Background(), td))
	reqs := env.sink.Requests()
	require.Len(t, reqs, 1, "never per service")
	assert.Equal(t, "classic-ds", reqs[0].Dataset)
	assert.Equal(t, 3, reqs[0].Events)

	cfg := createDefaultConfig().(*Config)
	cfg.APIKey = classic
	require.ErrorContains(t, cfg.Validate(), "Honeycomb Classic api_key")
	assert.True(t, isClassicKey("hcaic_"+"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklm"[:58]))
	assert.False(t, isClassicKey("hcaik_01hzzzzzzzzzzzzzzzzzzzzz"), "environment key")
	assert.False(t, isClassicKey("0123456789ABCDEF0123456789ABCDEF"), "upper case is not a classic key")
}

func TestPointsWithoutValueAreCountedRefused(t *testing.T) {
	env := newTestEnvFor(t, signalMetrics, nil)
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints()
	dps.AppendEmpty().SetIntValue(1)
	dps.AppendEmpty() // no value
	require.NoError(t, env.exp.pushMetrics(context.Background(), md))
	assert.Len(t, env.sink.Events(), 1)
	metadatatest.AssertEqualExporterHoneycombeventsPointsRefused(t, env.tt, []metricdata.DataPoint[int64]{{
		Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "no_value")),
	}}, metricdatatest.IgnoreTimestamp())
}
