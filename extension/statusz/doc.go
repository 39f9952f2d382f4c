// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate mdatagen metadata.yaml

// Package statusz is a collector extension that serves one page (and its JSON)
// showing what each prodscope component instance is doing to the data now. The
// components publish bounded snapshots through the shared registry
// (github.com/prodscope/prodscope/internal/statusregistry); the extension only
// reads them, on request.
package statusz // import "github.com/prodscope/prodscope/extension/statusz"
