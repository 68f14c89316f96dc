# Two commands on a fresh clone: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast fuzz lint format bench bench-fanout clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A stamp per requirements set, so an edit to either file reinstalls.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python -m tuning run

# Everything, in two steps: the in-process tests (the fast tier and the `slow` ones) on two
# pytest processes, then the `stack` tier on one, whose tests time real workers that would
# otherwise share the two cores with another pytest process. Both steps run even if the first
# fails; a step that selects nothing (e.g. PYTEST_ARGS=tests/test_search.py) is no failure.
test: $(VENV)/.dev chromium
	@status=0; \
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not stack" $(PYTEST_ARGS) || [ $$? = 5 ] || status=1; \
	$(BIN)/python -m pytest -m stack $(PYTEST_ARGS) || [ $$? = 5 ] || status=1; \
	exit $$status

# The fast tier, seconds: no worker, API or other child process of a test's own (pure ML,
# validation, analysis, the database, chunk planning, stopping and the reconciler with a
# recording queue, AppTest pages), nothing marked `slow`, a tenth of the Hypothesis examples,
# on two pytest processes (pytest-xdist; worksteal: an idle one takes tests queued for the other).
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -q -n 2 --dist worksteal -m "not stack and not slow" --hypothesis-profile=fast $(PYTEST_ARGS)

# The dashboard's browser test drives Debian's Chromium through Playwright; no browser is ever
# downloaded. Installed here when missing and we are root; otherwise that one test is skipped.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the dashboard's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "note: /usr/bin/chromium is missing and installing it needs root and apt-get" \
			"(apt-get install chromium); the dashboard's browser test will be skipped"; \
	fi

# Schemathesis with 1,000 examples per API operation (make test runs 100): a nightly target.
fuzz: $(VENV)/.dev
	FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest -q tests/test_api_schema.py $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The status endpoint under load; needs wrk (apt-get install wrk). E.g. BENCH_ARGS='--repeat 3'.
bench: $(VENV)/.dev
	$(BIN)/python -m bench.status_load $(BENCH_ARGS)

# A run fanned out over worker processes vs GridSearchCV (issue 7): 10 to 15 min on 2 cores.
# E.g. BENCH_ARGS='--quick' (small grids, about a minute) or '--cases 1,3'.
bench-fanout: $(VENV)/.dev
	$(BIN)/python -m bench.fanout $(BENCH_ARGS)

# A run as its user waits for it (issue 19): `python -m tuning tune --wait` from the command to
# SUCCESS on make run's stack vs GridSearchCV(n_jobs=-1), same work, same sitting. E.g.
# BENCH_ARGS='--rounds 1 --cases ridge-1000'.
# Fair turns (issue 17): a colleague's small run behind a big one, two users' equal runs.
.PHONY: bench-fair
bench-fair: $(VENV)/.dev
	$(BIN)/python -m bench.fair_turns $(BENCH_ARGS)

.PHONY: bench-cli
bench-cli: $(VENV)/.dev
	$(BIN)/python -m bench.cli_speed $(BENCH_ARGS)

# Halving and Bayesian search vs grid, random and scikit-learn on digits x SVC (issue 9): cv=3,
# 5 seeds, 10 to 15 min on 2 cores. E.g. BENCH_ARGS='--quick' (about 3 min) or '--cv 5'.
.PHONY: bench-searches
bench-searches: $(VENV)/.dev
	$(BIN)/python -m bench.searches $(BENCH_ARGS)

# The dashboard's pages in Debian's Chromium vs optuna-dashboard (issue 8); optuna-dashboard and
# optuna come from requirements-bench.txt. E.g. BENCH_ARGS='--quick' (small data, one repeat).
.PHONY: bench-dashboard
bench-dashboard: $(VENV)/.dev chromium
	$(BIN)/pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench.dashboard_browser $(BENCH_ARGS)

# The API's memory while datasets are listed (issue 17): 20 uploads of 15 MB, then rounds of 4
# concurrent lists; target: peak RSS within 50 MiB of idle. About a minute. E.g. BENCH_ARGS=
# '--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test' or '--datasets 5 --mb 5'.
.PHONY: bench-listings
bench-listings: $(VENV)/.dev
	$(BIN)/python -m bench.listing_memory $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache
