"""Where a result came from: code, config, environment and input hashes recorded beside it.

Every evaluation summary carries a record under "provenance"; every table gets
results/<table>.provenance.json. `infocam audit` (infocam.provenance.audit) checks them.

The workflow puts the resolved config in the environment of every job (INFOCAM_CONFIG_JSON,
INFOCAM_CONFIG_FILES, set in workflow/rules/common.smk), so a record names the config it was
built with without the config being a rule parameter: a change to one experiment's section
does not rerun every other experiment.
"""

import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from pathlib import Path

from infocam.io import file_md5, write_text_atomic

REPO_ROOT = Path(__file__).resolve().parents[3]
# What decides the numbers; a change anywhere else (README, tests) leaves a record valid.
CODE_PATHS = ["src", "workflow", "Snakefile", "envs"]
LOCK_FILE = REPO_ROOT / "envs" / "requirements.lock"
SPLIT_FILES = ["train.csv", "val.csv", "test.csv", "boxes.csv", "classes.csv"]
PART_FILE = "parts.csv"  # only where the data have part boxes (the synthetic datasets)
SOURCE_RECORD = "source.json"  # written by `infocam prepare` into the prepared folder
CONFIG_ENV = "INFOCAM_CONFIG_JSON"
CONFIG_FILES_ENV = "INFOCAM_CONFIG_FILES"
CONFIG_OVERRIDES_ENV = "INFOCAM_CONFIG_OVERRIDES"  # what --config gave on the command line


def _git(*args):
    result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def code_files():
    """{path: md5} of every file under the code paths that git tracks or would track (untracked, not ignored)."""
    listed = _git("ls-files", "--cached", "--others", "--exclude-standard", "--", *CODE_PATHS)
    if listed is None:
        return None
    paths = sorted({line for line in listed.splitlines() if (REPO_ROOT / line).is_file()})
    return {path: file_md5(REPO_ROOT / path) for path in paths}


def code_version():
    """The git commit, whether the code differs from it, and the md5 of every code file as it was run."""
    commit = _git("rev-parse", "HEAD")
    files = code_files()
    if commit is None or files is None:
        return {"commit": None, "dirty": None, "files_md5": None}
    status = _git("status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS)
    return {"commit": commit.strip(), "dirty": bool(status and status.strip()), "files_md5": files}


def config_sha256(config):
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def config_record():
    """The workflow config this job runs under, from the environment the workflow sets."""
    text = os.environ.get(CONFIG_ENV)
    if text is None:
        return {"files": None, "sha256": None, "config": None}
    config = json.loads(text)
    files = json.loads(os.environ.get(CONFIG_FILES_ENV, "[]"))
    overrides = json.loads(os.environ.get(CONFIG_OVERRIDES_ENV, "{}"))
    return {"files": files, "overrides": overrides, "sha256": config_sha256(config), "config": config}


def environment(device=None):
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lock_file_md5": file_md5(LOCK_FILE) if LOCK_FILE.exists() else None,
        "host": socket.gethostname(),
        "device": str(device) if device is not None else "cpu",
    }


def timestamp(seconds=None):
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(seconds))


def base_record(started, device=None):
    """Code, config, environment and start/end times of a job that began at `started` (time.time())."""
    return {
        "code": code_version(),
        "config": config_record(),
        "environment": environment(device),
        "started": timestamp(started),
        "finished": timestamp(),
    }


def dataset_record(prepared_dir):
    """md5 of each split and annotation table of a prepared dataset, and the archive it came from."""
    prepared_dir = Path(prepared_dir)
    source_path = prepared_dir / SOURCE_RECORD
    source = json.loads(source_path.read_text()) if source_path.exists() else None
    names = SPLIT_FILES + ([PART_FILE] if (prepared_dir / PART_FILE).is_file() else [])
    return {
        "prepared": str(prepared_dir),
        "files_md5": {name: file_md5(prepared_dir / name) for name in names},
        "source": source,
    }


def files_md5(paths):
    return {str(path): file_md5(path) for path in paths}


def table_record(started, outputs, inputs, extra=None):
    """The provenance of a table: its files' and its inputs' md5s, plus code, config, environment."""
    record = {"outputs": files_md5(outputs), "inputs": files_md5(inputs)}
    record.update(extra or {})
    record.update(base_record(started))
    return record


def write_table_provenance(path, started, outputs, inputs, extra=None):
    record = table_record(started, outputs, inputs, extra)
    write_text_atomic(path, json.dumps(record, indent=1) + "\n")
    return record
