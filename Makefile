# genrep: the two commands of README.md. Each creates .venv and installs what it needs first.
#   make rehearse   full dress rehearsal against the built-in virtual environment -> report + verdict
#   make test       the project's own tests (unit, simulators over real sockets, selftest matrix)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.genrep-installed

# Every command starts many Python processes (simulators, suite runs, Locust, rehearsals): each
# compiles what it imports again unless bytecode is cached, and pytest rewrites every test module
# again on each worker. Cache it in .venv (never in the work tree), also where the environment says
# not to write bytecode (PYTHONDONTWRITEBYTECODE, set on the machines genrep's CI runs on: there
# every process of `make rehearse` compiled its imports, ~2x their CPU: `import locust` 0.6 -> 1.4 s).
PYCACHE := $(abspath $(VENV))/pycache
export PYTHONPYCACHEPREFIX := $(PYCACHE)
export PYTHONDONTWRITEBYTECODE :=

.PHONY: setup rehearse test test-fast selftest bench sim clean chromium

# The installer is uv (from PyPI, pinned), which resolves and installs the same releases as pip
# (the same ~90 packages and versions, checked with `pip freeze` against `uv pip freeze`) in ~3 s
# where pip took ~32 s of a fresh clone's ~43 s of set-up (docs/testing.md, session 12). Like
# pip's --no-compile, it compiles nothing: a run imports a small part of what is installed
# (fhir.resources alone ships thousands of models) and each module is compiled into the prefix
# above when first imported. Where uv cannot be had, pip does the same install.
UV_VERSION ?= 0.13.9
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)' 2>/dev/null && \
	   $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'; } || \
	 { echo "uv unavailable or failed: installing with pip"; \
	   $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -e '.[dev]'; }
	@touch $(STAMP)

# set up only: .venv with genrep and its dependencies, for calling .venv/bin/genrep directly
# (docs/ci/), where no prefix is set: their bytecode compiled into the packages' own __pycache__,
# which such a call reads (pip's went to the prefix, which it never reads); a file that does not
# compile is skipped, as pip skips it
setup: $(STAMP)
	@env -u PYTHONPYCACHEPREFIX $(BIN)/python -m compileall -qq -j 0 $(VENV)/lib >/dev/null 2>&1 || true
	@echo "ready: .venv/bin/genrep --help"

# every feature and a small explore pass, then the go-live morning (6,000 clinicians, compressed to
# 60 s), the same peak with a Multum server killed, NLL down and the radiology listener restarted, and
# a short soak; all of it judged by one gate (contracts/gate.yaml scope: LOAD= leaves a run INCOMPLETE)
LOAD ?= --load golive_morning:60s --load failover_under_load:30s --load nll_outage_under_load:30s \
        --load radiology_restart_under_load:30s --load soak:30s
# GNU make exits 2 whenever a recipe fails, whatever genrep's own code: the recipe names genrep's code
# (0 GO, 1 NO-GO, 2 bad input, 3 unreachable, ...; README "Exit codes"); pipelines that branch on the
# code run `make setup` and then `.venv/bin/genrep rehearse` directly (docs/ci/)
# the feature suite on pytest-xdist workers: its scenarios mostly wait (read-back deadlines, failover
# watches), so 4 workers on 2 cores take it from ~55 s to ~26 s (docs/performance.md); 0 = one process
REHEARSE_WORKERS ?= 4
rehearse: $(STAMP)
	@$(BIN)/genrep rehearse --workers $(REHEARSE_WORKERS) $(LOAD) $(ARGS); code=$$?; \
	  [ $$code -eq 0 ] || echo "genrep exited $$code (make reports any failure as 2; call .venv/bin/genrep rehearse to get the code itself)" >&2; \
	  exit $$code

# the HTML report test renders in headless Chromium (Debian's package; browsers are not downloaded)
chromium:
	@command -v chromium >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# pytest-xdist: much of the suite waits (subprocesses, simulators, timeouts), so more workers than
# cores (6 on this machine's 2: 326 s against 353 s with 4, the CPU then ~94 % busy; docs/testing.md);
# the longest tests go first and groups keep together what must not be split (tests/conftest.py)
TEST_JOBS ?= 6
XDIST     := -n $(TEST_JOBS) --dist loadgroup --no-loadscope-reorder

# the layers of docs/architecture.md (import-linter contracts in pyproject.toml), then the tests.
# In a fresh clone pytest's rewritten test modules are not cached yet: every xdist worker would
# rewrite all of them at once (~9 s of CPU each); one collection first writes the cache they all read,
# in two halves side by side (9.4 s against 12.9 s for one, on 2 cores; docs/testing.md, session 11).
test: $(STAMP) chromium
	$(BIN)/lint-imports
	@test -d "$(PYCACHE)$(abspath tests)" || { echo "caching the rewritten test modules (once per clone)"; \
	  $(BIN)/python -m pytest tests/unit --collect-only -qq -p no:cacheprovider >/dev/null & \
	  $(BIN)/python -m pytest tests/e2e tests/sim --collect-only -qq -p no:cacheprovider >/dev/null; \
	  wait; true; }
	$(BIN)/python -m pytest tests $(XDIST) -p no:cacheprovider -q $(ARGS)

# day-to-day: unit and simulator tests, not those marked heavy, each property test with half its
# examples (about 50 s on 2 cores; docs/testing.md, session 11); `make test` is what CI runs, all of them in full
test-fast: $(STAMP)
	$(BIN)/lint-imports
	GENREP_EXAMPLES_SHARE=0.5 $(BIN)/python -m pytest tests/unit tests/sim -m 'not heavy' $(XDIST) -p no:cacheprovider -q $(ARGS)

selftest: $(STAMP)
	$(BIN)/genrep selftest

bench: $(STAMP)
	$(BIN)/genrep bench mllp

sim: $(STAMP)
	$(BIN)/genrep sim up

clean:
	rm -rf $(VENV) .tools reports/allure-results reports/selftest reports/bench reports/html reports/history reports/summary.md reports/verdict.json reports/scorecard.html reports/traceability.csv
