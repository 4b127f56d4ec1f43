"""Shared test set-up: the venv's commands (snakemake, infocam) come first on PATH; the suite's
one whole workflow run (tiny_run)."""

import os
import sys
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
TINY = ROOT / ".test" / "config" / "config.yaml"  # the tiny config the suite and the catalog's checks run
VENV_BIN = Path(sys.executable).parent
os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, worker_id):
    """The Deployment of the suite's one whole run (deployment.tiny_run). pytest-xdist's workers
    share it: the first to ask builds it under a lock in their common folder, the others wait."""
    from deployment import tiny_run as build

    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # each worker's folder sits in the session's
    with FileLock(shared / "tiny-run.lock"):
        return build(shared / "tiny-run")


def pytest_collection_modifyitems(items):
    """test_workflow.py first (its whole-run test at its head), then the unit tests, the dress
    rehearsal and the provenance tests last. `make test` keeps this order for pytest-xdist's file
    scheduling (--no-loadscope-reorder; by default it starts with the files that hold the most
    tests), so that one worker builds the whole run while the other works through the unit tests
    instead of waiting for it."""
    order = {"test_workflow.py": 0, "test_paper_smoke.py": 2, "test_audit.py": 3}
    items.sort(key=lambda item: (order.get(item.path.name, 1), "tiny_run" not in item.fixturenames))
