"""Throughput of infocam.wsol.localize in maps per second, on one core (best of 3 runs).

Times the fixed-tau score (one threshold, largest contour), the full BoxEvaluator (fixed tau
plus MaxBoxAcc and MaxBoxAccV2 at 100 thresholds) and, for comparison, a plain per-threshold
loop that does what the reference evaluator does (one findContours per threshold, cv2 per
contour, v1 and v2 as two separate passes). Maps: the wsol-oracle fixture (cycled) and
random 14x14 maps.

    .venv/bin/python benchmarks/bench_localize.py [--oracle DIR] [--maps-fixed N] [--maps-full N]

With --reference DIR (a scratch copy of clovaai/wsolevaluation, never part of this
repository) it instead times the reference's own code against ours, side by side in one
process on the same maps, at 100 and at 1,000 thresholds (cam_curve_interval 0.01 and 0.001):
the reference's MaxBoxAcc (multi_contour_eval=False) and MaxBoxAccV2 (multi_contour_eval=True)
BoxEvaluator.accumulate, after its resize and normalize_scoremap (done once per map for both),
against our BoxEvaluator.add at the same thresholds. It prints maps/s of each and the ratio,
and checks that the per-threshold counts are identical (v1 at IoU 50, v2 at IoU 30/50/70).
A second line times findContours alone, once per distinct mask on its bounding box: the floor
of any evaluator that traces every distinct mask once, hence the ceiling of its ratio.

    .venv/bin/python benchmarks/bench_localize.py --reference /tmp/wsolref [--reference-maps N] [--fine-maps N]

The reference's evaluation.py imports torch.utils.data (for its score-map DataLoader), config
and data_loaders (munch, torchvision, PIL), none of which box scoring uses. While it imports
evaluation.py and inference.py from DIR, the benchmark puts stand-ins for those modules in
sys.modules: torch.utils.data with a bare Dataset class, config without str2bool, and
data_loaders whose get_image_ids, get_bounding_boxes and get_image_sizes read a plain dict,
so that the reference's own BoxEvaluator.__init__ (its resize_bbox included) sets itself up
from our maps. The stand-ins are removed again afterwards, and torch is never imported.
NumPy 2 removed np.float, against which the reference's check_scoremap_validity compares
dtypes; the benchmark restores the alias (np.float = float) for the run.

With --fixed-tau it times the fixed-tau path alone (one threshold, the largest contour's box
and its best IoU over the GT boxes): ours, BoxEvaluator(max_box_acc=False).add, against a plain
implementation of what the reference does for one threshold (resize, min-max normalise,
quantise, threshold, findContours, the largest contour by cv2.contourArea, its boundingRect,
IoU with the GT boxes), on the same maps, and checks that both give the same box and IoU on
every map. With --reference DIR as well, the reference's own BoxEvaluator.accumulate at the
one threshold (after its resize and normalize_scoremap) is timed too, after a check that it
localises (IoU 0.5) as many maps as ours.

    .venv/bin/python benchmarks/bench_localize.py --fixed-tau [--reference DIR] [--maps-fixed N]
"""

import argparse
import csv
import importlib
import itertools
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np

