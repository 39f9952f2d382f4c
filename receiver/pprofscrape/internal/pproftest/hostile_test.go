// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pproftest

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func inflate(t *testing.T, body []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	require.NoError(t, err)
	data, err := io.ReadAll(zr)
	require.NoError(t, err)
	return data
}

// The hand-written protobuf of the hostile bodies is what the pprof parser reads.
func TestHostileBodiesAreWhatTheySay(t *testing.T) {
	p, err := profile.ParseUncompressed(inflate(t, heapLikeBody(1000)))
	require.NoError(t, err)
	require.Len(t, p.Sample, 1000)
	assert.Equal(t, "space", p.SampleType[0].Type)
	assert.Equal(t, "bytes", p.SampleType[0].Unit)
	assert.Equal(t, "f", p.Sample[999].Location[0].Line[0].Function.Name)
	assert.Equal(t, []int64{1}, p.Sample[999].Value)

	// 39 header bytes (6 + 2 + 7 + 7 + 3 + 6 + 8), 8 bytes a sample, 2 an empty string.
	assert.Len(t, inflate(t, HostileBody(PrefixMillionSamples)), 39+8*1_000_000)
	assert.True(t, bytes.Equal(bytes.Repeat([]byte{0x32, 0}, 10_000_000), inflate(t, HostileBody(PrefixTenMillionStrings))))
	assert.Len(t, inflate(t, HostileBody(PrefixEmptyStrings)), 60_000_000)
	_, err = profile.ParseUncompressed(bytes.Repeat([]byte{0x32, 0}, 1000))
	require.NoError(t, err, "empty strings alone are a valid (if useless) profile message")
}
