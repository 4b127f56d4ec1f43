"""The workflow as a new user deploys it (README, "Use it in your own project"): snakedeploy writes a
folder that uses the workflow as a module, and infocam is installed, not editable, in a fresh venv.

The fresh venv borrows the test venv's dependencies through a .pth line naming its site-packages
(torch is not installed twice). Python adds a directory named in a .pth file to sys.path without
reading that directory's own .pth files, so the test venv's editable infocam stays invisible.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

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

    def snakemake(self, *args):
        return self.run("python", "-m", "snakemake", *args)


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
