// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	def := loadConfig(t, "")
	assert.Equal(t, createDefaultConfig(), def)
	require.NoError(t, def.Validate())
	assert.Equal(t, []string{"trace_id", "traceId", "traceID", "TraceId", "TraceID", "trace.id", "otelTraceID", "dd.trace_id", "x-b3-traceid", "X-B3-TraceId", "@tr"}, def.TraceIDKeys)
	assert.Equal(t, []string{"span_id", "spanId", "spanID", "SpanId", "SpanID", "span.id", "otelSpanID", "dd.span_id", "x-b3-spanid", "X-B3-SpanId", "@sp", "transaction.id"}, def.SpanIDKeys)
	assert.Equal(t, []string{"trace_flags", "traceFlags", "TraceFlags", "trace_sampled", "otelTraceSampled"}, def.TraceFlagsKeys)
	assert.Equal(t, []string{"b3"}, def.B3Keys)
	assert.Equal(t, []string{"X-Amzn-Trace-Id", "x-amzn-trace-id", "xray_trace_id", "AWS-XRAY-TRACE-ID"}, def.XRayKeys)
	assert.Equal(t, []string{"X-Cloud-Trace-Context", "x-cloud-trace-context"}, def.CloudTraceContextKeys)
	assert.Empty(t, def.Patterns, "positional patterns are opt-in")
	assert.Equal(t, 5*time.Second, def.Join.Wait)
	assert.Equal(t, 100000, def.Join.MaxWaitingLogs)
	assert.Equal(t, 2*time.Minute, def.Join.IndexTTL)
	assert.Equal(t, 1000000, def.Join.MaxIndexEntries)
	assert.True(t, def.FromBody)
	assert.False(t, def.RemoveSourceFields)

	custom := loadConfig(t, "custom")
	require.NoError(t, custom.Validate())
	assert.Equal(t, []string{"tid"}, custom.TraceIDKeys)
	assert.Equal(t, []string{"sid"}, custom.SpanIDKeys)
	assert.Empty(t, custom.TraceFlagsKeys)
	assert.Equal(t, []string{"traceparent", "tp"}, custom.TraceparentKeys)
	assert.Equal(t, []string{"b3"}, custom.B3Keys)
	assert.Empty(t, custom.XRayKeys)
	assert.Equal(t, []string{"x-cloud-trace-context"}, custom.CloudTraceContextKeys)
	assert.Equal(t, []string{"spring_boot_3_2", "sleuth"}, custom.Patterns)
	assert.False(t, custom.FromBody)
	assert.True(t, custom.RemoveSourceFields)
	assert.Equal(t, JoinConfig{
		Enabled:         true,
		CorrelationKeys: []string{"http.request.header.x-request-id", "request_id"},
		Wait:            2 * time.Second,
		MaxWaitingLogs:  1000,
		IndexTTL:        30 * time.Second,
		MaxIndexEntries: 5000,
	}, custom.Join)

	extractOnly := loadConfig(t, "extract_only")
	assert.NoError(t, extractOnly.Validate(), "empty correlation_keys are fine with join off")
}

func TestValidateNamesKeys(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"negative", []string{
			"join::wait: must not be negative",
			"join::index_ttl: must not be negative",
			"join::max_waiting_logs: must not be negative",
			"join::max_index_entries: must not be negative",
		}},
		{"empty_keys", []string{"join::correlation_keys: must not be empty"}},
		{"bad_patterns", []string{`patterns: unknown pattern "log4j"`}},
		{"bad_keys", []string{
			"trace_id_keys[1]: key must not be empty",
			`span_id_keys[1]: duplicate key "span_id"`,
			"join::index_ttl: must be positive",
			"join::max_index_entries: must be positive",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loadConfig(t, tt.name).Validate()
			require.Error(t, err)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}

	nothing := createDefaultConfig().(*Config)
	nothing.TraceIDKeys, nothing.TraceparentKeys, nothing.GoogleTraceKeys, nothing.JaegerKeys = nil, nil, nil, nil
	nothing.B3Keys, nothing.XRayKeys, nothing.CloudTraceContextKeys = nil, nil, nil
	nothing.Join.Enabled = false
	require.ErrorContains(t, nothing.Validate(), "the processor would do nothing")

	badPattern := createDefaultConfig().(*Config)
	badPattern.Patterns = []string{"sleuth", "logback"}
	assert.ErrorContains(t, badPattern.Validate(), `patterns: unknown pattern "logback"`)
}
