"""Dress rehearsal of config/paper.yaml (make paper-smoke): the paper's networks, weights files,
optimiser and evaluation, run end to end on small synthetic archives at the real image sizes.

The overlay tests/configs/paper-smoke.yaml lists every setting it changes, with the reason.
"""

import json
import os
import subprocess

import pandas as pd
import pytest
import torch
import torchvision

from conftest import ROOT, SNAKEFILE, SNAKEMAKE

OVERLAY = ROOT / "tests" / "configs" / "paper-smoke.yaml"
WEIGHT_FILES = {"vgg16": "vgg16-397923af.pth", "resnet50": "resnet50-0676ba61.pth"}
CELLS = [f"{backbone}-{adl}-softmax-s0" for backbone in ("vgg16", "resnet50") for adl in ("noadl", "adl")]
PAPER_LR = {"vgg16": 0.001, "resnet50": 0.01}  # config/paper.yaml, both datasets
MAP_SIZE = {"cub": [14, 14], "tiny": [4, 4]}  # 224 / 16 and 64 / 16, as in the paper
WSOL_TABLES = ("table1", "table3", "table4", "table5", "table6")


def write_torchvision_weights(torch_home):
    """Randomly initialised torchvision networks saved under the ImageNet files' real names."""
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    counts = {}
    for backbone, file_name in WEIGHT_FILES.items():
        state = getattr(torchvision.models, backbone)(weights=None).state_dict()
        torch.save(state, checkpoints / file_name)
        counts[backbone] = len(state)
    return counts


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("paper-smoke")
    tensors_in_file = write_torchvision_weights(workdir / "torch_home")
    tables = [f"results/{name}.csv" for name in WSOL_TABLES]
    command = [*SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(workdir), "--cores", "2", *tables,
               "--configfile", str(ROOT / "config" / "paper.yaml"), str(OVERLAY)]
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, "TORCH_HOME": str(workdir / "torch_home")})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield workdir, tensors_in_file
    for file_name in WEIGHT_FILES.values():  # 630 MB: not kept in pytest's retained tmp folders
        (workdir / "torch_home" / "hub" / "checkpoints" / file_name).unlink()


def checkpoints(workdir):
    for dataset in MAP_SIZE:
        for cell in CELLS:
            path = workdir / "results" / "checkpoints" / dataset / f"{cell}.pt"
            yield dataset, cell, torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.slow
def test_every_cell_trains_the_full_width_network_with_the_papers_sgd(rehearsal):
    workdir, _ = rehearsal
    for dataset, cell, checkpoint in checkpoints(workdir):
        settings = checkpoint["settings"]
        assert (settings["width"], settings["pretrained"], settings["optimizer"]) == (1.0, True, "sgd"), cell
        assert settings["channels_last"] and checkpoint["decoded_cache"] == f"data/decoded/{dataset}"
        assert settings["lr"] == PAPER_LR[cell.split("-")[0]]
        assert (settings["resize"], settings["crop"]) == ((256, 224) if dataset == "cub" else (64, 64))
        assert len(checkpoint["classes"]) == 16


@pytest.mark.slow
def test_imagenet_weights_are_read_from_the_torchvision_files(rehearsal):
    workdir, tensors_in_file = rehearsal
    expected = {"vgg16": 26, "resnet50": tensors_in_file["resnet50"] - 2}  # 13 convs; all but fc
    for _, cell, checkpoint in checkpoints(workdir):
        backbone = cell.split("-")[0]
        loaded = checkpoint["imagenet_weights"]
        assert loaded["file"] == str(workdir / "torch_home" / "hub" / "checkpoints" / WEIGHT_FILES[backbone])
        assert loaded["tensors"] == expected[backbone], cell


@pytest.mark.slow
def test_the_x10_group_is_the_new_head(rehearsal):
    workdir, _ = rehearsal
    for _, cell, checkpoint in checkpoints(workdir):
        group = checkpoint["classifier_group"]
        assert group["lr_mult"] == 10
        if cell.startswith("vgg16"):
            assert group["parameters"] == ["conv6.0.weight", "conv6.0.bias", "fc.weight", "fc.bias"]
        else:
            assert {name.split(".")[0] for name in group["parameters"]} == {"layer4", "fc"}
            assert len(group["parameters"]) == 3 * 9 + 3 + 2  # 3 blocks x (3 convs + 3 BNs x 2) + downsample + fc


@pytest.mark.slow
def test_maps_are_the_papers_14x14_and_4x4_and_every_table_is_filled(rehearsal):
    workdir, _ = rehearsal
    for dataset, size in MAP_SIZE.items():
        for cell in CELLS:
            summary = json.loads((workdir / "results" / "eval" / dataset / cell / "summary.json").read_text())
            assert summary["map_size"] == size, (dataset, cell)
            assert summary["n_test"] == 16
    for name in WSOL_TABLES:
        table = pd.read_csv(workdir / "results" / f"{name}.csv")
        measured = table[[column for column in table if not column.startswith("paper_")]]  # published: may be blank
        assert len(table) > 0 and not measured.isna().any().any(), name
