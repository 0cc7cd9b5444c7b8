# Keel: build, check, test and benchmark. GNU make, POSIX sh recipes.
# `make help` lists the targets.

SHELL := /bin/sh
.DEFAULT_GOAL := help
# Steps run in the order written, even under -j: test stops at the first failure.
.NOTPARALLEL:
.DELETE_ON_ERROR:

# Go lives at /usr/local/go; put it on PATH when the caller's PATH lacks it.
ifneq ($(wildcard /usr/local/go/bin/go),)
export PATH := /usr/local/go/bin:$(PATH)
endif

# Playwright drives the system Chromium (/usr/bin/chromium): never download browsers.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export DEBIAN_FRONTEND := noninteractive

GO        ?= go
BIN       := bin/keel
NODE_DEPS := node_modules/.package-lock.json
VENDOR    := htmx.org/dist/htmx.min.js:htmx.min.js echarts/dist/echarts.min.js:echarts.min.js
PLAYWRIGHT := node_modules/.bin/playwright
GOTEST_FLAGS ?= -count=1 -timeout 10m
BENCH_FLAGS ?=

.PHONY: help deps vendor generate build run check test go-test e2e bench bench-go clean clean-data

help: ## List the targets.
	@echo "Keel make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install what is missing (redis-server, chromium, node/npm as root on Debian; npm ci).
	@echo "== deps: checking go, redis-server, chromium, node, npm"
	@sh scripts/deps.sh
	@$(MAKE) -s --no-print-directory $(NODE_DEPS)
	@echo "== deps: ok"

# npm ci runs when node_modules is missing or older than the lock file.
$(NODE_DEPS): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: run 'make deps' (as root) first" >&2; exit 1; }
	@echo "== npm ci (node_modules missing or older than package-lock.json)"
	npm ci --no-audit --no-fund
	@touch $@

vendor: $(NODE_DEPS) ## Copy htmx and echarts from node_modules into static/vendor (when changed).
	@mkdir -p static/vendor
	@for pair in $(VENDOR); do \
		src=node_modules/$${pair%%:*}; dst=static/vendor/$${pair##*:}; \
		if cmp -s "$$src" "$$dst"; then \
			echo "== vendor: $$dst is up to date"; \
		else \
			echo "== vendor: cp $$src $$dst"; cp "$$src" "$$dst" || exit 1; \
		fi; \
	done

generate: ## Regenerate the templ components (*_templ.go).
	@echo "== generate: go tool templ generate"
	$(GO) tool templ generate

build: vendor ## Build bin/keel from ./cmd/web.
	@echo "== build: $(BIN)"
	$(GO) build -o $(BIN) ./cmd/web

run: deps vendor build ## Build and run Keel with demo data (KEEL_* and REDIS_URL pass through).
	@echo "== run: $(BIN) serve -demo"
	exec ./$(BIN) serve -demo

check: vendor ## gofmt, go vet, templ drift and the dependency-direction test.
	@echo "== check: gofmt -l (generated *_templ.go excluded)"
	@sh scripts/gofmt-check.sh
	@echo "== check: go vet ./..."
	$(GO) vet ./...
	@echo "== check: templ drift"
	@sh scripts/templ-drift.sh
	@echo "== check: dependency direction"
	$(GO) test -count=1 ./internal/archtest/
	@echo "== check: ok"

test: deps vendor check go-test e2e ## Everything CI runs: deps, check, go test ./..., then the Playwright suite.
	@echo "== test: all passed"

go-test: vendor ## go test ./... with a one-line summary.
	@echo "== go-test"
	@sh scripts/gotest.sh $(GOTEST_FLAGS) ./...

e2e: build ## Run the Playwright suite against a fresh bin/keel (system Chromium).
	@echo "== e2e: playwright test --config e2e/playwright.config.ts"
	$(PLAYWRIGHT) test --config e2e/playwright.config.ts

bench: build ## Load-test a fresh bin/keel and print one table (BENCH_FLAGS=-duration 5s).
	@echo "== bench: go run ./cmd/keelbench -keel $(BIN) $(BENCH_FLAGS)"
	$(GO) run ./cmd/keelbench -keel $(BIN) $(BENCH_FLAGS)

bench-go: vendor ## Go micro-benchmarks (go test -bench).
	@echo "== bench-go: go test -run '^$$' -bench . -benchmem ./..."
	$(GO) test -run '^$$' -bench . -benchmem ./...

# ./tmp (git-ignored) is people's scratch space: clean leaves it alone.
clean: ## Remove bin/, Playwright output and leftover test data dirs (not ./data, not ./tmp).
	@echo "== clean: bin/ e2e/test-results e2e/playwright-report e2e/.tmp and temp keel-e2e-*/keel-bench-* dirs"
	rm -rf bin e2e/test-results e2e/playwright-report e2e/.tmp
	rm -rf "$${TMPDIR:-/tmp}"/keel-e2e-* "$${TMPDIR:-/tmp}"/keel-bench-*

clean-data: ## Remove ./data (the local instance's store). Stop Keel first.
	@echo "== clean-data: rm -rf data"
	rm -rf data
