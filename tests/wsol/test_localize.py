"""Tests for infocam.wsol.localize: each step alone, a cross-check against a plain per-threshold
implementation, and the wsol-oracle test vectors reproduced exactly (function and command line)."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from infocam import cli
from infocam.wsol.localize import (
    BoxEvaluator,
    _cropped_contours,
    box_iou,
    boxes_to_canvas,
    inclusive_boxes_to_canvas,
    contour_boxes_and_areas,
    localize_eval_files,
    mask_bounds,
    mask_contours,
    mask_ids,
    normalise_score_map,
    quantise,
    score_map_boxes,
    threshold_cutoffs,
    write_json_atomic,
)

ORACLE = Path(__file__).resolve().parents[1] / "fixtures" / "wsol-oracle"


@pytest.fixture(scope="module")
def oracle():
    return ORACLE


def block_map(rows, cols, size=224):
    """A 224x224 map (so the upsampling is the identity) that is 1 on a block and 0 elsewhere."""
    score_map = np.zeros((size, size))
    score_map[rows[0] : rows[1], cols[0] : cols[1]] = 1.0
    return score_map


# --- steps -------------------------------------------------------------------------------


def test_normalise_spans_zero_to_one_on_the_canvas():
    rng = np.random.default_rng(0)
    normalised = normalise_score_map(rng.standard_normal((14, 14)) * 7 - 3)
    assert normalised.shape == (224, 224)
    assert normalised.dtype == np.float64
    assert normalised.min() == 0.0 and normalised.max() == 1.0


@pytest.mark.parametrize("value", [0.0, 3.5])
def test_normalise_constant_map_gives_zeros(value):
    assert not normalise_score_map(np.full((7, 7), value)).any()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_normalise_non_finite_map_gives_zeros(value):
    score_map = np.arange(49.0).reshape(7, 7)
    score_map[3, 3] = value
    assert not normalise_score_map(score_map).any()


def test_normalise_rejects_a_non_2d_map():
    with pytest.raises(ValueError, match="2-D"):
        normalise_score_map(np.zeros((2, 7, 7)))


def test_quantise_truncates():
    assert quantise(np.array([[0.0, 0.5, 0.999, 1.0]])).tolist() == [[0, 127, 254, 255]]


def test_threshold_cutoffs_are_int_of_tau_times_max():
    quantised = np.array([[0, 200]], dtype=np.uint8)
    assert threshold_cutoffs(quantised, [0.0, 0.2, 0.5, 0.99]).tolist() == [0, 40, 100, 198]


def test_mask_keeps_only_pixels_strictly_above_the_cutoff():
    quantised = np.zeros((224, 224), dtype=np.uint8)
    quantised[10:20, 10:20] = 100  # equal to the cut-off: dropped
    quantised[50:60, 70:90] = 101
    contours = mask_contours(quantised, 100)
    assert len(contours) == 1
    assert cv2.boundingRect(contours[0]) == (70, 50, 20, 10)


def test_mask_bounds_are_the_extent_of_the_pixels_above_each_cutoff():
    rng = np.random.default_rng(5)
    quantised = quantise(normalise_score_map(rng.standard_normal((7, 7))))
    cutoffs = np.array([0, 60, 128, 200, 254, 255])
    bounds, nonempty = mask_bounds(quantised, cutoffs)
    for cutoff, box, any_pixel in zip(cutoffs, bounds, nonempty):
        ys, xs = np.nonzero(quantised > cutoff)
        assert any_pixel == (len(xs) > 0)
        if any_pixel:
            assert box.tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
    assert nonempty[0] and not nonempty[-1]


def test_contours_found_on_the_mask_bounding_box_equal_those_of_the_whole_image():
    # Point for point and in the same order (the largest-contour tie-break depends on it), with
    # holes, nested parts and masks that touch the image edge among them.
    rng = np.random.default_rng(6)
    maps = [rng.standard_normal((side, side)) for side in (7, 14, 28) for _ in range(3)]
    maps.append(np.kron(rng.integers(0, 3, (4, 4)), np.ones((56, 56))))
    nested = at_edge = inside = 0
    for score_map in maps:
        quantised = quantise(normalise_score_map(score_map))
        cutoffs = np.arange(0, quantised.max(), 5)
        bounds, nonempty = mask_bounds(quantised, cutoffs)
        assert nonempty.all()
        for cutoff, box in zip(cutoffs.tolist(), bounds.tolist()):
            _, mask = cv2.threshold(quantised, cutoff, 1, cv2.THRESH_BINARY)
            expected, hierarchy = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
            contours = _cropped_contours(quantised, cutoff, *box)
            assert len(contours) == len(expected)
            assert all(np.array_equal(found, wanted) for found, wanted in zip(contours, expected))
            nested += bool((hierarchy[0, :, 3] >= 0).any())
            at_edge += 0 in box or 223 in box
            inside += 0 not in box and 223 not in box
    assert nested > 20 and at_edge > 20 and inside > 20


def test_mask_ids_equal_only_for_identical_masks():
    quantised = np.array([[0, 10, 10, 50]], dtype=np.uint8)
    ids = mask_ids(quantised, np.array([0, 5, 9, 10, 30, 49, 50]))
    # masks: >0, >5, >9 keep {10, 10, 50}; >10, >30, >49 keep {50}; >50 keeps nothing
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] == ids[4] == ids[5]
    assert len({ids[0], ids[3], ids[6]}) == 3


def test_contour_boxes_and_areas_match_cv2_per_contour():
    rng = np.random.default_rng(1)
    mask = (rng.random((224, 224)) < 0.3).astype(np.uint8)
    mask[:, 200:] = 1  # contours touching the right and bottom edges get clipped to 223
    contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    boxes, areas = contour_boxes_and_areas(contours)
    expected_boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        expected_boxes.append([x, y, min(x + w, 223), min(y + h, 223)])
    assert len(contours) > 100
    assert boxes.tolist() == expected_boxes
    assert areas.tolist() == [cv2.contourArea(contour) for contour in contours]
    assert (boxes[:, 2] == 223).any()


def test_contour_boxes_and_areas_of_no_contours_are_empty():
    boxes, areas = contour_boxes_and_areas(())
    assert boxes.shape == (0, 4) and areas.shape == (0,)


def test_block_gives_box_one_past_its_last_pixel():
    # boundingRect convention: x1 = x + w, so a block on columns 60..119 ends at 120
    assert score_map_boxes(block_map((50, 100), (60, 120)), 0.2).tolist() == [[60, 50, 120, 100]]


def test_block_at_the_edge_is_clipped_to_223():
    assert score_map_boxes(block_map((100, 224), (0, 224)), 0.2).tolist() == [[0, 100, 223, 223]]


def test_constant_map_gives_the_zero_box():
    assert score_map_boxes(np.full((14, 14), 2.0), 0.2).tolist() == [[0, 0, 0, 0]]
    assert score_map_boxes(np.full((14, 14), 2.0), 0.2, all_contours=True).tolist() == [[0, 0, 0, 0]]


def test_largest_contour_versus_all_contours():
    score_map = block_map((10, 30), (10, 30)) + block_map((100, 200), (120, 200))
    assert score_map_boxes(score_map, 0.5).tolist() == [[120, 100, 200, 200]]
    all_boxes = score_map_boxes(score_map, 0.5, all_contours=True)
    assert sorted(all_boxes.tolist()) == [[10, 10, 30, 30], [120, 100, 200, 200]]


def test_iou_counts_pixels_inclusively():
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 1, 1]]).tolist() == [[0.25]]
    assert box_iou([[60, 50, 120, 100]], [[60, 50, 119, 99]])[0, 0] == 60 * 50 / (61 * 51)


def test_iou_of_disjoint_boxes_is_zero():
    # unclamped, the two negative overlaps would multiply to a positive 3 * 3 = 9
    assert box_iou([[0, 0, 1, 1]], [[5, 5, 6, 6]]).tolist() == [[0.0]]
    assert box_iou([[0, 0, 10, 10]], [[20, 0, 30, 10]]).tolist() == [[0.0]]


def test_iou_is_every_box_against_every_gt_box():
    ious = box_iou([[0, 0, 9, 9], [10, 10, 19, 19], [0, 0, 19, 19]], [[0, 0, 9, 9], [10, 10, 19, 19]])
    assert ious.shape == (3, 2)
    assert ious.tolist() == [[1.0, 0.0], [0.0, 1.0], [0.25, 0.25]]


def test_boxes_to_canvas_reference_scaling_truncates():
    # 25 * 224 / 300 = 18.67 -> 18; 75 * 224 / 300 = 56 exactly; 14 * 224 / 315 = 9.96 -> 9
    canvas = boxes_to_canvas([[25, 14, 75, 269]], 300, 315)
    assert canvas.tolist() == [[18, 9, 56, 191]]
    assert canvas.dtype.kind == "i"


def test_boxes_to_canvas_resize_then_center_crop():
    # 512 -> Resize(256): halve; CenterCrop(224): minus 16 (not the authors' 15), clip to 0..223
    boxes = [[100, 50, 200, 300], [32, 32, 480, 480], [0, 0, 20, 20]]
    assert boxes_to_canvas(boxes, 512, 512, resize=256, crop=224).tolist() == [
        [34, 9, 84, 134],
        [0, 0, 223, 223],
        [0, 0, 0, 0],
    ]


def test_boxes_to_canvas_scales_the_crop_up_to_the_canvas():
    # 64 -> Resize(72) -> CenterCrop(64) -> 224: 10 * 72/64 - 4 = 7.25 -> * 224/64 = 25.375 -> 25
    assert boxes_to_canvas([[10, 10, 50, 50]], 64, 64, resize=72, crop=64).tolist() == [[25, 25, 182, 182]]


def test_inclusive_mapping_keeps_a_one_pixel_box_at_the_image_edge():
    # Pixel 63 of a 64-pixel image covers [63, 64) -> canvas [220.5, 224): pixels 220 .. 223.
    assert inclusive_boxes_to_canvas([[63, 63, 63, 63]], 64, 64).tolist() == [[220, 220, 223, 223]]
    assert boxes_to_canvas([[63, 63, 63, 63]], 64, 64).tolist() == [[220, 220, 220, 220]]  # the reference
    # The whole image is the whole canvas.
    assert inclusive_boxes_to_canvas([[0, 0, 63, 63]], 64, 64).tolist() == [[0, 0, 223, 223]]
    # Through Resize(72) + CenterCrop(64) (offset 4): pixel 63 -> [71.875 - 4, 73 - 4) -> clipped to the crop.
    assert inclusive_boxes_to_canvas([[0, 0, 63, 63]], 64, 64, resize=72, crop=64).tolist() == [[0, 0, 223, 223]]


def test_inclusive_mapping_drops_a_box_outside_the_crop():
    # Resize(256) + CenterCrop(224) of a 256-pixel image cuts 16 pixels on each side.
    boxes = [[0, 0, 10, 10], [100, 100, 150, 150], [245, 0, 255, 255]]
    kept = inclusive_boxes_to_canvas(boxes, 256, 256, resize=256, crop=224)
    assert kept.tolist() == [[84, 84, 134, 134]]
    assert inclusive_boxes_to_canvas([[0, 0, 15, 15]], 256, 256, resize=256, crop=224).shape == (0, 4)


def test_boxes_to_canvas_rejects_bad_arguments():
    with pytest.raises(ValueError, match="together"):
        boxes_to_canvas([[0, 0, 1, 1]], 10, 10, resize=256)
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        boxes_to_canvas([0, 0, 1, 1], 10, 10)


# --- the evaluator -------------------------------------------------------------------------


def plain_best_ious(score_map, gt_boxes, thresholds, all_contours):
    """Best IoU per threshold, one findContours per threshold and cv2 per contour, as the reference does."""
    quantised = quantise(normalise_score_map(score_map))
    best = []
    for tau in thresholds:
        mask = (quantised > int(tau * quantised.max())).astype(np.uint8)
        contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if not contours:
            boxes = [[0, 0, 0, 0]]
        else:
            if not all_contours:
                contours = [max(contours, key=cv2.contourArea)]
            boxes = []
            for contour in contours:
                x, y, w, h = cv2.boundingRect(contour)
                boxes.append([x, y, min(x + w, 223), min(y + h, 223)])
        best.append(box_iou(np.array(boxes), gt_boxes).max())
    return np.array(best)


def test_evaluator_counts_match_a_plain_per_threshold_implementation():
    rng = np.random.default_rng(2)
    thresholds = np.arange(0, 100, 7) / 100
    evaluator = BoxEvaluator(thresholds=thresholds, fixed_tau=0.3)
    v1_counts = np.zeros(len(thresholds), dtype=int)
    v2_counts = {level: np.zeros(len(thresholds), dtype=int) for level in (30, 50, 70)}
    maps = [rng.standard_normal((side, side)) for side in (7, 14, 28, 14, 7, 14)]
    maps.append(np.kron(rng.integers(0, 3, (4, 4)), np.ones((56, 56))))  # many equal masks, equal-area ties
    maps.append(np.zeros((14, 14)))
    for score_map in maps:
        gt = np.array([[20, 30, 120, 150], [100, 10, 210, 90]])
        result = evaluator.add(score_map, gt)
        v1 = plain_best_ious(score_map, gt, thresholds, all_contours=False)
        v2 = plain_best_ious(score_map, gt, thresholds, all_contours=True)
        assert result["iou"] == plain_best_ious(score_map, gt, [0.3], all_contours=False)[0]
        assert result["box"] == score_map_boxes(score_map, 0.3).tolist()[0]
        v1_counts += v1 >= 0.5
        for level in v2_counts:
            v2_counts[level] += v2 >= level / 100
    results = evaluator.results()
    assert results["n_images"] == len(maps)
    assert results["v1_num_correct_iou50"] == v1_counts.tolist()
    assert results["v2_num_correct"] == {str(level): counts.tolist() for level, counts in v2_counts.items()}
    assert results["maxboxacc_v1_iou50"] == v1_counts.max() * 100 / len(maps)


def test_evaluator_scores_a_block_by_hand():
    evaluator = BoxEvaluator()
    result = evaluator.add(block_map((50, 100), (60, 120)), [[0, 0, 10, 10], [60, 50, 119, 99]])
    assert result == {"box": [60, 50, 120, 100], "iou": 3000 / 3111, "correct": True}
    results = evaluator.results()
    assert results["fixed_tau_0.2_iou50_largest_contour_accuracy"] == 100.0
    # the block's box is found at every threshold, and 3000/3111 clears IoU 0.7
    assert results["v1_num_correct_iou50"] == [1] * 100
    assert results["maxboxacc_v2"] == {"30": 100.0, "50": 100.0, "70": 100.0}


def test_equal_areas_go_to_the_first_contour_as_max_does():
    score_map = block_map((10, 50), (10, 50)) + block_map((100, 140), (150, 190))
    contours = mask_contours(quantise(normalise_score_map(score_map)), 51)
    assert len(contours) == 2 and cv2.contourArea(contours[0]) == cv2.contourArea(contours[1])
    x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
    first_box = [x, y, x + w, y + h]
    other_box = [[10, 10, 50, 50], [150, 100, 190, 140]][first_box == [10, 10, 50, 50]]
    evaluator = BoxEvaluator()
    assert evaluator.add(score_map, [first_box])["box"] == first_box
    assert evaluator.add(score_map, [other_box])["box"] == first_box
    assert evaluator.results()["v1_num_correct_iou50"] == [1] * 100
    assert evaluator.results()["v2_num_correct"]["70"] == [2] * 100


def test_evaluator_without_max_box_acc_reports_only_the_fixed_tau():
    rng = np.random.default_rng(3)
    full, fixed_only = BoxEvaluator(), BoxEvaluator(max_box_acc=False)
    for _ in range(4):
        score_map = rng.standard_normal((14, 14))
        assert full.add(score_map, [[30, 30, 150, 150]]) == fixed_only.add(score_map, [[30, 30, 150, 150]])
    key = "fixed_tau_0.2_iou50_largest_contour_accuracy"
    assert set(fixed_only.results()) == {"n_images", "protocol", key}
    assert fixed_only.results()[key] == full.results()[key]


def test_evaluator_rejects_bad_input():
    with pytest.raises(ValueError, match="no score maps"):
        BoxEvaluator().results()
    with pytest.raises(ValueError, match="gt_boxes_224"):
        BoxEvaluator().add(np.ones((7, 7)), [[10, 10, 5, 20]])
    with pytest.raises(ValueError, match="thresholds"):
        BoxEvaluator(thresholds=[0.5, 1.5])


# --- the wsol-oracle test vectors ----------------------------------------------------------


def assert_same_json(actual, expected, where="out"):
    """Equal structure and values; floats within 1e-9, everything else exactly."""
    if isinstance(expected, dict):
        assert list(actual) == list(expected), where
        for key in expected:
            assert_same_json(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same_json(a, e, f"{where}[{index}]")
    elif isinstance(expected, float):
        assert isinstance(actual, float) and actual == pytest.approx(expected, rel=0, abs=1e-9), where
    else:
        assert type(actual) is type(expected) and actual == expected, where


def test_files_reproduce_the_oracle(oracle, tmp_path):
    out = tmp_path / "result.json"
    localize_eval_files(oracle / "cams.npz", oracle / "images.csv", oracle / "boxes.csv", out)
    result = json.loads(out.read_text())
    with np.load(oracle / "cams.npz") as cams:
        constant = sum(float(cams[key].min()) == float(cams[key].max()) for key in cams.files)
    assert result.pop("n_degenerate_maps") == constant > 0  # the fixture holds a few constant maps
    assert_same_json(result, json.loads((oracle / "expected.json").read_text()))
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_fixed_tau_path_alone_reproduces_the_oracle_boxes(oracle):
    # BoxEvaluator(max_box_acc=False) takes its own one-threshold path; box for box the reference's.
    expected = json.loads((oracle / "expected.json").read_text())
    evaluator = BoxEvaluator(max_box_acc=False)
    with np.load(oracle / "cams.npz") as cams:
        for image in expected["per_image"]:
            result = evaluator.add(cams[image["image_id"]], image["gt_boxes_224"])
            assert result["box"] == image["box_at_0.2"] == score_map_boxes(cams[image["image_id"]], 0.2).tolist()[0]
            assert result["iou"] == pytest.approx(image["best_iou_at_0.2"], rel=0, abs=1e-12)
            assert result["correct"] is image["correct_at_0.2"]
    key = "fixed_tau_0.2_iou50_largest_contour_accuracy"
    assert evaluator.results()[key] == pytest.approx(expected[key], rel=0, abs=1e-9)


def test_command_line_reproduces_the_oracle(oracle, tmp_path):
    out = tmp_path / "sub" / "result.json"
    command = [str(Path(sys.executable).parent / "infocam"), "localize-eval"]
    arguments = ["--cams", oracle / "cams.npz", "--images", oracle / "images.csv", "--boxes", oracle / "boxes.csv"]
    done = subprocess.run(command + [str(a) for a in arguments] + ["--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "score maps are NaN, infinite or constant" in done.stderr
    result = json.loads(out.read_text())
    del result["n_degenerate_maps"]
    assert_same_json(result, json.loads((oracle / "expected.json").read_text()))


# --- file input errors ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "npy", "pickle"])
def test_a_cams_file_that_is_not_an_npz_of_maps_is_one_line(tmp_path, kind, capsys):
    write_tiny_inputs(tmp_path)
    cams = tmp_path / "cams.bad"
    if kind == "text":
        cams.write_text("not maps\n")
    elif kind == "npy":
        np.save(cams.with_suffix(".npy"), np.zeros((7, 7)))
        cams = cams.with_suffix(".npy")
    else:
        np.savez(cams.with_suffix(".npz"), a=np.array([{"x": 1}], dtype=object), b=np.zeros((7, 7)))
        cams = cams.with_suffix(".npz")
    argv = ["localize-eval", "--cams", str(cams), "--images", str(tmp_path / "images.csv"),
            "--boxes", str(tmp_path / "boxes.csv"), "--out", str(tmp_path / "out.json")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"infocam localize-eval: error: {cams}") and "\n" not in err
    assert not (tmp_path / "out.json").exists()


def test_nan_infinite_and_constant_maps_are_counted(tmp_path, capsys):
    write_tiny_inputs(tmp_path)
    maps = {"a": np.full((7, 7), np.nan), "b": np.full((7, 7), 2.0)}
    np.savez(tmp_path / "cams.npz", **maps)
    localize_eval_files(tmp_path / "cams.npz", tmp_path / "images.csv", tmp_path / "boxes.csv", tmp_path / "o.json")
    result = json.loads((tmp_path / "o.json").read_text())
    assert result["n_degenerate_maps"] == 2
    assert [image["box_at_0.2"] for image in result["per_image"]] == [[0, 0, 0, 0], [0, 0, 0, 0]]
    assert "2 of 2 score maps are NaN, infinite or constant" in capsys.readouterr().err


def write_tiny_inputs(folder, images="a,40,30\nb,50,50\n", boxes="a,1,2,30,20\nb,0,0,49,49\n", maps=("a", "b")):
    (folder / "images.csv").write_text("image_id,width,height\n" + images)
    (folder / "boxes.csv").write_text("image_id,x0,y0,x1,y1\n" + boxes)
    rng = np.random.default_rng(4)
    np.savez(folder / "cams.npz", **{name: rng.standard_normal((7, 7)) for name in maps})
    return folder / "cams.npz", folder / "images.csv", folder / "boxes.csv", folder / "out" / "result.json"


def test_tiny_inputs_are_evaluated(tmp_path):
    cams, images, boxes, out = write_tiny_inputs(tmp_path)
    localize_eval_files(cams, images, boxes, out)
    result = json.loads(out.read_text())
    assert result["n_images"] == 2
    assert [image["gt_boxes_224"] for image in result["per_image"]] == [[[5, 14, 168, 149]], [[0, 0, 219, 219]]]


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"maps": ("a",)}, r"cams\.npz: no score map for image 'b'"),
        ({"maps": ("a", "b", "c")}, r"cams\.npz: score map for image 'c'"),
        ({"boxes": "a,1,2,30,20\nz,0,0,5,5\n"}, r"boxes\.csv:3: box for image 'z'"),
        ({"boxes": "a,1,2,30,20\nb,0,0,49\n"}, r"boxes\.csv:3: expected 5 fields, got 4"),
        ({"boxes": "a,1,2,x,20\nb,0,0,49,49\n"}, r"boxes\.csv:2: x1 must be a number, got 'x'"),
        ({"boxes": "a,1,2,30,20\n"}, r"boxes\.csv: no box for image 'b'"),
        ({"images": "a,40,30\nb,fifty,50\n"}, r"images\.csv:3: width must be an integer"),
        ({"images": "a,40,30\na,50,50\n"}, r"images\.csv:3: image_id 'a' appears twice"),
    ],
)
def test_bad_input_is_one_line_error_and_writes_nothing(tmp_path, inputs, message):
    cams, images, boxes, out = write_tiny_inputs(tmp_path, **inputs)
    with pytest.raises(ValueError, match=message) as error:
        localize_eval_files(cams, images, boxes, out)
    assert "\n" not in str(error.value)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_command_line_reports_bad_input_on_one_line(tmp_path):
    cams, images, boxes, out = write_tiny_inputs(tmp_path, boxes="a,1,2,30,20\nz,0,0,5,5\n")
    command = [str(Path(sys.executable).parent / "infocam"), "localize-eval"]
    arguments = ["--cams", cams, "--images", images, "--boxes", boxes, "--out", out]
    done = subprocess.run(command + [str(a) for a in arguments], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "boxes.csv:3" in done.stderr
    assert not out.exists()


def test_failed_json_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    write_json_atomic({"old": 1}, target)
    with pytest.raises(TypeError):
        write_json_atomic({"new": object()}, target)
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_gt_coverage_is_the_share_of_the_best_gt_box_the_prediction_covers():
    from infocam.wsol.evaluate import gt_coverage

    gt = np.array([[0, 0, 9, 9], [100, 100, 109, 119]])
    assert gt_coverage([0, 0, 4, 9], gt) == 0.5  # half of the first box
    assert gt_coverage([100, 100, 223, 223], gt) == 1.0  # all of the second
    assert gt_coverage([50, 50, 60, 60], gt) == 0.0


def test_the_four_normalisations_on_a_map_with_known_values():
    from infocam.wsol.localize import CANVAS, normalise_score_map

    ramp = np.linspace(-1.0, 3.0, CANVAS * CANVAS).reshape(CANVAS, CANVAS)  # already canvas-sized: resize keeps it
    minmax = normalise_score_map(ramp)
    assert minmax.min() == 0 and minmax.max() == pytest.approx(1)
    maxed = normalise_score_map(ramp, "max")
    assert maxed.max() == pytest.approx(1) and (maxed[ramp <= 0] == 0).all()
    np.testing.assert_allclose(maxed[ramp > 0], ramp[ramp > 0] / ramp.max(), atol=1e-6)
    pas = normalise_score_map(ramp, "pas")
    assert pas.max() == 1 and np.mean(pas == 1) == pytest.approx(0.1, abs=0.01)  # the top 10 % clipped at 1
    ivr = normalise_score_map(ramp, "ivr", percentile=50)
    assert ivr.max() == pytest.approx(1) and np.mean(ivr == 0) == pytest.approx(0.5, abs=0.01)
    assert not normalise_score_map(-np.ones((7, 7)) - np.eye(7), "max").any()  # nothing positive: no map
    with pytest.raises(ValueError, match="ivr normalisation needs a percentile"):
        normalise_score_map(ramp, "ivr")
    with pytest.raises(ValueError, match="normalisation must be one of"):
        normalise_score_map(ramp, "softmax")
