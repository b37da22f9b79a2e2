# Kiln. The two commands that matter:
#   make dev    build both Workers and run Kiln locally (http://localhost:8787)
#   make test   every test: native unit tests and end-to-end tests against real `wrangler dev`
SHELL := /bin/bash
.DEFAULT_GOAL := help

RUST_SOURCES := $(shell find src events workflows crates prompts dispatch/src -type f 2>/dev/null) Cargo.toml Cargo.lock events/Cargo.toml dispatch/Cargo.toml
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.mts web/tsconfig.json package-lock.json
ENV := source scripts/env.sh &&

.PHONY: help dev test build toolchain e2e bench fmt lint clean web-size chromium deploy deploy-check

help:
	@echo "make dev    run Kiln locally (platform :8787, apps at <slug>.localhost:8787)"
	@echo "make test   run every test (unit + end-to-end)"
	@echo "make build  build both Workers"
	@echo "make bench  benchmarks (figures in BENCHMARKS.md)"
	@echo "make deploy provision a Cloudflare account and deploy (DRY_RUN=1: build for deployment only)"

toolchain:
	@scripts/toolchain.sh

build: toolchain web/dist/index.html build/index.js dispatch/build/index.js

# The builder UI (web/): type-checked, then bundled offline from node_modules into web/dist, which
# the platform Worker serves as static assets.
web/dist/index.html: $(WEB_SOURCES)
	$(ENV) tsc -p web --noEmit
	$(ENV) vite build --config web/vite.config.mts --logLevel warn
	@touch $@

# Gzip sizes of what the builder loads first (the budget is 150 kB; figures in BENCHMARKS.md).
web-size: web/dist/index.html
	@scripts/web-size.sh

build/index.js: $(RUST_SOURCES)
	$(ENV) worker-build --release
	@touch $@

dispatch/build/index.js: $(RUST_SOURCES)
	$(ENV) cd dispatch && worker-build --release
	@touch $@

dev: build
	@scripts/dev.sh

# The browser tests (tests/ui, run by the e2e harness) drive Debian's chromium.
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# Provisions the account and deploys both Workers (README: "Deploying to Cloudflare");
# DRY_RUN=1 only builds both Workers for deployment (wrangler deploy --dry-run).
deploy: build
	@scripts/deploy.sh $(if $(filter 1,$(DRY_RUN)),--dry-run)

# Both Workers build for deployment with their production configs (part of make test).
deploy-check: build
	@scripts/deploy.sh --dry-run >/dev/null
	@echo "deploy dry run: both Workers build for deployment"

test: build chromium deploy-check
	@scripts/test-tools.sh
	$(ENV) cargo test --workspace --no-fail-fast

e2e: build chromium
	@scripts/test-tools.sh
	$(ENV) cargo test -p kiln --test e2e

bench: build
	cargo run -p events --release --example bench_fold
	cargo run -p generation --release --example bench_parser
	cargo run -p generation --release --example bench_tokens
	cargo run -p planner --release --example bench_planner
	cargo run -p validation --release --example bench_validate
	cargo run -p validation --release --example bench_model_path
	$(ENV) cargo bench -p kiln --bench platform
	$(ENV) cargo bench -p kiln --bench dispatch

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf target build dispatch/build web/dist
