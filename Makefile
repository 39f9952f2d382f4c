# prodscope: the one entry point. `make run` and `make test` are all a newcomer needs.
# Every tool is pinned and installed into .tools/bin by this Makefile; nothing by hand.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO      ?= go
export GOTOOLCHAIN := local

ROOT    := $(CURDIR)
TOOLS   := $(ROOT)/.tools/bin
DIST    := _build
BINARY  := $(DIST)/otelcol-prodscope
DEMO_BIN := $(DIST)/shopdemo

OCB_VERSION          := v0.165.0
TELEMETRYGEN_VERSION := v0.161.0
BENCHSTAT_VERSION    := v0.0.0-20260908200009-22c9c6c9d4da
GOLANGCI_VERSION     := v2.15.0

BUILDER      := $(TOOLS)/builder
TELEMETRYGEN := $(TOOLS)/telemetrygen
MDATAGEN     := $(TOOLS)/mdatagen
BENCHSTAT    := $(TOOLS)/benchstat
GOLANGCI     := $(TOOLS)/golangci-lint

# Our component modules (each its own Go module, tied together by go.work).
COMPONENTS := processor/cardinalityguard processor/logtracejoin exporter/honeycombevents receiver/pprofscrape
MODULES    := $(COMPONENTS) extension/statusz internal examples/shopdemo deploy/kubernetes test/load test/e2e

# Profiles pipelines (pprofscrape) need this collector feature gate.
FEATURE_GATES := --feature-gates=service.profilesSupport

# Everything the distribution binary is made of: a change to any of it rebuilds.
COMPONENT_SRCS := $(shell find $(COMPONENTS) extension/statusz internal -path internal/tools -prune -o -type f \( -name '*.go' -o -name '*.html' -o -name go.mod -o -name go.sum \) -not -name '*_test.go' -print 2>/dev/null)



.PHONY: chromium build run test unit validate e2e generate-check bench bench-go bench-load fuzz lint lint-fast generate tools clean image image-multiarch help

help:
	@echo "make build     build the distribution into $(BINARY)"
	@echo "make run       build, then run the collector on config/local.yaml with the demo service (DEMO=0: collector alone)"
	@echo "make test      unit tests (-race) of every module, the build, validate of every config, end-to-end tests"
	@echo "make bench     Go benchmarks of every module (-count $(BENCH_COUNT), benchstat) and the load test of the built binary"
	@echo "make fuzz      every fuzz target for FUZZTIME (default 10s) each"
	@echo "make lint      gofmt, go vet, the header check and golangci-lint (pinned, the collector core's linters)"
	@echo "make generate  mdatagen for every component (make test checks the committed output is current)"
	@echo "make image     the FROM-scratch container image $(IMAGE), host platform"
	@echo "make image-multiarch  the image for $(IMAGE_PLATFORMS) (docker buildx)"
	@echo "make clean     remove build output, data and tools"

# ---- tools (pinned; installed once into .tools/bin) ----
$(BUILDER):
	GOBIN=$(TOOLS) GOWORK=off $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

$(TELEMETRYGEN):
	GOBIN=$(TOOLS) GOWORK=off $(GO) install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$(TELEMETRYGEN_VERSION)

$(BENCHSTAT):
	GOBIN=$(TOOLS) GOWORK=off $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

# mdatagen v0.165.0 is not served here; v0.157.0 builds from the tools module
# (internal/tools, go.sum committed) and its output compiles against core v0.165.0.
$(MDATAGEN): internal/tools/go.mod internal/tools/go.sum
	cd internal/tools && GOWORK=off $(GO) build -o $(MDATAGEN) go.opentelemetry.io/collector/cmd/mdatagen

tools: $(BUILDER) $(TELEMETRYGEN)

# ---- build ----
# Two steps, in scripts/build-dist.sh (docs/building.md explains why): generate
# the sources and go.mod, then compile with -mod=mod.
build: $(BINARY)

$(BINARY): builder-config.yaml scripts/build-dist.sh $(COMPONENT_SRCS) | $(BUILDER)
	scripts/build-dist.sh $(BUILDER) builder-config.yaml $(DIST) otelcol-prodscope

$(DEMO_BIN): $(shell find examples/shopdemo -name '*.go' -o -name 'go.*')
	cd examples/shopdemo && $(GO) build -o $(ROOT)/$(DEMO_BIN) .

# ---- image ----
# FROM scratch: nothing is pulled; the image holds only the static binary of
# its platform, CA certificates and the default (gateway) config.
#   make image                    the host's platform, into the local Docker
#   make image-multiarch          linux/amd64 and linux/arm64 with docker buildx,
#                                 as an OCI archive in _build/ (IMAGE_PUSH=1:
#                                 pushed to IMAGE's registry instead)
# Without buildx, image-multiarch stops with a message (docs/deploy.md).
IMAGE ?= prodscope/otelcol-prodscope:0.1.0
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
HOST_ARCH := $(shell $(GO) env GOARCH)
IMAGE_ARGS = --build-arg VERSION=0.1.0 --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown)

# The host's binary is the one `make build` made; other architectures are
# cross-compiled from the same generated sources (what the builder runs, with
# GOOS/GOARCH set).
$(DIST)/linux_$(HOST_ARCH)/otelcol-prodscope: $(BINARY)
	@mkdir -p $(@D) && cp $(BINARY) $@
$(DIST)/linux_%/otelcol-prodscope: $(BINARY)
	cd $(DIST) && GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=$* GOFLAGS="-buildvcs=false -mod=mod" \
	  $(GO) build -trimpath -ldflags="-s -w" -o linux_$*/otelcol-prodscope .

$(DIST)/ca-certificates.crt:
	@mkdir -p $(DIST) && cp /etc/ssl/certs/ca-certificates.crt $@

image: $(DIST)/linux_$(HOST_ARCH)/otelcol-prodscope $(DIST)/ca-certificates.crt
	docker build $(IMAGE_ARGS) --build-arg TARGETOS=linux --build-arg TARGETARCH=$(HOST_ARCH) -t $(IMAGE) .

image-multiarch: $(DIST)/ca-certificates.crt
	@docker buildx version >/dev/null 2>&1 || { \
	  echo "docker buildx is not available here: 'make image' builds linux/$(HOST_ARCH) only."; \
	  echo "Install the buildx plugin (docs/deploy.md, the image) for $(IMAGE_PLATFORMS)."; exit 1; }
	$(MAKE) $(foreach p,$(subst $(comma), ,$(IMAGE_PLATFORMS)),$(DIST)/$(subst /,_,$(p))/otelcol-prodscope)
	docker buildx build $(IMAGE_ARGS) --platform $(IMAGE_PLATFORMS) -t $(IMAGE) \
	  $(if $(IMAGE_PUSH),--push,--output type=oci$(comma)dest=$(DIST)/otelcol-prodscope-0.1.0.oci.tar) .

comma := ,

# Debian's chromium, for the status page's end-to-end test (chromedp drives it
# headless), installed through apt-get where it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium package (apt-get) for the status page e2e test"; \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core > /dev/null; }

# ---- run ----
run: $(BINARY) $(DEMO_BIN)
	@DEMO="$${DEMO:-1}" BINARY=$(BINARY) DEMO_BIN=$(DEMO_BIN) FEATURE_GATES="$(FEATURE_GATES)" scripts/run.sh

# ---- test ----
test: lint generate-check build unit validate e2e

# Unit tests of every module; test/load's also validate its generated configs
# with the built binary, so `make test` builds first.
unit: $(BINARY)
	@for m in $(MODULES); do \
	  [ "$$m" = test/e2e ] && continue; \
	  echo "== go test -race $$m"; \
	  (cd $$m && PRODSCOPE_BINARY=$(ROOT)/$(BINARY) $(GO) test -race -count=1 -timeout 10m ./...); \
	done

