// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pages // import "github.com/prodscope/prodscope/extension/statusz/internal/pages"

import (
	"slices"
	"sync"

	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/pipeline"
)

// PipelineIndex remembers the pipelines of every component instance, from the
// collector's component status events. It holds at most maxComponents entries
// and counts what it refused.
type PipelineIndex struct {
	mu            sync.Mutex
	byID          map[string][]string
	maxComponents int
	refused       int64
}

// NewPipelineIndex returns an index bounded to maxComponents component IDs.
func NewPipelineIndex(maxComponents int) *PipelineIndex {
	return &PipelineIndex{byID: map[string][]string{}, maxComponents: maxComponents}
}

// Add records the pipelines of the instance (a component shared by several
// pipelines reports once per pipeline, or once with all of them).
func (p *PipelineIndex) Add(id *componentstatus.InstanceID) {
	if id == nil {
		return
	}
	var names []string
	id.AllPipelineIDs(func(pid pipeline.ID) bool {
		names = append(names, pid.String())
		return true
	})
	key := id.ComponentID().String()
	p.mu.Lock()
	defer p.mu.Unlock()
	have, ok := p.byID[key]
	if !ok && len(p.byID) >= p.maxComponents {
		p.refused++
		return
	}
	for _, n := range names {
		if !slices.Contains(have, n) {
			have = append(have, n)
		}
	}
	slices.Sort(have)
	p.byID[key] = have
}

// Of returns the pipelines of the component ID (a copy).
func (p *PipelineIndex) Of(componentID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.byID[componentID])
}

// Refused is how many component IDs the bound kept out.
func (p *PipelineIndex) Refused() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}
