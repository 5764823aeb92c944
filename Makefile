# gutskin — the two commands a user needs:
#   make report   set up the environment if needed, run the workflow, print the report's path
#   make test     set up the environment if needed, run the test suite
# Python >= 3.11 must be on PATH as $(PYTHON). Conda users: see environment.yml and the README.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gutskin-installed
CORES ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?= -n auto

.PHONY: report test lint format dry-run bench clean-results env

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gutskin needs Python >= 3.11; set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# Ends with the run's summary (datasets available, claims by verdict, where the report is; exit status 1
# when no claim could be analysed), also when Snakemake found nothing to do.
report: $(STAMP)
	GUTSKIN_RUN_SUMMARY=off $(BIN)/snakemake --cores $(CORES) --workflow-profile profiles/default $(SNAKEMAKE_ARGS)
	@echo
	@$(BIN)/python -m gutskin.runinfo results

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests bench
	$(BIN)/ruff format --check src scripts tests bench
	$(BIN)/python -m mypy src/gutskin
	$(BIN)/lint-imports
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint --workflow-profile profiles/default

format: $(STAMP)
	$(BIN)/ruff format src scripts tests bench
	$(BIN)/ruff check --fix src scripts tests bench
	$(BIN)/snakefmt workflow

dry-run: $(STAMP)
	$(BIN)/snakemake --dry-run --cores $(CORES) --workflow-profile profiles/default $(SNAKEMAKE_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean-results:
	rm -rf results logs
