// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package statusregistry

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fixed(in, out int64) Source {
	return SourceFunc(func(int) Snapshot { return Snapshot{ItemsIn: in, ItemsOut: out} })
}

func TestRegisterSnapshotsUnregister(t *testing.T) {
	r := New()
	un1 := r.Register(component.MustNewIDWithName("pprofscrape", "b"), component.KindReceiver, fixed(1, 1))
	un2 := r.Register(component.MustNewID("cardinalityguard"), component.KindProcessor, fixed(10, 7))
	r.Register(component.MustNewIDWithName("pprofscrape", "a"), component.KindReceiver, fixed(2, 2))

	got := r.Snapshots(10)
	want := []struct{ typ, id, kind string }{
		{"cardinalityguard", "cardinalityguard", "Processor"},
		{"pprofscrape", "pprofscrape/a", "Receiver"},
		{"pprofscrape", "pprofscrape/b", "Receiver"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d snapshots, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Type != w.typ || got[i].ID != w.id || got[i].Kind != w.kind {
			t.Errorf("snapshot %d = %s %s %s, want %+v", i, got[i].Type, got[i].ID, got[i].Kind, w)
		}
	}
	if got[0].ItemsIn != 10 || got[0].ItemsOut != 7 {
		t.Errorf("cardinalityguard items %d/%d, want 10/7", got[0].ItemsIn, got[0].ItemsOut)
	}

	un2()
	un2() // idempotent
	un1()
	if got := r.Snapshots(10); len(got) != 1 || got[0].ID != "pprofscrape/a" {
		t.Errorf("after unregister: %+v", got)
	}
}

func TestRegistryBoundRefuses(t *testing.T) {
	r := New()
	id := component.MustNewID("logtracejoin")
	for range MaxInstances + 5 {
		r.Register(id, component.KindProcessor, fixed(0, 0))
	}
	r.Register(id, component.KindProcessor, nil)
	if n := len(r.Snapshots(1)); n != MaxInstances {
		t.Errorf("%d registered, want the bound %d", n, MaxInstances)
	}
	if r.Refused() != 6 {
		t.Errorf("refused %d, want 6", r.Refused())
	}
}

func TestSourceAskedWithLimitOutsideLock(t *testing.T) {
	r := New()
	var asked int
	r.Register(component.MustNewID("honeycombevents"), component.KindExporter, SourceFunc(func(limit int) Snapshot {
		asked = limit
		// A source that registers (or unregisters) while asked must not deadlock.
		r.Register(component.MustNewID("x"), component.KindExporter, fixed(0, 0))()
		return Snapshot{}
	}))
	r.Snapshots(7)
	if asked != 7 {
		t.Errorf("source asked for %d, want 7", asked)
	}
}

func TestConcurrentRegisterAndSnapshots(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				un := r.Register(component.MustNewIDWithName("pprofscrape", fmt.Sprintf("t%d", i)), component.KindReceiver, fixed(1, 1))
				r.Snapshots(3)
				un()
			}
		}()
	}
	wg.Wait()
	if n := len(r.Snapshots(1)); n != 0 {
		t.Errorf("%d left registered", n)
	}
}

func TestTop(t *testing.T) {
	in := []int{5, 1, 9, 3, 7}
	kept, omitted := Top(in, 3, func(a, b int) int { return cmp.Compare(b, a) })
	if len(kept) != 3 || kept[0] != 9 || kept[1] != 7 || kept[2] != 5 || omitted != 2 {
		t.Errorf("Top = %v, %d; want [9 7 5], 2", kept, omitted)
	}
	kept, omitted = Top([]int{2, 1}, 5, cmp.Compare[int])
	if len(kept) != 2 || kept[0] != 1 || omitted != 0 {
		t.Errorf("Top under limit = %v, %d", kept, omitted)
	}
	if kept, omitted = Top([]int{2, 1}, 0, cmp.Compare[int]); len(kept) != 1 || omitted != 1 {
		t.Errorf("Top limit 0 = %v, %d; want one kept", kept, omitted)
	}
}

func TestTopCountsSaysWhatItLeftOut(t *testing.T) {
	in := []Count{{"b", 2}, {"a", 2}, {"c", 9}, {"d", 1}, {"e", 1}}
	assert.Equal(t, []Count{{"c", 9}, {"a", 2}, {"(3 more)", 4}}, TopCounts(slices.Clone(in), 3))
	assert.Equal(t, []Count{{"(5 more)", 15}}, TopCounts(slices.Clone(in), 0))
	assert.Equal(t, []Count{{"c", 9}, {"a", 2}, {"b", 2}, {"d", 1}, {"e", 1}}, TopCounts(slices.Clone(in), 5))
}

func TestSnapshotsOfOneInstance(t *testing.T) {
	r := New()
	a, b := component.MustNewIDWithName("logtracejoin", "a"), component.MustNewIDWithName("logtracejoin", "b")
	un := r.Register(a, component.KindProcessor, fixed(3, 2))
	r.Register(b, component.KindProcessor, fixed(1, 1))
	got := r.SnapshotsOf(a, 10)
	assert.Len(t, got, 1)
	assert.Equal(t, int64(3), got[0].ItemsIn)
	un()
	assert.Empty(t, r.SnapshotsOf(a, 10))
	assert.Len(t, r.SnapshotsOf(b, 10), 1)
}
