// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package convert

import (
	"bytes"
	"crypto/sha256"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var spin [32]byte

// cpuProfile profiles this process while it hashes for a short while.
func cpuProfile(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, pprof.StartCPUProfile(&buf))
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		spin = sha256.Sum256(spin[:])
	}
	pprof.StopCPUProfile()
	return buf.Bytes()
}
