"""Digit data (offline MNIST source, imbalanced caps, double-digit MNIST) and the digit CLI verbs end to end."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import ROOT
from infocam.cli import main
from infocam.data.mnist import read_idx
from infocam.digits.common import (capped_indices, load_mnist, make_double_digits, parity_caps, upsample_digits,
                            write_offline_mnist)
from infocam.digits.double_digit import info_mask
from infocam.digits.imbalanced import COLUMNS as PC_COLUMNS

PUBLISHED = ROOT / "workflow" / "resources" / "published.yaml"


@pytest.fixture(scope="module")
def mnist_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist-offline")
    write_offline_mnist(folder, train_count=1500)
    return folder


def test_offline_mnist_round_trips_through_read_idx(mnist_folder):
    from sklearn.datasets import load_digits

    digits = load_digits()
    mnist = load_mnist(mnist_folder)
    assert mnist.train_images.shape == (1500, 28, 28) and mnist.test_images.shape == (297, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    assert np.array_equal(read_idx(mnist_folder / "t10k-labels-idx1-ubyte.gz"), digits.target[1500:])
    assert np.array_equal(mnist.train_images[:5], upsample_digits(digits.images[:5]))


def test_upsampled_digits_sit_in_the_centre_box_and_use_the_full_range():
    images = upsample_digits(np.full((2, 8, 8), 16.0))
    assert images.shape == (2, 28, 28) and images.max() == 255
    assert images[:, 4:24, 4:24].min() == 255
    assert images[:, :4].max() == 0 and images[:, :, 24:].max() == 0


def test_caps_keep_the_first_examples_per_class_by_parity():
    labels = np.array([0, 1, 0, 1, 0, 1, 2, 2, 2, 3])
    caps = parity_caps(1, None, 4)
    assert capped_indices(labels, caps).tolist() == [0, 1, 3, 5, 6, 9]
    assert capped_indices(labels, caps, start=2, stop=8).tolist() == [2, 3, 5, 6]
    with pytest.raises(ValueError, match="index range"):
        capped_indices(labels, caps, start=5, stop=20)


def test_double_digits_shapes_boxes_and_slot_probability(mnist_folder):
    mnist = load_mnist(mnist_folder)
    data = make_double_digits(mnist.train_images, mnist.train_labels, 3000, seed=0, p_present=0.7)
    assert data.images.shape == (3000, 28, 56) and data.labels.shape == (3000, 10)
    filled = data.digits >= 0
    assert filled.any(axis=1).all()  # no empty canvas
    # Given that a canvas is not empty, a slot is filled with probability 0.7 / (1 - 0.3^2).
    assert abs(filled.mean() - 0.7 / 0.91) < 0.02
    assert np.array_equal(data.labels.sum(axis=1), [len(set(row) - {-1}) for row in data.digits])
    for i in range(200):
        for slot in range(2):
            part = data.images[i, :, slot * 28:(slot + 1) * 28]
            if not filled[i, slot]:
                assert part.max() == 0 and (data.boxes[i, slot] == -1).all()
                continue
            x0, y0, x1, y1 = data.boxes[i, slot]
            assert slot * 28 <= x0 <= x1 < (slot + 1) * 28 and 0 <= y0 <= y1 < 28
            inside = np.zeros_like(data.images[i], dtype=bool)
            inside[y0:y1 + 1, x0:x1 + 1] = True
            slot_mask = np.zeros_like(inside)
            slot_mask[:, slot * 28:(slot + 1) * 28] = True
            nonzero = (data.images[i] > 0) & slot_mask
            assert not (nonzero & ~inside).any()  # every digit pixel lies in the box
            assert nonzero[y0].any() and nonzero[y1].any() and nonzero[:, x0].any() and nonzero[:, x1].any()


def test_info_mask_keeps_only_patches_above_the_fraction_of_the_max():
    images = np.full((1, 8, 8), 200, dtype=np.uint8)
    pmi = np.array([[[1.0, 0.1], [0.3, -1.0]]])
    masked, keep = info_mask(images, pmi, keep_fraction=0.2)
    assert keep.tolist() == [[[True, False], [True, False]]]
    assert masked[0, :4, :4].min() == 200 and masked[0, :4, 4:].max() == 0 and masked[0, 4:, 4:].max() == 0


def _tiny_prepared_cub(folder):
    rows = {"train": [], "test": []}
    rng = np.random.default_rng(0)
    image_id = 0
    for label in range(3):
        for split, count in (("train", 4), ("test", 3)):
            for _ in range(count):
                image_id += 1
                path = f"images/{label}/{image_id}.png"
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / path)
                rows[split].append((image_id, path, label, 24, 20))
    for split, split_rows in rows.items():
        pd.DataFrame(split_rows, columns=["image_id", "path", "label", "width", "height"]).to_csv(
            folder / f"{split}.csv", index=False)


def test_digit_verbs_end_to_end(tmp_path, mnist_folder):
    training = {"epochs": 1, "batch_size": 16, "lr": 0.02, "momentum": 0.9, "seeds": [0, 1],
                "losses": ["softmax", "pc_softmax", "dropmax"]}
    mnist_settings = {**training, "train_range": [0, 300], "test_range": [300, 400],
                      "train_caps": {"even": 5, "odd": None}, "test_caps": {"even": 5, "odd": None}}
    assert main(["digits-offline-mnist", "--out", str(tmp_path / "mnist"), "--train-count", "1000"]) == 0
    assert len(read_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte.gz")) == 1000
    assert main(["pc-softmax-run", "--dataset", "mnist", "--data", str(mnist_folder),
                 "--settings", json.dumps(mnist_settings), "--out", str(tmp_path / "mnist.csv")]) == 0
    cub = tmp_path / "cub"
    _tiny_prepared_cub(cub)
    cub_settings = {**training, "image_size": 16, "train_caps": {"even": 2, "odd": None},
                    "test_caps": {"even": 1, "odd": 3}}
    assert main(["pc-softmax-run", "--dataset", "cub", "--data", str(cub), "--settings", json.dumps(cub_settings),
                 "--out", str(tmp_path / "cub.csv")]) == 0
    assert main(["pc-softmax-table", "--published", str(PUBLISHED), "--csv", str(tmp_path / "pc.csv"),
                 "--md", str(tmp_path / "pc.md"),
                 str(tmp_path / "mnist.csv"), str(tmp_path / "cub.csv")]) == 0
    table = pd.read_csv(tmp_path / "pc.csv")
    assert list(table.columns) == PC_COLUMNS + ["paper_accuracy", "paper_mean_class_accuracy", "paper_model"]
    assert len(table) == 2 * 3 * 2 * 2
    published = table[table["paper_model"].notna()]
    assert set(zip(published["dataset"], published["loss"])) == {("cub", "pc_softmax")}
    assert set(published["paper_model"]) == {"Inception-V3, iNaturalist-pretrained"}
    imbalanced_cub = table[(table["dataset"] == "cub") & (table["test_set"] == "imbalanced")]
    assert set(imbalanced_cub["test_size"]) == {1 + 3 + 1}
    assert table["class_accuracies"].str.split().str.len().tolist() == [10] * 12 + [3] * 12
    markdown = (tmp_path / "pc.md").read_text()
    assert "[" in markdown and "| cub | pc_softmax | Inception-V3, iNaturalist-pretrained | 89.73 | 87.69 |" in markdown

    double = {"train_count": 64, "test_count": 32, "p_present": 0.7, "data_seed": 0, "epochs": 1, "batch_size": 32,
              "lr": 0.003, "region": 3, "tau": 0.2, "width": 4}
    for loss in ("sigmoid", "pc_sigmoid"):
        assert main(["double-digit-run", "--mnist", str(mnist_folder), "--settings", json.dumps(double),
                     "--loss", loss, "--seed", "0",
                     "--checkpoint", str(tmp_path / f"{loss}.pt"), "--out", str(tmp_path / f"{loss}.csv")]) == 0
    assert main(["double-digit-table", "--published", str(PUBLISHED), "--csv", str(tmp_path / "table2.csv"),
                 "--loc-csv", str(tmp_path / "loc.csv"),
                 "--md", str(tmp_path / "table2.md"), "--region", "3", "--tau", "0.2",
                 str(tmp_path / "sigmoid.csv"), str(tmp_path / "pc_sigmoid.csv")]) == 0
    table2 = pd.read_csv(tmp_path / "table2.csv")
    assert list(table2.columns[:5]) == ["digit", "sigmoid_acc", "pc_sigmoid_acc", "paper_sigmoid_acc",
                                        "paper_pc_sigmoid_acc"]
    assert table2["digit"].tolist() == list(range(10)) and table2["sigmoid_acc"].between(0, 1).all()
    assert {"sigmoid_recall", "pc_sigmoid_recall", "always_absent_acc"} <= set(table2.columns)
    assert (table2["sigmoid_acc_ci_low"] <= table2["sigmoid_acc"]).all()
    assert (table2["sigmoid_acc"] <= table2["sigmoid_acc_ci_high"]).all()
    assert table2["always_absent_acc"].between(0, 1).all() and table2["pc_sigmoid_recall"].between(0, 1).all()
    assert "always absent acc" in (tmp_path / "table2.md").read_text()
    loc = pd.read_csv(tmp_path / "loc.csv")
    assert {"loss", "method", "loc_acc", "paper_loc_acc"} <= set(loc.columns)
    # infoCAM's binary reading is the region sum of the label's map: the registry's ablation_region_only
    assert loc.loc[loc["method"] == "ablation_region_only", "paper_loc_acc"].tolist() == [98.0] * 4  # 2 losses x 2 maps
    assert set(loc["map"]) == {"raw", "positive"}

    assert main(["digits-figures", "--mnist", str(mnist_folder), "--cam-model", str(tmp_path / "sigmoid.pt"),
                 "--masking-model", str(tmp_path / "pc_sigmoid.pt"), "--settings", json.dumps({"region": 3}),
                 "--cam-out", str(tmp_path / "cam.png"), "--masking-out", str(tmp_path / "mask.png")]) == 0
    for name in ("cam.png", "mask.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pc_softmax_run_names_an_unknown_setting(tmp_path, mnist_folder, capsys):
    settings = {"train_range": [0, 300], "test_range": [300, 400], "train_caps": {"even": 5, "odd": None},
                "test_caps": {"even": 5, "odd": None}, "losses": ["softmax"], "seeds": [0], "epochs": 1,
                "batch_size": 8, "lr": 0.1, "momentum": 0, "learning_rate": 0.1}
    assert main(["pc-softmax-run", "--dataset", "mnist", "--data", str(mnist_folder),
                 "--settings", json.dumps(settings), "--out", str(tmp_path / "x.csv")]) == 1
    assert "ImbalancedSettings: unknown setting(s) learning_rate" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_localisation_hits_a_map_that_covers_the_digit_and_misses_one_on_the_other_slot():
    import torch

    from infocam.digits.common import DoubleDigits
    from infocam.digits.double_digit import METHODS, MAPS, localisation_hits

    images = np.zeros((2, 28, 56), dtype=np.uint8)
    images[:, 4:24, 4:24] = 255
    test = DoubleDigits(images, np.array([[3, -1], [3, -1]]), np.array([[[4, 4, 23, 23], [-1] * 4]] * 2))
    features = torch.zeros(2, 1, 14, 28)
    features[0, 0, 2:12, 2:12] = 1   # over the digit (cells are 2x2 pixels)
    features[1, 0, 2:12, 16:26] = 1  # over the empty right slot
    weight = torch.zeros(10, 1)
    weight[3] = 1
    hits, count = localisation_hits(features, torch.zeros(2, 10), test, weight, region=1, tau=0.2)
    assert count == 2
    assert hits == {(method, kind): 1 for method in METHODS for kind in MAPS}


def test_the_two_readings_of_per_digit_accuracy_and_the_always_absent_baseline():
    import torch

    from infocam.digits.double_digit import always_absent_accuracy, per_digit_accuracy, per_digit_recall

    labels = np.array([[1, 0], [0, 0], [0, 0], [1, 0]], dtype=np.float32)  # digit 0 in two of four images
    logits = torch.tensor([[2.0, -1.0], [-1.0, -1.0], [-1.0, -1.0], [-3.0, -1.0]])  # one of the two found
    assert per_digit_accuracy(logits, labels).tolist() == [0.75, 1.0]
    assert per_digit_recall(logits, labels)[0] == 0.5 and np.isnan(per_digit_recall(logits, labels)[1])
    assert always_absent_accuracy(labels).tolist() == [0.5, 1.0]
