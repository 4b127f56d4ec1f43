# Set-up and entry points. Every target sets up .venv first when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# Rules call the `infocam` command: the venv comes first on PATH for everything make runs.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: tables test test-slurm paper-smoke lint report tables-from-checkpoints lock clean-results

# The venv is rebuilt when the lock file changes. uv installs the lock: the same pinned files
# as pip, unpacked in parallel and byte-compiled on every core (about 3 times faster than pip
# here: benchmarks/README.md), taken from the package sources pip is configured with
# (scripts/pip_sources.py) and, like pip, the best match among them. pip's per-location
# warnings about the machine's local package indexes are filtered out; real errors still fail.
UV_VERSION := 0.13.9
UV_INSTALL = $(BIN)/uv pip install -q --python $(BIN)/python --index-strategy unsafe-best-match \
	$$($(BIN)/python scripts/pip_sources.py)
$(STAMP): envs/requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/pip install -q uv==$(UV_VERSION) 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(UV_INSTALL) --compile-bytecode -r envs/requirements.lock
	$(UV_INSTALL) --no-deps -e .
	touch $(STAMP)

# CONFIGFILES="config/paper.yaml overlay.yaml": run with these config files instead of the default,
# read and checked first: Snakemake reads a --configfile before any workflow code runs and
# reports a YAML error in it without naming the file or the line.
CONFIGFILES ?=

tables: $(STAMP)
	$(if $(CONFIGFILES),$(BIN)/infocam check-config $(CONFIGFILES))
	$(BIN)/snakemake --cores $(CORES) $(if $(CONFIGFILES),--configfile $(CONFIGFILES))

# The unit and workflow tests (paper-smoke among them), one pytest worker per core, a test file
# per worker, in the order tests/conftest.py gives them; beside them the SLURM integration test,
# which mostly waits on the scheduler (about 50 CPU-seconds in 3 minutes), with its own temporary
# folder; its output follows the main run's.
# It is skipped, saying why, where it cannot run: not root, or no slurm-wlm and no apt-get.
test: $(STAMP)
	@slurm_dir=$$(mktemp -d); \
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider --basetemp=$$slurm_dir/tmp tests/slurm \
	    > $$slurm_dir/log 2>&1 & slurm_pid=$$!; \
	$(BIN)/python -m pytest -q -n $(CORES) --dist loadfile --no-loadscope-reorder; unit_status=$$?; \
	wait $$slurm_pid; slurm_status=$$?; \
	echo "--- tests/slurm (run beside the suite above)"; cat $$slurm_dir/log; rm -rf $$slurm_dir; \
	test $$unit_status -eq 0 -a $$slurm_status -eq 0

# The dress rehearsal of config/paper.yaml: full-width networks, torchvision-format weight
# files, the paper's optimiser and evaluation, on small synthetic archives at the real sizes.
paper-smoke: $(STAMP)
	$(BIN)/python -m pytest -q tests/paper/test_paper_smoke.py

# The workflow through profiles/slurm on a one-node SLURM cluster (scripts/slurm-cluster.sh):
# needs root; installs Debian's slurm-wlm and munge the first time. Leaves the cluster as it found it.
test-slurm: $(STAMP)
	$(BIN)/python -m pytest -q -rs tests/slurm

# The tables and figures of the last build, captioned, in one HTML file.
report: $(STAMP)
	$(BIN)/snakemake --report results/report.html

# Tables 1, 3, 4 and 5 from the checkpoints in the DVC remote, with no training job: after
# `dvc pull` the pulled files have new mtimes, so only evaluation and tables may run.
WSOL_TABLES := results/table1.csv results/table3.csv results/table4.csv results/table5.csv results/table6.csv
tables-from-checkpoints: $(STAMP)
	$(BIN)/dvc pull
	$(BIN)/snakemake --cores $(CORES) $(WSOL_TABLES) --allowed-rules evaluate table $(ARGS)

lint: $(STAMP)
	$(BIN)/snakemake --lint

# Re-pin the environment from envs/requirements.in.
lock: $(STAMP)
	$(BIN)/pip install -q -r envs/requirements.in
	{ echo "# Full pinned environment (pip freeze of envs/requirements.in on Python 3.11, x86_64)."; \
	  echo "# Regenerate: make lock"; $(BIN)/pip freeze --exclude-editable | grep -v "^infocam"; } > envs/requirements.lock

clean-results:
	rm -rf results logs
