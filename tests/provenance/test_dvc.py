"""infocam.provenance.dvc: `infocam dvc-track` waits for DVC's repository lock instead of failing."""

import subprocess
import sys
import time

import pytest
import zc.lockfile

from infocam.provenance.dvc import recorded_md5
from infocam.io import file_md5
from infocam.provenance.records import REPO_ROOT as ROOT

DVC = [sys.executable, "-m", "dvc"]


@pytest.fixture
def repo(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*DVC, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "model.pt").write_bytes(b"weights")
    return tmp_path


def test_tracking_waits_while_another_process_holds_the_lock(repo):
    lock = zc.lockfile.LockFile(str(repo / ".dvc" / "tmp" / "lock"))  # what a running dvc command holds
    try:
        job = subprocess.Popen(["infocam", "dvc-track", "model.pt"], cwd=repo, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(8)  # DVC alone gives up after about 3 s
        assert job.poll() is None, job.communicate()
    finally:
        lock.close()
    out, err = job.communicate(timeout=60)
    assert job.returncode == 0, err
    assert recorded_md5(repo / "model.pt") == file_md5(repo / "model.pt")


def test_tracking_outside_a_dvc_repository_says_what_to_do(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    result = subprocess.run(["infocam", "dvc-track", "model.pt"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "infocam dvc-track: error: not inside a DVC repository: run `dvc init` at the project root,"
        " or set dvc.track: false"
    ]
    assert not (tmp_path / "model.pt.dvc").exists()


def test_the_configs_remote_becomes_the_default_and_receives_push(repo, tmp_path):
    remote = tmp_path / "elsewhere"
    subprocess.run(["infocam", "dvc-track", "--remote", str(remote), "model.pt"], cwd=repo, check=True)
    assert str(remote) in (repo / ".dvc" / "config.local").read_text()
    subprocess.run([*DVC, "push", "-q"], cwd=repo, check=True)
    md5 = file_md5(repo / "model.pt")
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == b"weights"


def test_dvc_can_read_the_project_repository():
    # DVC reads every file named dvc.yaml as a pipeline: a stray one breaks every `dvc add`.
    result = subprocess.run([*DVC, "status"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (ROOT / ".dvc" / "config").is_file()
