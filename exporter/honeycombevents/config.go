// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents // import "github.com/prodscope/prodscope/exporter/honeycombevents"

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Encoding is the wire encoding of a batch body.
type Encoding string

const (
	// EncodingJSON sends batches as a JSON array (Content-Type application/json).
	EncodingJSON Encoding = "json"
	// EncodingMsgpack sends batches as a msgpack array (Content-Type application/msgpack).
	EncodingMsgpack Encoding = "msgpack"
)

const (
	// apiMaxBatchBytes is the Events API's limit for one uncompressed batch body.
	apiMaxBatchBytes = 5_000_000
	// apiMaxEventBytes is the Events API's limit for one event.
	apiMaxEventBytes = 1_000_000
	// apiMaxFields is the number of fields a Honeycomb event may carry.
	apiMaxFields = 2000
	// minEventBytes is the smallest max_event_bytes that still leaves room for
	// the fields every event carries (ids, name, timestamps).
	minEventBytes = 1024
	// minFields leaves room for the fixed fields of a span event.
	minFields = 20
	// maxDatasetLen is the longest dataset name Honeycomb accepts.
	maxDatasetLen = 255
)

// Config defines the configuration of the honeycombevents exporter.
type Config struct {
	// ClientConfig carries endpoint, tls, headers, timeout, proxy_url and
	// compression. Compression is applied by the exporter itself (zstd, gzip
	// or none), not by the confighttp round tripper.
	ClientConfig confighttp.ClientConfig                                  `mapstructure:",squash"`
	QueueConfig  configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig  configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// APIKey is sent as X-Honeycomb-Team. It is never logged.
	APIKey configopaque.String `mapstructure:"api_key"`
	// Dataset, when set, is the dataset of every event. When empty the
	// dataset is the service.name resource attribute of each event
	// (environment keys only: a classic key needs a dataset).
	Dataset string `mapstructure:"dataset"`
	// UnknownDataset is the dataset of events without service.name when
	// Dataset is empty. Empty: unknown_service for traces and metrics,
	// unknown_log_source for logs (Honeycomb's names).
	UnknownDataset string `mapstructure:"unknown_dataset"`
	// Traces, Logs and Metrics override Dataset and UnknownDataset per signal.
	Traces  SignalConfig  `mapstructure:"traces"`
	Logs    SignalConfig  `mapstructure:"logs"`
	Metrics MetricsConfig `mapstructure:"metrics"`
	// Encoding is json or msgpack.
	Encoding Encoding `mapstructure:"encoding"`
	// SampleRateAttribute names the one attribute that carries the sample
	// rate; it is removed from the event's fields. Empty (the default):
	// Honeycomb's rule, `sampleRate` and then `SampleRate`.
	SampleRateAttribute string `mapstructure:"sample_rate_attribute"`
	// MaxBatchBytes bounds one uncompressed batch body; batches are split before it.
	MaxBatchBytes int `mapstructure:"max_batch_bytes"`
	// MaxEventBytes bounds one encoded event; larger events are trimmed or refused.
	MaxEventBytes int `mapstructure:"max_event_bytes"`
	// MaxFields bounds the number of fields of one event.
	MaxFields int `mapstructure:"max_fields"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SignalConfig picks the datasets of one signal.
type SignalConfig struct {
	// Dataset, when set, is the dataset of every event of the signal.
	Dataset string `mapstructure:"dataset"`
	// UnknownDataset replaces the exporter's unknown_dataset for the signal.
	UnknownDataset string `mapstructure:"unknown_dataset"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// MetricsConfig is the metrics signal's SignalConfig and its options.
type MetricsConfig struct {
	SignalConfig `mapstructure:",squash"`
	// HistogramPercentiles adds <name>.p50/.p90/.p95/.p99 estimated from
	// the buckets of histograms and exponential histograms.
	HistogramPercentiles bool `mapstructure:"histogram_percentiles"`
}

var _ component.Config = (*Config)(nil)

const (
	unknownService   = "unknown_service"
	unknownLogSource = "unknown_log_source"
)

// datasets returns the dataset and unknown dataset of a signal: the
// signal's own, else the exporter's, else Honeycomb's fallback name.
func (cfg *Config) datasets(sig signal) (dataset, unknown string) {
	var sc SignalConfig
	fallback := unknownService
	switch sig {
	case signalTraces:
		sc = cfg.Traces
	case signalLogs:
		sc, fallback = cfg.Logs, unknownLogSource
	case signalMetrics:
		sc = cfg.Metrics.SignalConfig
	}
	dataset = cmp.Or(sc.Dataset, cfg.Dataset)
	unknown = cmp.Or(sc.UnknownDataset, cfg.UnknownDataset, fallback)
	return dataset, unknown
}

// isClassicKey reports whether key is a Honeycomb Classic key: 32 lowercase
// hex digits, or a 64-character classic ingest key (hc<letter>ic_ then
// lowercase letters and digits). Classic environments route by dataset,
// never by service.name.
func isClassicKey(key string) bool {
	switch len(key) {
	case 32:
		for i := range len(key) {
			if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
		return true
	case 64:
		if key[:2] != "hc" || key[2] < 'a' || key[2] > 'z' || key[3:6] != "ic_" {
			return false
		}
		for i := 6; i < len(key); i++ {
			if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') {
				return false
			}
		}
		return true
	}
	return false
}

// validateDatasetName rejects a configured dataset name the Events API
// would refuse or that is almost certainly a mistake.
func validateDatasetName(key, v string) error {
	switch {
	case v == "":
		return nil
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s: must not be blank", key)
	case strings.TrimSpace(v) != v:
		return fmt.Errorf("%s: must not start or end with white space, got %q", key, v)
	case strings.Contains(v, "/"):
		return fmt.Errorf("%s: must not contain \"/\" (the Events API refuses it), got %q", key, v)
	case len(v) > maxDatasetLen:
		return fmt.Errorf("%s: must be at most %d bytes, got %d", key, maxDatasetLen, len(v))
	}
	return nil
}

// validateEndpoint rejects an endpoint the exporter cannot send to.
func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("endpoint: must be set (for example https://api.honeycomb.io)")
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return fmt.Errorf("endpoint: not a valid URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("endpoint: scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		return errors.New("endpoint: has no host")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("endpoint: must not carry a query or fragment")
	}
	return nil
}

