# sonet-policy: the few commands people run. `make` or `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAB_STAMP := $(VENV)/.installed-lab

.DEFAULT_GOAL := help
.PHONY: help setup lab test check lint unit wheel oldest nbval notebooks dashboard browser crosscheck bench fuzz devices stamp clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Two installs: `make lab` only what the notebooks need (the notebooks extra), `make test` everything (dev).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(LAB_STAMP) $(STAMP)

$(LAB_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[notebooks]"
	touch $(LAB_STAMP)

setup: $(STAMP) ## create .venv and install the kit with every extra (idempotent)

lab: $(LAB_STAMP) ## set up the notebooks' packages if needed and open JupyterLab on notebooks/ (the main job; saves keep no widget state: jupyter/)
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter" $(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

test: $(STAMP) ## set up everything if needed and run every test: ruff, unit and doctests, the wheel, notebooks, browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MPLBACKEND=Agg $(VENV)/bin/pytest

check: $(STAMP) ## the quick loop (under a minute): ruff, and the tests not marked slow, browser or wheel
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	MPLBACKEND=Agg $(VENV)/bin/pytest tests sonet_policy -m "not slow and not browser and not wheel" -q

lint: $(STAMP) ## ruff check and format check only
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

unit: $(STAMP) ## the package tests only (no notebooks, no browser, no wheel build)
	$(VENV)/bin/pytest tests sonet_policy -m "not browser and not wheel"

wheel: $(STAMP) ## build the wheel, install it in a fresh venv, run every command from another folder
	$(VENV)/bin/pytest -m wheel tests/test_wheel.py -s

oldest: ## the unit tests on the lowest versions pyproject.toml claims (tests/oldest.txt), in .venv-oldest
	$(PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/python -m pip install --quiet -c tests/oldest.txt -e ".[dev]"
	.venv-oldest/bin/pytest tests sonet_policy -m "not browser and not wheel"

notebooks: $(STAMP) ## re-execute every notebook from a clean kernel and store the outputs
	MPLBACKEND=Agg $(PY) scripts/run_notebooks.py

nbval: $(STAMP) ## check the stored notebook outputs against a fresh run (strict, sanitised)
	MPLBACKEND=Agg $(VENV)/bin/pytest notebooks/

dashboard: $(LAB_STAMP) ## serve the explorer and the audit as a Voilà dashboard on 127.0.0.1:8866
	$(VENV)/bin/voila notebooks/dashboard.ipynb --no-browser --Voila.ip=127.0.0.1 --port=8866 \
		--Voila.port_retries=0 --VoilaExecutor.timeout=60

browser: $(STAMP) ## drive the dashboard and JupyterLab in headless Chromium (screenshots in artifacts/)
	MPLBACKEND=Agg $(VENV)/bin/pytest -m browser tests/test_browser.py tests/test_jupyterlab.py

crosscheck: $(STAMP) ## DMN cross-check against pyDMNrules: 3,000 random scenarios and every decision cell
	SONET_DMN_SAMPLE=3000 SONET_DMN_EXHAUSTIVE=1 $(VENV)/bin/pytest tests/test_dmn.py -q

bench: $(STAMP) ## print the performance figures (evaluate, explain, compile, audit, pyDMNrules, zen-engine)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

fuzz: $(STAMP) ## the long Hypothesis profile
	HYPOTHESIS_PROFILE=fuzz $(VENV)/bin/pytest tests/engine/test_properties.py tests/test_properties.py

devices: $(STAMP) ## rebuild data/devices.csv from the page's device tables
	$(PY) -m sonet_policy build-devices

stamp: $(STAMP) ## stamp (cited_hash) the rows of the shipped rule tables that carry no hash yet
	$(PY) scripts/stamp_rules.py

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .venv-oldest .pytest_cache .ruff_cache .hypothesis artifacts
