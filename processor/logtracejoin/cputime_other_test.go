// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package logtracejoin

import "time"

// threadCPUTime is not measured outside Linux; the CPU-time metrics then read 0.
func threadCPUTime() time.Duration { return 0 }
