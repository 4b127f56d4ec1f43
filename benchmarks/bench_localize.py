"""Throughput of infocam.wsol.localize in maps per second, on one core (best of 3 runs).

Times the fixed-tau score (one threshold, largest contour), the full BoxEvaluator (fixed tau
plus MaxBoxAcc and MaxBoxAccV2 at 100 thresholds) and, for comparison, a plain per-threshold
loop that does what the reference evaluator does (one findContours per threshold, cv2 per
contour, v1 and v2 as two separate passes). Maps: the wsol-oracle fixture (cycled) and
random 14x14 maps.

    .venv/bin/python benchmarks/bench_localize.py [--oracle DIR] [--maps-fixed N] [--maps-full N]
"""

import argparse
import csv
import itertools
import time
from pathlib import Path

import cv2
import numpy as np

from infocam.wsol.localize import BoxEvaluator, box_iou, boxes_to_canvas, normalise_score_map, quantise

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ORACLE = REPO / "tests" / "fixtures" / "wsol-oracle"


def oracle_maps(folder):
    """(score map, GT boxes on the 224 canvas) per fixture image."""
    with open(folder / "images.csv", newline="") as handle:
        sizes = {row["image_id"]: (int(row["width"]), int(row["height"])) for row in csv.DictReader(handle)}
    boxes = {}
    with open(folder / "boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            boxes.setdefault(row["image_id"], []).append([float(row[k]) for k in ("x0", "y0", "x1", "y1")])
    with np.load(folder / "cams.npz") as cams:
        return [(cams[i], boxes_to_canvas(boxes[i], *sizes[i])) for i in sizes]


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


def maps_per_second(score, maps, count, repeats=3):
    """Best of a few runs over count maps, so that a busy machine disturbs the figure less."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for score_map, gt_boxes in itertools.islice(itertools.cycle(maps), count):
            score(score_map, gt_boxes)
        best = min(best, time.perf_counter() - start)
    return count / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", type=Path, default=DEFAULT_ORACLE, help="wsol-oracle fixture folder")
    parser.add_argument("--maps-fixed", type=int, default=3000, help="maps timed for the fixed-tau score")
    parser.add_argument("--maps-full", type=int, default=300, help="maps timed for the 100-threshold scores")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    for name, maps in (("wsol-oracle", oracle_maps(args.oracle)), ("random 14x14", random_maps(300))):
        fixed = maps_per_second(BoxEvaluator(max_box_acc=False).add, maps, args.maps_fixed)
        full = maps_per_second(BoxEvaluator().add, maps, args.maps_full)
        plain = maps_per_second(plain_per_threshold, maps, max(args.maps_full // 3, 1))
        print(f"{name:13s} fixed tau 0.2: {fixed:7.0f} maps/s")
        print(f"{name:13s} BoxEvaluator, fixed tau + v1 + v2 at 100 thresholds: {full:7.1f} maps/s")
        print(f"{name:13s} plain per-threshold loop, v1 + v2 at 100 thresholds: {plain:7.1f} maps/s")


if __name__ == "__main__":
    main()
