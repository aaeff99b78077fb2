# Two entry points do all set-up from scratch: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements-dev.lock
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest lock clean bench

$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The lock pins everything, torch==2.13.0 included (the probe extra); no resolver picks a newer torch.
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The demo audits a copy: inside this repository fixtures/ is excluded from mlaudit's own audit.
DEMO_DIR ?= $(or $(TMPDIR),/tmp)/mlaudit-demo
demo: $(STAMP)
	@rm -rf $(DEMO_DIR) && cp -R fixtures/demo $(DEMO_DIR) && rm -f $(DEMO_DIR)/expected.txt
	@echo "== mlaudit check $(DEMO_DIR)  (a copy of fixtures/demo: a small ML repo with planted problems) =="
	@$(BIN)/mlaudit check $(DEMO_DIR) --no-cache; status=$$?; \
	if [ $$status -ne 1 ]; then exit $$status; fi; \
	echo "== exit code 1: findings, as planted (0 means none, 2 an error) =="

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check mlaudit tests bench
	$(BIN)/mlaudit check . --no-cache --output-format concise

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

LOCKED_TORCH := 2.13.0
# Regenerate the lock from pyproject.toml (needs the package index; torch comes from the local wheel).
lock:
	rm -rf /tmp/mlaudit-lock && $(PYTHON) -m venv /tmp/mlaudit-lock
	# The probe extra accepts any torch >= 2.1; the lock pins the one CI installs (the local wheel).
	/tmp/mlaudit-lock/bin/pip install --quiet hatchling editables 'torch==$(LOCKED_TORCH)' -e '.[probe,dev]'
	/tmp/mlaudit-lock/bin/pip freeze --exclude-editable --exclude mlaudit | sed 's/+cpu$$//' > $(LOCK)

# REPOS: a folder with clones of nanoGPT, examples, pytorch-image-models, pytorch-lightning (not part of this repo).
# PYLINT: pylint of a venv with dslinter (Python 3.9: dslinter pins astroid 2.9), optional.
REPOS ?= ../realrepos
bench: $(STAMP)
	$(BIN)/python bench/run.py --repos $(REPOS) --out docs/benchmarks.md $(if $(PYLINT),--pylint $(PYLINT),)

clean:
	rm -rf $(VENV) .mlaudit_cache
