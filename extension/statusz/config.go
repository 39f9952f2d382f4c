// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package statusz // import "github.com/prodscope/prodscope/extension/statusz"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
)

// Config is the statusz extension's configuration.
type Config struct {
	// ServerConfig is the HTTP server (endpoint, TLS, timeouts, auth): loopback by default.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`
	// Refresh is how often the page reloads itself (0: never).
	Refresh time.Duration `mapstructure:"refresh"`
	// MaxItems bounds every list on the page and in the API (top N); each list
	// says how many it left out.
	MaxItems int `mapstructure:"max_items"`

	_ struct{}
}

const maxMaxItems = 10000

var _ component.Config = (*Config)(nil)

// Validate names every bad key.
func (c *Config) Validate() error {
	var errs []error
	if c.ServerConfig.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set (host:port)"))
	}
	if c.Refresh < 0 {
		errs = append(errs, fmt.Errorf("refresh: must not be negative, got %s", c.Refresh))
	} else if c.Refresh > 0 && c.Refresh < time.Second {
		errs = append(errs, fmt.Errorf("refresh: must be at least 1s (or 0 to turn it off), got %s", c.Refresh))
	}
	if c.MaxItems < 1 || c.MaxItems > maxMaxItems {
		errs = append(errs, fmt.Errorf("max_items: must be between 1 and %d, got %d", maxMaxItems, c.MaxItems))
	}
	return errors.Join(errs...)
}
