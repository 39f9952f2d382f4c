// Copyright prodscope authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape // import "github.com/prodscope/prodscope/receiver/pprofscrape"

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
)

// Config is the configuration of the pprofscrape receiver.
type Config struct {
	// ClientConfig holds the HTTP client settings shared by every target: tls, headers,
	// auth, proxy... Its `timeout` is the per-request timeout and its optional
	// `endpoint` is one extra target (used by receiver_creator, which fills `endpoint`).
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`

	// ResourceAttributes are set on the resource of the top-level `endpoint` target.
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`

	// CollectionInterval is how often every target is scraped.
	CollectionInterval time.Duration `mapstructure:"collection_interval"`
	// InitialDelay is waited after Start before the first scrapes (each target adds its jitter).
	InitialDelay time.Duration `mapstructure:"initial_delay"`
	// CPUDuration is the N of /debug/pprof/profile?seconds=N.
	CPUDuration time.Duration `mapstructure:"cpu_duration"`
	// MaxBodyBytes caps a response body as received (before decompression).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// MaxDecompressedBytes caps a profile's uncompressed protobuf; with it the memory one
	// scrape may take while decoding, parsing and converting is bounded (see README).
	MaxDecompressedBytes int64 `mapstructure:"max_decompressed_bytes"`
	// MaxSamples caps the samples of one profile.
	MaxSamples int64 `mapstructure:"max_samples"`
	// MaxLocations caps the locations (and, separately, the functions and mappings) of one profile.
	MaxLocations int64 `mapstructure:"max_locations"`
	// MaxStrings caps the string table of one profile.
	MaxStrings int64 `mapstructure:"max_strings"`
	// MaxConcurrentScrapes caps the targets scraped at the same time.
	MaxConcurrentScrapes int `mapstructure:"max_concurrent_scrapes"`
	// MaxConcurrentParses caps the target scrapes decoded, parsed and converted at the
	// same time, across all targets: the receiver's memory bound.
	MaxConcurrentParses int `mapstructure:"max_concurrent_parses"`
	// Profiles lists the profile types scraped from every target without its own list.
	Profiles []string `mapstructure:"profiles"`
	// TraceIDLabel and SpanIDLabel are the pprof label keys whose values link a sample to
	// a span (OTLP link table); empty TraceIDLabel or SpanIDLabel: no links.
	TraceIDLabel string `mapstructure:"trace_id_label"`
	SpanIDLabel  string `mapstructure:"span_id_label"`
	// TopFunctions is the N of the top-N functions metrics (by flat and by cum).
	TopFunctions int `mapstructure:"top_functions"`
	// Targets is the static list of targets.
	Targets []TargetConfig `mapstructure:"targets"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// TargetConfig is one scraped Go program.
type TargetConfig struct {
	// Name is the target's `target` attribute in the self-telemetry (default: the endpoint).
	Name string `mapstructure:"name"`
	// Endpoint is the base URL; profiles are fetched from <endpoint>/debug/pprof/<type>.
	Endpoint string `mapstructure:"endpoint"`
	// ResourceAttributes are set on the resource of every profile and metric of this target.
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`
	// Profiles overrides the receiver's `profiles` for this target when not empty.
	Profiles []string `mapstructure:"profiles"`

	// prevent unkeyed literal initialization
	_ struct{}
}

const maxTopFunctions = 1000

