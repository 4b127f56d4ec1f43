"""DVC beside Snakemake: the workflow tracks raw data, prepared datasets and checkpoints.

Snakemake decides what to rebuild; DVC only records the hashes (the `.dvc` files, committed
to git) and moves the files to and from a remote. Every DVC call here waits for DVC's
repository lock instead of failing on it, so parallel jobs can track files at once.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml

REMOTE_NAME = "workflow"  # the remote set from the config's dvc.remote, in .dvc/config.local


class DvcError(RuntimeError):
    """A DVC command that failed; the message is DVC's own last line."""


def _dvc(*args, cwd=None):
    command = [sys.executable, "-m", "dvc", "--wait-for-lock", *args]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DvcError(f"dvc {args[0]}: {_error_line(result)}")
    return result.stdout


def _error_line(result):
    """DVC's ERROR line, else the first line it printed."""
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or [f"exit status {result.returncode}"])[0]


def repo_root(cwd=None):
    """The DVC repository that holds `cwd`, or None."""
    try:
        return Path(_dvc("root", cwd=cwd).strip())
    except DvcError:
        return None


def track(paths, remote=None, cwd=None):
    """`dvc add` the paths (files or folders) in one call; set `remote` as the default remote first."""
    if repo_root(cwd) is None:
        raise DvcError("not inside a DVC repository: run `dvc init` at the project root, or set dvc.track: false")
    if remote:
        _dvc("remote", "add", "--local", "--force", "--default", REMOTE_NAME, str(remote), cwd=cwd)
    _dvc("add", *map(str, paths), cwd=cwd)


def record_path(path):
    return Path(f"{path}.dvc")


def recorded_md5(path):
    """The md5 DVC recorded for `path` (a file's md5, or '<md5>.dir' for a folder); None when untracked."""
    record = record_path(path)
    if not record.is_file():
        return None
    outs = (yaml.safe_load(record.read_text()) or {}).get("outs") or []
    return outs[0].get("md5") if outs else None


def changed(paths, cwd=None):
    """{path: what DVC says changed} for tracked paths whose content no longer matches their .dvc file."""
    targets = [str(record_path(path)) for path in paths]
    report = json.loads(_dvc("status", "--json", *targets, cwd=cwd) or "{}")
    return {str(Path(target).with_suffix("")): detail for target, detail in report.items()}
