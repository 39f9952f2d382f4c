// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package sender

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRetryAfterParsing(t *testing.T) {
	d, ok := retryAfter("12")
	assert.True(t, ok)
	assert.Equal(t, 12*time.Second, d)
	d, ok = retryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	assert.True(t, ok)
	assert.Greater(t, d, 58*time.Minute)
	d, ok = retryAfter("Wed, 21 Oct 2015 07:28:00 GMT")
	assert.True(t, ok)
	assert.Equal(t, time.Duration(0), d, "a date in the past means now")
	_, ok = retryAfter("soon")
	assert.False(t, ok)
	_, ok = retryAfter("")
	assert.False(t, ok)
}

func TestRetryAfterIsCapped(t *testing.T) {
	d, ok := retryAfter("9227000000")
	assert.True(t, ok)
	assert.Equal(t, maxRetryAfter, d)
}
