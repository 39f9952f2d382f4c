// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package statusz // import "github.com/prodscope/prodscope/extension/statusz"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/prodscope/prodscope/extension/statusz/internal/metadata"
	"github.com/prodscope/prodscope/internal/statusregistry"
)

const (
	defaultEndpoint = "127.0.0.1:55680"
	defaultRefresh  = 5 * time.Second
	defaultMaxItems = 50
)

// NewFactory returns the statusz extension's factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	// A status page answers from memory: short timeouts bound what a slow or
	// hostile client can hold.
	server.ReadTimeout = 10 * time.Second
	server.ReadHeaderTimeout = 5 * time.Second
	server.WriteTimeout = 10 * time.Second
	return &Config{ServerConfig: server, Refresh: defaultRefresh, MaxItems: defaultMaxItems}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newExtension(cfg.(*Config), set, statusregistry.Default), nil
}
