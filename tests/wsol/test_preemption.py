"""Preemption: SLURM's warning signal stops training cleanly, and a rerun ends where an uninterrupted run does."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from infocam.data.prepare import prepare_dataset
from infocam.data.synthetic import write_tiny_archive
from infocam.preemption import PREEMPTED_EXIT_CODE, signals_as_flag


def test_signals_become_a_flag_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGUSR1)
    with signals_as_flag() as received:
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGTERM)
    assert received == [signal.SIGUSR1, signal.SIGTERM]
    assert signal.getsignal(signal.SIGUSR1) is before


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("preempt")
    archive = root / "tiny-imagenet-200.zip"
    md5 = write_tiny_archive(archive, n_classes=3, train_per_class=6, val_per_class=4, seed=5)
    prepare_dataset(archive, "tiny", md5, root / "prepared")
    return root / "prepared"


def train_command(prepared, directory):
    return [sys.executable, "-m", "infocam.cli", "train", "--data", str(prepared),
            "--checkpoint", str(directory / "best.pt"), "--history", str(directory / "history.csv"),
            "--resume", str(directory / "resume.pt"), "--settings", json.dumps(SETTINGS)]


SETTINGS = {"backbone": "resnet50", "adl": True, "loss": "softmax", "seed": 4, "width": 0.0625, "pretrained": False,
            "adl_drop_rate": 0.75, "epochs": 12, "lr": 0.002, "optimizer": "adam", "batch_size": 8, "lr_step": 6,
            "lr_gamma": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 1e-4, "classifier_lr_mult": 10,
            "resize": 32, "crop": 32}


def test_sigint_stops_training_like_sigterm(prepared, tmp_path):
    process = subprocess.Popen(train_command(prepared, tmp_path), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "resume.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED_EXIT_CODE, stderr[-2000:]
    assert "preempted: stopped by SIGINT" in stderr and "KeyboardInterrupt" not in stderr
    assert (tmp_path / "resume.pt").exists() and not (tmp_path / "best.pt").exists()


def test_sigusr1_stops_training_and_a_rerun_reaches_the_uninterrupted_weights(prepared, tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    subprocess.run(train_command(prepared, straight), check=True, capture_output=True)

    process = subprocess.Popen(train_command(prepared, stopped), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (stopped / "resume.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGUSR1)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED_EXIT_CODE, stderr[-2000:]
    assert "preempted: stopped by SIGUSR1 in epoch" in stderr and "run the same command again" in stderr
    assert (stopped / "resume.pt").exists() and not (stopped / "best.pt").exists()

    subprocess.run(train_command(prepared, stopped), check=True, capture_output=True)
    expected = torch.load(straight / "best.pt", weights_only=False)
    resumed = torch.load(stopped / "best.pt", weights_only=False)
    assert expected["epoch"] == resumed["epoch"]
    for key, value in expected["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert not (stopped / "resume.pt").exists()
