# Each target sets up what it needs in .venv, so a fresh clone runs any of them directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ASV := $(BIN)/python -m asv

# Commits to benchmark (an asv range; commits with results already are skipped).
COMMITS ?= HEAD~3..HEAD
# The suite make bench runs: all but the gate's relative times (benchmarks/bench_gate.py).
SUITE := ^(?!bench_gate\.)
# The regression gate: compare HEAD against BASE (tools/gate.py; README says how it decides).
BASE ?= main
# make bisect: the commit between GOOD and BAD that made the gated benchmarks
# (those matching the regular expression BENCH, if given) slower.
BENCH ?=

# Each timed side of a comparison starts once OpenBLAS's helper threads sleep
# (benchmarks/idle_threads.py). They spin 2²⁸ cycles after a call, 0.13 s here;
# 2²⁴, 11 ms, shortens that wait, not a call (docs/scaling.md). OpenBLAS reads it
# when numpy loads, so it is set before asv starts. The gate keeps OpenBLAS's own.
export OPENBLAS_THREAD_TIMEOUT ?= 24

.PHONY: test sanitize bench preview compare bisect calibrate calibrate-bisect install browser restore-results save-results

test: install browser
	$(BIN)/python -m pytest

# cydot's kernels built with AddressSanitizer and UBSan in a copy of the tracked files, and the
# tests of cydot run against them: a read or write past a buffer aborts the run and prints where.
# ThreadSanitizer's test is left out, as one process cannot load both runtimes.
SANITIZED := build/sanitized
sanitize: install
	rm -rf $(SANITIZED) && mkdir -p $(SANITIZED)
	git ls-files -z | xargs -0 cp --parents --target-directory=$(SANITIZED)
	cd $(SANITIZED) && CYDOT_SANITIZE=address,undefined $(CURDIR)/$(BIN)/python setup.py --quiet build_ext --inplace
	cd $(SANITIZED) && LD_PRELOAD="$$($(CC) -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(CURDIR)/$(BIN)/python -m pytest --capture=sys \
	    -p no:cacheprovider -k 'cydot and not thread_sanitizer' tests/test_cydot.py tests/test_cydot_threads.py \
	    tests/test_dot.py tests/test_properties.py tests/test_errors.py

bench: install
	$(ASV) machine --yes
	$(ASV) run --skip-existing-commits --show-stderr --bench '$(SUITE)' $(COMMITS); status=$$?; \
	$(ASV) publish && $(BIN)/python tools/report.py .asv/html && \
	    $(BIN)/python tools/offline_dashboard.py .asv/html && exit $$status

# CI's benchmark history: asv's results kept on the branch asv-results (tools/results_branch.py).
restore-results:
	$(PYTHON) tools/results_branch.py restore

save-results:
	$(PYTHON) tools/results_branch.py save

preview:
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory .asv/html 8080

compare: install
	$(ASV) machine --yes
	$(BIN)/python tools/gate.py $(BASE) HEAD

bisect: install
	$(ASV) machine --yes
	$(BIN)/python tools/bisect_regression.py $(GOOD) $(BAD)$(if $(BENCH), --bench '$(BENCH)')

# The gate's false alarms and detection rate on this machine, in a throwaway clone
# (28-71 minutes a gate run here, docs/gate.md: 9 runs by default, tools/calibrate_gate.py --help).
calibrate: install
	$(ASV) machine --yes
	$(BIN)/python tools/calibrate_gate.py

# make bisect on throwaway histories with one slowdown at a random commit (23 minutes a chain
# with --bench square_1000 on a 2-CPU VM, docs/gate.md; more without it).
calibrate-bisect: install
	$(ASV) machine --yes
	$(BIN)/python tools/calibrate_bisect.py

install: $(VENV)/.created
	$(BIN)/python -m pip install --quiet --no-build-isolation --editable '.[test,peers,report]'

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel 'Cython>=3' 'numpy>=1.25'
	touch $@

# Headless Chromium for the dashboard test (Debian's package; needs root).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	    || echo "could not install chromium: the dashboard test will be skipped"
