# The two commands the README documents: `make suite` and `make test`.
# Both install what is missing (Debian packages), then build into build/.

BUILD_DIR ?= build
# SANITIZE=address builds with ASan+UBSan+LSan (CMake's STARTTLS_SANITIZE);
# use it with its own BUILD_DIR, e.g. make test BUILD_DIR=build-asan SANITIZE=address
SANITIZE ?=
# FUZZ=ON builds with clang, ASan+UBSan+LSan and the libFuzzer targets (CMake's
# STARTTLS_FUZZ), tests included: `make test BUILD_DIR=build-fuzz FUZZ=ON`
# tests the very build `make fuzz` then fuzzes with.
FUZZ ?= OFF
ifeq ($(FUZZ),ON)
SANITIZE := address
CONFIGURE_ENV := CC=clang CXX=clang++
endif
ifeq ($(SANITIZE),)
BUILD_TYPE ?= Release
else
BUILD_TYPE ?= RelWithDebInfo
endif
PYTHON := /usr/bin/python3
JOBS ?= $(shell nproc)
# pytest workers: two per core on the release build, where most tests wait
# on a client's deadline or a scenario's hold window (at one per core the
# suite took 692 s, at two 434 s, bench/RESULTS.md); the third-party pins
# were recorded under the same load (2 jobs and 2 busy processes on 2 cores,
# their [recorded] tables). Sanitizer builds are CPU-bound: one per core.
ifeq ($(SANITIZE)$(FUZZ),OFF)
PYTEST_JOBS ?= $(shell echo $$(( 2 * $(JOBS) )))
else
PYTEST_JOBS ?= $(JOBS)
endif
# Extra pytest arguments, e.g. the files to run.
PYTEST_ARGS ?=
# The libFuzzer build (clang) and how long `make fuzz` runs each target.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := scenario responder reply_parser session import pop3

# In CI every warning is an error.
ifeq ($(CI),true)
WERROR := ON
else
WERROR := OFF
endif

.PHONY: all deps build test unit pytest suite report bench clean format fuzz fuzz-build package

all: build

# The Debian packages each command needs (tools/install-deps.sh names the
# groups): `make build` and `make unit` only the build toolchain and
# libraries; `make suite` and `make report` also OpenSSL's runtime and pytest;
# `make test` everything its tests use (clients, servers, chromium); `make
# fuzz` and FUZZ=ON clang. A target's DEPS reach its prerequisites.
DEPS := build
ifeq ($(FUZZ),ON)
DEPS += fuzz
endif
pytest test: DEPS += run test clients servers
suite report: DEPS += run
ifneq ($(CLIENT),)
suite report: DEPS += clients
endif
bench: DEPS += run test
fuzz fuzz-build: DEPS += fuzz

deps:
	@bash tools/install-deps.sh $(sort $(DEPS))

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	$(CONFIGURE_ENV) cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSTARTTLS_WERROR=$(WERROR) -DSTARTTLS_SANITIZE=$(SANITIZE) -DSTARTTLS_FUZZ=$(FUZZ)

build: deps $(BUILD_DIR)/build.ninja
	cmake -DSTARTTLS_WERROR=$(WERROR) -DSTARTTLS_SANITIZE=$(SANITIZE) -DSTARTTLS_FUZZ=$(FUZZ) $(BUILD_DIR) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# pytest runs the binaries of $(BUILD_DIR) (starttls_mock/harness.py reads STARTTLS_BUILD_DIR).
pytest: build
	STARTTLS_BUILD_DIR=$(BUILD_DIR) $(PYTHON) -m pytest pytest -n $(PYTEST_JOBS) $(PYTEST_ARGS)

test: unit pytest

# make suite [CLIENT=NAME | CLIENT_CMD='TEMPLATE'] [CLIENT_POLICY=opportunistic]
# [SCENARIO='GLOB ...']: the catalogue against one client, as a matrix.
suite: build
	$(PYTHON) pytest/suite.py --build-dir $(BUILD_DIR) --jobs $(JOBS)

# The same, with the JSON and HTML reports in $(BUILD_DIR)/report/.
report: build
	$(PYTHON) pytest/suite.py --build-dir $(BUILD_DIR) --jobs $(JOBS) \
	  --report-json $(BUILD_DIR)/report/report.json --report-html $(BUILD_DIR)/report/report.html

# The Debian package, $(BUILD_DIR)/starttls-mock_<version>_<arch>.deb
# (cmake/Package.cmake); tools/test-deb.sh installs and tests it (root).
package: build
	cd $(BUILD_DIR) && cpack

# Benchmarks on one core (bench/RESULTS.md); not part of `make test`.
bench: build
	taskset -c 0 $(BUILD_DIR)/bin/certs_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
	taskset -c 0 bench/openssl_cli_catalogue.sh 5
	taskset -c 0 $(BUILD_DIR)/bin/hot_paths_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	BUILD=$(BUILD_DIR) bench/run.sh

# libFuzzer targets (fuzz/README.md): builds them with clang into
# $(FUZZ_BUILD_DIR) and runs each for $(FUZZ_SECONDS) s from its committed
# corpus; what they find new goes to a scratch corpus, not to fuzz/corpus.
fuzz-build: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTARTTLS_FUZZ=ON -DSTARTTLS_WERROR=$(WERROR) >/dev/null
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target $(addsuffix _fuzzer,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD_DIR)/corpus/$$t $(FUZZ_BUILD_DIR)/artifacts/$$t && \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s" && \
	  $(FUZZ_BUILD_DIR)/bin/$${t}_fuzzer -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD_DIR)/artifacts/$$t/ \
	    $(FUZZ_BUILD_DIR)/corpus/$$t fuzz/corpus/$$t 2>$(FUZZ_BUILD_DIR)/$$t.log || \
	  { tail -50 $(FUZZ_BUILD_DIR)/$$t.log; echo "fuzz: $$t failed, see $(FUZZ_BUILD_DIR)/$$t.log and $(FUZZ_BUILD_DIR)/artifacts/$$t/"; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|Done)' $(FUZZ_BUILD_DIR)/$$t.log; \
	done

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
