// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
)

// targetState is what the receiver keeps per target: the delta baselines of its
// cumulative profile types (bounded by the targets and types configured) and its
// status. Only the target's own loop touches the trackers.
type targetState struct {
	cfg Target
	// name is the self-telemetry's target attribute: the configured name, else the
	// endpoint without credentials.
	name     string
	trackers map[string]*delta.Tracker
	// resource is the target's resource (read-only once built).
	resource pcommon.Resource
	// status is guarded by Scheduler.statusMu.
	status TargetStatus

	// failures counts the scrapes in a row that got no profile and cost the receiver
	// something (a timeout, a body read and refused): it puts the target behind the
	// healthy ones for concurrency slots and spaces out its attempts. costly says whether
	// the last scrape had such a failure; a target that only refuses connections or
	// answers 404 costs nothing and is retried every interval (it may come up any time).
	failures int
	costly   bool
}

func newTargetState(t Target) *targetState {
	t.Endpoint = trimEndpoint(t.Endpoint)
	endpoint := Redact(t.Endpoint)
	name := t.Name
	if name == "" {
		name = endpoint
	}
	ts := &targetState{
		cfg: t, name: name, trackers: map[string]*delta.Tracker{},
		resource: pcommon.NewResource(),
		status:   TargetStatus{Name: name, Endpoint: endpoint, Types: t.Types},
	}
	for _, k := range slices.Sorted(maps.Keys(t.Resource)) {
		ts.resource.Attributes().PutStr(k, t.Resource[k])
	}
	for _, name := range t.Types {
		if f := profiletype.Table[t.typeOf(name)]; f.Cumulative != nil && !f.PreDelta {
			ts.trackers[name] = delta.NewTracker()
		}
	}
	return ts
}

// Parse parses an uncompressed pprof body and checks it is usable.
func Parse(data []byte) (*profile.Profile, error) {
	p, err := profile.ParseUncompressed(data)
	if err != nil {
		return nil, &fetch.Error{Reason: fetch.ReasonParse, Err: err}
	}
	if len(p.SampleType) == 0 {
		return nil, &fetch.Error{Reason: fetch.ReasonParse, Err: errors.New("profile has no sample types")}
	}
	// The conversion relies on these invariants; a hostile body must not break them.
	for i, s := range p.Sample {
		if len(s.Value) != len(p.SampleType) {
			return nil, &fetch.Error{Reason: fetch.ReasonParse, Err: fmt.Errorf("sample %d has %d values for %d sample types", i, len(s.Value), len(p.SampleType))}
		}
		for _, l := range s.Location {
			if l == nil {
				return nil, &fetch.Error{Reason: fetch.ReasonParse, Err: fmt.Errorf("sample %d has an unknown location", i)}
			}
		}
	}
	return p, nil
}

// parsed is one successfully parsed profile with its delta.
type parsed struct {
	typ        string // the configured profile name
	kind       string // its profile type (a key of Facts)
	p          *profile.Profile
	cumulative []int
	delta      *delta.Result
	outcome    delta.Outcome
}

// process turns one target's fetch results into res: what happened to each profile, and
// the profiles and metrics built from them. Decoding and parsing run under sctx (the
// scrape's timeout).
func (s *Scheduler) process(sctx context.Context, t *targetState, results []fetched, res *Result) {
	now := pcommon.NewTimestampFromTime(time.Now())
	var ok []parsed
	t.costly = false
	res.Profiles = make([]ProfileResult, 0, len(results))
	for i := range results {
		r := &results[i]
		start := time.Now()
		err := r.err
		var p *profile.Profile
		if err == nil {
			_, err = fetch.Decode(sctx, &r.res, s.set.Limits)
		}
		if err == nil {
			p, err = Parse(r.res.Data)
		}
		r.free() // the parsed profile owns copies of everything it needs
		if errors.Is(sctx.Err(), context.Canceled) {
			return // Shutdown, not the target: runScrape delivers nothing of this scrape
		}
		if err == nil && sctx.Err() != nil {
			p, err = nil, &fetch.Error{Reason: fetch.ReasonTimeout, Err: fmt.Errorf("parsing outlasted the timeout: %w", sctx.Err())}
		}
		pr := ProfileResult{Type: r.typ, WireBytes: r.res.WireBytes, Duration: r.duration + time.Since(start)}
		if err != nil {
			pr.Reason = fetch.ReasonOf(err)
			res.Profiles = append(res.Profiles, pr)
			if pr.Reason != fetch.ReasonHTTP && pr.Reason != fetch.ReasonBusy {
				t.costly = true
			}
			if pr.Reason == fetch.ReasonBusy {
				res.Up = true // a busy CPU profiler is a live target
			}
			msg := Redact(err.Error())
			if res.lastError == "" {
				res.lastError = msg + " (profile " + r.typ + ")"
			}
			s.logWarn(t, string(pr.Reason)+"/"+r.typ, "pprof scrape failed",
				zap.String("target", t.name), zap.String("endpoint", t.status.Endpoint), zap.String("profile_type", r.typ),
				zap.String("reason", string(pr.Reason)), zap.String("error", msg))
			continue
		}
		res.Up = true
		pr.Samples = len(p.Sample)
		res.Profiles = append(res.Profiles, pr)
		pp := parsed{typ: r.typ, kind: t.cfg.typeOf(r.typ), p: p}
		if tr := t.trackers[r.typ]; tr != nil {
			pp.cumulative = profiletype.CumulativeIndices(t.cfg.typeOf(r.typ), p)
			pp.delta, pp.outcome = tr.Next(p, pp.cumulative)
			switch pp.outcome {
			case delta.Delta:
				res.Deltas++
			case delta.Reset:
				res.Resets++
				s.logWarn(t, "reset/"+r.typ, "Cumulative pprof values went backwards (target restarted?): no delta this scrape",
					zap.String("target", t.name), zap.String("profile_type", r.typ))
			}
		}
		ok = append(ok, pp)
	}
	if len(ok) == 0 {
		return
	}
	if s.set.Profiles {
		pd, n := s.buildProfiles(t, ok, now)
		if n > 0 || pd.ResourceProfiles().At(0).ScopeProfiles().At(0).Profiles().Len() > 0 {
			res.ProfileData, res.ProfileSamples, res.HasProfiles = pd, n, true
		}
	}
	if s.set.NewMetricsBuilder != nil {
		md := s.buildMetrics(t, ok, now)
		if md.DataPointCount() > 0 {
			res.Metrics, res.HasMetrics = md, true
		}
	}
}

// buildProfiles converts one target scrape into one ResourceProfiles.
func (s *Scheduler) buildProfiles(t *targetState, ok []parsed, now pcommon.Timestamp) (pprofile.Profiles, int) {
	pd := pprofile.NewProfiles()
	b := convert.NewBuilder(pd)
	rp := pd.ResourceProfiles().AppendEmpty()
	t.resource.CopyTo(rp.Resource())
	sp := rp.ScopeProfiles().AppendEmpty()
	sp.Scope().SetName(metadata.ScopeName)
	sp.Scope().SetVersion(s.set.ScopeVersion)
	n := 0
	for _, pp := range ok {
		n += b.Append(sp, convert.Input{Profile: pp.p, Type: pp.typ, Cumulative: pp.cumulative, Delta: pp.delta, Time: now, Links: s.set.Links})
	}
	return pd, n
}

// valueIndex returns the index of sample type name in p, or -1.
func valueIndex(p *profile.Profile, name string) int {
	return slices.IndexFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == name })
}
