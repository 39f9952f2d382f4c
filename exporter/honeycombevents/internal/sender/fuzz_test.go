// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package sender

import "testing"

func FuzzDecodeStatuses(f *testing.F) {
	f.Add([]byte(`[{"status":202},{"status":400,"error":"bad"}]`), false)
	f.Add([]byte{0x92, 0x81, 0xa6, 's', 't', 'a', 't', 'u', 's', 0xcc, 202, 0x80}, true)
	f.Add([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff}, true)
	f.Fuzz(func(t *testing.T, raw []byte, msgp bool) {
		ct := contentTypeJSON
		if msgp {
			ct = contentTypeMsgpack
		}
		sts, err := decodeStatuses(raw, ct)
		if err == nil && len(sts) > len(raw) {
			t.Fatalf("%d statuses from %d bytes", len(sts), len(raw))
		}
	})
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "0", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "", "soon", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := retryAfter(v); ok && d < 0 {
			t.Fatalf("negative delay %v for %q", d, v)
		}
	})
}
