// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import "testing"

func TestParsePromSums(t *testing.T) {
	text := `# HELP otelcol_receiver_accepted_spans_total Number of spans successfully pushed into the pipeline.
# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{receiver="otlp",service_instance_id="a b",transport="grpc"} 1200
otelcol_receiver_accepted_spans_total{receiver="otlp",transport="http"} 34
otelcol_receiver_refused_spans_total{receiver="otlp",transport="grpc"} 0
otelcol_process_uptime 12.5
otelcol_receiver_pprofscrape_scrape_duration_seconds_count{endpoint="http://127.0.0.1:1/",profile_type="heap"} 7
otelcol_receiver_pprofscrape_scrape_duration_seconds_count{endpoint="http://127.0.0.1:2/",profile_type="heap"} 5
otelcol_receiver_pprofscrape_scrape_duration_seconds_sum{endpoint="http://127.0.0.1:2/"} 0.5
broken{ 12
also_broken NaNx
`
	m := ParsePromSums(text)
	if m[AcceptedMetric(Traces)] != 1234 {
		t.Errorf("accepted spans = %v, want 1234", m[AcceptedMetric(Traces)])
	}
	if v, ok := m[RefusedMetric(Traces)]; !ok || v != 0 {
		t.Errorf("refused spans = %v, %v", v, ok)
	}
	if m["otelcol_process_uptime"] != 12.5 {
		t.Errorf("uptime %v", m["otelcol_process_uptime"])
	}
	if _, ok := m["broken"]; ok {
		t.Error("parsed a broken line")
	}
	if n, ok := SumFamilies(m, "otelcol_receiver_pprofscrape_scrape_duration", "_count"); !ok || n != 12 {
		t.Errorf("scrapes = %v, %v", n, ok)
	}
	if _, ok := SumFamilies(m, "otelcol_nothing", ""); ok {
		t.Error("found a family that is not there")
	}
	for _, s := range []string{Traces, Logs, Metrics} {
		if AcceptedMetric(s) == "" || RefusedMetric(s) == "" {
			t.Errorf("%s: no metric name", s)
		}
	}
	if AcceptedMetric(Profiles) != "" {
		t.Error("profiles have no accepted counter here")
	}
}
