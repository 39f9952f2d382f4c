// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package convert

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pprofile"
)

// FuzzToPprof decodes arbitrary OTLP profiles (protobuf) and converts them back to pprof:
// out-of-range dictionary indices must be errors, never panics.
func FuzzToPprof(f *testing.F) {
	pd := pprofile.NewProfiles()
	b := NewBuilder(pd)
	sp := pd.ResourceProfiles().AppendEmpty().ScopeProfiles().AppendEmpty()
	b.Append(sp, Input{Profile: syntheticProfile(), Type: "heap"})
	seed, err := (&pprofile.ProtoMarshaler{}).MarshalProfiles(pd)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(_ *testing.T, data []byte) {
		pd, err := (&pprofile.ProtoUnmarshaler{}).UnmarshalProfiles(data)
		if err != nil {
			return
		}
		for _, rp := range pd.ResourceProfiles().All() {
			for _, sp := range rp.ScopeProfiles().All() {
				var profiles []pprofile.Profile
				for _, p := range sp.Profiles().All() {
					profiles = append(profiles, p)
				}
				_, _ = ToPprof(pd.Dictionary(), profiles)
			}
		}
	})
}
