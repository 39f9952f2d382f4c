// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// TestMergedNumberPointIsWrittenOverItsSeriesFirstPoint: the output of a merged
// number series is its first point, edited in place. It must then look exactly as a
// new point would: the merged value and times, no exemplar of the source point, no
// start time for a gauge, the dropped key gone, the other labels kept; it stays where
// that first point was, and the points that are not merged stay as they were.
func TestMergedNumberPointIsWrittenOverItsSeriesFirstPoint(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) { s.Default.AlwaysDrop = []string{"user_id"} })
	b := newBatch("shop").
		sum("requests", false,
			pt{attrs: map[string]any{"route": "/a", "user_id": "u1"}, start: 10, ts: 20, i: 4},
			pt{attrs: map[string]any{"route": "/b"}, start: 10, ts: 20, i: 7},
			pt{attrs: map[string]any{"route": "/a", "user_id": "u2"}, start: 11, ts: 21, i: 5}).
		gauge("queue", pt{attrs: map[string]any{"route": "/a", "user_id": "u1"}, start: 5, ts: 30, i: 9})
	first := b.ms.At(0).Sum().DataPoints().At(0)
	first.Exemplars().AppendEmpty().SetIntValue(4)
	b.ms.At(1).Gauge().DataPoints().At(0).Exemplars().AppendEmpty().SetIntValue(9)

	e.Process(b.md)

	sums := b.ms.At(0).Sum().DataPoints()
	require.Equal(t, 2, sums.Len())
	a, b0 := sums.At(0), sums.At(1)
	assert.Equal(t, map[string]any{"route": "/b"}, b0.Attributes().AsRaw(), "the unmerged point, as it came")
	assert.Equal(t, int64(7), b0.IntValue())
	assert.Equal(t, map[string]any{"route": "/a"}, a.Attributes().AsRaw())
	assert.Equal(t, int64(9), a.IntValue(), "4 + 5")
	assert.Equal(t, uint64(10), uint64(a.StartTimestamp()))
	assert.Equal(t, uint64(21), uint64(a.Timestamp()))
	assert.Equal(t, 0, a.Exemplars().Len())

	g := b.ms.At(1).Gauge().DataPoints()
	require.Equal(t, 1, g.Len())
	assert.Equal(t, map[string]any{"route": "/a"}, g.At(0).Attributes().AsRaw())
	assert.Equal(t, int64(9), g.At(0).IntValue())
	assert.Zero(t, g.At(0).StartTimestamp(), "a merged gauge has no start time")
	assert.Equal(t, 0, g.At(0).Exemplars().Len())
	assert.Equal(t, pmetric.DefaultDataPointFlags, g.At(0).Flags())
}