// Validate checks the configuration; every message names the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	if err := validateEndpoint(cfg.ClientConfig.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(string(cfg.APIKey)) == "" {
		errs = append(errs, errors.New("api_key: must be set (for example ${env:HONEYCOMB_API_KEY})"))
	}
	for _, d := range []struct{ key, v string }{
		{"dataset", cfg.Dataset},
		{"unknown_dataset", cfg.UnknownDataset},
		{"traces::dataset", cfg.Traces.Dataset},
		{"traces::unknown_dataset", cfg.Traces.UnknownDataset},
		{"logs::dataset", cfg.Logs.Dataset},
		{"logs::unknown_dataset", cfg.Logs.UnknownDataset},
		{"metrics::dataset", cfg.Metrics.Dataset},
		{"metrics::unknown_dataset", cfg.Metrics.UnknownDataset},
	} {
		if err := validateDatasetName(d.key, d.v); err != nil {
			errs = append(errs, err)
		}
	}
	if isClassicKey(string(cfg.APIKey)) {
		for _, sig := range []struct {
			name string
			sig  signal
		}{{"traces", signalTraces}, {"logs", signalLogs}, {"metrics", signalMetrics}} {
			if ds, _ := cfg.datasets(sig.sig); ds == "" {
				errs = append(errs, fmt.Errorf("dataset: a Honeycomb Classic api_key sends to a fixed dataset: set dataset (or %s::dataset)", sig.name))
			}
		}
	}
	switch cfg.Encoding {
	case EncodingJSON, EncodingMsgpack:
	default:
		errs = append(errs, fmt.Errorf("encoding: must be json or msgpack, got %q", cfg.Encoding))
	}
	switch cfg.ClientConfig.Compression {
	case configcompression.TypeZstd, configcompression.TypeGzip, "none", "":
	default:
		errs = append(errs, fmt.Errorf("compression: must be zstd, gzip or none, got %q", cfg.ClientConfig.Compression))
	}
	if cfg.MaxBatchBytes < minEventBytes || cfg.MaxBatchBytes > apiMaxBatchBytes {
		errs = append(errs, fmt.Errorf("max_batch_bytes: must be between %d and %d, got %d", minEventBytes, apiMaxBatchBytes, cfg.MaxBatchBytes))
	}
	if cfg.MaxEventBytes < minEventBytes || cfg.MaxEventBytes > apiMaxEventBytes {
		errs = append(errs, fmt.Errorf("max_event_bytes: must be between %d and %d, got %d", minEventBytes, apiMaxEventBytes, cfg.MaxEventBytes))
	} else if cfg.MaxEventBytes > cfg.MaxBatchBytes-2 && cfg.MaxBatchBytes >= minEventBytes {
		errs = append(errs, fmt.Errorf("max_event_bytes: must be smaller than max_batch_bytes (%d), got %d", cfg.MaxBatchBytes, cfg.MaxEventBytes))
	}
	if cfg.MaxFields < minFields || cfg.MaxFields > apiMaxFields {
		errs = append(errs, fmt.Errorf("max_fields: must be between %d and %d, got %d", minFields, apiMaxFields, cfg.MaxFields))
	}
	if cfg.ClientConfig.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative, got %s", cfg.ClientConfig.Timeout))
	}
	return errors.Join(errs...)
}

// compression returns the effective compression: "" and "none" mean none.
func (cfg *Config) compression() configcompression.Type {
	if cfg.ClientConfig.Compression == "none" {
		return ""
	}
	return cfg.ClientConfig.Compression
}
