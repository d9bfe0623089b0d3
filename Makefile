# ChainVault: make run · make test · make bench · make lint
SWIFT ?= swift
DATA ?= buckets
PYTEST ?= python3 -m pytest

.PHONY: run test build unit interop bench lint format deps test-deps fuzz fuzz-build fuzz-smoke soak screenshots

## Install missing build libraries, build in release mode, serve on the embedded default.
run: deps
	$(SWIFT) build -c release --product chainvault
	.build/release/chainvault serve --data $(DATA)

## Install missing tools, build, run the Swift tests, the interop suite with real clients, and a
## short fuzz smoke (10^4 inputs per target) so that the fuzz targets keep building.
test: deps test-deps build unit interop fuzz-smoke

build:
	$(SWIFT) build --build-tests

## The Swift tests (the hospital's on SQLite), then the hospital's suite again on PostgreSQL: one
## throwaway server of their own (scripts/with-postgres.sh) for both passes.
unit:
	scripts/with-postgres.sh sh -c '$(SWIFT) test --skip-build && CHAINVAULT_TEST_HOSPITAL_ENGINE=postgres $(SWIFT) test --skip-build --filter HospitalTests'

## The real clients and tools against `chainvault serve`; two instances on a throwaway PostgreSQL server.
interop:
	CHAINVAULT_BIN="$$($(SWIFT) build --show-bin-path)/chainvault" scripts/with-postgres.sh $(PYTEST) -q Tests/interop

## PUT/GET throughput through presigned URLs with wrk, and peak RSS (see BENCHMARKS.md).
bench: deps
	scripts/install-deps.sh bench
	$(SWIFT) build -c release --product chainvault
	CHAINVAULT_BIN=.build/release/chainvault python3 scripts/bench.py
	CHAINVAULT_BIN=.build/release/chainvault python3 scripts/portal_bench.py

## libFuzzer targets of every parser of outside bytes (Fuzz/, own build folder .build-fuzz): 10^6 inputs each.
FUZZ_RUNS ?= 1000000
# The long runs use an optimized build (several times the inputs a second, the sanitizers the same);
# the smoke only proves the targets build and run.
fuzz: deps
	$(MAKE) fuzz-build FUZZ_CONFIG=release
	FUZZ_CONFIG=release scripts/fuzz.sh $(FUZZ_RUNS)

fuzz-smoke: fuzz-build
	scripts/fuzz.sh 10000

FUZZ_CONFIG ?= debug
fuzz-build:
	cd Fuzz && $(SWIFT) build -c $(FUZZ_CONFIG) --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library

## Ten minutes of mixed load against a release build, sampling RSS, descriptors and threads (see RELIABILITY.md).
## The portal's main pages photographed in chromium into docs/portal-*.png.
screenshots: deps test-deps build
	python3 scripts/portal_screenshots.py

soak: deps test-deps
	scripts/install-deps.sh soak
	$(SWIFT) build -c release --product chainvault
	CHAINVAULT_BIN=.build/release/chainvault python3 scripts/soak.py

## Fails when swift format would change a file, or a target imports outside docs/architecture.md's rules.
lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Fuzz/Package.swift Fuzz/Sources
	python3 scripts/check-architecture.py

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests Fuzz/Package.swift Fuzz/Sources

deps:
	scripts/install-deps.sh build

test-deps:
	scripts/install-deps.sh test
