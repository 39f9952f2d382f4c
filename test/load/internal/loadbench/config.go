// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package loadbench drives the built prodscope collector with telemetrygen and
// measures throughput, CPU per item and peak RSS for pipelines with and
// without each of our components (and the contrib components that do
// comparable work). The pure parts (config generation, /proc parsing,
// Prometheus text parsing, table rendering) are unit tested; the load runs
// are not part of `go test`.
package loadbench

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Signal names as telemetrygen spells its subcommands.
const (
	Traces   = "traces"
	Logs     = "logs"
	Metrics  = "metrics"
	Profiles = "profiles"
)

// Exporter kinds a variant can send to.
const (
	ExportOTLP      = "otlp_grpc"
	ExportHoneycomb = "honeycombevents"
)

// Processor is one processor of a variant's pipeline: its component id and
// its configuration (nil for defaults).
type Processor struct {
	ID     string
	Config map[string]any
}

// Variant is one pipeline measured under load for one signal.
type Variant struct {
	// Name as it appears in the table ("baseline", "cardinalityguard", ...).
	Name string
	// Signal is the signal telemetrygen sends and the sink counts.
	Signal string
	// Baseline names the variant of the same signal the ratios are taken
	// against; empty for a baseline itself.
	Baseline string
	// Processors run before `batch`, in order.
	Processors []Processor
	// Exporter is ExportOTLP (the in-process OTLP sink) or ExportHoneycomb
	// (the honeycombevents exporter to the in-process Events API sink).
	Exporter string
	// Attributes are telemetrygen --telemetry-attributes (per item).
	Attributes map[string]string
	// SideTraces, when > 0, adds a traces pipeline through the same
	// processors and runs a second telemetrygen sending that many traces per
	// second with the same attributes (logtracejoin's join needs spans).
	SideTraces float64
	// Note is printed under the table.
	Note string
}

// Ports are the loopback addresses one collector run uses.
type Ports struct {
	OTLP      string // the collector's OTLP/gRPC receiver
	Health    string // health_check extension
	Metrics   string // the collector's own Prometheus metrics (host:port)
	Sink      string // in-process OTLP/gRPC sink
	Honeycomb string // in-process Events API sink (host:port)
}

// QueueConfig is the sending_queue every exporter gets: small and blocking, so
// an overloaded pipeline pushes back on telemetrygen instead of buffering
// without bound, and a run drains in a bounded time.
func QueueConfig() map[string]any {
	return map[string]any{"queue_size": 20, "block_on_overflow": true}
}

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i <= 0 || i == len(addr)-1 {
		return "", "", fmt.Errorf("address %q is not host:port", addr)
	}
	return addr[:i], addr[i+1:], nil
}

func baseConfig(p Ports) (map[string]any, error) {
	host, portStr, err := splitHostPort(p.Metrics)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %q: %w", p.Metrics, err)
	}
	return map[string]any{
		"extensions": map[string]any{
			"health_check": map[string]any{"endpoint": p.Health},
		},
		"service": map[string]any{
			"extensions": []string{"health_check"},
			"telemetry": map[string]any{
				"logs": map[string]any{"level": "warn"},
				"metrics": map[string]any{
					"level": "normal",
					"readers": []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
						"prometheus": map[string]any{"host": host, "port": port},
					}}}},
				},
			},
		},
	}, nil
}

func otlpReceiver(p Ports) map[string]any {
	return map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": p.OTLP}}}
}

func sinkExporter(p Ports) map[string]any {
	return map[string]any{
		"endpoint":      p.Sink,
		"tls":           map[string]any{"insecure": true},
		"sending_queue": QueueConfig(),
	}
}

func honeycombExporter(p Ports) map[string]any {
	return map[string]any{
		"endpoint":      "http://" + p.Honeycomb,
		"api_key":       "loadbench",
		"dataset":       "loadbench",
		"encoding":      "json",
		"sending_queue": QueueConfig(),
	}
}

// CollectorConfig renders the collector configuration of one variant:
// otlp -> [processors..., batch] -> sink, on the given loopback ports.
func CollectorConfig(v Variant, p Ports) (string, error) {
	switch v.Signal {
	case Traces, Logs, Metrics:
	default:
		return "", fmt.Errorf("variant %q: unknown signal %q", v.Name, v.Signal)
	}
	cfg, err := baseConfig(p)
	if err != nil {
		return "", err
	}
	cfg["receivers"] = map[string]any{"otlp": otlpReceiver(p)}

	procs := map[string]any{"batch": map[string]any{}}
	var chain []string
	for _, pr := range v.Processors {
		if pr.ID == "" || pr.ID == "batch" {
			return "", fmt.Errorf("variant %q: processor id %q not allowed", v.Name, pr.ID)
		}
		if _, dup := procs[pr.ID]; dup {
			return "", fmt.Errorf("variant %q: processor %q twice", v.Name, pr.ID)
		}
		if pr.Config == nil {
			procs[pr.ID] = map[string]any{}
		} else {
			procs[pr.ID] = pr.Config
		}
		chain = append(chain, pr.ID)
	}
	chain = append(chain, "batch")
	cfg["processors"] = procs

	var exporterID string
	switch v.Exporter {
	case "", ExportOTLP:
		exporterID = "otlp_grpc/sink"
		cfg["exporters"] = map[string]any{exporterID: sinkExporter(p)}
	case ExportHoneycomb:
		if p.Honeycomb == "" {
			return "", fmt.Errorf("variant %q: no honeycomb sink address", v.Name)
		}
		exporterID = "honeycombevents/sink"
		cfg["exporters"] = map[string]any{exporterID: honeycombExporter(p)}
	default:
		return "", fmt.Errorf("variant %q: unknown exporter %q", v.Name, v.Exporter)
	}

	pipelines := map[string]any{
		v.Signal: map[string]any{
			"receivers":  []string{"otlp"},
			"processors": chain,
			"exporters":  []string{exporterID},
		},
	}
	if v.SideTraces > 0 && v.Signal != Traces {
		pipelines[Traces] = map[string]any{
			"receivers":  []string{"otlp"},
			"processors": chain,
			"exporters":  []string{exporterID},
		}
	}
	cfg["service"].(map[string]any)["pipelines"] = pipelines
	return marshal(cfg)
}

