// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate ../../.tools/bin/mdatagen metadata.yaml

// Package logtracejoin provides a processor that gives every log record that
// belongs to a trace its trace context: it extracts trace and span ids from
// the record's attributes and body (W3C traceparent, OTel, ECS, Datadog,
// Google Cloud, B3 and Jaeger conventions) and joins records that carry no
// trace id to the entry span of their request through a correlation key such
// as a request id, with one instance shared by a traces and a logs pipeline.
package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"
