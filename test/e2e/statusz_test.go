// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The status page, as an operator sees it: the built binary on
// config/local.yaml with the demo service sending to it, then headless
// Chromium (Debian's chromium, which the Makefile installs) loads every page and
// reads what is on the screen. The guard lists operation_error/user_id as
// limited with several hundred distinct values, both pprof targets (the demo and
// the collector's own pprof extension) are up, logtracejoin has joined logs to
// spans. A screenshot of each page goes to _build/e2e/.
func TestStatusPageInChromium(t *testing.T) {
	chrome := chromiumPath(t)

	c := newCollectorEnv(t)
	c.env["PRODSCOPE_PPROF_INTERVAL"] = "2s"
	c.env["PRODSCOPE_PPROF_CPU_DURATION"] = "1s"
	c.start("config/local.yaml")

	// The demo in the background for the whole test: its pprof endpoint must be
	// up while the pages are read. 500 users, 10% of orders fail: at 250
	// requests a second, 25 s make ~6,000 orders and ~600 failures, so about
	// 500*(1-e^(-600/500)) = 350 distinct user ids reach operation_error.
	bin := buildOnce(t, "shopdemo", "examples/shopdemo", ".")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	//nolint:gosec // G204: runs the demo service this test built
	demo := exec.CommandContext(ctx, bin, "-collector", c.otlpGRPC, "-listen", freeAddr(t),
		"-pprof", c.env["PRODSCOPE_DEMO_PPROF"], "-duration", "90s", "-rate", "250", "-users", "500",
		"-metric-interval", "1s")
	demoOut := &lockedBuffer{}
	demo.Stdout, demo.Stderr = demoOut, demoOut
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = demo.Wait()
		if t.Failed() {
			t.Logf("shopdemo output (tail): %s", tail(demoOut.String(), 3000))
		}
	})

	shots := filepath.Join(repoRoot, "_build", "e2e")
	if err := os.MkdirAll(shots, 0o750); err != nil {
		t.Fatal(err)
	}
	browser := newBrowser(t, chrome)
	base := "http://" + c.statusz + "/statusz"

	// cardinalityguard: the pair the demo's bug makes.
	var guardRow []string
	eventually(t, 90*time.Second, "operation_error/user_id limited with several hundred values", func() (bool, string) {
		rows := browser.tableRows(t, base+"/cardinalityguard")
		guardRow = findRow(rows, "operation_error", "user_id")
		if guardRow == nil {
			return false, fmt.Sprintf("no operation_error/user_id row in %v", rows)
		}
		// columns: scope, metric, label, distinct values (est.), action, reason, since, points affected
		n, err := strconv.Atoi(guardRow[3])
		return err == nil && n >= 300, fmt.Sprintf("row %q", guardRow)
	})
	if n, _ := strconv.Atoi(guardRow[3]); n > 600 {
		t.Errorf("estimated %d distinct user ids; the demo has 500", n)
	}
	// Nothing else is limited: the demo's one mistake is user_id (pprofscrape's
	// function metrics have their own override in config/local.yaml).
	for _, r := range browser.tableRows(t, base+"/cardinalityguard") {
		if len(r) == 8 && r[0] != "scope" && (r[1] != "operation_error" || r[2] != "user_id") {
			t.Errorf("limited besides operation_error/user_id: %q", r)
		}
	}
	if guardRow[4] != "drop" {
		t.Errorf("action %q, want drop (config/local.yaml drops user_id past 20 values)", guardRow[4])
	}
	if pts, err := strconv.Atoi(guardRow[7]); err != nil || pts <= 0 {
		t.Errorf("points affected %q, want > 0", guardRow[7])
	}
	browser.screenshot(t, base+"/cardinalityguard", filepath.Join(shots, "statusz-cardinalityguard.png"))

	// pprofscrape: both targets up.
	eventually(t, 60*time.Second, "both pprof targets up", func() (bool, string) {
		text := browser.pageText(t, base+"/pprofscrape")
		up, down := 0, 0
		for _, r := range browser.tableRows(t, base+"/pprofscrape") {
			for _, cell := range r {
				switch cell {
				case "up":
					up++
				case "down":
					down++
				}
			}
		}
		return up == 2 && down == 0 && strings.Contains(text, "2 up"), fmt.Sprintf("%d targets up, %d down; page: %s", up, down, tail(text, 1500))
	})
	browser.screenshot(t, base+"/pprofscrape", filepath.Join(shots, "statusz-pprofscrape.png"))

	// logtracejoin: logs joined to spans on the request id.
	eventually(t, 60*time.Second, "logtracejoin join hits above zero", func() (bool, string) {
		rows := browser.tableRows(t, base+"/logtracejoin")
		for i, r := range rows {
			if len(r) > 0 && r[0] == "join hits" && i+1 < len(rows) {
				n, err := strconv.Atoi(rows[i+1][0])
				return err == nil && n > 0, fmt.Sprintf("join hits %q", rows[i+1][0])
			}
		}
		return false, fmt.Sprintf("no join hits column in %v", rows)
	})
	browser.screenshot(t, base+"/logtracejoin", filepath.Join(shots, "statusz-logtracejoin.png"))

	// The overview lists every prodscope component instance of the config with
	// its pipelines; the JSON API serves the same instances.
	overview := browser.pageText(t, base)
	for _, want := range []string{"cardinalityguard", "logtracejoin", "pprofscrape", "metrics"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview does not show %q:\n%s", want, tail(overview, 3000))
		}
	}
	browser.screenshot(t, base, filepath.Join(shots, "statusz-overview.png"))
	browser.screenshot(t, base+"/honeycombevents", filepath.Join(shots, "statusz-honeycombevents.png"))

	api := browser.pageText(t, base+"/api/cardinalityguard")
	if !strings.Contains(api, `"label": "user_id"`) && !strings.Contains(api, `"label":"user_id"`) {
		t.Errorf("/statusz/api/cardinalityguard does not list user_id:\n%s", tail(api, 2000))
	}
}

