"""Tests for infocam.wsol.cam: class maps, region sums and every CAM variant, on hand-checkable inputs."""

import pytest
import torch

from infocam.wsol.cam import CAM_VARIANTS, class_maps, compute_cams, region_sum
from infocam.wsol.models import build_model


def test_class_maps_weight_the_feature_maps_per_class():
    g1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    g2 = torch.tensor([[0.0, 1.0], [3.0, 0.0]])
    features = torch.stack([g1, g2]).unsqueeze(0)
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    maps = class_maps(features, weight)
    assert maps.shape == (1, 3, 2, 2)
    assert torch.equal(maps[0, 0], g1)
    assert torch.equal(maps[0, 1], g2)
    assert torch.equal(maps[0, 2], torch.tensor([[1.0, -1.0], [-3.0, 2.0]]))


def test_region_sum_of_ones_counts_the_window_cells_inside_the_map():
    ones = torch.ones(1, 3, 3)
    assert torch.equal(region_sum(ones, 3)[0], torch.tensor([[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]))
    # Even sizes reach one further down/right: r = 2 covers offsets 0..1.
    assert torch.equal(region_sum(ones, 2)[0], torch.tensor([[4.0, 4.0, 2.0], [4.0, 4.0, 2.0], [2.0, 2.0, 1.0]]))


def looped_region_sum(maps: torch.Tensor, r: int) -> torch.Tensor:
    height, width = maps.shape[-2:]
    result = torch.zeros_like(maps)
    for a in range(height):
        for b in range(width):
            for da in range(-((r - 1) // 2), r // 2 + 1):
                for db in range(-((r - 1) // 2), r // 2 + 1):
                    if 0 <= a + da < height and 0 <= b + db < width:
                        result[..., a, b] += maps[..., a + da, b + db]
    return result


@pytest.mark.parametrize("r", [1, 3, 4, 5])
def test_region_sum_matches_an_explicit_loop(r):
    maps = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(r), dtype=torch.float64)
    torch.testing.assert_close(region_sum(maps, r), looped_region_sum(maps, r))


def test_region_sum_of_one_is_the_identity_and_zero_is_rejected():
    maps = torch.randn(2, 4, 4)
    assert torch.equal(region_sum(maps, 1), maps)
    with pytest.raises(ValueError, match="at least 1"):
        region_sum(maps, 0)


def hand_built_batch():
    """Two samples, K=2 features on 4x4 maps, M=3 classes.

    W = [[3, 0], [1, 1], [0, -1]], so M0 = 3 g1, M1 = g1 + g2, M2 = -g2.
    Sample 0: g1 = 1 at (0, 0) only, g2 = 1 everywhere; target 0, lowest logit class 2.
    Sample 1: g1 = 0, g2 = 1 everywhere; target 2, lowest logit class 0.
    """
    corner = torch.zeros(4, 4)
    corner[0, 0] = 1.0
    ones = torch.ones(4, 4)
    features = torch.stack([torch.stack([corner, ones]), torch.stack([torch.zeros(4, 4), ones])])
    weight = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
    logits = torch.tensor([[5.0, 1.0, -3.0], [0.0, 4.0, 2.0]])
    y = torch.tensor([0, 2])
    return features, weight, logits, y


def test_every_variant_on_a_hand_built_batch():
    cams = compute_cams(*hand_built_batch(), region=3)
    block = torch.zeros(4, 4)
    block[:2, :2] = 1.0  # the 3x3 windows that contain (0, 0)
    # How many cells of each 3x3 window lie inside the map.
    counts = torch.tensor([[4.0, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]])
    corner = torch.zeros(4, 4)
    corner[0, 0] = 1.0
    expected = {
        # Sample 0: M_y = 3 g1; mean of others = (g1 + g2 - g2) / 2 = g1 / 2; M_ymin = -g2.
        # Sample 1: M_y = -1; mean of others = (0 + 1) / 2; M_ymin = M0 = 0.
        "cam": torch.stack([3 * corner, -torch.ones(4, 4)]),
        "infocam": torch.stack([2.5 * block, -1.5 * counts]),
        "infocam_plus": torch.stack([3 * block + counts, -counts]),
        "ablation_region_only": torch.stack([3 * block, -counts]),
        "ablation_subtraction_only": torch.stack([2.5 * corner, -1.5 * torch.ones(4, 4)]),
    }
    assert set(cams) == set(CAM_VARIANTS)
    for name, value in expected.items():
        torch.testing.assert_close(cams[name], value, msg=name)


def test_infocam_plus_contrasts_with_the_lowest_other_class_when_the_target_scores_lowest():
    features, weight, logits, _ = hand_built_batch()
    cams = compute_cams(features, weight, logits, torch.tensor([2, 0]), region=3)
    block = torch.zeros(4, 4)
    block[:2, :2] = 1.0
    counts = torch.tensor([[4.0, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]])
    # Sample 0: target 2 has the lowest logit; lowest other is class 1: M2 - M1 = -g1 - 2 g2.
    # Sample 1: target 0 has the lowest logit; lowest other is class 2: M0 - M2 = g2 = 1.
    expected = torch.stack([-block - 2 * counts, counts])
    torch.testing.assert_close(cams["infocam_plus"], expected)


def test_cams_are_float32_whatever_the_feature_dtype():
    features, weight, logits, y = hand_built_batch()
    cams = compute_cams(features.bfloat16(), weight.bfloat16(), logits, y, region=3)
    assert all(cam.dtype == torch.float32 and cam.shape == (2, 4, 4) for cam in cams.values())


@pytest.mark.parametrize("backbone", ["vgg16", "resnet50"])
def test_cam_sums_to_the_logit_without_bias_in_a_gap_model(backbone):
    torch.manual_seed(0)
    model = build_model(backbone, 6, width=0.125).eval()
    with torch.no_grad():
        model.classifier.bias.uniform_(-1, 1)
        features, logits = model.features_and_logits(torch.randn(3, 3, 64, 64))
    weight, bias = model.classifier.weight.detach(), model.classifier.bias.detach()
    y = torch.tensor([0, 5, 2])
    cams = compute_cams(features, weight, logits, y, region=3)
    area = features.shape[2] * features.shape[3]
    rows = torch.arange(3)

    torch.testing.assert_close(cams["cam"].sum(dim=(1, 2)), area * (logits[rows, y] - bias[y]))

    # infoCAM with R = 1 (the subtraction-only ablation) sums to the logit minus the mean
    # of the other logits, each without its bias.
    unbiased = logits - bias
    others_mean = (unbiased.sum(dim=1) - unbiased[rows, y]) / 5
    expected = area * (unbiased[rows, y] - others_mean)
    torch.testing.assert_close(cams["ablation_subtraction_only"].sum(dim=(1, 2)), expected)
    with_r1 = compute_cams(features, weight, logits, y, region=1)
    torch.testing.assert_close(with_r1["infocam"], cams["ablation_subtraction_only"])


@pytest.mark.parametrize(("change", "match"), [
    (lambda f, w, l, y: (f[0], w, l, y), "features must have shape"),
    (lambda f, w, l, y: (f, w[:, :1], l, y), r"weight must have shape \(M, 2\)"),
    (lambda f, w, l, y: (f, w, l[:, :2], y), r"logits must have shape \(2, 3\)"),
    (lambda f, w, l, y: (f, w, l, y[:1]), r"y must have shape \(2,\)"),
    (lambda f, w, l, y: (f, w, l, torch.tensor([0, 3])), r"y must hold class indices in \[0, 3\)"),
    (lambda f, w, l, y: (f, w[:1], l[:, :1], y * 0), "at least 2 classes"),
])
def test_bad_inputs_are_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        compute_cams(*change(*hand_built_batch()), region=3)
