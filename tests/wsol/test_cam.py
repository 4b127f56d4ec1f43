"""Tests for infocam.wsol.cam: class maps, region sums and every CAM variant, on hand-checkable inputs."""

import pytest
import torch

from infocam.wsol.cam import class_maps, compute_cams, full_placement, region_sum
from infocam.wsol.methods import GEOMETRY_CONTROL, METHODS, evaluated_names

CAM_VARIANTS = tuple(method.name for method in METHODS if not method.family)
from infocam.wsol.localize import score_map_boxes
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
    # An even size is centred too: the box of width 2 around a cell covers half of each neighbour.
    assert torch.equal(region_sum(ones, 2)[0], torch.tensor([[2.25, 3.0, 2.25], [3.0, 4.0, 3.0], [2.25, 3.0, 2.25]]))


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5, 6])
def test_same_region_sum_of_one_hot_cell_keeps_its_centre_of_mass_and_mass(r):
    maps = torch.zeros(1, 15, 15, dtype=torch.float64)
    maps[0, 6, 8] = 1.0
    summed = region_sum(maps, r)[0]
    rows, cols = torch.meshgrid(torch.arange(15.0, dtype=torch.float64), torch.arange(15.0, dtype=torch.float64),
                                indexing="ij")
    assert summed.shape == (15, 15)
    assert summed.sum().item() == pytest.approx(r * r)
    assert (summed * rows).sum().item() / (r * r) == pytest.approx(6.0)
    assert (summed * cols).sum().item() / (r * r) == pytest.approx(8.0)


def looped_full_region_sum(maps: torch.Tensor, r: int) -> torch.Tensor:
    """Cell (a, b) of the full map sums the input cells a - r + 1 .. a and b - r + 1 .. b that exist."""
    height, width = maps.shape[-2:]
    result = torch.zeros(*maps.shape[:-2], height + r - 1, width + r - 1, dtype=maps.dtype)
    for a in range(height + r - 1):
        for b in range(width + r - 1):
            for x in range(max(a - r + 1, 0), min(a, height - 1) + 1):
                for y in range(max(b - r + 1, 0), min(b, width - 1) + 1):
                    result[..., a, b] += maps[..., x, y]
    return result


@pytest.mark.parametrize("r", [1, 3, 4, 5])
def test_full_region_sum_matches_an_explicit_loop(r):
    maps = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(r), dtype=torch.float64)
    full = region_sum(maps, r, "full")
    assert full.shape == (2, 3, 5 + r - 1, 6 + r - 1)
    torch.testing.assert_close(full, looped_full_region_sum(maps, r))


@pytest.mark.parametrize("r", [2, 3, 4])
def test_full_placement_puts_a_hot_cell_where_the_full_map_puts_it(r):
    h = 7
    maps = torch.zeros(1, h, h, dtype=torch.float64)
    maps[0, 2, 5] = 1.0
    placed = full_placement(maps, r)[0]
    # The full map's block for input cell i spans full cells i .. i + r - 1: its centre on the
    # 224 canvas is at (i + r / 2) * 224 / (h + r - 1), counted in pixels from the canvas edge.
    expected = [(i + r / 2) * 224 / (h + r - 1) for i in (2, 5)]
    peak = divmod(int(placed.argmax()), 224)
    assert abs(peak[0] + 0.5 - expected[0]) <= 1.5 and abs(peak[1] + 0.5 - expected[1]) <= 1.5


@pytest.mark.parametrize("tau", [0.0, 0.2, 0.5])
def test_full_placement_fill_adds_no_contour_of_its_own(tau):
    r, h = 4, 7
    maps = torch.randn(5, h, h, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    window = round(224 * h / (h + r - 1))
    top = round(224 * (r - 1) / 2 / (h + r - 1))
    for placed in full_placement(maps, r):
        x0, y0, x1, y1 = score_map_boxes(placed.numpy(), tau)[0]  # x1 = x0 + width, the reference's convention
        assert top <= min(x0, y0) and max(x1, y1) <= top + window


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
    assert set(compute_cams(*hand_built_batch(), region=3)) == set(CAM_VARIANTS)
    cams = compute_cams(*hand_built_batch(), region=3, both_geometries=True)
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
    assert set(CAM_VARIANTS) < set(cams) == set(evaluated_names("same"))
    assert cams["infocam_full"].shape == (2, 6, 6) and cams[GEOMETRY_CONTROL].shape == (2, 224, 224)
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
    assert all(cam.dtype == torch.float32 for cam in cams.values())
    assert all(cams[name].shape == (2, 4, 4) for name in CAM_VARIANTS)


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


def test_the_registry_says_what_each_method_needs_and_keeps_the_family_apart():
    from infocam.wsol import methods

    needs = {method.name: method.needs for method in METHODS}
    assert needs["cam"] == "class_maps" and needs["infocam_plus"] == "logits"
    assert needs["gradcam"] == "gradients" and needs["scorecam"] == "forward_passes"
    assert needs["eigencam"] == "activations"
    assert "gradcam" not in evaluated_names("full")
    assert evaluated_names("full", family=["scorecam", "gradcam"])[-2:] == ["gradcam", "scorecam"]
    with pytest.raises(ValueError, match="no CAM family method 'gradcam_plus'"):
        evaluated_names("full", family=["gradcam_plus"])
    with pytest.raises(ValueError, match="needs must be one of"):
        methods.CamMethod("odd", "Odd", "a crystal ball")
