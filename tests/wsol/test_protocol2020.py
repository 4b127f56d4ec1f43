"""The 2020 protocol: choices made on the selection split only, the test split evaluated once, the tables."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from infocam.data.prepare import prepare_dataset, write_manifest
from infocam.data.synthetic import parts_path, write_tiny_archive
from infocam.wsol.protocol2020 import (ProtocolSettings, Setting, correct_top1_key, score_settings, score_test_split,
                                        select_cell, threshold_index)
from infocam.wsol.tables2020 import plot_tau_curves, write_tables
from infocam.wsol.train import TrainSettings, load_checkpoint_model, snapshot_epochs, train_cell

SETTINGS = ProtocolSettings("tiny", "tiny", regions=(1, 2), ivr_percentiles=(30, 60), resize=32, crop=32,
                            region_geometry="full", family=("gradcam",), batch_size=8)


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    root = tmp_path_factory.mktemp("protocol2020")
    archive = root / "tiny-imagenet-200.zip"
    md5 = write_tiny_archive(archive, n_classes=3, train_per_class=6, val_per_class=6, seed=2)
    prepare_dataset(archive, "tiny", md5, root / "prepared", parts=parts_path(archive))
    settings = TrainSettings(
        backbone="resnet50", adl=False, loss="softmax", seed=0, width=0.0625, pretrained=False,
        adl_drop_rate=0.75, epochs=2, lr=0.01, batch_size=8, lr_step=1, lr_gamma=0.1, momentum=0.9,
        nesterov=True, weight_decay=1e-4, classifier_lr_mult=10, resize=32, crop=32,
    )
    train_cell(root / "prepared", root / "best.pt", root / "history.csv", settings,
               snapshots=(root / "snapshots.json", snapshot_epochs(2, 2)))
    assert set(json.loads((root / "snapshots.json").read_text())) == {"1", "2"}
    select_cell(root / "prepared", sorted((root / "epochs").glob("epoch*.pt")), root / "select.json", SETTINGS)
    return root


def test_snapshots_are_spread_evenly_and_end_at_the_last_epoch(cell):
    assert snapshot_epochs(12, 4) == [3, 6, 9, 12] and snapshot_epochs(5, 1) == [5] and snapshot_epochs(2, 3) == [1, 2]
    assert sorted(path.name for path in (cell / "epochs").glob("*.pt")) == ["epoch1.pt", "epoch2.pt"]


def test_every_method_gets_a_checkpoint_r_percentile_and_tau_from_the_selection_split(cell):
    selection = json.loads((cell / "select.json").read_text())
    assert selection["selection_split"] == "val" and selection["test_splits"] == ["test"]
    assert set(selection["choices"]) == {"cam", "infocam", "infocam_plus", "gradcam"}
    infocam = selection["choices"]["infocam"]["selected"]
    assert infocam["epoch"] in (1, 2) and infocam["region"] in (1, 2)
    assert set(infocam["normalisations"]) == {"minmax", "max", "pas", "ivr"}
    assert infocam["normalisations"]["ivr"]["percentile"] in (30, 60)
    assert set(selection["choices"]["gradcam"]["selected"]["normalisations"]) == {"minmax"}
    assert set(selection["choices"]["infocam"]["last"]["normalisations"]) == {"minmax"}  # no table shows more
    assert selection["choices"]["cam"]["last"]["epoch"] == 2 and selection["choices"]["cam"]["last"]["region"] is None
    candidates = pd.DataFrame(selection["candidates"])
    best = candidates[candidates.method == "infocam"].maxboxacc_v2.max()
    chosen = candidates[(candidates.method == "infocam") & (candidates.epoch == infocam["epoch"])
                        & (candidates.region == infocam["region"])]
    assert chosen.maxboxacc_v2.iloc[0] == best


def test_each_normalisation_choice_equals_its_own_pass_over_the_selection_split(cell):
    """select_cell scores the other normalisations in one pass per checkpoint; each chosen setting,
    scored alone, gives the recorded MaxBoxAccV2 and tau."""
    selection = json.loads((cell / "select.json").read_text())
    for label in ("selected", "last"):
        chosen = selection["choices"]["infocam_plus"][label]
        model, _ = load_checkpoint_model(cell / "epochs" / f"epoch{chosen['epoch']}.pt", "cpu")
        for name, normalised in chosen["normalisations"].items():
            setting = Setting("infocam_plus", chosen["epoch"], chosen["region"], name, normalised["percentile"])
            recorder = score_settings(model, cell / "prepared", ["val"], SETTINGS, [setting])[0][setting]
            assert normalised["maxboxacc_v2"] == pytest.approx(recorder.maxboxacc_v2())
            assert normalised["tau"] == recorder.operating_tau()


def test_a_changed_test_box_changes_no_choice(cell, tmp_path):
    changed = tmp_path / "prepared"
    shutil.copytree(cell / "prepared", changed)
    boxes = pd.read_csv(changed / "boxes.csv")
    test_ids = set(pd.read_csv(changed / "test.csv").image_id)
    boxes.loc[boxes.image_id.isin(test_ids), ["x0", "y0"]] = 0  # every test box grows to the corner
    boxes.to_csv(changed / "boxes.csv", index=False)
    write_manifest(changed)
    again = select_cell(changed, sorted((cell / "epochs").glob("epoch*.pt")), tmp_path / "select.json", SETTINGS)
    assert again["choices"] == json.loads((cell / "select.json").read_text())["choices"]


def test_the_test_split_is_scored_once_per_choice_and_the_tables_follow(cell, tmp_path):
    result = score_test_split(cell / "prepared", cell / "select.json", tmp_path / "test.json", tmp_path / "hits.npz", SETTINGS)
    assert result["n_test"] == 9 and result["test_splits"] == ["test"]
    rows = pd.DataFrame(result["rows"])
    assert len(rows[(rows.method == "infocam") & (rows.checkpoint == "selected")]) == 4  # one per normalisation
    assert rows[["maxboxacc_v2", "gt_loc", "gt_loc_tau02"]].apply(lambda c: c.between(0, 100)).all().all()
    assert (rows.top1_loc <= rows.gt_loc).all()
    hits = np.load(tmp_path / "hits.npz")
    for row in result["rows"]:  # per-image hits of every setting, and its checkpoint's top-1 correctness
        v1, correct = hits[f"{row['key']}_v1"], hits[correct_top1_key(row["epoch"])]
        assert v1.shape == (9, 100) and hits[f"{row['key']}_v2"].shape == (9, 3, 100)
        assert row["top1_loc"] == pytest.approx(100 * (v1[:, threshold_index(row["tau"])] & correct).mean())

    main, normalisations = write_tables([tmp_path / "test.json"], tmp_path / "t.csv", tmp_path / "t.md",
                                        tmp_path / "n.csv", tmp_path / "n.md", tmp_path / "c.csv")
    assert set(main.checkpoint) == {"selected", "last"} and len(main) == 2 * 4
    assert (main.maxboxacc_v2_ci_low <= main.maxboxacc_v2_ci_high).all()
    for metric in ("gt_loc", "top1_loc", "gt_loc_tau02"):  # a mean's percentile interval holds the mean
        assert ((main[f"{metric}_ci_low"] <= main[metric]) & (main[metric] <= main[f"{metric}_ci_high"])).all(), metric
    assert set(normalisations.normalisation) == {"minmax", "max", "pas", "ivr"} and len(normalisations) == 3 * 4
    comparison = pd.read_csv(tmp_path / "c.csv")
    assert set(comparison.method) == {"infocam", "infocam_plus"} and (comparison.baseline == "cam").all()
    assert "authors' val half" in (tmp_path / "t.md").read_text()
    plot_tau_curves([tmp_path / "test.json"], tmp_path / "tau.png")
    assert (tmp_path / "tau.png").read_bytes()[:4] == b"\x89PNG"
