// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package hcsink

import "testing"

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`[{"time":"2026-01-01T00:00:00Z","samplerate":2,"data":{"a":1}}]`))
	f.Add([]byte(`[{"data":{}}]`))
	f.Add([]byte(`[{"time":5}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs, err := DecodeJSON(raw)
		if err == nil {
			for _, ev := range evs {
				if ev.Data == nil {
					t.Fatal("event without data accepted")
				}
			}
		}
	})
}

func FuzzDecodeMsgpack(f *testing.F) {
	f.Add([]byte{0x91, 0x81, 0xa4, 'd', 'a', 't', 'a', 0x80})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs, err := DecodeMsgpack(raw)
		if err == nil {
			for _, ev := range evs {
				if ev.Data == nil {
					t.Fatal("event without data accepted")
				}
			}
		}
	})
}

func FuzzParseStatusList(f *testing.F) {
	f.Add("503,429")
	f.Add(" 200 , x")
	f.Fuzz(func(t *testing.T, s string) {
		sts, err := ParseStatusList(s)
		if err == nil {
			for _, st := range sts {
				if st < 100 || st > 599 {
					t.Fatalf("status %d accepted", st)
				}
			}
		}
	})
}
