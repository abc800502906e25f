# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: vendor-js bench-reports bench-api run test test-sqlite test-postgres test-scaleout bench bench-leads check audit audit-code audit-deps clean help

help:
	@echo "make run    - set up what is missing, start LeadHub with demo data on http://127.0.0.1:8000/"
	@echo "make test   - the whole suite on SQLite, then on a throwaway PostgreSQL"
	@echo "make bench  - the benchmarks in bench/ (SQLite, then a throwaway PostgreSQL)"
	@echo "make bench-leads - only the 1,000,000-lead benchmark (bench/leads_1m.py)"
	@echo "make bench-reports - the reports at 5,000,000 leads (bench/reports_5m.py, PostgreSQL)"
	@echo "make bench-api - the API's lead list at 5,000,000 leads (bench/api_list.py, PostgreSQL)"
	@echo "make vendor-js - fetch the pinned Chart.js from the npm registry into static/vendor/chartjs"

# Creates .venv and installs LeadHub with its test extras; again only when
# pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "LeadHub needs Python 3.11 or newer (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py seed_demo_rules
	DEBUG=1 $(BIN)/python manage.py run_demo

test: $(STAMP) test-sqlite test-postgres

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -q

# Skips (with the reason) when no PostgreSQL server binaries are found, unless
# LEADHUB_REQUIRE_POSTGRES=1 (CI), which makes that a failure.
test-postgres: $(STAMP)
	$(BIN)/python -m tests.support.pgcluster -- $(BIN)/python -m pytest -q -p no:cacheprovider

# Only the scale-out test (tests/scaleout/: gunicorn, qcluster workers, Redis and a
# throwaway PostgreSQL); `make test` runs it too, in its PostgreSQL pass.
test-scaleout: $(STAMP)
	$(BIN)/python -m tests.support.pgcluster -- $(BIN)/python -m pytest -q -p no:cacheprovider -m scaleout tests/scaleout

# Figures go to stdout; each benchmark exits 1 when a target is missed, and
# make goes on to the next so that every figure is printed.
bench: $(STAMP) bench-leads bench-reports bench-api
	-$(BIN)/python -m bench.cat_pull
	-$(BIN)/python -m tests.support.pgcluster -- $(BIN)/python -m bench.cat_pull
	-$(BIN)/python -m bench.lead_import
	-$(BIN)/python -m tests.support.pgcluster -- $(BIN)/python -m bench.lead_import

# 1,000,000 leads: queue, list, search (p95 and EXPLAIN), CSV export against COPY,
# 10,000 outcome rows. About 5 minutes per database on 2 cores.
# 5,000,000 leads over 20 dealers: every report for one dealer and a quarter, and over
# every dealer for a year (issue 18). PostgreSQL only; about 20 minutes on 2 cores.
bench-reports: $(STAMP)
	-$(BIN)/python -m tests.support.pgcluster -- $(BIN)/python -m bench.reports_5m

bench-api: $(STAMP)
	-$(BIN)/python -m tests.support.pgcluster -- $(BIN)/python -m bench.api_list

bench-leads: $(STAMP)
	-$(BIN)/python -m bench.leads_1m
	-$(BIN)/python -m tests.support.pgcluster -- $(BIN)/python -m bench.leads_1m

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Security: bandit over LeadHub's code (any medium or high finding fails), then
# pip-audit over the installed packages (tests/support/audit_deps.py reads its
# report): a known vulnerability fails; a machine that reaches no advisory
# database at all is reported as NOT RUN, and LEADHUB_REQUIRE_PIP_AUDIT=1 makes
# that a failure too.
audit: audit-code audit-deps

audit-code: $(STAMP)
	$(BIN)/bandit -q -r apps leadhub --severity-level medium

audit-deps: $(STAMP)
	$(BIN)/python -m tests.support.audit_deps

clean:
	rm -rf $(VENV) .pytest_cache

# Chart.js for the report pages: the pinned release from the npm registry (npm pack
# checks the package's integrity), its UMD build, source map and licence copied into
# static/vendor/chartjs. The files are committed, so make run and CI need no npm;
# tests/reports/test_vendored_js.py checks the file is this version.
CHARTJS_VERSION = 4.6.2
vendor-js:
	rm -rf .vendor-js && mkdir .vendor-js
	cd .vendor-js && npm pack chart.js@$(CHARTJS_VERSION) --silent >/dev/null && tar xzf chart.js-$(CHARTJS_VERSION).tgz
	mkdir -p static/vendor/chartjs
	cp .vendor-js/package/dist/chart.umd.min.js .vendor-js/package/dist/chart.umd.min.js.map .vendor-js/package/LICENSE.md static/vendor/chartjs/
	rm -rf .vendor-js
