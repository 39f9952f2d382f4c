// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package convert // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"
)

// ToPprof rebuilds one pprof profile from OTLP Profiles that came from one pprof profile
// (one Profile per sample type, all with the same period type): samples with the same
// stack and attributes are joined into one pprof sample with one value per sample type.
// It is the inverse of Builder.Append, used to check conversions and by anyone who
// needs the pprof form back. A sample's link becomes the labels DefaultTraceIDLabel and
// DefaultSpanIDLabel again; mapping flags come back from their attributes.
func ToPprof(dict pprofile.ProfilesDictionary, profiles []pprofile.Profile) (*profile.Profile, error) {
	if len(profiles) == 0 {
		return nil, errors.New("no profiles")
	}
	strs := dict.StringTable()
	str := func(i int32) (string, error) {
		if i < 0 || int(i) >= strs.Len() {
			return "", fmt.Errorf("string index %d out of range", i)
		}
		return strs.At(int(i)), nil
	}
	out := &profile.Profile{}
	first := profiles[0]
	out.Period = first.Period()
	out.TimeNanos = int64(min(uint64(first.Time()), math.MaxInt64))
	out.DurationNanos = int64(min(first.DurationNano(), math.MaxInt64))

	fns := map[int32]*profile.Function{}
	maps := map[int32]*profile.Mapping{}
	locs := map[int32]*profile.Location{}
	function := func(i int32) (*profile.Function, error) {
		if f, ok := fns[i]; ok {
			return f, nil
		}
		if i <= 0 || int(i) >= dict.FunctionTable().Len() {
			return nil, fmt.Errorf("function index %d out of range", i)
		}
		df := dict.FunctionTable().At(int(i))
		f := &profile.Function{ID: uint64(len(out.Function) + 1), StartLine: df.StartLine()}
		var err error
		if f.Name, err = str(df.NameStrindex()); err != nil {
			return nil, err
		}
		if f.SystemName, err = str(df.SystemNameStrindex()); err != nil {
			return nil, err
		}
		if f.Filename, err = str(df.FilenameStrindex()); err != nil {
			return nil, err
		}
		out.Function = append(out.Function, f)
		fns[i] = f
		return f, nil
	}
	mapping := func(i int32) (*profile.Mapping, error) {
		if m, ok := maps[i]; ok {
			return m, nil
		}
		if i <= 0 || int(i) >= dict.MappingTable().Len() {
			return nil, fmt.Errorf("mapping index %d out of range", i)
		}
		dm := dict.MappingTable().At(int(i))
		m := &profile.Mapping{ID: uint64(len(out.Mapping) + 1), Start: dm.MemoryStart(), Limit: dm.MemoryLimit(), Offset: dm.FileOffset()}
		var err error
		if m.File, err = str(dm.FilenameStrindex()); err != nil {
			return nil, err
		}
		for _, ai := range dm.AttributeIndices().All() {
			k, v, _, err := attribute(dict, ai)
			if err != nil {
				return nil, err
			}
			switch k {
			case AttrBuildID:
				m.BuildID = v.Str()
			case AttrHasFunctions:
				m.HasFunctions = v.Bool()
			case AttrHasFilenames:
				m.HasFilenames = v.Bool()
			case AttrHasLineNumbers:
				m.HasLineNumbers = v.Bool()
			case AttrHasInlineFrames:
				m.HasInlineFrames = v.Bool()
			}
		}
		out.Mapping = append(out.Mapping, m)
		maps[i] = m
		return m, nil
	}
	location := func(i int32) (*profile.Location, error) {
		if l, ok := locs[i]; ok {
			return l, nil
		}
		if i <= 0 || int(i) >= dict.LocationTable().Len() {
			return nil, fmt.Errorf("location index %d out of range", i)
		}
		dl := dict.LocationTable().At(int(i))
		l := &profile.Location{ID: uint64(len(out.Location) + 1), Address: dl.Address()}
		if dl.MappingIndex() != 0 {
			m, err := mapping(dl.MappingIndex())
			if err != nil {
				return nil, err
			}
			l.Mapping = m
		}
		for _, ln := range dl.Lines().All() {
			pl := profile.Line{Line: ln.Line(), Column: ln.Column()}
			if ln.FunctionIndex() != 0 {
				f, err := function(ln.FunctionIndex())
				if err != nil {
					return nil, err
				}
				pl.Function = f
			}
			l.Line = append(l.Line, pl)
		}
		out.Location = append(out.Location, l)
		locs[i] = l
		return l, nil
	}

	var err error
	pt := first.PeriodType()
	if pt.TypeStrindex() != 0 || pt.UnitStrindex() != 0 {
		out.PeriodType = &profile.ValueType{}
		if out.PeriodType.Type, err = str(pt.TypeStrindex()); err != nil {
			return nil, err
		}
		if out.PeriodType.Unit, err = str(pt.UnitStrindex()); err != nil {
			return nil, err
		}
	}

	type sampleKey struct {
		stack int32
		link  int32
		attrs string
	}
	index := map[sampleKey]*profile.Sample{}
	for col, pr := range profiles {
		st := &profile.ValueType{}
		if st.Type, err = str(pr.SampleType().TypeStrindex()); err != nil {
			return nil, err
		}
		if st.Unit, err = str(pr.SampleType().UnitStrindex()); err != nil {
			return nil, err
		}
		out.SampleType = append(out.SampleType, st)
		for _, s := range pr.Samples().All() {
			ai := s.AttributeIndices().AsRaw()
			slices.Sort(ai)
			key := sampleKey{stack: s.StackIndex(), link: s.LinkIndex(), attrs: fmt.Sprint(ai)}
			ps := index[key]
			if ps == nil {
				ps, err = newSample(dict, s, location, ai)
				if err != nil {
					return nil, err
				}
				index[key] = ps
				out.Sample = append(out.Sample, ps)
			}
			for len(ps.Value) < len(profiles) {
				ps.Value = append(ps.Value, 0)
			}
			for _, v := range s.Values().All() {
				ps.Value[col] += v
			}
		}
	}
	for _, ps := range out.Sample {
		for len(ps.Value) < len(profiles) {
			ps.Value = append(ps.Value, 0)
		}
	}
	err = out.CheckValid()
	return out, err
}