// chromiumPath finds Debian's chromium (make e2e installs it where missing).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: `make e2e` installs Debian's chromium package (or set CHROMIUM)")
	return ""
}

// newBrowser starts one headless Chromium for the test, stopped at cleanup.
func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{},
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the test may run as root in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now (with no timeout: it lives as long as ctx), so that
	// a missing library fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return &browser{ctx: ctx}
}

// browser is one headless Chromium; its pages load one at a time.
type browser struct{ ctx context.Context }

// load navigates to url and waits for its body, bounded.
func (b *browser) load(t *testing.T, url string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("chromium: load %s: %v", url, err)
	}
	return ctx
}

// pageText is the text a person sees on the page at url.
func (b *browser) pageText(t *testing.T, url string) string {
	t.Helper()
	text, err := chromedp.Run(b.load(t, url), chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("chromium: text of %s: %v", url, err)
	}
	return text
}

// tableRows is every table row on the page at url, as the cells' visible text.
func (b *browser) tableRows(t *testing.T, url string) [][]string {
	t.Helper()
	rows, err := chromedp.Run(b.load(t, url), chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll("table tr")).map(r => Array.from(r.cells).map(c => c.innerText.trim()))`))
	if err != nil {
		t.Fatalf("chromium: tables of %s: %v", url, err)
	}
	return rows
}

// findRow returns the first row holding every one of cells, or nil.
func findRow(rows [][]string, cells ...string) []string {
	for _, r := range rows {
		if !slices.ContainsFunc(cells, func(c string) bool { return !slices.Contains(r, c) }) {
			return r
		}
	}
	return nil
}

// screenshot saves a full-page PNG of url.
func (b *browser) screenshot(t *testing.T, url, path string) {
	t.Helper()
	png, err := chromedp.Run(b.load(t, url), chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium: screenshot of %s: %v", url, err)
	}
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
