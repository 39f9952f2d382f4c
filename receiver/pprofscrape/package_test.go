// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
)

func receivertestSettings() receiver.Settings { return receivertest.NewNopSettings(metadata.Type) }
