// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logthrottle

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestOneLinePerPeriodPerKeyWithTheSuppressedCount(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	c := &clock{t: time.Unix(1000, 0)}
	l := New(zap.New(core), time.Minute, 0).WithClock(c.now)

	l.Warn("a", "target down", zap.String("target", "a"))
	l.Warn("a", "target down", zap.String("target", "a"))
	l.Warn("a", "target down", zap.String("target", "a"))
	l.Warn("b", "target down", zap.String("target", "b"))
	c.t = c.t.Add(59 * time.Second)
	l.Warn("a", "target down", zap.String("target", "a"))
	c.t = c.t.Add(time.Second)
	l.Warn("a", "target down", zap.String("target", "a"))

	entries := logs.AllUntimed()
	require.Len(t, entries, 3)
	assert.Equal(t, map[string]any{"target": "a"}, entries[0].ContextMap())
	assert.Equal(t, map[string]any{"target": "b"}, entries[1].ContextMap())
	// Three calls for "a" were left out between the first line and this one.
	assert.Equal(t, map[string]any{"target": "a", SuppressedField: int64(3)}, entries[2].ContextMap())
	assert.Equal(t, zapcore.WarnLevel, entries[2].Level)
}

func TestDisabledLevelCostsNoState(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	l := New(zap.New(core), time.Minute, 0)
	l.Debug("k", "noise")
	l.Info("k", "noise")
	assert.Equal(t, 0, logs.Len())
	assert.Equal(t, 0, l.Keys())
	l.Error("k", "bad")
	assert.Equal(t, 1, logs.Len())
}

func TestDoBuildsTheLineOnlyWhenWritten(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := New(zap.NewNop(), time.Second, 0).WithClock(c.now)
	var got []int
	for range 4 {
		l.Do("k", func(n int) { got = append(got, n) })
	}
	c.t = c.t.Add(time.Second)
	l.Do("k", func(n int) { got = append(got, n) })
	assert.Equal(t, []int{0, 3}, got)
}

func TestKeysAreBounded(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := New(zap.New(core), time.Hour, 10)
	for i := range 1000 {
		l.Info(strconv.Itoa(i), "line")
	}
	// Ten keys of their own and one overflow key shared by the other 990:
	// eleven lines written, the overflow key's first only.
	assert.Equal(t, 11, l.Keys())
	assert.Equal(t, 11, logs.Len())
}

func TestConcurrentUse(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := New(zap.New(core), time.Hour, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				l.Info(strconv.Itoa(g%2), "line")
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 2, logs.Len())
}
