// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import "strings"

// Convention says in which convention a found trace context was written.
type Convention uint8

const (
	// ConvNone: nothing was found.
	ConvNone Convention = iota
	// ConvW3C: a W3C traceparent, keyed or bare in text.
	ConvW3C
	// ConvTraceID: trace id (and span id, flags) fields: OTel, ECS, the
	// logging libraries' own names.
	ConvTraceID
	// ConvDatadog: Datadog's dd.trace_id / dd.span_id fields.
	ConvDatadog
	// ConvB3: a B3 single header, or B3 multi-header fields (x-b3-traceid).
	ConvB3
	// ConvGoogle: Google Cloud Logging's trace / spanId fields.
	ConvGoogle
	// ConvJaeger: a Jaeger uber-trace-id.
	ConvJaeger
	// ConvXRay: an AWS X-Ray header or trace id, keyed or bare in text.
	ConvXRay
	// ConvCloudTrace: a GCP X-Cloud-Trace-Context header.
	ConvCloudTrace
	// ConvSpringBoot3: the Spring Boot 3.0/3.1 log pattern.
	ConvSpringBoot3
	// ConvSpringBoot32: the Spring Boot 3.2+ log pattern.
	ConvSpringBoot32
	// ConvSleuth: the Spring Cloud Sleuth log pattern.
	ConvSleuth
	// NumConventions is the number of Convention values, ConvNone included.
	NumConventions
)

// String names the convention as the status page shows it.
func (c Convention) String() string {
	switch c {
	case ConvNone:
		return "none"
	case ConvW3C:
		return "w3c traceparent"
	case ConvTraceID:
		return "trace id field"
	case ConvDatadog:
		return "datadog"
	case ConvB3:
		return "b3"
	case ConvGoogle:
		return "google cloud logging"
	case ConvJaeger:
		return "jaeger"
	case ConvXRay:
		return "aws x-ray"
	case ConvCloudTrace:
		return "x-cloud-trace-context"
	case ConvSpringBoot3:
		return "spring boot 3 pattern"
	case ConvSpringBoot32:
		return "spring boot 3.2 pattern"
	case ConvSleuth:
		return "sleuth pattern"
	}
	return "unknown"
}

// traceIDConvention is the convention of a configured trace id key: a
// Datadog key ("dd." prefix), a B3 multi-header key ("x-b3-"), or the
// plain trace id fields.
func traceIDConvention(key string) Convention {
	switch {
	case strings.HasPrefix(key, "dd."):
		return ConvDatadog
	case len(key) >= 5 && strings.EqualFold(key[:5], "x-b3-"):
		return ConvB3
	}
	return ConvTraceID
}

// Via says how a found trace context was read.
type Via uint8

const (
	// ViaNone: nothing was found.
	ViaNone Via = iota
	// ViaAttribute: fields of the record's attributes.
	ViaAttribute
	// ViaAttributeText: text held in a string attribute.
	ViaAttributeText
	// ViaBodyField: fields of a map body.
	ViaBodyField
	// ViaBodyText: a string body, or text held in a string field of a map body.
	ViaBodyText
	// NumVias is the number of Via values, ViaNone included.
	NumVias
)

// Source is the part of the record the context was read from.
func (v Via) Source() Source {
	switch v {
	case ViaAttribute, ViaAttributeText:
		return SourceAttribute
	case ViaBodyField, ViaBodyText:
		return SourceBody
	}
	return SourceNone
}

// Text reports whether the context was found by scanning text.
func (v Via) Text() bool { return v == ViaAttributeText || v == ViaBodyText }
