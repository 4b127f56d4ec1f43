"""The workflow on a real SLURM cluster: the one-node cluster of scripts/slurm-cluster.sh,
driven through `--workflow-profile profiles/slurm` on the tiny config.

Plain `pytest` does not collect this folder (pyproject's norecursedirs); run it with
`make test-slurm`. It needs root (to install and start the daemons) and apt-get unless
slurm-wlm and munge are already installed; elsewhere it is skipped, saying why.
"""

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, SNAKEFILE, SNAKEMAKE, TINY

CLUSTER = ROOT / "scripts" / "slurm-cluster.sh"
STATE_DIR = Path(os.environ.get("INFOCAM_SLURM_DIR", "/tmp/infocam-slurm"))
CONFIGS = [str(TINY), str(ROOT / "tests" / "configs" / "slurm.yaml")]
TARGET = "results/table1.csv"
# A hung snakemake ignores SIGTERM but stops on SIGINT, cancelling its SLURM jobs.
SNAKEMAKE_TIMEOUT_S = 900
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
SBATCH_CALL = re.compile(r"^sbatch call: (sbatch .*)$", re.MULTILINE)
GPU_RULES = ("pretrain", "train", "evaluate")


def reason_it_cannot_run():
    if os.geteuid() != 0:
        return "needs root to install and start the SLURM and munge daemons"
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "slurm-wlm is not installed and there is no apt-get to install it"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = reason_it_cannot_run()
    if reason:
        pytest.skip(reason)
    was_up = subprocess.run([str(CLUSTER), "status"], capture_output=True).returncode == 0
    subprocess.run([str(CLUSTER), "up"], check=True)
    yield
    if not was_up:
        subprocess.run([str(CLUSTER), "down"], check=True)


def run_workflow(workdir, *options):
    command = [*SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(workdir), TARGET,
               "--configfile", *CONFIGS, *options]
    return subprocess.run(["timeout", "-s", "INT", str(SNAKEMAKE_TIMEOUT_S), *command],
                          cwd=workdir, capture_output=True, text=True)


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm")
    # --verbose makes each job's step log its environment (CUDA_VISIBLE_DEVICES) and the
    # submitting snakemake log its sbatch calls; the short first status check saves minutes.
    result = run_workflow(workdir, "--workflow-profile", str(ROOT / "profiles" / "slurm"),
                          "--slurm-init-seconds-before-status-checks", "5", "--verbose")
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"exit {result.returncode}\n{log[-5000:]}"
    return workdir, log


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("local")
    result = run_workflow(workdir, "--cores", "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def submitted_logs(log):
    """SLURM log path of each submitted job, by rule name (from the plugin's log layout)."""
    by_rule = {}
    for _, path in SUBMITTED.findall(log):
        rule = re.search(r"/rule_([^/]+)/", path).group(1)
        by_rule.setdefault(rule, []).append(path)
    return by_rule


def test_every_job_went_through_sbatch(slurm_run):
    _, log = slurm_run
    # One log folder per job; a retried job (profile `retries`) adds a log to its folder.
    jobs = {rule: {os.path.dirname(path) for path in paths} for rule, paths in submitted_logs(log).items()}
    expected = {"synthesize_archive": 3, "synthesize_fullsup": 1, "prepare_dataset": 3, "decode_images": 3,
                "pretrain": 1, "train": 4,
                "evaluate": 4, "table": 1}
    assert {rule: len(folders) for rule, folders in jobs.items()} == expected
    calls = SBATCH_CALL.findall(log)
    assert len(calls) == len(SUBMITTED.findall(log)) >= sum(expected.values())
    gpu_calls = [call for call in calls if "--gpus=1" in call]
    assert len(gpu_calls) >= 9
    assert all(re.search(r"--comment rule_(pretrain|train|evaluate)_", call) for call in gpu_calls)
    assert all("-t 1440 " in call for call in calls if re.search(r"--comment rule_(pre)?train_", call))


def test_gpu_jobs_see_their_gres_and_others_do_not(slurm_run):
    _, log = slurm_run
    for rule, paths in submitted_logs(log).items():
        for path in paths:
            text = open(path).read()  # kept: slurm-keep-successful-logs
            devices = re.findall(r"'CUDA_VISIBLE_DEVICES': '([^']*)'", text)
            if rule in GPU_RULES:
                assert len(devices) == 1 and devices[0] in ("0", "1"), path
            else:
                assert devices == [], path


def test_slurm_table_has_the_local_runs_numbers(slurm_run, local_run):
    workdir, _ = slurm_run
    slurm_table = pd.read_csv(workdir / TARGET)
    local_table = pd.read_csv(local_run / TARGET)
    assert len(slurm_table) == 2 * 2 * 3  # dataset x ADL x method
    pd.testing.assert_frame_equal(slurm_table, local_table)
    # Every image's boxes and IoUs, not only the rounded table cells.
    per_image = sorted((workdir / "results" / "eval").rglob("per_image.csv.gz"))
    assert len(per_image) == 4
    for path in per_image:
        local_path = local_run / path.relative_to(workdir)
        with gzip.open(path) as slurm_file, gzip.open(local_path) as local_file:
            pd.testing.assert_frame_equal(pd.read_csv(slurm_file), pd.read_csv(local_file))


def test_cluster_gives_a_gpu_job_its_device(cluster):
    result = subprocess.run(["srun", "--gpus=1", "-t", "1", "printenv", "CUDA_VISIBLE_DEVICES"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("0", "1")


def test_cluster_up_again_is_a_no_op(cluster):
    started = STATE_DIR / "started"  # the daemons the script started, "name pid" lines
    before = started.read_text()
    result = subprocess.run([str(CLUSTER), "up"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "already up" in result.stderr
    assert started.read_text() == before
