// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func prettyJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, b, "", " "))
	buf.WriteByte('\n')
	return buf.Bytes()
}
