// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape // import "github.com/prodscope/prodscope/receiver/pprofscrape"

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
)

// Config is the configuration of the pprofscrape receiver.
type Config struct {
	// ClientConfig holds the HTTP client settings shared by every target: tls, headers,
	// auth, proxy... Its `timeout` is the per-request timeout and its optional
	// `endpoint` is one extra target (used by receiver_creator, which fills `endpoint`).
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`

	// MetricsBuilderConfig says which of the computed metrics are emitted (`metrics:`,
	// e.g. `metrics: {pprof.function.cum: {enabled: false}}`); every one is by default.
	metadata.MetricsBuilderConfig `mapstructure:",squash"`

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
	// Profiles lists the profiles scraped from every target without its own list: known
	// profile types, or names defined in ProfileSettings.
	Profiles []string `mapstructure:"profiles"`
	// ProfileSettings overrides, by profile name, the path and collection interval of a
	// known type, or defines a custom profile (its path and the type it is read as).
	ProfileSettings map[string]ProfileSettings `mapstructure:"profile_settings"`
	// PathPrefix goes between the endpoint and every profile path, for `endpoint` and
	// for targets without their own.
	PathPrefix string `mapstructure:"path_prefix"`
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

// ProfileSettings are the settings of one profile name.
type ProfileSettings struct {
	// Path replaces the type's default path (e.g. /debug/pprof/heap); it may carry a query.
	Path string `mapstructure:"path"`
	// Type is the profile type a custom name is read as (cpu, heap, delta_heap...);
	// for a known type's name it must be empty or the name itself.
	Type string `mapstructure:"type"`
	// CollectionInterval replaces the receiver's collection_interval for this profile.
	CollectionInterval time.Duration `mapstructure:"collection_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// TargetConfig is one scraped Go program.
type TargetConfig struct {
	// PathPrefix replaces the receiver's path_prefix for this target.
	PathPrefix *string `mapstructure:"path_prefix"`
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
	errs = append(errs, cfg.validateProfiles("profiles", cfg.Profiles)...)
	errs = append(errs, cfg.validateProfileSettings()...)
	if err := validatePrefix(cfg.PathPrefix); err != nil {
		errs = append(errs, fmt.Errorf("path_prefix: %w", err))
	}

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
		errs = append(errs, cfg.validateProfiles(key+".profiles", t.Profiles)...)
		if t.PathPrefix != nil {
			if err := validatePrefix(*t.PathPrefix); err != nil {
				errs = append(errs, fmt.Errorf("%s.path_prefix: %w", key, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (cfg *Config) validateProfiles(key string, names []string) []error {
	var errs []error
	for i, p := range names {
		if _, custom := cfg.ProfileSettings[p]; !profiletype.IsKnown(p) && !custom {
			errs = append(errs, fmt.Errorf("%s[%d]: unknown profile %q (want one of %v, or a name defined in profile_settings)", key, i, p, profiletype.Names))
			continue
		}
		if slices.Index(names, p) != i {
			errs = append(errs, fmt.Errorf("%s[%d]: profile %q listed twice", key, i, p))
		}
	}
	return errs
}

func (cfg *Config) validateProfileSettings() []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.ProfileSettings)) {
		ps := cfg.ProfileSettings[name]
		key := "profile_settings::" + name
		switch {
		case profiletype.IsKnown(name):
			if ps.Type != "" && ps.Type != name {
				errs = append(errs, fmt.Errorf("%s.type: %q is a profile type itself; type is for custom profiles", key, ps.Type))
			}
		case ps.Type == "":
			errs = append(errs, fmt.Errorf("%s.type: a custom profile needs the profile type it is read as (one of %v)", key, profiletype.Names))
		case !profiletype.IsKnown(ps.Type):
			errs = append(errs, fmt.Errorf("%s.type: unknown profile type %q (want one of %v)", key, ps.Type, profiletype.Names))
		case ps.Path == "":
			errs = append(errs, fmt.Errorf("%s.path: a custom profile needs a path", key))
		}
		if ps.Path != "" {
			if err := validatePath(ps.Path); err != nil {
				errs = append(errs, fmt.Errorf("%s.path: %w", key, err))
			}
		}
		if ps.CollectionInterval < 0 {
			errs = append(errs, fmt.Errorf("%s.collection_interval must not be negative, got %s", key, ps.CollectionInterval))
		}
		if iv := cfg.intervalOf(name); cfg.typeOf(name) == "cpu" && iv > 0 && cfg.CPUDuration >= iv {
			errs = append(errs, fmt.Errorf("%s.collection_interval (%s) must be greater than cpu_duration (%s)", key, iv, cfg.CPUDuration))
		}
	}
	return errs
}

// typeOf is the profile type of profile name n.
func (cfg *Config) typeOf(n string) string {
	if profiletype.IsKnown(n) {
		return n
	}
	if ps, ok := cfg.ProfileSettings[n]; ok && ps.Type != "" {
		return ps.Type
	}
	return n
}

// intervalOf is the collection interval of profile name n.
func (cfg *Config) intervalOf(n string) time.Duration {
	if ps, ok := cfg.ProfileSettings[n]; ok && ps.CollectionInterval > 0 {
		return ps.CollectionInterval
	}
	return cfg.CollectionInterval
}

func validatePath(p string) error {
	u, err := url.Parse(p)
	if err != nil {
		return fmt.Errorf("invalid path %q: %w", p, err)
	}
	if !strings.HasPrefix(p, "/") || u.Host != "" || u.Scheme != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute path (starting with /), optionally with a query", p)
	}
	// /cmdline can carry secrets passed as flags; /trace is an execution trace, not a profile.
	if strings.HasSuffix(u.Path, "/cmdline") || strings.HasSuffix(u.Path, "/trace") {
		return fmt.Errorf("%q: the receiver never requests /cmdline or /trace", p)
	}
	return nil
}

func validatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "?#") {
		return fmt.Errorf("%q must start with / and end without /, with no query", p)
	}
	return nil
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

// trackedConns is how many connections the receiver remembers to close on Shutdown: those
// the client may keep idle (maxIdle; 0, no global cap, counts as the default cap) plus one
// per profile type of each scrape in flight.
func (cfg *Config) trackedConns(maxIdle int) int {
	if maxIdle <= 0 {
		maxIdle = defaultMaxIdleConns
	}
	return maxIdle + cfg.MaxConcurrentScrapes*len(profiletype.Names)
}

// connLifetime is how long after its last use a connection of the receiver's client can
// still be open: a request holds it at most timeout, then it idles at most
// idle_conn_timeout (with no idle timeout, the client reuses a target's connections every
// interval: twice the longest interval).
func (cfg *Config) connLifetime() time.Duration {
	ka := cfg.ClientConfig.Keepalive.Get()
	switch {
	case ka == nil:
		return cfg.ClientConfig.Timeout
	case ka.IdleConnTimeout > 0:
		return cfg.ClientConfig.Timeout + ka.IdleConnTimeout
	}
	longest := cfg.CollectionInterval
	for _, ps := range cfg.ProfileSettings {
		longest = max(longest, ps.CollectionInterval)
	}
	return cfg.ClientConfig.Timeout + 2*longest
}
