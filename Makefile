# The two commands the README documents: `make suite` and `make test`.
# Both install what is missing (Debian packages), then build into build/.

BUILD_DIR ?= build
BUILD_TYPE ?= Release
PYTHON := /usr/bin/python3
JOBS ?= $(shell nproc)

# In CI every warning is an error.
ifeq ($(CI),true)
WERROR := ON
else
WERROR := OFF
endif

.PHONY: all deps build test unit pytest suite report bench clean format

all: build

deps:
	@bash tools/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSTARTTLS_WERROR=$(WERROR)

build: deps $(BUILD_DIR)/build.ninja
	cmake -DSTARTTLS_WERROR=$(WERROR) $(BUILD_DIR) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

pytest: build
	$(PYTHON) -m pytest pytest -n $(JOBS)

test: unit pytest

# make suite [CLIENT=NAME | CLIENT_CMD='TEMPLATE'] [CLIENT_POLICY=opportunistic]
# [SCENARIO='GLOB ...']: the catalogue against one client, as a matrix.
suite: build
	$(PYTHON) pytest/suite.py --build-dir $(BUILD_DIR) --jobs $(JOBS)

# The same, with the JSON and HTML reports in $(BUILD_DIR)/report/.
report: build
	$(PYTHON) pytest/suite.py --build-dir $(BUILD_DIR) --jobs $(JOBS) \
	  --report-json $(BUILD_DIR)/report/report.json --report-html $(BUILD_DIR)/report/report.html

# Benchmarks on one core (bench/RESULTS.md); not part of `make test`.
bench: build
	taskset -c 0 $(BUILD_DIR)/bin/certs_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
	taskset -c 0 bench/openssl_cli_catalogue.sh 5

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
