// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
)

// Config configures the logtracejoin processor.
type Config struct {
	// TraceIDKeys are the attribute/body keys that hold a trace id: 32 hex
	// digits, or 16 hex digits (64-bit, left-padded). Keys starting with
	// "dd." also accept a decimal 64-bit id (Datadog), set into the low half.
	TraceIDKeys []string `mapstructure:"trace_id_keys"`
	// SpanIDKeys hold a span id (16 hex digits; decimal for "dd." keys).
	SpanIDKeys []string `mapstructure:"span_id_keys"`
	// TraceFlagsKeys hold trace flags: a hex byte ("01"), an integer or a
	// boolean (sampled).
	TraceFlagsKeys []string `mapstructure:"trace_flags_keys"`
	// TraceparentKeys hold a W3C traceparent string.
	TraceparentKeys []string `mapstructure:"traceparent_keys"`
	// GoogleTraceKeys hold a Google Cloud Logging trace
	// ("projects/P/traces/ID"); the sibling keys with the last path segment
	// replaced by "spanId" and "trace_sampled" are read with them.
	GoogleTraceKeys []string `mapstructure:"google_trace_keys"`
	// JaegerKeys hold a Jaeger "uber-trace-id" (traceid:spanid:parentid:flags).
	JaegerKeys []string `mapstructure:"jaeger_keys"`
	// B3Keys hold a B3 single header ("{trace}-{span}-{sampled}").
	B3Keys []string `mapstructure:"b3_keys"`
	// XRayKeys hold an AWS X-Ray header ("Root=1-…;Parent=…;Sampled=1") or
	// a bare X-Ray trace id ("1-xxxxxxxx-yyyy…").
	XRayKeys []string `mapstructure:"xray_keys"`
	// CloudTraceContextKeys hold a GCP X-Cloud-Trace-Context header
	// ("<trace>/<decimal span>;o=1").
	CloudTraceContextKeys []string `mapstructure:"cloud_trace_context_keys"`
	// Patterns enables positional formats in string bodies (ids with no
	// key): spring_boot_3, spring_boot_3_2, sleuth. Off by default.
	Patterns []string `mapstructure:"patterns"`
	// FromBody enables extraction from map bodies and string bodies.
	FromBody bool `mapstructure:"from_body"`
	// RemoveSourceFields removes the attributes or map body fields the
	// context was taken from. String bodies are never rewritten.
	RemoveSourceFields bool `mapstructure:"remove_source_fields"`
	// Join configures joining logs without trace ids to spans.
	Join JoinConfig `mapstructure:"join"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// JoinConfig configures the join of logs to spans by a correlation key.
type JoinConfig struct {
	// Enabled turns the join on.
	Enabled bool `mapstructure:"enabled"`
	// CorrelationKeys are the span attributes and log attributes/body fields
	// whose value identifies a request (the first one present is used).
	CorrelationKeys []string `mapstructure:"correlation_keys"`
	// Wait is how long a log with a correlation key and no indexed span is
	// held for its span before it goes on unmatched. 0 means never hold.
	Wait time.Duration `mapstructure:"wait"`
	// MaxWaitingLogs bounds the held logs; over it the oldest is released
	// unmatched. 0 means never hold.
	MaxWaitingLogs int `mapstructure:"max_waiting_logs"`
	// IndexTTL is how long a correlation key stays indexed after its span.
	IndexTTL time.Duration `mapstructure:"index_ttl"`
	// MaxIndexEntries bounds the index; over it the oldest entry is evicted.
	MaxIndexEntries int `mapstructure:"max_index_entries"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every error names its YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	keyLists := []struct {
		name string
		keys []string
	}{
		{"trace_id_keys", cfg.TraceIDKeys},
		{"span_id_keys", cfg.SpanIDKeys},
		{"trace_flags_keys", cfg.TraceFlagsKeys},
		{"traceparent_keys", cfg.TraceparentKeys},
		{"google_trace_keys", cfg.GoogleTraceKeys},
		{"jaeger_keys", cfg.JaegerKeys},
		{"b3_keys", cfg.B3Keys},
		{"xray_keys", cfg.XRayKeys},
		{"cloud_trace_context_keys", cfg.CloudTraceContextKeys},
		{"patterns", cfg.Patterns},
		{"join::correlation_keys", cfg.Join.CorrelationKeys},
	}
	for _, l := range keyLists {
		seen := make(map[string]struct{}, len(l.keys))
		for i, k := range l.keys {
			if k == "" {
				errs = append(errs, fmt.Errorf("%s[%d]: key must not be empty", l.name, i))
				continue
			}
			if _, dup := seen[k]; dup {
				errs = append(errs, fmt.Errorf("%s[%d]: duplicate key %q", l.name, i, k))
			}
			seen[k] = struct{}{}
		}
	}
	if len(cfg.TraceIDKeys)+len(cfg.TraceparentKeys)+len(cfg.GoogleTraceKeys)+len(cfg.JaegerKeys)+
		len(cfg.B3Keys)+len(cfg.XRayKeys)+len(cfg.CloudTraceContextKeys)+len(cfg.Patterns) == 0 && !cfg.Join.Enabled {
		errs = append(errs, errors.New("trace_id_keys, traceparent_keys, google_trace_keys, jaeger_keys, b3_keys, xray_keys, cloud_trace_context_keys, patterns: all empty and join::enabled is false, the processor would do nothing"))
	}
	if _, err := extract.ParsePatterns(cfg.Patterns); err != nil {
		errs = append(errs, fmt.Errorf("patterns: %w", err))
	}
	if cfg.Join.Wait < 0 {
		errs = append(errs, fmt.Errorf("join::wait: must not be negative, got %s", cfg.Join.Wait))
	}
	if cfg.Join.MaxWaitingLogs < 0 {
		errs = append(errs, fmt.Errorf("join::max_waiting_logs: must not be negative, got %d", cfg.Join.MaxWaitingLogs))
	}
	if cfg.Join.IndexTTL < 0 {
		errs = append(errs, fmt.Errorf("join::index_ttl: must not be negative, got %s", cfg.Join.IndexTTL))
	}
	if cfg.Join.MaxIndexEntries < 0 {
		errs = append(errs, fmt.Errorf("join::max_index_entries: must not be negative, got %d", cfg.Join.MaxIndexEntries))
	}
	if cfg.Join.Enabled {
		if len(cfg.Join.CorrelationKeys) == 0 {
			errs = append(errs, errors.New("join::correlation_keys: must not be empty when join::enabled is true"))
		}
		if cfg.Join.IndexTTL == 0 {
			errs = append(errs, errors.New("join::index_ttl: must be positive when join::enabled is true"))
		}
		if cfg.Join.MaxIndexEntries == 0 {
			errs = append(errs, errors.New("join::max_index_entries: must be positive when join::enabled is true"))
		}
	}
	return errors.Join(errs...)
}

// extractor compiles the extraction part of the configuration.
func (cfg *Config) extractor() (*extract.Extractor, error) {
	patterns, err := extract.ParsePatterns(cfg.Patterns)
	if err != nil {
		return nil, err
	}
	var corr []string
	if cfg.Join.Enabled {
		corr = cfg.Join.CorrelationKeys
	}
	return extract.New(extract.Keys{
		TraceID:           cfg.TraceIDKeys,
		SpanID:            cfg.SpanIDKeys,
		TraceFlags:        cfg.TraceFlagsKeys,
		Traceparent:       cfg.TraceparentKeys,
		GoogleTrace:       cfg.GoogleTraceKeys,
		Jaeger:            cfg.JaegerKeys,
		B3:                cfg.B3Keys,
		XRay:              cfg.XRayKeys,
		CloudTraceContext: cfg.CloudTraceContextKeys,
		CorrelationKeys:   corr,
	}, cfg.FromBody, cfg.RemoveSourceFields).WithPatterns(patterns), nil
}