func newSample(dict pprofile.ProfilesDictionary, s pprofile.Sample, location func(int32) (*profile.Location, error), attrs []int32) (*profile.Sample, error) {
	si := s.StackIndex()
	if si <= 0 || int(si) >= dict.StackTable().Len() {
		return nil, fmt.Errorf("stack index %d out of range", si)
	}
	ps := &profile.Sample{}
	for _, li := range dict.StackTable().At(int(si)).LocationIndices().All() {
		l, err := location(li)
		if err != nil {
			return nil, err
		}
		ps.Location = append(ps.Location, l)
	}
	if li := s.LinkIndex(); li != 0 {
		if li < 0 || int(li) >= dict.LinkTable().Len() {
			return nil, fmt.Errorf("link index %d out of range", li)
		}
		l := dict.LinkTable().At(int(li))
		ps.Label = map[string][]string{
			DefaultTraceIDLabel: {l.TraceID().String()},
			DefaultSpanIDLabel:  {l.SpanID().String()},
		}
	}
	for _, ai := range attrs {
		k, v, unit, err := attribute(dict, ai)
		if err != nil {
			return nil, err
		}
		if v.Type() == pcommon.ValueTypeInt {
			if ps.NumLabel == nil {
				ps.NumLabel, ps.NumUnit = map[string][]int64{}, map[string][]string{}
			}
			ps.NumLabel[k] = append(ps.NumLabel[k], v.Int())
			ps.NumUnit[k] = append(ps.NumUnit[k], unit)
			continue
		}
		if ps.Label == nil {
			ps.Label = map[string][]string{}
		}
		ps.Label[k] = append(ps.Label[k], v.AsString())
	}
	return ps, nil
}

func attribute(dict pprofile.ProfilesDictionary, i int32) (string, pcommon.Value, string, error) {
	at := dict.AttributeTable()
	if i <= 0 || int(i) >= at.Len() {
		return "", pcommon.Value{}, "", fmt.Errorf("attribute index %d out of range", i)
	}
	a := at.At(int(i))
	st := dict.StringTable()
	if int(a.KeyStrindex()) >= st.Len() || int(a.UnitStrindex()) >= st.Len() || a.KeyStrindex() < 0 || a.UnitStrindex() < 0 {
		return "", pcommon.Value{}, "", fmt.Errorf("attribute %d string index out of range", i)
	}
	return st.At(int(a.KeyStrindex())), a.Value(), st.At(int(a.UnitStrindex())), nil
}
