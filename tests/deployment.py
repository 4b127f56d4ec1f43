"""The workflow as a new user deploys it (README, "Use it in your own project"): snakedeploy writes a
folder that uses the workflow as a module, and infocam is installed, not editable, in a fresh venv.

The fresh venv borrows the test venv's dependencies through a .pth line naming its site-packages
(torch is not installed twice). Python adds a directory named in a .pth file to sys.path without
reading that directory's own .pth files, so the test venv's editable infocam stays invisible.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import yaml

from conftest import ROOT, TINY

MODULE = "infocam"
RELEASE_TAG = "v0.1.0"  # snakedeploy needs a ref; a local source is copied as it is, whatever the ref


@dataclass
class Deployment:
    source: Path  # the copy of the repository the module and the package come from
    folder: Path  # what snakedeploy wrote: workflow/Snakefile, config/, profiles/
    venv: Path

    @property
    def env(self):
        """This environment with the venv's commands first and no PYTHONPATH (which could name a src/)."""
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        return {**env, "PATH": f"{self.venv / 'bin'}{os.pathsep}{env['PATH']}"}

    def run(self, *args, cwd=None):
        return subprocess.run([str(self.venv / "bin" / args[0]), *args[1:]], cwd=cwd or self.folder,
                              capture_output=True, text=True, env=self.env)

    def snakemake(self, *args, cwd=None):
        return self.run("python", "-m", "snakemake", *args, cwd=cwd)


def copy_repository(dest):
    """The files a clone of this working tree holds (tracked, or untracked and not ignored), links kept."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_symlink() or (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name, follow_symlinks=False)
    return dest


def fresh_venv(path):
    """A venv holding no infocam, with the test venv's packages (pip, snakemake, torch) importable."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site_packages = subprocess.run([str(path / "bin" / "python"), "-c",
                                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    Path(site_packages, "test-venv-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path


def snakedeploy(source, folder):
    subprocess.run(["snakedeploy", "deploy-workflow", str(source), str(folder), "--tag", RELEASE_TAG,
                    "--name", MODULE], check=True, capture_output=True, text=True)
    # For a local source snakedeploy 0.17.1 writes the module's path relative to that source
    # ("workflow/Snakefile"), which Snakemake reads relative to the deployed Snakefile.
    snakefile = folder / "workflow" / "Snakefile"
    written = snakefile.read_text()
    assert '\n        "workflow/Snakefile"\n' in written, written
    snakefile.write_text(written.replace('"workflow/Snakefile"', f'"{source}/workflow/Snakefile"'))


def deploy(tmp_path, config=TINY):
    """The README's steps: snakedeploy, `pip install` of the same source, the config edited (here: replaced)."""
    source = copy_repository(tmp_path / "source")
    deployment = Deployment(source, tmp_path / "deployed", fresh_venv(tmp_path / "venv"))
    snakedeploy(source, deployment.folder)
    installed = deployment.run("python", "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                               "--ignore-installed", str(source))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    shutil.copy(config, deployment.folder / "config" / "config.yaml")
    return deployment


DVC = [sys.executable, "-m", "dvc"]


def git_dvc_project(folder, remote):
    """Make `folder` a user's git + DVC project: the project's ignore rules, a local default DVC
    remote, everything in it committed."""
    shutil.copy(ROOT / ".gitignore", folder / ".gitignore")
    for command in (["git", "init", "-q"], ["git", "config", "user.email", "test@example.org"],
                    ["git", "config", "user.name", "test"], [*DVC, "init", "-q"],
                    [*DVC, "remote", "add", "-d", "local", str(remote)], ["git", "add", "-A"],
                    ["git", "commit", "-qm", "init"]):
        subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True)


def tracked_tiny_config(path):
    """The tiny config with DVC tracking on (no remote of its own: the project's default)."""
    path.write_text(yaml.safe_dump({**yaml.safe_load(TINY.read_text()), "dvc": {"track": True, "remote": None}}))
    return path


def tiny_run(path):
    """The suite's one whole run, built at `path` by the first caller (later ones find it): the tiny
    config with DVC tracking on, in a folder deployed as the README says that is a git + DVC project.
    test_workflow.py checks what it builds, provenance/test_audit.py audits and tampers with copies."""
    outcome = path / "run.json"
    if not outcome.exists():
        path.mkdir(parents=True, exist_ok=True)
        deployment = deploy(path, config=tracked_tiny_config(path / "tracked-tiny.yaml"))
        git_dvc_project(deployment.folder, path / "dvc-remote")
        result = deployment.snakemake("--cores", "2")
        outcome.write_text(json.dumps({"returncode": result.returncode, "stdout": result.stdout[-3000:],
                                       "stderr": result.stderr[-3000:]}))
    run = json.loads(outcome.read_text())
    assert run["returncode"] == 0, run["stdout"] + run["stderr"]
    return Deployment(path / "source", path / "deployed", path / "venv")
