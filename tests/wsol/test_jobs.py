"""Cell names and the settings each training and evaluation job gets (what the workflow passes)."""

import pytest

from conftest import ROOT
from infocam.config import load_config
from infocam.wsol.cells import cell_name, figure_cell, grid_cells, parse_cell
from infocam.wsol.evaluate import EvaluateSettings
from infocam.wsol.jobs import evaluate_settings, pretrain_settings, protocol_settings, train_settings
from infocam.wsol.protocol2020 import ProtocolSettings
from infocam.wsol.train import TrainSettings


def test_a_cell_name_reads_back_as_its_parts():
    name = cell_name("resnet50", True, "pc_softmax", 3)
    assert name == "resnet50-adl-pc_softmax-s3"
    assert parse_cell(name) == {"backbone": "resnet50", "adl": True, "loss": "pc_softmax", "seed": 3}
    with pytest.raises(ValueError, match="not a cell name"):
        parse_cell("resnet50-adl-softmax")


def test_grid_cells_and_an_empty_loss_list_gives_none():
    grid = {"backbones": ["vgg16"], "adl": [False, True], "losses": ["softmax", "pc_softmax"], "seeds": [0]}
    assert grid_cells(grid) == ["vgg16-noadl-softmax-s0", "vgg16-noadl-pc_softmax-s0",
                                "vgg16-adl-softmax-s0", "vgg16-adl-pc_softmax-s0"]
    assert grid_cells(grid, ["softmax"]) == ["vgg16-noadl-softmax-s0", "vgg16-adl-softmax-s0"]
    assert grid_cells({**grid, "losses": ["pc_softmax"]}, ["softmax"]) == []  # not "every loss"
    assert figure_cell(grid) == "vgg16-noadl-softmax-s0"
    assert figure_cell({**grid, "backbones": ["vgg16", "resnet50"], "adl": [True]}) == "resnet50-adl-softmax-s0"


def test_job_settings_are_complete_dataclasses_for_both_configs():
    for name in ("config.yaml", "paper.yaml"):
        config = load_config(ROOT / "config" / name)
        cell = TrainSettings(**train_settings(config, "cub", "vgg16", True, "softmax", 0, "results/pretrain/vgg16.pt"))
        assert cell.adl and cell.crop == config["datasets"]["cub"]["crop"]
        assert cell.output_stride == config["datasets"]["cub"]["output_stride"]["vgg16"]
        evaluation = EvaluateSettings(**evaluate_settings(config, "tiny", "resnet50"))
        assert evaluation.region == config["datasets"]["tiny"]["region"]["resnet50"] and evaluation.tau == 0.2


def test_dataset_hyper_overrides_training_and_pretraining_has_its_own_schedule():
    config = load_config(ROOT / "config" / "config.yaml")
    vgg_tiny = train_settings(config, "tiny", "vgg16", False, "softmax", 0, None)
    assert (vgg_tiny["epochs"], vgg_tiny["lr_step"]) == (20, 14) and vgg_tiny["init_from"] is None
    assert train_settings(config, "tiny", "resnet50", False, "softmax", 0, None)["epochs"] == \
        config["training"]["epochs"]
    pretrain = TrainSettings(**pretrain_settings(config, "resnet50"))
    assert (pretrain.epochs, pretrain.lr_step, pretrain.crop) == (40, 30, 64)
    assert not pretrain.adl and pretrain.loss == "softmax" and pretrain.init_from is None


def test_the_2020_protocol_takes_its_own_family_or_else_the_evaluations():
    config = load_config(ROOT / "config" / "paper.yaml")
    settings = ProtocolSettings(**protocol_settings(config, "cub", "resnet50"))
    assert settings.family == tuple(config["evaluation"]["family"])
    config["wsol2020"]["family"] = ["gradcam"]
    assert ProtocolSettings(**protocol_settings(config, "cub", "resnet50")).family == ("gradcam",)
    config["wsol2020"]["family"] = []
    assert ProtocolSettings(**protocol_settings(config, "cub", "resnet50")).methods == ("cam", "infocam", "infocam_plus")