# Every collector config in config/ must pass the built binary's validate.
# Overlays (config/overlays/*.yaml) are validated on top of local.yaml.
validate: $(BINARY)
	@for f in config/*.yaml; do \
	  echo "== validate $$f"; \
	  HONEYCOMB_API_KEY=validate-only K8S_NODE_NAME=validate-node $(BINARY) validate $(FEATURE_GATES) --config $$f; \
	done
	@for f in $(wildcard config/overlays/*.yaml); do \
	  echo "== validate config/local.yaml + $$f"; \
	  HONEYCOMB_API_KEY=validate-only K8S_NODE_NAME=validate-node $(BINARY) validate $(FEATURE_GATES) --config config/local.yaml --config $$f; \
	done

e2e: $(BINARY) $(TELEMETRYGEN) chromium
	cd test/e2e && PRODSCOPE_BINARY=$(ROOT)/$(BINARY) TELEMETRYGEN=$(TELEMETRYGEN) \
	  $(GO) test -count=1 -timeout 30m -v ./... 2>&1 | tee $(ROOT)/$(DIST)/e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go'

# ---- bench / fuzz ----
# make bench: every module's Go benchmarks (-count 6: benchstat wants 6 samples for a
# confidence interval), then
# the load test of the built binary (test/load: telemetrygen through each of
# our components and the contrib ones beside them, interleaved, one run).
BENCH_COUNT  ?= 6
BENCH_BINARY := $(DIST)/bench/otelcol-prodscope-bench

bench: bench-go bench-load

bench-go: $(BENCHSTAT)
	@mkdir -p $(DIST)/bench
	@for m in $(COMPONENTS); do \
	  n=$$(basename $$m); echo "== go test -bench $$m"; \
	  (cd $$m && $(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./...) | tee $(DIST)/bench/$$n.txt; \
	  $(BENCHSTAT) $(DIST)/bench/$$n.txt > $(DIST)/bench/$$n.benchstat.txt || true; \
	done
	@echo "raw results and benchstat summaries in $(DIST)/bench/"

# The bench-only distribution: its manifest is generated from builder-config.yaml
# plus the components we do not ship but measure against (the contrib
# pprofreceiver; test/load/internal/benchmanifest), so the two cannot drift.
$(BENCH_BINARY): builder-config.yaml scripts/build-dist.sh $(wildcard test/load/internal/benchmanifest/*.go) $(COMPONENT_SRCS) | $(BUILDER)
	test/load/build-bench.sh $(BUILDER)

bench-load: $(BINARY) $(BENCH_BINARY) $(TELEMETRYGEN)
	@mkdir -p $(DIST)/bench
	cd test/load && $(GO) run ./cmd/loadbench -binary $(ROOT)/$(BINARY) -bench-binary $(ROOT)/$(BENCH_BINARY) \
	  -telemetrygen $(TELEMETRYGEN) -out $(ROOT)/$(DIST)/bench/load.md -workdir $(ROOT)/$(DIST)/bench/load
	@echo "load test table in $(DIST)/bench/load.md"

FUZZTIME ?= 10s
fuzz:
	@for m in $(COMPONENTS); do \
	  for pkg in $$(cd $$m && $(GO) list ./...); do \
	    dir=$$(cd $$m && $(GO) list -f '{{.Dir}}' $$pkg); \
	    for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	      echo "== fuzz $$pkg $$f"; (cd $$dir && $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) .); \
	    done; \
	  done; \
	done

# ---- lint / generate ----
lint-fast:
	@out=$$(git ls-files '*.go' | grep -v '^_build/' | xargs -r gofmt -l); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

# golangci-lint with the collector core's linter set (.golangci.yml), every
# module; pinned, and it must install: no fallback.
$(GOLANGCI):
	GOBIN=$(TOOLS) GOWORK=off $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

lint: lint-fast $(GOLANGCI)
	@for m in $(MODULES); do echo "== golangci-lint $$m"; (cd $$m && $(GOLANGCI) run ./...); done
	@echo "== golangci-lint processor/cardinalityguard/benchcmp (GOWORK=off: it pins contrib's transform processor)"
	@cd processor/cardinalityguard/benchcmp && GOWORK=off $(GOLANGCI) run ./...

# Every module with a metadata.yaml: our components and the statusz extension.
GENERATED := $(COMPONENTS) extension/statusz

generate: $(MDATAGEN)
	@for m in $(GENERATED); do echo "== mdatagen $$m"; (cd $$m && $(MDATAGEN) metadata.yaml); done

# make test fails when mdatagen changes anything: the generated code (and the
# README status tables it writes) must be what metadata.yaml generates now.
# Compared before and after, so local uncommitted edits do not trip it.
generate-check: $(MDATAGEN)
	@state() { git status --porcelain -- $(GENERATED); git diff -- $(GENERATED); }; \
	  before=$$(state | sha256sum); \
	  $(MAKE) --no-print-directory generate > /dev/null; \
	  if [ "$$before" != "$$(state | sha256sum)" ]; then \
	    echo "make generate changed files: generated code is out of date (run make generate and commit)"; \
	    git status --short -- $(GENERATED); exit 1; fi

clean:
	rm -rf $(DIST) _data .tools
