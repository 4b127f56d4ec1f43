"""The CAM family (pytorch-grad-cam) on our networks: known answers, and its path through evaluation and Table 6."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from infocam.stats import max_accuracy_interval
from infocam.wsol.cam import compute_cams
from infocam.wsol.family import FamilyMaps, finer_weighted_targets
from infocam.wsol.localize import pack_hits
from infocam.wsol.methods import FAMILY
from infocam.wsol.models import build_model

NETWORKS = [("vgg16", 8), ("resnet50", 16)]


@pytest.fixture(scope="module", params=NETWORKS, ids=[name for name, _ in NETWORKS])
def network(request):
    backbone, stride = request.param
    torch.manual_seed(0)
    model = build_model(backbone, 6, width=0.125, output_stride=stride).eval()
    images, labels = torch.randn(4, 3, 64, 64), torch.tensor([0, 3, 5, 3])
    with torch.no_grad():
        features, logits = model.features_and_logits(images)
    cam = compute_cams(features, model.classifier.weight.detach(), logits, labels, 1)["cam"].numpy()
    return model, images, labels, logits, cam, FamilyMaps(model, FAMILY)(images, labels)


def test_every_member_gives_a_non_negative_map_at_the_layer_cam_uses(network):
    _, _, _, _, cam, maps = network
    assert list(maps) == list(FAMILY)
    for name, family_map in maps.items():
        assert family_map.shape == cam.shape and family_map.dtype == np.float64, name
        assert (family_map >= 0).all() and family_map.any(), name


def test_on_a_gap_network_grad_cam_xgrad_cam_and_hirescam_are_relu_cam_over_the_map_area(network):
    # The gradient of logit y with respect to the feature maps is W[y] / (h w) at every cell.
    _, _, _, _, cam, maps = network
    expected = np.maximum(cam, 0) / (cam.shape[-1] * cam.shape[-2])
    for name in ("gradcam", "xgradcam", "hirescam"):
        np.testing.assert_allclose(maps[name], expected, rtol=1e-4, atol=1e-7 * np.abs(expected).max(), err_msg=name)
    assert not np.allclose(maps["gradcam_pp"], expected, rtol=1e-3)  # its weights are not the gradient's mean


def test_eigencam_does_not_depend_on_the_class(network):
    model, images, labels, _, _, maps = network
    other = FamilyMaps(model, ["eigencam", "gradcam"])(images, (labels + 1) % 6)
    np.testing.assert_array_equal(other["eigencam"], maps["eigencam"])
    assert not np.allclose(other["gradcam"], maps["gradcam"])


def test_finercam_compares_the_gt_class_with_the_three_classes_whose_logits_are_nearest(network):
    _, _, labels, logits, _, _ = network
    for target, label, row in zip(finer_weighted_targets(logits, labels), labels.tolist(), logits):
        assert target.main_category == label and label not in target.comparison_categories
        gaps = (row - row[label]).abs()
        gaps[label] = float("inf")
        assert sorted(target.comparison_categories) == sorted(gaps.argsort()[:3].tolist())


def test_the_schema_offers_exactly_the_registered_family():
    schema = yaml.safe_load(open("workflow/schemas/config.schema.yaml"))
    offered = schema["properties"]["evaluation"]["properties"]["family"]["items"]["enum"]
    assert offered == list(FAMILY)


def test_max_accuracy_interval_brackets_the_best_threshold_accuracy():
    rng = np.random.default_rng(3)
    hits = rng.random((200, 3, 10)) < np.linspace(0.2, 0.8, 10)
    point = hits.mean(axis=0).max(axis=-1).mean()
    low, high = max_accuracy_interval([hits])
    assert low < point < high and high - low < 0.2
    assert max_accuracy_interval([np.ones((50, 3, 10), dtype=bool)]) == (1.0, 1.0)
    assert np.isnan(max_accuracy_interval([])[0])


def test_packed_hits_read_back_from_a_per_image_csv(tmp_path):
    from infocam.wsol.localize import v2_hit_arrays

    hits = np.zeros((2, 3, 100), dtype=bool)
    hits[1, 2, ::7] = True
    frame = pd.DataFrame({"has_gt_box": [True, True, False], "m_v2_hits": [pack_hits(h) for h in hits] + [None]})
    frame.to_csv(tmp_path / "per_image.csv.gz", index=False)
    np.testing.assert_array_equal(v2_hit_arrays(pd.read_csv(tmp_path / "per_image.csv.gz"), "m"), hits)
