# Set-up and entry points. Every target sets up .venv first when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# Rules call the `infocam` command: the venv comes first on PATH for everything make runs.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: tables test test-slurm lint lock clean-results

# The venv is rebuilt when the lock file changes. pip's per-location warnings about the
# machine's local package indexes are filtered out; real errors still fail the target.
$(STAMP): envs/requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/pip install -q -r envs/requirements.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
	set -o pipefail; $(BIN)/pip install -q --no-deps -e . 2>&1 | { grep -v "is ignored: it is neither" || true; }
	touch $(STAMP)

tables: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

# The unit and workflow tests, then the SLURM integration test (skipped, saying why, where
# it cannot run: not root, or no slurm-wlm and no apt-get).
test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q -rs tests/slurm

# The workflow through profiles/slurm on a one-node SLURM cluster (scripts/slurm-cluster.sh):
# needs root; installs Debian's slurm-wlm and munge the first time. Leaves the cluster as it found it.
test-slurm: $(STAMP)
	$(BIN)/python -m pytest -q -rs tests/slurm

lint: $(STAMP)
	$(BIN)/snakemake --lint

# Re-pin the environment from envs/requirements.in.
lock: $(STAMP)
	$(BIN)/pip install -q -r envs/requirements.in
	{ echo "# Full pinned environment (pip freeze of envs/requirements.in on Python 3.11, x86_64)."; \
	  echo "# Regenerate: make lock"; $(BIN)/pip freeze --exclude-editable | grep -v "^infocam"; } > envs/requirements.lock

clean-results:
	rm -rf results logs
