"""Where a result came from: code, config, environment and input hashes recorded beside it.

Every evaluation summary carries a record under "provenance"; every table gets
results/<table>.provenance.json. `infocam audit` (infocam.provenance.audit) checks them.

The workflow puts the resolved config in the environment of every job (INFOCAM_CONFIG_JSON,
INFOCAM_CONFIG_FILES, set in workflow/rules/common.smk), so a record names the config it was
built with without the config being a rule parameter: a change to one experiment's section
does not rerun every other experiment.
"""

import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import time
from pathlib import Path

from infocam.io import file_md5, write_text_atomic

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parents[1]  # the repository, when the package runs from its src/ folder
FROM_CLONE = PACKAGE_DIR.parent.name == "src" and (REPO_ROOT / "pyproject.toml").is_file()
# What decides the numbers; a change anywhere else (README, tests) leaves a record valid.
CODE_PATHS = ["src", "workflow", "envs"]
LOCK_FILE = REPO_ROOT / "envs" / "requirements.lock"
SPLIT_FILES = ["train.csv", "val.csv", "test.csv", "boxes.csv", "classes.csv"]
PART_FILE = "parts.csv"  # only where the data have part boxes (the synthetic datasets)
SOURCE_RECORD = "source.json"  # written by `infocam prepare` into the prepared folder
CONFIG_ENV = "INFOCAM_CONFIG_JSON"
CONFIG_FILES_ENV = "INFOCAM_CONFIG_FILES"
CONFIG_OVERRIDES_ENV = "INFOCAM_CONFIG_OVERRIDES"  # what --config gave on the command line


def _git(*args):
    if not FROM_CLONE:  # an installed package: any repository around site-packages is not its source
        return None
    result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def package_version():
    return importlib.metadata.version("infocam")


def installed_files():
    """{path inside the package: md5} of an installed package's files (no repository to ask git)."""
    paths = sorted(path for path in PACKAGE_DIR.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    return {f"infocam/{path.relative_to(PACKAGE_DIR)}": file_md5(path) for path in paths}


def code_files():
    """{path: md5} of every file under the code paths that git tracks or would track (untracked, not
    ignored); for an installed package, of the package's own files."""
    if not FROM_CLONE:
        return installed_files()
    listed = _git("ls-files", "--cached", "--others", "--exclude-standard", "--", *CODE_PATHS)
    if listed is None:
        return None
    paths = sorted({line for line in listed.splitlines() if (REPO_ROOT / line).is_file()})
    return {path: file_md5(REPO_ROOT / path) for path in paths}


def code_version():
    """The release, the git commit and whether the code differs from it (None for an installed
    package), and the md5 of every code file as it was run."""
    version = package_version()
    if not FROM_CLONE:
        return {"version": version, "commit": None, "dirty": None, "files_md5": installed_files()}
    commit = _git("rev-parse", "HEAD")
    files = code_files()
    if commit is None or files is None:
        return {"version": version, "commit": None, "dirty": None, "files_md5": None}
    status = _git("status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS)
    return {"version": version, "commit": commit.strip(), "dirty": bool(status and status.strip()),
            "files_md5": files}


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
