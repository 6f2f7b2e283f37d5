# sonet-policy: the few commands people run. `make` or `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup lab test lint unit nbval notebooks dashboard browser crosscheck bench fuzz devices clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the kit with every extra (idempotent)

lab: $(STAMP) ## set up if needed and open JupyterLab on notebooks/ (saves keep no widget state: jupyter/)
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter" $(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

test: $(STAMP) ## set up if needed and run every test: ruff, unit and doctests, notebooks (nbval), browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MPLBACKEND=Agg $(VENV)/bin/pytest

lint: $(STAMP) ## ruff check and format check only
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

unit: $(STAMP) ## the package tests only (no notebooks, no browser)
	$(VENV)/bin/pytest tests sonet_policy -m "not browser"

notebooks: $(STAMP) ## re-execute every notebook from a clean kernel and store the outputs
	MPLBACKEND=Agg $(PY) scripts/run_notebooks.py

nbval: $(STAMP) ## check the stored notebook outputs against a fresh run (strict, sanitised)
	MPLBACKEND=Agg $(VENV)/bin/pytest notebooks/

dashboard: $(STAMP) ## serve the explorer and the audit as a Voilà dashboard on 127.0.0.1:8866
	$(VENV)/bin/voila notebooks/dashboard.ipynb --no-browser --Voila.ip=127.0.0.1 --port=8866 \
		--Voila.port_retries=0 --VoilaExecutor.timeout=60

browser: $(STAMP) ## drive the dashboard and JupyterLab in headless Chromium (screenshots in artifacts/)
	MPLBACKEND=Agg $(VENV)/bin/pytest -m browser tests/test_browser.py tests/test_jupyterlab.py

crosscheck: $(STAMP) ## DMN cross-check against pyDMNrules: 3,000 random scenarios and every decision cell
	SONET_DMN_SAMPLE=3000 SONET_DMN_EXHAUSTIVE=1 $(VENV)/bin/pytest tests/test_dmn.py -q

bench: $(STAMP) ## print the performance figures (evaluate, explain, compile, audit, pyDMNrules)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

fuzz: $(STAMP) ## the long Hypothesis profile
	HYPOTHESIS_PROFILE=fuzz $(VENV)/bin/pytest tests/test_properties.py

devices: $(STAMP) ## rebuild data/devices.csv from the page's device tables
	$(PY) -m sonet_policy build-devices

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis artifacts
