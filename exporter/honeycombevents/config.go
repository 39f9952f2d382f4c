// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents // import "github.com/prodscope/prodscope/exporter/honeycombevents"

import (
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
	// dataset is the service.name resource attribute of each event.
	Dataset string `mapstructure:"dataset"`
	// UnknownDataset is the dataset of events without service.name when
	// Dataset is empty.
	UnknownDataset string `mapstructure:"unknown_dataset"`
	// Encoding is json or msgpack.
	Encoding Encoding `mapstructure:"encoding"`
	// SampleRateAttribute names the attribute that carries the sample rate;
	// it is removed from the event's fields.
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

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every message names the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ClientConfig.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set (for example https://api.honeycomb.io)"))
	} else if u, err := url.Parse(cfg.ClientConfig.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: not a valid URL: %w", err))
	} else if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, fmt.Errorf("endpoint: scheme must be http or https, got %q", u.Scheme))
	} else if u.Host == "" {
		errs = append(errs, errors.New("endpoint: has no host"))
	} else if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, errors.New("endpoint: must not carry a query or fragment"))
	}
	if strings.TrimSpace(string(cfg.APIKey)) == "" {
		errs = append(errs, errors.New("api_key: must be set (for example ${env:HONEYCOMB_API_KEY})"))
	}
	if cfg.Dataset == "" && strings.TrimSpace(cfg.UnknownDataset) == "" {
		errs = append(errs, errors.New("unknown_dataset: must be set when dataset is empty"))
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
