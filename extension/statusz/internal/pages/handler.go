// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package pages renders the status page and its JSON API from the components'
// snapshots. It holds no state of its own beyond the pipeline index: every
// request asks the registry for fresh, bounded snapshots.
package pages // import "github.com/prodscope/prodscope/extension/statusz/internal/pages"

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prodscope/prodscope/internal/statusregistry"
)

// Types are the component types that have a page of their own, in nav order.
var Types = []string{"cardinalityguard", "logtracejoin", "pprofscrape", "honeycombevents"}

// Options configure the handler.
type Options struct {
	// Snapshots returns every registered component's snapshot, lists bounded to limit.
	Snapshots func(limit int) []statusregistry.Snapshot
	// Pipelines gives the pipelines of a component ID (nil: none known).
	Pipelines interface {
		Of(componentID string) []string
	}
	Refresh  time.Duration // page reload interval; 0: none
	MaxItems int           // top N of every list
	Now      func() time.Time
}

// Handler serves /statusz (HTML) and /statusz/api (JSON).
type Handler struct {
	opts Options
	tmpl *template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

// NewHandler returns the page handler.
func NewHandler(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.MaxItems = max(opts.MaxItems, 1)
	tmpl := template.Must(template.New("statusz").Funcs(template.FuncMap{
		"ago":  ago,
		"ts":   timestamp,
		"dur":  duration,
		"pct":  percent,
		"join": strings.Join,
	}).ParseFS(templateFS, "templates/*.html"))
	return &Handler{opts: opts, tmpl: tmpl}
}

// view is what every template gets.
type view struct {
	Title      string
	Page       string // "" for the overview, else a component type
	Types      []string
	Now        time.Time
	RefreshSec int
	Components []statusregistry.Snapshot
	Omitted    int
	MaxItems   int
}

// apiResponse is the JSON API's shape.
type apiResponse struct {
	GeneratedAt       time.Time                 `json:"generated_at"`
	MaxItems          int                       `json:"max_items"`
	Components        []statusregistry.Snapshot `json:"components"`
	ComponentsOmitted int                       `json:"components_omitted"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "statusz: method "+r.Method+" not allowed; use GET")
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "":
		http.Redirect(w, r, "/statusz", http.StatusFound)
	case path == "/statusz":
		h.html(w, "", "overview")
	case path == "/statusz/api" || path == "/statusz/api/components":
		h.json(w, "")
	case strings.HasPrefix(path, "/statusz/api/"):
		typ := strings.TrimPrefix(path, "/statusz/api/")
		if !known(typ) {
			h.notFound(w, r)
			return
		}
		h.json(w, typ)
	case strings.HasPrefix(path, "/statusz/"):
		typ := strings.TrimPrefix(path, "/statusz/")
		if !known(typ) {
			h.notFound(w, r)
			return
		}
		h.html(w, typ, typ)
	default:
		h.notFound(w, r)
	}
}

func known(typ string) bool { return slices.Contains(Types, typ) }

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	plain(w, http.StatusNotFound, fmt.Sprintf("statusz: no page at %q; see /statusz", r.URL.Path))
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n") //nolint:gosec // G705: text/plain with nosniff, never rendered as HTML
}

// collect returns the snapshots of typ ("" = all), bounded to MaxItems
// components, with pipelines filled in and anything URL-shaped stripped of
// credentials.
func (h *Handler) collect(typ string) ([]statusregistry.Snapshot, int) {
	all := h.opts.Snapshots(h.opts.MaxItems)
	out := all[:0]
	for _, s := range all {
		if typ != "" && s.Type != typ {
			continue
		}
		if h.opts.Pipelines != nil {
			s.Pipelines = h.opts.Pipelines.Of(s.ID)
		}
		// Lists are [] in the JSON, never null.
		s.Pipelines = nonNil(s.Pipelines)
		s.Changed, s.Refused, s.Holding = nonNil(s.Changed), nonNil(s.Refused), nonNil(s.Holding)
		if s.PprofScrape != nil {
			for i := range s.PprofScrape.Targets {
				t := &s.PprofScrape.Targets[i]
				t.Endpoint = withoutCredentials(t.Endpoint)
				t.Name = withoutCredentials(t.Name)
			}
		}
		out = append(out, s)
	}
	if len(out) > h.opts.MaxItems {
		return out[:h.opts.MaxItems], len(out) - h.opts.MaxItems
	}
	return out, 0
}

func (h *Handler) html(w http.ResponseWriter, typ, tmpl string) {
	comps, omitted := h.collect(typ)
	title := "prodscope status"
	if typ != "" {
		title = typ + " · prodscope status"
	}
	v := view{
		Title: title, Page: typ, Types: Types, Now: h.opts.Now().UTC(),
		RefreshSec: int(h.opts.Refresh / time.Second), Components: comps, Omitted: omitted, MaxItems: h.opts.MaxItems,
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, tmpl+".html", v); err != nil {
		plain(w, http.StatusInternalServerError, "statusz: rendering failed: "+err.Error())
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	respond(w, "text/html; charset=utf-8", buf.Bytes())
}

func (h *Handler) json(w http.ResponseWriter, typ string) {
	comps, omitted := h.collect(typ)
	if comps == nil {
		comps = []statusregistry.Snapshot{}
	}
	body, err := json.MarshalIndent(apiResponse{
		GeneratedAt: h.opts.Now().UTC(), MaxItems: h.opts.MaxItems, Components: comps, ComponentsOmitted: omitted,
	}, "", "  ")
	if err != nil {
		plain(w, http.StatusInternalServerError, "statusz: encoding failed: "+err.Error())
		return
	}
	respond(w, "application/json", append(body, '\n'))
}

// respond writes a page or API answer: never cached, never sniffed.
func respond(w http.ResponseWriter, contentType string, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// withoutCredentials drops user:password@ from a URL (defense in depth: the
// components publish endpoints without them).
func withoutCredentials(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago says how long before now t was, coarsely ("3s ago", "in 2s" when t is later).
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d < 0:
		return "in " + coarse(-d)
	default:
		return coarse(d) + " ago"
	}
}

func coarse(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

func percent(n, of int64) string {
	if of <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d%%", n*100/of)
}
