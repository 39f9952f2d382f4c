// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func newLoopbackServer(_ testing.TB, h http.Handler) *httptest.Server {
	return httptest.NewServer(h)
}
