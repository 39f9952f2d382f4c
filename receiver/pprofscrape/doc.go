// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate ../../.tools/bin/mdatagen metadata.yaml

// Package pprofscrape scrapes Go net/http/pprof endpoints on an interval and
// emits OTLP profiles and metrics computed from each scrape.
package pprofscrape // import "github.com/prodscope/prodscope/receiver/pprofscrape"
