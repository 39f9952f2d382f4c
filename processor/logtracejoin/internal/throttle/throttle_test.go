// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package throttle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := New(time.Hour, func() time.Time { return now })
	var calls []int
	for range 5 {
		r.Do(func(suppressed int) { calls = append(calls, suppressed) })
	}
	assert.Equal(t, []int{0}, calls, "one line per period")
	now = now.Add(59 * time.Minute)
	r.Do(func(suppressed int) { calls = append(calls, suppressed) })
	assert.Equal(t, []int{0}, calls, "still within the period")
	now = now.Add(time.Minute)
	r.Do(func(suppressed int) { calls = append(calls, suppressed) })
	assert.Equal(t, []int{0, 5}, calls, "the next line reports what was suppressed")
}
