// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"bufio"
	"strconv"
	"strings"
)

// ParsePromSums sums, per metric family, every sample of the Prometheus text
// exposition: labels are ignored and a `_total` suffix is removed, so
// `otelcol_receiver_accepted_spans_total{...}` and
// `otelcol_receiver_accepted_spans{...}` both count under
// `otelcol_receiver_accepted_spans`. Comments and unparsable lines are skipped.
func ParsePromSums(text string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var name, rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, rest = line[:i], line[j+1:]
		} else {
			sp := strings.IndexAny(line, " \t")
			if sp < 0 {
				continue
			}
			name, rest = line[:sp], line[sp:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out[strings.TrimSuffix(name, "_total")] += v
	}
	return out
}

// AcceptedMetric is the collector's own counter of items its receivers
// accepted, per signal.
func AcceptedMetric(signal string) string {
	switch signal {
	case Traces:
		return "otelcol_receiver_accepted_spans"
	case Logs:
		return "otelcol_receiver_accepted_log_records"
	case Metrics:
		return "otelcol_receiver_accepted_metric_points"
	}
	return ""
}

// RefusedMetric is the counter of items the receivers refused (back-pressure
// or errors), per signal.
func RefusedMetric(signal string) string {
	switch signal {
	case Traces:
		return "otelcol_receiver_refused_spans"
	case Logs:
		return "otelcol_receiver_refused_log_records"
	case Metrics:
		return "otelcol_receiver_refused_metric_points"
	}
	return ""
}

// SumFamilies adds up every family in sums whose name starts with prefix and
// ends with suffix (e.g. a histogram's "_count" whatever its unit suffix).
func SumFamilies(sums map[string]float64, prefix, suffix string) (float64, bool) {
	var total float64
	found := false
	for name, v := range sums {
		if strings.HasPrefix(name, prefix) && strings.HasSuffix(name, suffix) {
			total += v
			found = true
		}
	}
	return total, found
}
