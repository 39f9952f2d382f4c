// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate ../../.tools/bin/mdatagen metadata.yaml

// Package cardinalityguard bounds metric cardinality: it limits the
// distinct values of each label and the distinct series of each metric per
// scope, and re-aggregates the points it merges so that counters stay correct
// across batches.
package cardinalityguard // import "github.com/prodscope/prodscope/processor/cardinalityguard"
