"""Evaluating a trained cell: every CAM variant from one pass, metrics = hits / images."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from infocam.data.prepare import prepare_dataset, write_manifest
from infocam.data.synthetic import parts_path, write_tiny_archive
from infocam.provenance.audit import metrics_from_per_image
from infocam.wsol.methods import evaluated_names, table6_methods
from infocam.wsol.evaluate import EvaluateSettings, evaluate_cell, metrics_from_records, peak_on_part
from infocam.wsol.localize import normalise_score_map
from infocam.io import file_md5
from infocam.wsol.train import TrainSettings, train_cell


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cell")
    archive = root / "tiny-imagenet-200.zip"
    md5 = write_tiny_archive(archive, n_classes=3, train_per_class=6, val_per_class=6, seed=2)
    prepare_dataset(archive, "tiny", md5, root / "prepared", parts=parts_path(archive))
    settings = TrainSettings(
        backbone="resnet50", adl=False, loss="softmax", seed=0, width=0.0625, pretrained=False,
        adl_drop_rate=0.75, epochs=1, lr=0.01, batch_size=8, lr_step=1, lr_gamma=0.1, momentum=0.9,
        nesterov=True, weight_decay=1e-4, classifier_lr_mult=10, resize=32, crop=32,
    )
    train_cell(root / "prepared", root / "best.pt", root / "history.csv", settings)
    return root


SETTINGS = EvaluateSettings("tiny", region=3, resize=32, crop=32, region_geometry="full", batch_size=4)


def test_summary_agrees_with_the_per_image_records(trained):
    summary = evaluate_cell(trained / "prepared", trained / "best.pt", trained / "per_image.csv.gz",
                            trained / "summary.json", SETTINGS)
    per_image = pd.read_csv(trained / "per_image.csv.gz")
    test = pd.read_csv(trained / "prepared" / "test.csv")
    assert len(per_image) == summary["n_test"] == len(test) == 9
    assert list(per_image.image_id) == list(test.image_id)
    assert summary["top1_cls"] == pytest.approx(100 * per_image.correct_top1.mean())
    assert set(summary["methods"]) == set(evaluated_names("full")) and summary["region_geometry"] == "full"
    for method in evaluated_names("full"):
        hits = per_image[f"{method}_iou"] >= 0.5
        metrics = summary["methods"][method]
        assert metrics["gt_loc"] == pytest.approx(100 * hits.mean())
        assert metrics["top1_loc"] == pytest.approx(100 * (hits & per_image.correct_top1).mean())
        if method in table6_methods(()):
            assert 0 <= metrics["maxboxacc_v2"] <= 100 and f"{method}_v2_hits" in per_image
        else:  # no table reports the ablations' and controls' MaxBoxAcc: only their box at tau is scored
            assert "maxboxacc_v2" not in metrics and f"{method}_v2_hits" not in per_image
        boxes = per_image[[f"{method}_{c}" for c in ("x0", "y0", "x1", "y1")]]
        assert ((boxes >= 0) & (boxes <= 223)).all().all()
    assert summary["n_no_gt_box"] == 0 and per_image.has_gt_box.all()
    assert summary["n_part_boxes"] == 9 and per_image.has_part_box.all()  # no crop: every head stays
    recomputed = metrics_from_per_image(trained / "per_image.csv.gz", summary["methods"])  # as the audit does
    for method in evaluated_names("full"):
        share = summary["methods"][method]["peak_on_part"]
        assert 0 <= share <= 1 and share == pytest.approx(per_image[f"{method}_peak_on_part"].mean())
        assert recomputed["methods"][method]["peak_on_part"] == pytest.approx(share)
    assert recomputed["n_part_boxes"] == 9
    assert summary["map_size"] == [2, 2]  # ResNet50 (layer4 at stride 1: total stride 16) on 32-pixel crops
    for method in ("cam", "infocam"):
        corners = [per_image[f"{method}_{c}"] for c in ("x0", "y0", "x1", "y1")]
        area = ((corners[2] - corners[0] + 1) * (corners[3] - corners[1] + 1) / 224 ** 2).mean()
        assert summary["methods"][method]["mean_box_area"] == pytest.approx(area)
        assert 0 <= summary["methods"][method]["gt_coverage"] <= 1
    on_disk = json.loads((trained / "summary.json").read_text())
    assert on_disk["provenance"]["checkpoint"]["md5"] == file_md5(trained / "best.pt")
    assert on_disk["provenance"]["per_image"]["md5"] == file_md5(trained / "per_image.csv.gz")
    split_md5 = on_disk["provenance"]["dataset"]["files_md5"]
    assert split_md5["test.csv"] == file_md5(trained / "prepared" / "test.csv")
    assert split_md5["parts.csv"] == file_md5(trained / "prepared" / "parts.csv")
    assert on_disk["provenance"]["code"]["commit"] and on_disk["provenance"]["environment"]["lock_file_md5"]
    assert on_disk["cell"] == {"backbone": "resnet50", "adl": False, "loss": "softmax", "seed": 0}


def test_an_image_left_without_a_gt_box_is_counted_and_not_scored(trained, tmp_path):
    prepared = tmp_path / "prepared"
    shutil.copytree(trained / "prepared", prepared)
    test = pd.read_csv(prepared / "test.csv")
    boxes = pd.read_csv(prepared / "boxes.csv")
    lost = test.image_id.iloc[0]
    boxes.loc[boxes.image_id == lost, ["x0", "y0", "x1", "y1"]] = [70, 70, 75, 75]  # off the 64-pixel image
    boxes.to_csv(prepared / "boxes.csv", index=False)
    write_manifest(prepared)  # as if prepared with that box
    summary = evaluate_cell(prepared, trained / "best.pt", tmp_path / "p.csv.gz", tmp_path / "s.json", SETTINGS)
    per_image = pd.read_csv(tmp_path / "p.csv.gz")
    assert summary["n_test"] == 9 and summary["n_no_gt_box"] == 1
    assert per_image.set_index("image_id").loc[lost, ["has_gt_box", "cam_x0"]].tolist() == [False, -1]
    scored = per_image[per_image.has_gt_box]
    assert summary["methods"]["cam"]["gt_loc"] == pytest.approx(100 * (scored.cam_iou >= 0.5).sum() / 8)


def test_a_missing_checkpoint_leaves_no_output(trained, tmp_path):
    with pytest.raises(FileNotFoundError):
        evaluate_cell(trained / "prepared", tmp_path / "absent.pt", tmp_path / "p.csv.gz", tmp_path / "s.json",
                      EvaluateSettings("tiny", region=3, resize=32, crop=32, region_geometry="full"))
    assert list(tmp_path.iterdir()) == []


def test_peak_on_part_is_the_first_maximum_inside_a_part_box():
    canvas_map = np.zeros((224, 224))
    canvas_map[100, 50] = canvas_map[150, 10] = 1.0  # the first maximum in row-major order is (x 50, y 100)
    head = np.array([[40, 90, 60, 110]])
    assert peak_on_part(canvas_map, head)
    assert peak_on_part(canvas_map, np.array([[50, 100, 50, 100]]))  # corners are inclusive
    assert not peak_on_part(canvas_map, np.array([[0, 140, 20, 160]]))  # holds the second maximum only
    assert not peak_on_part(canvas_map, np.array([[51, 90, 60, 110]]))
    assert peak_on_part(canvas_map, np.array([[0, 0, 5, 5], [40, 90, 60, 110]]))  # any of several boxes
    assert not peak_on_part(np.zeros((224, 224)), np.array([[0, 0, 223, 223]]))  # a constant map peaks nowhere
    raw = np.array([[0.0, 0.1], [0.2, 1.0]])  # peaks in the bottom-right quarter once upsampled
    assert peak_on_part(normalise_score_map(raw), np.array([[112, 112, 223, 223]]))
    assert not peak_on_part(normalise_score_map(raw), np.array([[0, 0, 111, 111]]))


def test_peak_on_part_share_counts_scored_images_with_a_part_box():
    frame = pd.DataFrame({
        "has_gt_box": [True, True, True, False], "has_part_box": [True, True, False, True],
        "correct_top1": [True] * 4, "correct_top5": [True] * 4, "cam_iou": [0.6, 0.1, 0.7, None],
        "cam_peak_on_part": [True, False, None, True],  # the last image is not scored
    })
    metrics = metrics_from_records(frame, ["cam"])
    assert metrics["n_part_boxes"] == 3 and metrics["methods"]["cam"]["peak_on_part"] == 0.5
    frame["cam_peak_on_part"] = None
    assert metrics_from_records(frame, ["cam"])["methods"]["cam"]["peak_on_part"] is None


def test_head_boxes_are_matched_to_their_images(trained, tmp_path):
    prepared = tmp_path / "prepared"
    shutil.copytree(trained / "prepared", prepared)
    test = pd.read_csv(prepared / "test.csv")
    lost = test.image_id.iloc[0]
    parts = pd.DataFrame({"image_id": test.image_id, "part": "head", "x0": 0, "y0": 0, "x1": 63, "y1": 63})
    parts.loc[0, ["x0", "y0", "x1", "y1"]] = [70, 70, 75, 75]  # off the 64-pixel image
    parts.to_csv(prepared / "parts.csv", index=False)
    write_manifest(prepared)
    summary = evaluate_cell(prepared, trained / "best.pt", tmp_path / "p.csv.gz", tmp_path / "s.json", SETTINGS)
    per_image = pd.read_csv(tmp_path / "p.csv.gz").set_index("image_id")
    assert summary["n_part_boxes"] == 8 and not per_image.loc[lost, "has_part_box"]
    assert per_image.loc[lost, "cam_peak_on_part"] != per_image.loc[lost, "cam_peak_on_part"]  # NaN: no head box
    for method in ("cam", "infocam"):  # a head box covering the whole image holds every peak
        assert summary["methods"][method]["peak_on_part"] == 1.0


def test_without_part_boxes_peak_on_part_is_null(trained, tmp_path):
    prepared = tmp_path / "prepared"
    shutil.copytree(trained / "prepared", prepared)
    (prepared / "parts.csv").unlink()
    write_manifest(prepared)  # as real data are prepared: no parts.csv
    summary = evaluate_cell(prepared, trained / "best.pt", tmp_path / "p.csv.gz", tmp_path / "s.json", SETTINGS)
    assert summary["n_part_boxes"] == 0
    assert all(metrics["peak_on_part"] is None for metrics in summary["methods"].values())
    on_disk = json.loads((tmp_path / "s.json").read_text())
    assert on_disk["methods"]["cam"]["peak_on_part"] is None
    assert "parts.csv" not in on_disk["provenance"]["dataset"]["files_md5"]
    assert not pd.read_csv(tmp_path / "p.csv.gz").has_part_box.any()


class ToyEvaluator:
    """A metric added the way docs/extending.md says: one class in EVALUATORS."""

    def __init__(self, settings, method):
        self.images = 0

    def add(self, canvas_map, gt, parts):
        self.images += 1
        return {"toy_peak": float(canvas_map.max()) if canvas_map is not None else None}

    def results(self):
        return {"toy_images": self.images}


def test_a_registered_toy_method_and_evaluator_reach_the_summary_and_table1(trained, tmp_path, monkeypatch):
    from infocam.wsol import evaluate, methods
    from infocam.wsol.tables import write_table

    toy = methods.CamMethod("toy_lowest", "Toy (lowest class, no R)", "logits", "lowest_class", region=False,
                            headline=True, ablation=False)
    monkeypatch.setattr(methods, "METHODS", (*methods.METHODS, toy))
    monkeypatch.setattr(evaluate, "EVALUATORS", (*evaluate.EVALUATORS, ToyEvaluator))
    cell = tmp_path / "eval" / "tiny" / "resnet50-noadl-softmax-s0"
    summary = evaluate_cell(trained / "prepared", trained / "best.pt", cell / "per_image.csv.gz",
                            cell / "summary.json", SETTINGS)
    assert "toy_lowest" in evaluated_names("full") and "toy_lowest_same" not in evaluated_names("full")
    assert summary["methods"]["toy_lowest"]["toy_images"] == summary["n_test"] == 9
    per_image = pd.read_csv(cell / "per_image.csv.gz")
    assert {"toy_lowest_iou", "toy_lowest_toy_peak", "cam_toy_peak"} <= set(per_image.columns)
    table = write_table("table1", [cell / "summary.json"], "workflow/resources/published.yaml",
                        tmp_path / "t1.csv", tmp_path / "t1.md")
    row = table.set_index("method").loc["Toy (lowest class, no R)"]
    assert row["gt_loc"] == pytest.approx(summary["methods"]["toy_lowest"]["gt_loc"], abs=0.005)
    assert "Toy (lowest class, no R)" in (tmp_path / "t1.md").read_text()


def test_family_members_reach_the_summary_and_table6_and_threads_change_no_record(trained, tmp_path):
    from dataclasses import replace

    from infocam.wsol.tables import write_table

    settings = replace(SETTINGS, family=["scorecam", "gradcam", "eigencam"])
    runs = {}
    for threads in (1, 2):
        cell = tmp_path / f"threads{threads}" / "eval" / "tiny" / "resnet50-noadl-softmax-s0"
        runs[threads] = evaluate_cell(trained / "prepared", trained / "best.pt", cell / "per_image.csv.gz",
                                      cell / "summary.json", settings, threads=threads)
        runs[threads]["cell_dir"] = cell
    assert list(runs[1]["methods"])[-3:] == ["gradcam", "eigencam", "scorecam"]  # the registry's order
    pd.testing.assert_frame_equal(pd.read_csv(runs[1]["cell_dir"] / "per_image.csv.gz"),
                                  pd.read_csv(runs[2]["cell_dir"] / "per_image.csv.gz"))
    assert runs[1]["methods"] == runs[2]["methods"]

    table = write_table("table6", [runs[1]["cell_dir"] / "summary.json"], "workflow/resources/published.yaml",
                        tmp_path / "t6.csv", tmp_path / "t6.md")
    assert list(table["method"]) == ["CAM", "infoCAM", "infoCAM+", "Grad-CAM", "EigenCAM", "Score-CAM"]
    for _, row in table.iterrows():
        assert 0 <= row["maxboxacc_v2_ci_low"] <= row["maxboxacc_v2_ci_high"] <= 100
    grad_cam = table.set_index("method").loc["Grad-CAM"]
    assert grad_cam["gt_loc"] == pytest.approx(runs[1]["methods"]["gradcam"]["gt_loc"], abs=0.005)
    assert grad_cam["maxboxacc_v2"] == pytest.approx(runs[1]["methods"]["gradcam"]["maxboxacc_v2"], abs=0.005)
    assert "| Score-CAM |" in (tmp_path / "t6.md").read_text()
