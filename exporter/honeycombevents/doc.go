// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate ../../.tools/bin/mdatagen metadata.yaml

// Package honeycombevents exports traces, logs and metrics to the Honeycomb
// Events API (POST /1/batch/{dataset}) and to anything that speaks it, such as
// Refinery and libhoney-compatible receivers.
package honeycombevents // import "github.com/prodscope/prodscope/exporter/honeycombevents"