// Validate checks the configuration; every error names the YAML key at fault.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval must be positive, got %s", cfg.CollectionInterval))
	}
	if cfg.InitialDelay < 0 {
		errs = append(errs, fmt.Errorf("initial_delay must not be negative, got %s", cfg.InitialDelay))
	}
	if cfg.ClientConfig.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %s", cfg.ClientConfig.Timeout))
	}
	if cfg.CPUDuration < time.Second || cfg.CPUDuration%time.Second != 0 {
		errs = append(errs, fmt.Errorf("cpu_duration must be a whole number of seconds, at least 1s, got %s", cfg.CPUDuration))
	}
	if cfg.CollectionInterval > 0 && cfg.CPUDuration >= cfg.CollectionInterval {
		errs = append(errs, fmt.Errorf("cpu_duration (%s) must be less than collection_interval (%s)", cfg.CPUDuration, cfg.CollectionInterval))
	}
	if cfg.ClientConfig.Timeout > 0 && cfg.CPUDuration >= cfg.ClientConfig.Timeout {
		errs = append(errs, fmt.Errorf("cpu_duration (%s) must be less than timeout (%s)", cfg.CPUDuration, cfg.ClientConfig.Timeout))
	}
	if cfg.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_body_bytes must be positive, got %d", cfg.MaxBodyBytes))
	}
	for _, l := range []struct {
		key string
		v   int64
	}{
		{"max_decompressed_bytes", cfg.MaxDecompressedBytes},
		{"max_samples", cfg.MaxSamples},
		{"max_locations", cfg.MaxLocations},
		{"max_strings", cfg.MaxStrings},
		{"max_concurrent_parses", int64(cfg.MaxConcurrentParses)},
	} {
		if l.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", l.key, l.v))
		}
	}
	if cfg.MaxConcurrentScrapes <= 0 {
		errs = append(errs, fmt.Errorf("max_concurrent_scrapes must be positive, got %d", cfg.MaxConcurrentScrapes))
	}
	if cfg.TopFunctions < 0 || cfg.TopFunctions > maxTopFunctions {
		errs = append(errs, fmt.Errorf("top_functions must be between 0 and %d, got %d", maxTopFunctions, cfg.TopFunctions))
	}
	if (cfg.TraceIDLabel == "") != (cfg.SpanIDLabel == "") {
		errs = append(errs, fmt.Errorf("trace_id_label (%q) and span_id_label (%q) must both be set or both be empty", cfg.TraceIDLabel, cfg.SpanIDLabel))
	} else if cfg.TraceIDLabel != "" && cfg.TraceIDLabel == cfg.SpanIDLabel {
		errs = append(errs, fmt.Errorf("trace_id_label and span_id_label must differ, both are %q", cfg.TraceIDLabel))
	}
	if len(cfg.Profiles) == 0 {
		errs = append(errs, errors.New("profiles must list at least one profile type"))
	}
	errs = append(errs, validateProfiles("profiles", cfg.Profiles)...)

	if cfg.ClientConfig.Endpoint == "" && len(cfg.Targets) == 0 {
		errs = append(errs, errors.New("targets must list at least one target (or endpoint must be set)"))
	}
	if cfg.ClientConfig.Endpoint != "" {
		if err := validateEndpoint(normalizeEndpoint(cfg.ClientConfig.Endpoint)); err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %w", err))
		}
	}
	seen, names := map[string]int{}, map[string]int{}
	for i, t := range cfg.Targets {
		key := fmt.Sprintf("targets[%d]", i)
		if err := validateEndpoint(t.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("%s.endpoint: %w", key, err))
		}
		if j, dup := seen[t.Endpoint]; dup && t.Endpoint != "" {
			errs = append(errs, fmt.Errorf("%s.endpoint: %q repeats targets[%d].endpoint", key, t.Endpoint, j))
		}
		seen[t.Endpoint] = i
		if t.Name != "" {
			if j, dup := names[t.Name]; dup {
				errs = append(errs, fmt.Errorf("%s.name: %q repeats targets[%d].name", key, t.Name, j))
			}
			names[t.Name] = i
		}
		errs = append(errs, validateProfiles(key+".profiles", t.Profiles)...)
	}
	return errors.Join(errs...)
}

func validateProfiles(key string, types []string) []error {
	var errs []error
	for i, p := range types {
		if !profiletype.IsKnown(p) {
			errs = append(errs, fmt.Errorf("%s[%d]: unknown profile type %q (want one of %v)", key, i, p, profiletype.Names))
			continue
		}
		if slices.Index(types, p) != i {
			errs = append(errs, fmt.Errorf("%s[%d]: profile type %q listed twice", key, i, p))
		}
	}
	return errs
}

func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("must not be empty")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q must use http or https", endpoint)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("URL %q must be a base URL without query or fragment", endpoint)
	}
	return nil
}

// normalizeEndpoint gives a scheme-less `host:port` (what receiver_creator fills into the
// top-level `endpoint`) the http scheme.
func normalizeEndpoint(endpoint string) string {
	if endpoint != "" && !strings.Contains(endpoint, "://") {
		return "http://" + endpoint
	}
	return endpoint
}

// limits are the per-profile decoding limits of the configuration.
func (cfg *Config) limits() fetch.Limits {
	return fetch.Limits{
		MaxDecompressedBytes: cfg.MaxDecompressedBytes,
		MaxSamples:           cfg.MaxSamples,
		MaxLocations:         cfg.MaxLocations,
		MaxStrings:           cfg.MaxStrings,
	}
}
