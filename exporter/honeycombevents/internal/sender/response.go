// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package sender // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/sender"

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

const (
	// maxRetryAfter caps the delay a Retry-After header can ask for.
	maxRetryAfter = time.Hour
	// maxMessageLen bounds a server message kept in an error or outcome.
	maxMessageLen = 256
)

type eventStatus struct {
	Status int    `json:"status" msgpack:"status"`
	Error  string `json:"error,omitempty" msgpack:"error,omitempty"`
}

// decodeStatuses parses the per-event status array of a 200 response, in
// msgpack when the server says so and JSON otherwise.
func decodeStatuses(raw []byte, contentType string) ([]eventStatus, error) {
	var statuses []eventStatus
	var err error
	if strings.HasPrefix(contentType, contentTypeMsgpack) || strings.HasPrefix(contentType, "application/x-msgpack") {
		// The msgpack decoder preallocates by declared length; a status
		// takes at least 2 bytes, so a longer declared array is bogus.
		if n, ok := msgpackArrayLen(raw); !ok || n > len(raw)/2 {
			return nil, errors.New("msgpack status array: bad or oversized header")
		}
		err = msgpack.Unmarshal(raw, &statuses)
	} else {
		err = json.Unmarshal(raw, &statuses)
	}
	if err != nil {
		return nil, err
	}
	return statuses, nil
}

// msgpackArrayLen reads a msgpack array header.
func msgpackArrayLen(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch c := b[0]; {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), true
	case c == 0xdc && len(b) >= 3:
		return int(b[1])<<8 | int(b[2]), true
	case c == 0xdd && len(b) >= 5:
		return int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]), true
	case c == 0xc0: // nil
		return 0, true
	}
	return 0, false
}

// PermanentCause names the likely cause of a whole-request 4xx.
func PermanentCause(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "malformed request: check encoding and compression"
	case http.StatusUnauthorized:
		return "API key rejected: check api_key"
	case http.StatusForbidden:
		return "API key lacks permission to send events to this dataset (not throttling)"
	case http.StatusNotFound:
		return "not found: check endpoint and dataset"
	case http.StatusRequestEntityTooLarge:
		return "event too large for the server even alone: lower max_event_bytes"
	default:
		return http.StatusText(code)
	}
}

// isThrottleMessage tells Honeycomb's 403 for administrative throttling
// ("event dropped due to administrative throttling") from a 403 for a key
// without permission.
func isThrottleMessage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "throttl")
}

// serverMessage reads at most maxErrorBodyBytes of an error body and
// extracts the Events API's {"error": "..."} message when there is one.
func (s *Sender) serverMessage(resp *http.Response) string {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		return s.clean(body.Error)
	}
	return s.clean(strings.TrimSpace(string(raw)))
}

// clean makes a message from the server fit to keep: the API key and the
// other secrets replaced, then cut to maxMessageLen.
func (s *Sender) clean(msg string) string {
	return truncate(s.redactor.Replace(msg), maxMessageLen)
}

// redacted replaces a secret in a message.
const redacted = "[redacted]"

// newRedactor returns a replacer of every non-empty secret, the longest
// first so that a secret containing another is replaced whole.
func newRedactor(secrets []string) *strings.Replacer {
	secrets = slices.DeleteFunc(slices.Clone(secrets), func(s string) bool { return s == "" })
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, redacted)
	}
	return strings.NewReplacer(pairs...)
}

// truncate cuts s to at most n bytes (on a rune boundary) and marks the cut.
func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter), true
	}
	return 0, false
}

// redactURLError drops userinfo from the URL of a transport error.
func redactURLError(err error) error {
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			urlErr.URL = u.Redacted()
		}
	}
	return err
}
