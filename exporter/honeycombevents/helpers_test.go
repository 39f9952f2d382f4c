// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/metadata"
)

func exportertestSettings() exporter.Settings {
	return exportertest.NewNopSettings(metadata.Type)
}
