// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

// Fixed ids the telemetry attributes carry (telemetrygen sets the same value
// on every item of a run).
const (
	benchTraceID   = "4bf92f3577b34da6a3ce929d0e0e4736"
	benchSpanID    = "00f067aa0ba902b7"
	benchRequestID = "req-7f3a9c"
)

// DefaultVariants are the pipelines measured per signal, in the order they
// are interleaved inside each round. honeycomb lists the signals for which
// the honeycombevents exporter is measured beside otlp_grpc.
func DefaultVariants(honeycomb []string) []Variant {
	hc := map[string]bool{}
	for _, s := range honeycomb {
		hc[s] = true
	}
	spanAttrs := map[string]string{"request_id": benchRequestID, "user_id": "1234", "http.route": "/orders"}
	logAttrs := map[string]string{"trace_id": benchTraceID, "span_id": benchSpanID, "request_id": benchRequestID, "user_id": "1234"}
	// The join variant's logs carry no trace id; two attributes no extractor
	// knows, of the same sizes, keep their payload equal to the others'.
	joinLogAttrs := map[string]string{"ref_a": benchTraceID, "ref_b": benchSpanID, "request_id": benchRequestID, "user_id": "1234"}
	pointAttrs := map[string]string{"user_id": "1234", "request_id": benchRequestID, "http.route": "/orders", "region": "eu-1"}

	var vs []Variant
	// traces
	vs = append(vs,
		Variant{Name: "baseline", Signal: Traces, Attributes: spanAttrs},
		Variant{
			Name: "logtracejoin", Signal: Traces, Baseline: "baseline", Attributes: spanAttrs,
			Processors: []Processor{{ID: "logtracejoin"}},
			Note:       "traces through logtracejoin (defaults): every span's request_id is indexed; the component is in no logs pipeline here",
		},
	)
	if hc[Traces] {
		vs = append(vs, Variant{
			Name: "honeycombevents", Signal: Traces, Baseline: "baseline", Attributes: spanAttrs, Exporter: ExportHoneycomb,
			Note: "exporter honeycombevents (json, zstd) to the in-process Events API sink instead of otlp_grpc (gzip) to the OTLP sink",
		})
	}
	// logs
	vs = append(vs,
		Variant{Name: "baseline", Signal: Logs, Attributes: logAttrs},
		Variant{
			Name: "logtracejoin", Signal: Logs, Baseline: "baseline", Attributes: logAttrs,
			Processors: []Processor{{ID: "logtracejoin"}},
			Note:       "logs carry trace_id/span_id attributes: logtracejoin (defaults) extracts them into the record's trace context",
		},
		Variant{
			Name: "transform (OTTL trace ids)", Signal: Logs, Baseline: "baseline", Attributes: logAttrs,
			Processors: []Processor{{ID: "transform", Config: map[string]any{
				"error_mode": "ignore",
				"log_statements": []any{map[string]any{
					"context": "log",
					"statements": []string{
						`set(trace_id.string, attributes["trace_id"]) where attributes["trace_id"] != nil`,
						`set(span_id.string, attributes["span_id"]) where attributes["span_id"] != nil`,
					},
				}},
			}}},
			Note: "contrib transform: set(trace_id.string, attributes[\"trace_id\"]) and the same for span_id",
		},
		Variant{
			Name: "logtracejoin join", Signal: Logs, Baseline: "baseline", Attributes: joinLogAttrs, SideTraces: 200,
			Processors: []Processor{{ID: "logtracejoin"}},
			Note:       "logs carry request_id and no trace id (two unrecognized attributes of the same sizes keep the payload equal); a second telemetrygen sends 200 spans/s with the same request_id through the same logtracejoin (traces pipeline), and logs take the span's context by join; the CPU includes those spans",
		},
	)
	if hc[Logs] {
		vs = append(vs, Variant{
			Name: "honeycombevents", Signal: Logs, Baseline: "baseline", Attributes: logAttrs, Exporter: ExportHoneycomb,
			Note: "exporter honeycombevents (json, zstd) instead of otlp_grpc (gzip)",
		})
	}
	// metrics
	vs = append(vs,
		Variant{Name: "baseline", Signal: Metrics, Attributes: pointAttrs},
		Variant{
			Name: "cardinalityguard", Signal: Metrics, Baseline: "baseline", Attributes: pointAttrs,
			Processors: []Processor{{ID: "cardinalityguard", Config: map[string]any{
				"always_drop_labels":    []string{"user_id"},
				"max_values_per_label":  100,
				"max_series_per_metric": 2000,
			}}},
			Note: "cardinalityguard: always_drop_labels [user_id] (drop and re-aggregate), limits 100 values per label, 2000 series per metric",
		},
		Variant{
			Name: "transform (delete_key, limit)", Signal: Metrics, Baseline: "baseline", Attributes: pointAttrs,
			Processors: []Processor{{ID: "transform", Config: map[string]any{
				"error_mode": "ignore",
				"metric_statements": []any{map[string]any{
					"context": "datapoint",
					"statements": []string{
						`delete_key(attributes, "user_id")`,
						`limit(attributes, 2, ["http.route"])`,
					},
				}},
			}}},
			Note: "contrib transform: delete_key(attributes, \"user_id\") and limit(attributes, 2, [\"http.route\"]) per data point (no re-aggregation)",
		},
		Variant{
			Name: "attributes (delete)", Signal: Metrics, Baseline: "baseline", Attributes: pointAttrs,
			Processors: []Processor{{ID: "attributes", Config: map[string]any{
				"actions": []any{map[string]any{"key": "user_id", "action": "delete"}},
			}}},
			Note: "contrib attributes: action delete of user_id (no re-aggregation)",
		},
	)
	if hc[Metrics] {
		vs = append(vs, Variant{
			Name: "honeycombevents", Signal: Metrics, Baseline: "baseline", Attributes: pointAttrs, Exporter: ExportHoneycomb,
			Note: "exporter honeycombevents (json, zstd) instead of otlp_grpc (gzip)",
		})
	}
	return vs
}
