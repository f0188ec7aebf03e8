# soundflow: set-up and entry points. `make run` and `make test` work from a fresh clone on Debian with
# Python 3.11 (root, or sudo for apt); everything else is installed on demand and kept in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := libsox-dev sox libsox-fmt-all
# the browser tests (tests/ops/test_browser_uis.py) drive Debian's Chromium headless
TEST_APT_PACKAGES := chromium
# test processes (pytest-xdist): one per core, at most 4; each module's tests stay on one worker, which keeps
# their module fixtures shared (TEST_WORKERS=0: one process)
TEST_WORKERS ?= auto
PYTEST = $(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# offline and quiet: no analytics or telemetry calls from DVC, MLflow or Prefect
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export PREFECT_HOME := $(CURDIR)/.soundflow/prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PATH := $(BIN):$(PATH)

.PHONY: run test test-fast reliability install install-test system-deps data-raw lock dvc-yaml benchmark bench-real bench-gpu clean-outputs mutation

## run: the default pipeline, end to end, with `dvc repro` through `soundflow repro` (params checked before any
## stage starts, the stages' MLflow calls sent once at the end; offline, CPU, minutes)
run: install data-raw
	$(BIN)/soundflow repro
	@echo "results: reports/aed/metrics.json, reports/aed/*.png; MLflow: $(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns.db"

## test: lint and format checks (ruff), then the whole test suite (CPU; it runs the import-layer contracts too)
test: install-test data-raw
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST)

## test-fast: the suite without its slow and real-data tests: about two minutes on 2 cores, for the edit-test loop
test-fast: install-test data-raw
	$(PYTEST) -m "not slow and not realdata"

## reliability: the reliability suite with its long runs, then one scoreboard table (reports/reliability.md)
reliability: install-test data-raw
	$(BIN)/python benchmarks/reliability.py

system-deps:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing $(APT_PACKAGES) (scaper's soxbindings builds against libsox)"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(APT_PACKAGES); }

$(STAMP): requirements/main.in requirements/constraints.txt pyproject.toml
	$(MAKE) system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel setuptools
	$(BIN)/python -m pip install -c requirements/constraints.txt -r requirements/main.in
	$(BIN)/python -m pip install -q --no-deps -e .
	mkdir -p $(PREFECT_HOME)
	$(BIN)/prefect server database upgrade -y >/dev/null
	touch $@

install: $(STAMP)

$(VENV)/.installed-test: $(STAMP) requirements/test.in
	@dpkg -s $(TEST_APT_PACKAGES) >/dev/null 2>&1 || { echo "installing $(TEST_APT_PACKAGES) for the browser tests"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(TEST_APT_PACKAGES); }
	$(BIN)/python -m pip install -c requirements/constraints.txt -r requirements/test.in
	touch $@

install-test: $(VENV)/.installed-test

## data/raw is DVC-tracked (data.dvc); a fresh clone without a remote starts from the empty folder
data-raw: install
	@$(BIN)/python -c "from soundflow.pipeline.workspace import init_raw_data; init_raw_data('.')"

## lock: re-pin requirements/constraints.txt from the current environment
lock:
	{ echo "# Measured-compatible pins for a full install on Python 3.11 (pip install -c requirements/constraints.txt ...)."; \
	  echo "# Regenerate with: make lock"; $(BIN)/python -m pip freeze --exclude-editable; } > requirements/constraints.txt

dvc-yaml:
	$(BIN)/soundflow dvc-yaml

benchmark: install data-raw
	$(BIN)/python benchmarks/bench_pipeline.py

## bench-gpu: one table of GPU timings (every workflow's model, the log-mel store, AudioLDM2, `dvc repro` on cuda);
## one CUDA GPU, at most 8 min; reports/gpu_suite.{md,json}. Without a GPU it says so and exits 1
bench-gpu: install
	$(BIN)/python benchmarks/gpu_suite.py

## bench-real: every real-material benchmark (../shared/data), one after another; tables in reports/real/ (about 55 min on 2 cores)
bench-real: install data-raw
	$(BIN)/python benchmarks/real/cityscapes_frame.py
	$(BIN)/python benchmarks/real/transcoder_agreement.py
	$(BIN)/python benchmarks/real/us8k_yamnet.py
	$(BIN)/python benchmarks/real/us8k_aed.py
	$(BIN)/python benchmarks/real/us8k_t2a.py --classifier salamon_cnn
	$(BIN)/python benchmarks/real/us8k_t2a.py --classifier crnn

## mutation: mutmut on the modules the cache key and the reported metrics rest on, one at a time, each against
## its fast tests (tests/<folder>/test_<name>*.py, or `module.py=tests/a.py,tests/b.py`); about 20 min on 2 cores.
## Scores and surviving mutants: .soundflow/mutation/report.md; known equivalent mutants: scripts/mutation_equivalent.txt
MUTATION_MODULES ?= soundflow/pipeline/dvc_state.py tasks/segmentation/iou.py soundflow/metrics.py \
	tasks/features/third_octave.py soundflow/pipeline/dag.py
MUTATION_JOBS ?= 1
mutation: install-test
	nice -n 10 $(BIN)/python scripts/mutation.py --jobs $(MUTATION_JOBS) $(MUTATION_MODULES)

clean-outputs:
	rm -rf data/generated data/features outputs reports dvc.lock mlruns.db mlartifacts .soundflow

## prefect-server: the Prefect API and UI on 127.0.0.1:$(PREFECT_PORT); export the PREFECT_API_URL it prints
## serve: every flow as a Prefect deployment, schedules from params.yaml (needs PREFECT_API_URL; README, Operations)
.PHONY: prefect-server serve
PREFECT_PORT ?= 4200
prefect-server: install
	$(BIN)/soundflow server prefect --port $(PREFECT_PORT)

serve: install
	$(BIN)/soundflow serve
