# meliae - developer entry points.  `make help` lists them.
# The engine sources are every .c file in src/libmeliae/ (setup.py reads the same).

CC      ?= cc
PYTHON  ?= python3
ENGINE_SRC := $(sort $(wildcard src/libmeliae/*.c))
CTEST_SRC  := $(sort $(wildcard tests/c/test_*.c))
HAVE_ZSTD  := $(shell test -f /usr/include/zstd.h && echo 1)
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow
DEFS    := -DMEL_STATIC_BUILD -D_POSIX_C_SOURCE=200809L $(if $(HAVE_ZSTD),-DMEL_HAVE_ZSTD)
LIBS    := -lz $(if $(HAVE_ZSTD),-lzstd) -lm
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
WERROR  ?=
BUILD   := build/c

.PHONY: help build check check-c check-py valgrind fuzz fuzz-replay bench demo clean

help: ## Show this help.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n", $$1, $$2}'

build: ## Install the package (editable) with its C extensions into the current Python.
	$(PYTHON) -m pip install -e '.[test]'

$(BUILD)/asan/%: tests/c/%.c $(ENGINE_SRC) src/libmeliae/meliae.h tests/c/mtest.h tests/c/mtest_dump.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(DEFS) -g -O1 $(SANFLAGS) -Isrc/libmeliae -Itests/c $< $(ENGINE_SRC) $(LIBS) -o $@

$(BUILD)/plain/%: tests/c/%.c $(ENGINE_SRC) src/libmeliae/meliae.h tests/c/mtest.h tests/c/mtest_dump.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(DEFS) -g -O1 -Isrc/libmeliae -Itests/c $< $(ENGINE_SRC) $(LIBS) -o $@

CTESTS_ASAN  := $(patsubst tests/c/%.c,$(BUILD)/asan/%,$(CTEST_SRC))
CTESTS_PLAIN := $(patsubst tests/c/%.c,$(BUILD)/plain/%,$(CTEST_SRC))

check-c: $(CTESTS_ASAN) ## Build and run the C tests under ASan+UBSan.
	@set -e; for t in $(CTESTS_ASAN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

valgrind: $(CTESTS_PLAIN) ## Run the C tests under valgrind (memcheck, leak check).
	@set -e; for t in $(CTESTS_PLAIN); do echo "== valgrind $$t"; \
	  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $$t; done

check-py: ## Run the Python test suite with the current Python.
	$(PYTHON) -m pytest -q tests

check: check-c check-py ## Everything: C tests under sanitizers, then pytest.

fuzz: ## Run the libFuzzer targets (needs clang) for FUZZ_SECONDS each (default 60).
	$(MAKE) -C tests/fuzz run FUZZ_SECONDS=$${FUZZ_SECONDS:-60}

bench: ## Run the benchmark suite and rewrite bench/RESULTS.md.
	$(PYTHON) bench/run.py

demo: ## Dump the bundled leaky sample program and print its analysis.
	$(PYTHON) -m meliae demo

clean: ## Remove build products.
	rm -rf build *.egg-info src/*.egg-info src/meliae/*.so

# --- hardening: fuzz regression replay, lint ----------------------------------
# tests/c/test_fuzz_regress.c links both fuzz targets without libFuzzer and replays
# tests/fuzz/regress/ and the seed corpora in the ordinary check-c and valgrind runs.
FUZZ_TARGET_SRC := tests/fuzz/fuzz_reader.c tests/fuzz/fuzz_roundtrip.c
FUZZ_REGRESS_FLAGS := -Itests/fuzz -DMEL_FUZZ_NO_ENTRY -DMEL_FUZZ_DIR='"$(CURDIR)/tests/fuzz"'

$(BUILD)/asan/test_fuzz_regress: tests/c/test_fuzz_regress.c $(FUZZ_TARGET_SRC) tests/fuzz/fuzz_targets.h $(ENGINE_SRC) src/libmeliae/meliae.h tests/c/mtest.h tests/c/mtest_dump.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(DEFS) -g -O1 $(SANFLAGS) -Isrc/libmeliae -Itests/c $(FUZZ_REGRESS_FLAGS) $< $(FUZZ_TARGET_SRC) $(ENGINE_SRC) $(LIBS) -o $@

$(BUILD)/plain/test_fuzz_regress: tests/c/test_fuzz_regress.c $(FUZZ_TARGET_SRC) tests/fuzz/fuzz_targets.h $(ENGINE_SRC) src/libmeliae/meliae.h tests/c/mtest.h tests/c/mtest_dump.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(DEFS) -g -O1 -Isrc/libmeliae -Itests/c $(FUZZ_REGRESS_FLAGS) $< $(FUZZ_TARGET_SRC) $(ENGINE_SRC) $(LIBS) -o $@

fuzz-replay: ## Replay the fuzz seeds and tests/fuzz/regress/ without libFuzzer.
	$(MAKE) -C tests/fuzz replay

CPPCHECK ?= cppcheck
.PHONY: lint
lint: ## Static analysis of the C sources with cppcheck (configuration: .cppcheck).
	$(CPPCHECK) $$(sed -e 's/#.*//' .cppcheck) $(DEFS) -Isrc/libmeliae src/libmeliae tests/c tests/fuzz
