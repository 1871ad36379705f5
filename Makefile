# Two commands for everyone:  `make lab`  and  `make test`.
# Each bootstraps .venv on first use and re-installs only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# JupyterLab refuses to start as root unless told it may.
ALLOW_ROOT := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)
LAB_ARGS ?=
LAB_ROOT ?= $(CURDIR)

.PHONY: lab test site site-test exercises bench clean

LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "Could not create a virtual environment: on Debian/Ubuntu, apt install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab,test]"
	@# no news pop-up and no update check in this lab (nothing reaches the network at run time)
	@mkdir -p $(dir $(LAB_OVERRIDES))
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(LAB_OVERRIDES)
	@touch $(STAMP)

# One BLAS thread: the course's matrices are small, and extra threads only fight the widgets'
# redraws for the cores (measured: a 100x100 product 0.2 ms on one thread, 7 ms on two when busy).
lab: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir="$(LAB_ROOT)" $(LAB_ARGS) notebooks/00_welcome.ipynb

# one BLAS thread per process: the suite runs many small kernels at once, and oversubscribed
# OpenBLAS threads make medium-sized products many times slower on a busy 2-core machine
test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The course as a static website in _build/site (open _build/site/index.html): notebooks executed once
# (cached in _build/jupyter_cache), any error fails the build; nothing on it loads from outside.
SITE_STAMP := $(VENV)/.installed-site
$(SITE_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[site]"
	@touch $(SITE_STAMP)

site: $(SITE_STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python docs/site.py $(SITE_ARGS)

# builds the site, then opens every page in headless Chromium (tests/site); .ci/run runs it after make test
site-test: site
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest tests/site $(PYTEST_ARGS)

exercises: $(STAMP)
	$(BIN)/python -m bpcourse.exercises

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis _build
