# Entry points. Each target installs what is missing (scripts/setup) before it builds.
#   make run    build (release) and the web app, and start the whole stack: imageproc up
#   make test   build (debug + ASan/UBSan), start test services on loopback, run every test tier
#   make chaos  the chaos and sustained-load suites for 10 minutes each (make test runs them briefly)
#   make bench  build (release) and run the benchmarks (docs/benchmarks.md): image stage vs sharp and the floor,
#               end-to-end load, API reads vs pgbench, memory; then the micro-benchmarks
#   make fuzz   build the libFuzzer targets (clang) and run each for FUZZ_SECONDS (60)
#   make fmt    clang-format the sources      make lint   clang-tidy the sources

SHELL := /bin/bash
JOBS ?= $(shell nproc)
# ccache hits across clones in different directories (CI builds a fresh clone each time).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

FUZZ_SECONDS ?= 60

.PHONY: run test chaos bench fuzz fmt lint setup build-release build-test build-fuzz build-web clean

setup:
	@scripts/setup

build-release: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release --target imageproc -j $(JOBS)

# The test tiers: the asan tree (unit, integration) and the fuzz tree (the fuzz tier's targets).
build-test: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

build-fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

build-web: setup
	@cd web && npm run build --silent -- --logLevel warn

run: build-release build-web
	@./build/release/imageproc up

test: build-test
	@scripts/run-tests

CHAOS_SECONDS ?= 600
LOAD_SECONDS ?= 600
chaos: build-test
	@CHAOS_SECONDS=$(CHAOS_SECONDS) LOAD_SECONDS=$(LOAD_SECONDS) CTEST_TIMEOUT=3600 CTEST_JOBS=1 \
	  scripts/run-tests -L chaos --output-on-failure -V

bench: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release --target imageproc image_stage_bench micro_bench -j $(JOBS)
	@bench/run.py
	@./build/release/bench/micro_bench

fuzz: build-fuzz
	@fuzz/run --seconds $(FUZZ_SECONDS)

fmt:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

lint: build-test
	@clang-tidy -p build/asan --quiet $$(git ls-files 'src/*.cpp') 2>/dev/null

clean:
	rm -rf build web/dist
