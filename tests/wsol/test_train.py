"""Training a cell: best-by-val checkpoint, history, seeding, resume after interruption."""

import dataclasses

import pandas as pd
import pytest
import torch

from infocam.wsol import train
from infocam.data.decoded import write_decoded_cache
from infocam.data.prepare import prepare_dataset
from infocam.data.synthetic import write_cub_archive
from infocam.device import resolve_device
from infocam.wsol.train import TrainSettings, train_cell

SETTINGS = TrainSettings(
    backbone="vgg16", adl=True, loss="softmax", seed=3, width=0.0625, pretrained=False, adl_drop_rate=0.75,
    epochs=3, lr=0.01, batch_size=8, lr_step=2, lr_gamma=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4,
    classifier_lr_mult=10, resize=40, crop=32,
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    archive = root / "CUB_200_2011.tgz"
    md5 = write_cub_archive(archive, n_classes=3, train_per_class=6, test_per_class=4, seed=0)
    prepare_dataset(archive, "cub", md5, root / "prepared")
    return root / "prepared"


def run(prepared, directory, settings=SETTINGS, resume=False, decoded_dir=None):
    return train_cell(prepared, directory / "best.pt", directory / "history.csv", settings,
                      resume_path=directory / "resume.pt" if resume else None, decoded_dir=decoded_dir)


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


def test_a_channels_last_checkpoint_is_evaluated_channels_last_with_the_same_logits(prepared, tmp_path):
    run(prepared, tmp_path, dataclasses.replace(SETTINGS, epochs=1, channels_last=True))
    model, _ = train.load_checkpoint_model(tmp_path / "best.pt", torch.device("cpu"))
    conv = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
        contiguous = model.to(memory_format=torch.contiguous_format)(x)
    torch.testing.assert_close(logits, contiguous, rtol=1e-4, atol=1e-5)


def test_cuda_without_a_gpu_is_one_clear_line():
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
        return
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")


def test_a_corrupt_resume_file_is_set_aside_and_training_restarts(prepared, tmp_path, capsys):
    settings = dataclasses.replace(SETTINGS, epochs=1)
    (tmp_path / "resume.pt").write_bytes(b"PK\x03\x04 truncated")
    checkpoint = run(prepared, tmp_path, settings, resume=True)
    out = capsys.readouterr().out
    assert f"{tmp_path / 'resume.pt'}: cannot read this resume file" in out and "restarts from epoch 0" in out
    assert (tmp_path / "resume.pt.corrupt").read_bytes() == b"PK\x03\x04 truncated"
    assert checkpoint["epoch"] == 1 and (tmp_path / "best.pt").exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a whole zip"])
def test_an_empty_or_truncated_checkpoint_is_one_line_naming_it(prepared, tmp_path, content, capsys):
    from infocam.cli import main

    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(content)
    settings = '{"dataset": "cub", "region": 3, "resize": 40, "crop": 32, "region_geometry": "full"}'
    status = main(["evaluate", "--data", str(prepared), "--checkpoint", str(checkpoint), "--settings", settings,
                   "--per-image", str(tmp_path / "p.csv.gz"), "--summary", str(tmp_path / "s.json")])
    err = capsys.readouterr().err.strip()
    assert status == 1 and "\n" not in err
    assert err.startswith(f"infocam evaluate: error: {checkpoint}: cannot read this checkpoint (")


def test_a_changed_image_in_the_prepared_folder_is_caught_before_training(prepared, tmp_path):
    import shutil

    from infocam.data.errors import DataFormatError

    copy = tmp_path / "prepared"
    shutil.copytree(prepared, copy)
    image = copy / pd.read_csv(copy / "train.csv")["path"].iloc[0]
    image.write_bytes(image.read_bytes()[:-8])
    with pytest.raises(DataFormatError, match=f"{image}: changed since preparation"):
        run(copy, tmp_path, dataclasses.replace(SETTINGS, epochs=1))


def test_a_cell_starts_from_the_pretrained_backbone_but_not_its_classifier(prepared, tmp_path, monkeypatch):
    pretrained = run(prepared, tmp_path / "pre", dataclasses.replace(SETTINGS, adl=False, epochs=1))
    seen = {}
    real_optimizer = train.make_optimizer

    def record_start(model, settings):  # the weights just before the first step
        seen.update({key: value.clone() for key, value in model.state_dict().items()})
        return real_optimizer(model, settings)

    monkeypatch.setattr(train, "make_optimizer", record_start)
    tuned = run(prepared, tmp_path / "tuned", dataclasses.replace(SETTINGS, init_from=str(tmp_path / "pre" / "best.pt")))
    for key, value in pretrained["model"].items():
        assert torch.equal(seen[key], value) != key.startswith("fc."), key
    assert tuned["init_md5"] == train.file_md5(tmp_path / "pre" / "best.pt")
    assert run(prepared, tmp_path / "scratch", dataclasses.replace(SETTINGS, epochs=1))["init_md5"] is None


def test_a_pretrained_checkpoint_of_another_width_is_one_clear_error(prepared, tmp_path):
    run(prepared, tmp_path / "pre", dataclasses.replace(SETTINGS, epochs=1, width=0.125))
    with pytest.raises(ValueError) as error:
        run(prepared, tmp_path / "tuned", dataclasses.replace(SETTINGS, init_from=str(tmp_path / "pre" / "best.pt")))
    assert str(tmp_path / "pre" / "best.pt") in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "tuned" / "best.pt").exists()


def test_the_checkpoint_rebuilds_the_network_at_its_output_stride(prepared, tmp_path):
    run(prepared, tmp_path, dataclasses.replace(SETTINGS, epochs=1, output_stride=8))
    model, _ = train.load_checkpoint_model(tmp_path / "best.pt", torch.device("cpu"))
    with torch.no_grad():
        assert model.feature_maps(torch.zeros(1, 3, 32, 32)).shape[-2:] == (4, 4)  # 32 / 8


def test_the_checkpoint_names_the_classifier_group_and_its_lr_multiplier(prepared, tmp_path):
    checkpoint = run(prepared, tmp_path, dataclasses.replace(SETTINGS, epochs=1))
    assert checkpoint["classifier_group"] == {
        "lr_mult": 10, "parameters": ["conv6.0.weight", "conv6.0.bias", "fc.weight", "fc.bias"]}
    assert checkpoint["imagenet_weights"] is None  # pretrained: false


def test_the_same_seed_gives_the_same_weights_from_the_cache_and_with_loader_workers(prepared, tmp_path):
    settings = dataclasses.replace(SETTINGS, adl=False, epochs=2)
    write_decoded_cache(prepared, settings.resize, tmp_path / "decoded")
    from_jpeg = run(prepared, tmp_path / "jpeg", settings)
    from_cache = run(prepared, tmp_path / "cache", settings, decoded_dir=tmp_path / "decoded")
    with_workers = run(prepared, tmp_path / "workers", dataclasses.replace(settings, num_workers=2),
                       decoded_dir=tmp_path / "decoded")
    for key, value in from_jpeg["model"].items():
        assert torch.equal(value, from_cache["model"][key]) and torch.equal(value, with_workers["model"][key]), key
    assert from_cache["decoded_cache"] == str(tmp_path / "decoded") and from_jpeg["decoded_cache"] is None