from infocam.wsol.localize import (
    CANVAS,
    FIXED_TAU,
    BoxEvaluator,
    box_iou,
    boxes_to_canvas,
    mask_bounds,
    mask_ids,
    normalise_score_map,
    quantise,
    threshold_cutoffs,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ORACLE = REPO / "tests" / "fixtures" / "wsol-oracle"
IOU_LEVELS = (30, 50, 70)


def oracle_images(folder):
    """(image_id, score map, GT boxes in original pixels, (width, height)) per fixture image."""
    with open(folder / "images.csv", newline="") as handle:
        sizes = {row["image_id"]: (int(row["width"]), int(row["height"])) for row in csv.DictReader(handle)}
    boxes = {}
    with open(folder / "boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            boxes.setdefault(row["image_id"], []).append([float(row[k]) for k in ("x0", "y0", "x1", "y1")])
    with np.load(folder / "cams.npz") as cams:
        return [(i, cams[i], boxes[i], sizes[i]) for i in sizes]


def oracle_maps(folder):
    """(score map, GT boxes on the 224 canvas) per fixture image."""
    return [(cam, boxes_to_canvas(boxes, *size)) for _, cam, boxes, size in oracle_images(folder)]


def random_maps(count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((14, 14)), np.array([[40, 50, 170, 190]])) for _ in range(count)]


def plain_per_threshold(score_map, gt_boxes, thresholds=np.arange(100) / 100):
    """The reference's amount of work: per threshold a findContours, then boxes contour by contour."""
    quantised = quantise(normalise_score_map(score_map))
    for all_contours in (False, True):
        for tau in thresholds:
            mask = (quantised > int(tau * quantised.max())).astype(np.uint8)
            contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
            if contours and not all_contours:
                contours = [max(contours, key=cv2.contourArea)]
            boxes = [[0, 0, 0, 0]]
            if contours:
                boxes = [[x, y, min(x + w, 223), min(y + h, 223)] for x, y, w, h in map(cv2.boundingRect, contours)]
            box_iou(np.array(boxes), gt_boxes).max()


def plain_fixed_tau(score_map, gt_boxes, tau=FIXED_TAU):
    """What the reference does for one threshold, written plainly: (box, best IoU over the GT boxes)."""
    resized = cv2.resize(np.asarray(score_map, dtype=np.float64), (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
    low, high = resized.min(), resized.max()
    if not (np.isfinite(low) and np.isfinite(high)) or low == high:
        resized[:] = 0
    else:
        resized -= low
        resized /= high - low
    quantised = (resized * 255).astype(np.uint8)
    _, mask = cv2.threshold(quantised, int(tau * np.max(quantised)), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    box = [0, 0, 0, 0]
    if contours:
        x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
        box = [x, y, min(x + w, CANVAS - 1), min(y + h, CANVAS - 1)]
    return box, float(box_iou(np.array([box]), gt_boxes).max())


def ours_fixed_tau(evaluator):
    """Our fixed-tau score of one map, as (box, IoU), from a BoxEvaluator without MaxBoxAcc."""
    def score(score_map, gt_boxes):
        result = evaluator.add(score_map, gt_boxes)
        return result["box"], result["iou"]
    return score


def reference_fixed_tau(ref, maps):
    """The reference's own BoxEvaluator at the one threshold FIXED_TAU, set up on maps."""
    images = [(f"map-{i}", cam, gt.tolist(), (CANVAS, CANVAS)) for i, (cam, gt) in enumerate(maps)]
    evaluator = reference_evaluators(ref, images, [FIXED_TAU])[0]
    ids = {id(cam): image_id for image_id, cam, _, _ in images}

    def score(score_map, gt_boxes):
        resized = cv2.resize(score_map.astype(np.float64), (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
        evaluator.accumulate(ref.inference.normalize_scoremap(resized), ids[id(score_map)])
    score.evaluator = evaluator
    return score


def alternate_maps_per_second(scorers, maps, count, repeats):
    """{name: maps/s} of each scorer, best of repeats, the scorers taking turns so that drift in the
    machine's speed touches them alike."""
    best = dict.fromkeys(scorers, float("inf"))
    for _ in range(repeats):
        for name, score in scorers.items():
            best[name] = min(best[name], count / maps_per_second(score, maps, count, repeats=1))
    return {name: count / seconds for name, seconds in best.items()}


def check_hits_against_reference(ref, maps):
    """Raises unless the reference's BoxEvaluator at FIXED_TAU localises as many maps as ours."""
    ours, reference = BoxEvaluator(max_box_acc=False), reference_fixed_tau(ref, maps)
    for score_map, gt_boxes in maps:
        ours.add(score_map, gt_boxes)
        reference(score_map, gt_boxes)
    theirs = int(reference.evaluator.num_correct[50][0])
    if theirs != ours.fixed_tau_correct:
        raise SystemExit(f"fixed tau: the reference localises {theirs} maps, ours {ours.fixed_tau_correct}")


def fixed_tau_comparison(maps, count, repeats, ref=None):
    """The line reporting maps/s of our fixed-tau score, of the plain one (and of the reference's)
    and the ratios; raises if ours and the plain one disagree on any map's box or IoU, or ours
    and the reference on the number of maps localised at IoU 0.5."""
    ours = ours_fixed_tau(BoxEvaluator(max_box_acc=False))
    for index, (score_map, gt_boxes) in enumerate(maps):
        mine, plain = ours(score_map, gt_boxes), plain_fixed_tau(score_map, gt_boxes)
        if mine != plain:
            raise SystemExit(f"map {index}: ours {mine}, plain {plain} (box, IoU)")
    scorers = {"ours": ours, "plain": plain_fixed_tau}
    if ref is not None:
        scorers["reference"] = reference_fixed_tau(ref, maps)
        check_hits_against_reference(ref, maps)
    rates = alternate_maps_per_second(scorers, maps, count, repeats)
    line = ", ".join(f"{name} {rate:7.0f} maps/s" for name, rate in rates.items())
    ratios = ", ".join(f"ours/{name} {rates['ours'] / rate:4.2f}x" for name, rate in rates.items() if name != "ours")
    agreement = "boxes and IoUs identical to plain" + (", hits to the reference" if ref is not None else "")
    return f"{line}; {ratios}; {agreement}"


def maps_per_second(score, maps, count, repeats=3):
    """Best of a few runs over count maps, so that a busy machine disturbs the figure less."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for score_map, gt_boxes in itertools.islice(itertools.cycle(maps), count):
            score(score_map, gt_boxes)
        best = min(best, time.perf_counter() - start)
    return count / best


# --- side by side with the reference ---------------------------------------------------------


def _stand_in_modules():
    """Modules the reference imports but box scoring does not use (see the module docstring)."""
    torch, torch_utils, torch_data = (types.ModuleType(n) for n in ("torch", "torch.utils", "torch.utils.data"))
    torch_data.Dataset, torch_data.DataLoader = object, None
    torch.utils, torch_utils.data = torch_utils, torch_data
    config = types.ModuleType("config")
    config.str2bool = None
    loaders = types.ModuleType("data_loaders")
    loaders.get_image_ids = lambda metadata: metadata["image_ids"]
    loaders.get_bounding_boxes = lambda metadata: metadata["boxes"]
    loaders.get_image_sizes = lambda metadata: metadata["sizes"]
    loaders.configure_metadata = loaders.get_mask_paths = None
    return {"torch": torch, "torch.utils": torch_utils, "torch.utils.data": torch_data,
            "config": config, "data_loaders": loaders}


def load_reference(folder):
    """The reference's evaluation and inference modules, imported from folder."""
    folder = Path(folder).resolve()
    if not (folder / "evaluation.py").is_file() or not (folder / "inference.py").is_file():
        raise SystemExit(f"--reference {folder}: expected a copy of clovaai/wsolevaluation (evaluation.py, inference.py)")
    if not hasattr(np, "float"):
        np.float = float
    own_names = ("evaluation", "inference", "util")
    clashes = [name for name in own_names if name in sys.modules]
    if clashes:
        raise SystemExit(f"--reference: modules {clashes} are already imported; run the benchmark on its own")
    stand_ins = {name: module for name, module in _stand_in_modules().items() if name not in sys.modules}
    sys.modules.update(stand_ins)
    sys.path.insert(0, str(folder))
    try:
        evaluation = importlib.import_module("evaluation")
        inference = importlib.import_module("inference")
    finally:
        sys.path.remove(str(folder))
        for name in [*stand_ins, *own_names]:
            sys.modules.pop(name, None)
    return types.SimpleNamespace(evaluation=evaluation, inference=inference)


def comparison_sets(oracle_folder, random_count):
    """Named lists of (image_id, score map, GT boxes in original pixels, (width, height))."""
    rng_maps = [(f"random-{i}", cam, gt.tolist(), (CANVAS, CANVAS)) for i, (cam, gt) in
                enumerate(random_maps(random_count))]
    return {"wsol-oracle": oracle_images(oracle_folder), "random 14x14": rng_maps}


def reference_evaluators(ref, images, thresholds):
    """The reference's MaxBoxAcc and MaxBoxAccV2 evaluators, set up on images."""
    metadata = {
        "image_ids": [image_id for image_id, *_ in images],
        "boxes": {image_id: boxes for image_id, _, boxes, _ in images},
        "sizes": {image_id: size for image_id, _, _, size in images},
    }
    return [
        ref.evaluation.BoxEvaluator(
            metadata=metadata, dataset_name="CUB", split="test", cam_threshold_list=list(thresholds),
            iou_threshold_list=list(IOU_LEVELS), mask_root=None, multi_contour_eval=multi_contour,
        )
        for multi_contour in (False, True)
    ]


def run_reference(ref, images, thresholds):
    """Seconds the reference takes for MaxBoxAcc + MaxBoxAccV2 over images; its counts."""
    v1, v2 = reference_evaluators(ref, images, thresholds)
    start = time.perf_counter()
    for image_id, cam, _, _ in images:
        resized = cv2.resize(cam.astype(np.float64), (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
        normalised = ref.inference.normalize_scoremap(resized)
        v1.accumulate(normalised, image_id)
        v2.accumulate(normalised, image_id)
    seconds = time.perf_counter() - start
    return seconds, {"v1": v1.num_correct[50], **{f"v2 IoU {level}": v2.num_correct[level] for level in IOU_LEVELS}}


def run_ours(images, thresholds):
    """Seconds our BoxEvaluator takes for fixed tau + MaxBoxAcc + MaxBoxAccV2 over images; its counts."""
    gt_224 = {image_id: boxes_to_canvas(boxes, *size) for image_id, _, boxes, size in images}
    evaluator = BoxEvaluator(thresholds=thresholds, iou_levels=IOU_LEVELS)
    start = time.perf_counter()
    for image_id, cam, _, _ in images:
        evaluator.add(cam, gt_224[image_id])
    seconds = time.perf_counter() - start
    return seconds, {"v1": evaluator.v1_correct, **{f"v2 IoU {lv}": evaluator.v2_correct[lv] for lv in IOU_LEVELS}}


def run_contours_only(images, thresholds):
    """Seconds for one findContours per distinct mask, on its bounding box, and nothing else: what
    any evaluator costs at least when it traces every distinct mask once (the reference traces
    each threshold twice)."""
    start = time.perf_counter()
    for _, cam, _, _ in images:
        quantised = quantise(normalise_score_map(cam))
        cutoffs = threshold_cutoffs(quantised, thresholds)
        _, first = np.unique(mask_ids(quantised, cutoffs), return_index=True)
        bounds, nonempty = mask_bounds(quantised, cutoffs[first])
        for cutoff, (x0, y0, x1, y1) in zip(cutoffs[first][nonempty].tolist(), bounds[nonempty].tolist()):
            _, mask = cv2.threshold(quantised[y0 : y1 + 1, x0 : x1 + 1], cutoff, 1, cv2.THRESH_BINARY)
            cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE, offset=(x0, y0))
    return time.perf_counter() - start


def compare_with_reference(ref, name, images, thresholds, repeats):
    """Best of repeats for each, run alternately; raises if any per-threshold count differs."""
    best_ref = best_ours = best_contours = float("inf")
    for _ in range(repeats):
        ref_seconds, ref_counts = run_reference(ref, images, thresholds)
        our_seconds, our_counts = run_ours(images, thresholds)
        best_contours = min(best_contours, run_contours_only(images, thresholds))
        best_ref, best_ours = min(best_ref, ref_seconds), min(best_ours, our_seconds)
        for key, counts in ref_counts.items():
            if not np.array_equal(counts, our_counts[key]):
                first = int(np.flatnonzero(counts != our_counts[key])[0])
                raise SystemExit(f"{name}, {len(thresholds)} thresholds: {key} counts differ first at threshold "
                                 f"{thresholds[first]:g}: reference {int(counts[first])}, ours {int(our_counts[key][first])}")
    ref_rate, our_rate, contours_rate = (len(images) / best for best in (best_ref, best_ours, best_contours))
    print(f"{name:13s} {len(thresholds):5d} thresholds, {len(images):4d} maps: reference {ref_rate:7.1f} maps/s, "
          f"ours {our_rate:7.1f} maps/s, ratio {our_rate / ref_rate:5.1f}x; per-threshold counts identical "
          f"(v1 IoU 50, v2 IoU 30/50/70)", flush=True)
    print(f"{'':13s} {'':26s} findContours alone, once per distinct mask: {contours_rate:7.1f} maps/s, "
          f"ratio {contours_rate / ref_rate:5.1f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", type=Path, default=DEFAULT_ORACLE, help="wsol-oracle fixture folder")
    parser.add_argument("--maps-fixed", type=int, default=3000, help="maps timed for the fixed-tau score")
    parser.add_argument("--maps-full", type=int, default=300, help="maps timed for the 100-threshold scores")
    parser.add_argument("--reference", type=Path, help="a copy of clovaai/wsolevaluation: time it against ours")
    parser.add_argument("--reference-maps", type=int, default=900, help="maps per set at 100 thresholds")
    parser.add_argument("--fine-maps", type=int, default=300, help="maps per set at 1,000 thresholds")
    parser.add_argument("--repeats", type=int, default=3, help="runs per comparison; the best one counts")
    parser.add_argument("--fixed-tau", action="store_true", help="time the fixed-tau path alone, ours against plain")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if args.fixed_tau:
        ref = load_reference(args.reference) if args.reference is not None else None
        print(f"fixed tau {FIXED_TAU:g}, one core, best of {args.repeats} runs of {args.maps_fixed} maps each, "
              "taking turns", flush=True)
        for name, maps in (("wsol-oracle", oracle_maps(args.oracle)), ("random 14x14", random_maps(300))):
            print(f"{name:13s} {fixed_tau_comparison(maps, args.maps_fixed, args.repeats, ref)}", flush=True)
        return
    if args.reference is not None:
        ref = load_reference(args.reference)
        print(f"reference: {args.reference.resolve()}; one core; best of {args.repeats}", flush=True)
        sets = comparison_sets(args.oracle, random_count=300)
        for step, count in ((0.01, args.reference_maps), (0.001, args.fine_maps)):
            thresholds = np.arange(0, 1, step)  # the reference's cam_threshold_list
            for name, images in sets.items():
                cycled = list(itertools.islice(itertools.cycle(images), count))
                compare_with_reference(ref, name, cycled, thresholds, args.repeats)
        return
    for name, maps in (("wsol-oracle", oracle_maps(args.oracle)), ("random 14x14", random_maps(300))):
        fixed = maps_per_second(BoxEvaluator(max_box_acc=False).add, maps, args.maps_fixed)
        full = maps_per_second(BoxEvaluator().add, maps, args.maps_full)
        plain = maps_per_second(plain_per_threshold, maps, max(args.maps_full // 3, 1))
        print(f"{name:13s} fixed tau 0.2: {fixed:7.0f} maps/s")
        print(f"{name:13s} BoxEvaluator, fixed tau + v1 + v2 at 100 thresholds: {full:7.1f} maps/s")
        print(f"{name:13s} plain per-threshold loop, v1 + v2 at 100 thresholds: {plain:7.1f} maps/s")


if __name__ == "__main__":
    main()
