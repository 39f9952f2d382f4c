// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package sharedcomponent

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type counting struct {
	starts, stops int
	startErr      error
}

func (c *counting) Start(context.Context, component.Host) error { c.starts++; return c.startErr }
func (c *counting) Shutdown(context.Context) error              { c.stops++; return nil }

func TestOneInstancePerKeyStartedAndStoppedOnce(t *testing.T) {
	m := NewMap[string, *counting]()
	created := 0
	create := func() (*counting, error) { created++; return &counting{}, nil }
	a, err := m.LoadOrStore("id", create)
	require.NoError(t, err)
	b, err := m.LoadOrStore("id", create)
	require.NoError(t, err)
	assert.Same(t, a, b)
	assert.Equal(t, 1, created)

	host := componenttest.NewNopHost()
	require.NoError(t, a.Start(context.Background(), host))
	require.NoError(t, b.Start(context.Background(), host))
	assert.Equal(t, 1, a.Unwrap().starts)
	require.NoError(t, a.Shutdown(context.Background()))
	require.NoError(t, b.Shutdown(context.Background()))
	assert.Equal(t, 1, a.Unwrap().stops)

	// Shut down instances are forgotten: the next LoadOrStore creates a new one.
	c, err := m.LoadOrStore("id", create)
	require.NoError(t, err)
	assert.NotSame(t, a, c)
}

func TestStartErrorIsReturnedToEverySharer(t *testing.T) {
	m := NewMap[string, *counting]()
	boom := errors.New("boom")
	a, err := m.LoadOrStore("id", func() (*counting, error) { return &counting{startErr: boom}, nil })
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.ErrorIs(t, a.Start(context.Background(), host), boom)
	require.ErrorIs(t, a.Start(context.Background(), host), boom)
	_, err = m.LoadOrStore("other", func() (*counting, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
}

// The pipelines of one component ID get the same *Config from the collector and
// share one instance; another config under the same ID (a test reusing an ID)
// gets its own.
func TestKeySharesByIDAndConfig(t *testing.T) {
	type cfg struct{ n int }
	m := NewMap[Key, *counting]()
	id := component.MustNewID("pprofscrape")
	c1, c2 := &cfg{1}, &cfg{1}
	create := func() (*counting, error) { return &counting{}, nil }
	a, err := m.LoadOrStore(Key{ID: id, Config: c1}, create)
	require.NoError(t, err)
	b, err := m.LoadOrStore(Key{ID: id, Config: c1}, create)
	require.NoError(t, err)
	assert.Same(t, a, b)
	c, err := m.LoadOrStore(Key{ID: id, Config: c2}, create)
	require.NoError(t, err)
	assert.NotSame(t, a, c)
	d, err := m.LoadOrStore(Key{ID: component.MustNewIDWithName("pprofscrape", "b"), Config: c1}, create)
	require.NoError(t, err)
	assert.NotSame(t, a, d)
}
