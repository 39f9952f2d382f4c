// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package reuse

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestZeroed(t *testing.T) {
	s := []int{1, 2, 3, 4}
	z := Zeroed(s, 3)
	assert.Equal(t, []int{0, 0, 0}, z)
	assert.Same(t, &s[0], &z[0], "the array is reused when large enough")
	assert.Equal(t, []int{0, 0, 0, 0, 0}, Zeroed(z, 5), "and a new one made when not")
	assert.Empty(t, Zeroed[int](nil, 0))
}