// PprofMode selects the receiver of a pprof comparison run.
type PprofMode string

// The pprof comparison's three runs.
const (
	PprofIdle     PprofMode = "idle"          // no scraping: the collector's own idle cost
	PprofScrape   PprofMode = "pprofscrape"   // one pprofscrape receiver with every target
	PprofReceiver PprofMode = "pprofreceiver" // one contrib pprof receiver per target
)

// PprofOptions are the knobs of the pprof comparison's collector configs.
type PprofOptions struct {
	Interval    string   // collection interval, e.g. "3s"
	CPUDuration string   // pprofscrape cpu_duration (must be < Interval even when cpu is not scraped)
	Types       []string // pprofscrape profile types
}

// PprofConfig renders the collector configuration of one pprof comparison run
// against the given target addresses (host:port each).
func PprofConfig(mode PprofMode, targets []string, o PprofOptions, p Ports) (string, error) {
	cfg, err := baseConfig(p)
	if err != nil {
		return "", err
	}
	exporters := map[string]any{"otlp_grpc/sink": sinkExporter(p)}
	cfg["exporters"] = exporters
	receivers := map[string]any{}
	pipelines := map[string]any{}
	switch mode {
	case PprofIdle:
		receivers["otlp"] = otlpReceiver(p)
		cfg["processors"] = map[string]any{"batch": map[string]any{}}
		pipelines[Metrics] = map[string]any{"receivers": []string{"otlp"}, "processors": []string{"batch"}, "exporters": []string{"otlp_grpc/sink"}}
	case PprofScrape:
		if len(targets) == 0 {
			return "", errors.New("pprofscrape: no targets")
		}
		var ts []any
		for i, t := range targets {
			ts = append(ts, map[string]any{
				"endpoint":            "http://" + t,
				"resource_attributes": map[string]any{"service.name": fmt.Sprintf("target-%d", i)},
			})
		}
		rc := map[string]any{"collection_interval": o.Interval, "initial_delay": "0s", "targets": ts}
		if o.CPUDuration != "" {
			rc["cpu_duration"] = o.CPUDuration
		}
		if len(o.Types) > 0 {
			rc["profiles"] = o.Types
		}
		receivers["pprofscrape"] = rc
		cfg["processors"] = map[string]any{"batch": map[string]any{}}
		pipelines[Metrics] = map[string]any{"receivers": []string{"pprofscrape"}, "processors": []string{"batch"}, "exporters": []string{"otlp_grpc/sink"}}
		pipelines[Profiles] = map[string]any{"receivers": []string{"pprofscrape"}, "exporters": []string{"otlp_grpc/sink"}}
	case PprofReceiver:
		if len(targets) == 0 {
			return "", errors.New("pprofreceiver: no targets")
		}
		var ids []string
		for i, t := range targets {
			id := fmt.Sprintf("pprof/%d", i)
			// The contrib receiver's config (v0.144.0) is confighttp's client
			// config and nothing else: one endpoint per instance, no interval.
			receivers[id] = map[string]any{"endpoint": "http://" + t}
			ids = append(ids, id)
		}
		sort.Strings(ids)
		pipelines[Profiles] = map[string]any{"receivers": ids, "exporters": []string{"otlp_grpc/sink"}}
	default:
		return "", fmt.Errorf("unknown pprof mode %q", mode)
	}
	cfg["receivers"] = receivers
	cfg["service"].(map[string]any)["pipelines"] = pipelines
	return marshal(cfg)
}

func marshal(cfg map[string]any) (string, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// TelemetrygenArgs renders the telemetrygen command line (without the binary)
// for one signal run: `rate` items per second per worker (0: unthrottled).
func TelemetrygenArgs(signal, endpoint string, duration string, rate float64, workers int, attrs map[string]string) []string {
	args := []string{
		signal,
		"--otlp-endpoint", endpoint,
		"--otlp-insecure",
		"--duration", duration,
		"--rate", trimFloat(rate),
		"--workers", strconv.Itoa(workers),
		"--allow-export-failures",
	}
	switch signal {
	case Traces:
		args = append(args, "--child-spans", "0")
	case Metrics:
		args = append(args, "--metric-type", "Sum", "--aggregation-temporality", "cumulative")
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--telemetry-attributes", fmt.Sprintf("%s=%q", k, attrs[k]))
	}
	return args
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
