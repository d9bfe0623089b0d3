# ChainVault: make run · make test · make bench · make lint
SWIFT ?= swift
DATA ?= buckets
PYTEST ?= python3 -m pytest

.PHONY: run test build unit interop bench lint format deps test-deps

## Install missing build libraries, build in release mode, serve on the embedded default.
run: deps
	$(SWIFT) build -c release --product chainvault
	.build/release/chainvault serve --data $(DATA)

## Install missing tools, build, run the Swift tests and the interop suite with real clients.
test: deps test-deps build unit interop

build:
	$(SWIFT) build --build-tests

unit:
	$(SWIFT) test --skip-build

interop:
	CHAINVAULT_BIN="$$($(SWIFT) build --show-bin-path)/chainvault" $(PYTEST) -q Tests/interop

## PUT/GET throughput through presigned URLs with wrk, and peak RSS (see BENCHMARKS.md).
bench: deps
	scripts/install-deps.sh bench
	$(SWIFT) build -c release --product chainvault
	CHAINVAULT_BIN=.build/release/chainvault python3 scripts/bench.py

## Fails when swift format would change a file.
lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

deps:
	scripts/install-deps.sh build

test-deps:
	scripts/install-deps.sh test
