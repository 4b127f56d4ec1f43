"""Training a cell: best-by-val checkpoint, history, seeding, resume after interruption."""

import dataclasses

import pandas as pd
import pytest
import torch

from infocam.wsol import train
from infocam.data.prepare import prepare_dataset
from infocam.data.synthetic import write_cub_archive
from infocam.wsol.train import TrainSettings, resolve_device, train_cell

SETTINGS = TrainSettings(
    backbone="vgg16", adl=True, loss="softmax", seed=3, width=0.0625, pretrained=False, adl_drop_rate=0.75,
    epochs=3, lr=0.01, batch_size=8, lr_step=2, lr_gamma=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4,
    classifier_lr_mult=10, resize=40, crop=32, cache_images=True,
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    archive = root / "CUB_200_2011.tgz"
    md5 = write_cub_archive(archive, n_classes=3, train_per_class=6, test_per_class=4, seed=0)
    prepare_dataset(archive, "cub", md5, root / "prepared")
    return root / "prepared"


def run(prepared, directory, settings=SETTINGS, resume=False):
    return train_cell(prepared, directory / "best.pt", directory / "history.csv", settings,
                      resume_path=directory / "resume.pt" if resume else None)


def test_best_checkpoint_is_chosen_on_validation(prepared, tmp_path):
    checkpoint = run(prepared, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.epoch) == [1, 2, 3]
    assert checkpoint["val_top1"] == pytest.approx(history.val_top1.max(), abs=1e-3)
    assert checkpoint["epoch"] == history.epoch[history.val_top1.idxmax()]
    assert list(history.lr) == pytest.approx([0.01, 0.01, 0.001])
    saved = torch.load(tmp_path / "best.pt", weights_only=False)
    assert saved["settings"]["backbone"] == "vgg16" and len(saved["classes"]) == 3


def test_resume_after_interruption_reaches_the_same_weights(prepared, tmp_path, monkeypatch):
    uninterrupted = run(prepared, tmp_path / "a")

    calls = {"n": 0}
    real_epoch = train.train_one_epoch

    def interrupted_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train, "train_one_epoch", interrupted_epoch)
    with pytest.raises(KeyboardInterrupt):
        run(prepared, tmp_path / "b", resume=True)
    assert (tmp_path / "b" / "resume.pt").exists() and not (tmp_path / "b" / "best.pt").exists()
    monkeypatch.setattr(train, "train_one_epoch", real_epoch)
    resumed = run(prepared, tmp_path / "b", resume=True)

    assert not (tmp_path / "b" / "resume.pt").exists()
    for key, value in uninterrupted["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    columns = ["epoch", "train_loss", "val_top1"]
    a, b = (pd.read_csv(tmp_path / d / "history.csv")[columns] for d in ("a", "b"))
    pd.testing.assert_frame_equal(a, b)


def test_other_settings_do_not_resume(prepared, tmp_path, capsys):
    run(prepared, tmp_path, dataclasses.replace(SETTINGS, epochs=1), resume=False)
    torch.save({"settings": {"epochs": 99}}, tmp_path / "resume.pt")
    run(prepared, tmp_path, dataclasses.replace(SETTINGS, epochs=1), resume=True)
    assert "written with other settings" in capsys.readouterr().out


def test_gpu_code_paths_run_on_cpu(prepared, tmp_path):
    settings = dataclasses.replace(SETTINGS, epochs=1, amp=True, channels_last=True, backbone="resnet50")
    run(prepared, tmp_path, settings)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history.train_loss.notna().all() and history.train_loss[0] > 0


def test_cuda_without_a_gpu_is_one_clear_line():
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
        return
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
