"""Weakly supervised localisation scores: score maps -> boxes -> IoU -> accuracy.

Follows the conventions of the field's reference WSOL evaluator (Choe et al., CVPR 2020),
written down in docs/protocol.md, so that our numbers can be compared with
published ones:

1. the raw map is upsampled to 224x224 (cv2 INTER_CUBIC, float64) and min-max normalised;
   a constant or non-finite map becomes all zeros;
2. it is quantised to uint8 and cut at tau: pixels strictly above int(tau * max) are kept;
3. cv2.findContours (RETR_TREE, CHAIN_APPROX_SIMPLE) gives the contours; the box of the
   largest contour by cv2.contourArea (MaxBoxAcc and the fixed-tau metric) or the boxes of
   all contours (MaxBoxAccV2) are the predictions, (0, 0, 0, 0) when there is no contour;
4. IoU counts pixels inclusively and is clamped at 0 (the infoCAM authors' code did not
   clamp, docs/deviations.md, bug 3); an image scores its best IoU over its GT boxes.

5. a box is a hit when its IoU reaches HIT_IOU (0.5); the paper's metric cuts every map at
   one fixed tau (FIXED_TAU, the evaluation setting `tau`), MaxBoxAcc picks the best tau over
   the dataset and MaxBoxAccV2 averages that over the IoU_LEVELS.

This module owns those constants. `BoxEvaluator` accumulates these scores one map at a time;
`localize_eval_files` runs it over files in the format of tests/fixtures/wsol-oracle, through
`evaluate_score_maps`, the loop that the reference evaluator's own file layout
(infocam.wsol.reference_format) shares.
"""

import csv
import json
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from infocam.io import write_text_atomic

CANVAS = 224  # every score map is resized to CANVAS x CANVAS, every GT box mapped onto it
DEFAULT_THRESHOLDS = np.arange(100) / 100
HIT_IOU = 0.5  # a predicted box localises the object when its IoU with a GT box reaches this
FIXED_TAU = 0.2  # the infoCAM paper's threshold on min-max normalised maps (default of evaluation.tau)
IOU_LEVELS = (30, 50, 70)  # MaxBoxAccV2's IoU levels, in percent
PROTOCOL = {
    "resize": "cv2.resize to 224x224, INTER_CUBIC, float64",
    "normalize": "min-max; constant or NaN map -> zeros",
    "binarize": "scoremap*255 -> uint8; keep pixels > int(tau * max(uint8 map))",
    "boxes": "largest contour by area (v1) or every contour (v2); x1=x+w, y1=y+h clipped to 223",
    "gt": "x0y0x1y1 original pixels, each scaled by 224/size and truncated to int",
    "iou": "inclusive pixel counts (+1), overlap clamped at 0; best over GT boxes",
}
_EMPTY_BOX = np.zeros(4, dtype=np.int64)


NORMALISATIONS = ("minmax", "max", "pas", "ivr")  # Kim et al., ICCV 2021; minmax is the reference's
PAS_PERCENTILE = 90  # PaS: the percentile that stands in for the maximum


def normalise_score_map(score_map, normalisation="minmax", percentile=None):
    """Upsample a raw 2-D score map to CANVAS x CANVAS and normalise it to [0, 1].

    minmax: (S - min) / (max - min), the reference's. max: ReLU(S) / max, the original CAM's.
    pas: minmax with the PAS_PERCENTILE-th percentile as maximum, clipped at 1. ivr: S minus its
    `percentile`-th percentile, ReLU, then / max. A map these leave without a positive range
    (constant, all negative for max) becomes all zeros, as does one with NaN or infinite values
    (the reference zeroes NaN maps; infinities would otherwise give NaN after the division).
    """
    score_map = np.asarray(score_map, dtype=np.float64)
    if score_map.ndim != 2 or min(score_map.shape) == 0:
        raise ValueError(f"score map: expected a non-empty 2-D array, got shape {score_map.shape}")
    resized = cv2.resize(score_map, (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
    if not np.isfinite(resized).all():
        return np.zeros_like(resized)
    if normalisation == "minmax":
        return _scaled(resized, resized.min(), resized.max())
    if normalisation == "max":
        return _scaled(np.maximum(resized, 0, out=resized), 0.0, resized.max())
    if normalisation == "pas":
        return np.minimum(_scaled(resized, resized.min(), np.percentile(resized, PAS_PERCENTILE)), 1, out=resized)
    if normalisation == "ivr":
        if percentile is None or not 0 <= percentile <= 100:
            raise ValueError(f"ivr normalisation needs a percentile in [0, 100], got {percentile!r}")
        shifted = np.maximum(resized - np.percentile(resized, percentile), 0)
        return _scaled(shifted, 0.0, shifted.max())
    raise ValueError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {normalisation!r}")


def _scaled(values, low, high):
    """(values - low) / (high - low) in place; all zeros when high is not above low."""
    if not high > low:
        return np.zeros_like(values)
    # Same operations in the same order as the reference, so the uint8 values agree bit for bit.
    values -= low
    values /= high - low
    return values


def quantise(normalised):
    """uint8 image of a [0, 1] map: (map * 255) truncated."""
    return (normalised * 255).astype(np.uint8)


def quantised_canvas_map(score_map):
    """quantise(normalise_score_map(score_map)), scaling the fresh canvas map in place: one
    224 x 224 float64 array per map instead of two, which in a long loop saves allocator work."""
    normalised = normalise_score_map(score_map)
    normalised *= 255
    return normalised.astype(np.uint8)


def threshold_cutoffs(quantised, thresholds):
    """Integer cut-off per threshold tau: int(tau * max(quantised)); pixels above it are kept."""
    return (np.asarray(thresholds, dtype=np.float64) * quantised.max()).astype(np.int64)


def mask_ids(quantised, cutoffs):
    """An id per cut-off that is equal exactly when two cut-offs give the same binary mask.

    The masks are nested, so two are equal when they leave out the same number of pixels.
    """
    histogram = cv2.calcHist([quantised], [0], None, [256], [0, 256]).ravel()
    pixels_at_or_below = np.cumsum(histogram).astype(np.int64)
    return pixels_at_or_below[cutoffs]


def mask_bounds(quantised, cutoffs):
    """Per cut-off, the bounding box (x0, y0, x1, y1, inclusive) of the pixels above it, and whether there are any."""
    cutoffs = np.asarray(cutoffs)[:, None]
    rows = quantised.max(axis=1) > cutoffs
    cols = quantised.max(axis=0) > cutoffs
    bounds = np.stack(
        [
            cols.argmax(axis=1),
            rows.argmax(axis=1),
            quantised.shape[1] - 1 - cols[:, ::-1].argmax(axis=1),
            quantised.shape[0] - 1 - rows[:, ::-1].argmax(axis=1),
        ],
        axis=1,
    )
    return bounds, rows.any(axis=1)


def mask_contours(quantised, cutoff):
    """Contours of the pixels strictly above cutoff, as cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE) gives them."""
    _, mask = cv2.threshold(quantised, int(cutoff), 1, cv2.THRESH_BINARY)
    return cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]


def _cropped_contours(quantised, cutoff, x0, y0, x1, y1):
    """mask_contours for a mask whose pixels all lie in the box x0, y0, x1, y1 (inclusive; mask_bounds).

    findContours pads its input with zeros, and every pixel outside the box is zero anyway,
    so the crop gives the same contours, points and order; offset shifts them back.
    """
    _, mask = cv2.threshold(quantised[y0 : y1 + 1, x0 : x1 + 1], cutoff, 1, cv2.THRESH_BINARY)
    return cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE, offset=(x0, y0))[0]


def contour_boxes_and_areas(contours):
    """Boxes (n, 4: x0, y0, x1, y1) and areas (n,) of cv2 contours, all at once.

    Equal to cv2.boundingRect -> (x, y, x + w, y + h) with x1, y1 clipped to CANVAS - 1, and
    to cv2.contourArea (the shoelace formula; exact here because the points are integers).
    """
    if len(contours) == 0:
        return np.zeros((0, 4), dtype=np.int64), np.zeros(0)
    lengths = np.fromiter(map(len, contours), dtype=np.intp, count=len(contours))
    starts = np.cumsum(lengths) - lengths
    points = np.concatenate(contours).reshape(-1, 2).astype(np.int64)
    x, y = points[:, 0], points[:, 1]
    boxes = np.stack(
        [
            np.minimum.reduceat(x, starts),
            np.minimum.reduceat(y, starts),
            np.minimum(np.maximum.reduceat(x, starts) + 1, CANVAS - 1),
            np.minimum(np.maximum.reduceat(y, starts) + 1, CANVAS - 1),
        ],
        axis=1,
    )
    following = np.arange(1, len(points) + 1)
    following[starts + lengths - 1] = starts  # each contour is a closed polygon
    twice_signed_areas = np.add.reduceat(x * y[following] - y * x[following], starts)
    return boxes, np.abs(twice_signed_areas) / 2


def score_map_boxes(score_map, tau, all_contours=False):
    """Predicted boxes (n, 4) of one raw score map at threshold tau.

    The box of the largest contour (one row) or, with all_contours, the box of every contour;
    a single (0, 0, 0, 0) when nothing is above the cut-off.
    """
    quantised = quantised_canvas_map(score_map)
    cutoff = int(threshold_cutoffs(quantised, [tau])[0])
    if not all_contours:
        return np.array([largest_contour_box(quantised, cutoff)], dtype=np.int64)
    boxes, _ = contour_boxes_and_areas(mask_contours(quantised, cutoff))
    return boxes if len(boxes) else _EMPTY_BOX[None]


def largest_contour_box(quantised, cutoff):
    """(x0, y0, x1, y1) of the largest contour above cutoff (the first of equals), (0, 0, 0, 0) if none.

    The fixed-tau path: one findContours and cv2 per contour, which up to a few hundred
    contours costs less than the array set-up of contour_boxes_and_areas (same box either way).
    """
    contours = mask_contours(quantised, cutoff)
    if len(contours) == 0:
        return (0, 0, 0, 0)
    x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
    return (x, y, min(x + w, CANVAS - 1), min(y + h, CANVAS - 1))


def best_iou_of_one_box(box, gt_boxes):
    """box_iou(box, gt_boxes).max() for one box and a short list of GT boxes, in plain Python.

    Same value: the counts are exact integers and int / int rounds as float64 division does.
    """
    x0, y0, x1, y1 = box
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    best = 0.0
    for gx0, gy0, gx1, gy1 in gt_boxes:
        overlap = max(0, min(x1, gx1) - max(x0, gx0) + 1) * max(0, min(y1, gy1) - max(y0, gy0) + 1)
        best = max(best, overlap / (area + (gx1 - gx0 + 1) * (gy1 - gy0 + 1) - overlap))
    return best


def box_overlap(boxes, gt_boxes):
    """(overlap, area of each box, area of each GT box), each (n, g), of boxes x0, y0, x1, y1 with
    inclusive pixel counts; the overlap is clamped at 0 along each axis."""
    a = np.asarray(boxes, dtype=np.int64)[:, None, :]
    b = np.asarray(gt_boxes, dtype=np.int64)[None, :, :]
    overlap_w = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    overlap_h = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    return overlap_w * overlap_h, area_a, area_b


def box_iou(boxes, gt_boxes):
    """IoU (n, g) of every box with every GT box, both x0, y0, x1, y1 with inclusive pixel counts.

    The overlap is clamped at 0 along each axis, so disjoint boxes score 0.
    """
    overlap, area_a, area_b = box_overlap(boxes, gt_boxes)
    return overlap / (area_a + area_b - overlap)


def gt_coverage(box, gt_boxes):
    """The largest share of one GT box's pixels that the predicted box covers."""
    overlap, _, gt_areas = box_overlap([box], gt_boxes)
    return float(np.max(overlap / gt_areas))


def is_hit(iou):
    """Whether a box with this IoU (a number or an array) localises the object."""
    return np.asarray(iou) >= HIT_IOU


def localisation_hits(records, method):
    """{metric: 0/1 array} of one method over the per-image records: localisation (gt_loc,
    top1_loc) over the images with a GT box on the canvas, classification over every image."""
    scored = records[records["has_gt_box"].astype(bool)] if "has_gt_box" in records else records
    hit = is_hit(scored[f"{method}_iou"].to_numpy(dtype=float))
    return {"gt_loc": hit, "top1_loc": hit & scored["correct_top1"].to_numpy(dtype=bool),
            "top1_cls": records["correct_top1"].to_numpy(dtype=bool),
            "top5_cls": records["correct_top5"].to_numpy(dtype=bool)}


def pack_hits(hits):
    """An (IoU levels, thresholds) 0/1 array as 'x' and the hex digits of its bits, row by row
    (the 'x' keeps a CSV reader from taking an all-digit string for a number)."""
    return "x" + np.packbits(np.asarray(hits, dtype=bool).ravel()).tobytes().hex()


def v2_hit_arrays(records, method):
    """(images with a GT box, IoU levels, thresholds) bool array of one method's MaxBoxAccV2 hits;
    None where the records hold none (max_box_acc off)."""
    column = f"{method}_v2_hits"
    if column not in records:
        return None
    packed = records.loc[records["has_gt_box"].astype(bool), column]
    shape = (len(IOU_LEVELS), len(DEFAULT_THRESHOLDS))
    bits = [np.unpackbits(np.frombuffer(bytes.fromhex(value[1:]), dtype=np.uint8))[:shape[0] * shape[1]]
            for value in packed]
    return np.array(bits, dtype=bool).reshape(len(packed), *shape)


def _checked_boxes(boxes, width, height, resize, crop):
    """Boxes as an (n, 4) float array, the image size and the test transform checked."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes: expected an (n, 4) array of x0, y0, x1, y1, got shape {boxes.shape}")
    if width <= 0 or height <= 0:
        raise ValueError(f"boxes: expected a positive image size, got {width}x{height}")
    if (resize is None) != (crop is None):
        raise ValueError("boxes: resize and crop must be given together (Resize((S, S)) then CenterCrop(C))")
    if resize is not None and not 0 < crop <= resize:
        raise ValueError(f"boxes: expected 0 < crop <= resize, got resize={resize}, crop={crop}")
    return boxes


def boxes_to_canvas(boxes, width, height, resize=None, crop=None, canvas=CANVAS):
    """Map GT boxes (n, 4: x0, y0, x1, y1 in original pixels) onto the evaluation canvas, as ints.

    Without resize/crop: scale by canvas/width and canvas/height and truncate (the reference).
    With resize=S and crop=C (test transform Resize((S, S)) then CenterCrop(C)): scale by
    S/width, S/height, shift by the crop's offset, clip to [0, C - 1], scale by canvas/C and
    truncate. The offset is the one CenterCrop uses, round((S - C) / 2): 16 for 256 -> 224
    (the infoCAM authors used 255/15, docs/deviations.md, bug 5).
    """
    boxes = _checked_boxes(boxes, width, height, resize, crop)
    if resize is None:
        return (boxes * [canvas, canvas, canvas, canvas] / [width, height, width, height]).astype(np.int64)
    offset = int(round((resize - crop) / 2))
    resized = boxes * [resize, resize, resize, resize] / [width, height, width, height]
    cropped = np.clip(resized - offset, 0, crop - 1)
    return (cropped * canvas / crop).astype(np.int64)


def inclusive_boxes_to_canvas(boxes, width, height, resize=None, crop=None, canvas=CANVAS):
    """The pipeline's GT mapping: boxes (n, 4: inclusive pixel corners x0, y0, x1, y1) onto the canvas.

    Pixel x of the image covers [x, x + 1). That interval is taken through the test transform
    (without resize/crop: scaled by canvas/width; with Resize((S, S)) and CenterCrop(C): scaled
    by S/width, shifted by CenterCrop's offset round((S - C) / 2), scaled by canvas/C), and the
    canvas box covers every canvas pixel it touches: x0' = floor(start), x1' = ceil(end) - 1,
    clipped to the canvas. So a box's last pixel stays (x1 = 63 of a 64-pixel image becomes
    223, where the reference's truncation gives 220). A box wholly outside the crop is dropped:
    the result may have fewer rows than `boxes`, or none.
    """
    boxes = _checked_boxes(boxes, width, height, resize, crop)
    if resize is None:
        scale, offset, window = np.array([canvas / width, canvas / height]), 0.0, np.array([canvas, canvas])
    else:
        scale, offset, window = np.array([resize / width, resize / height]), round((resize - crop) / 2), crop
    to_canvas = canvas / np.broadcast_to(window, 2)
    start = (boxes[:, :2] * scale - offset) * to_canvas
    end = ((boxes[:, 2:] + 1) * scale - offset) * to_canvas
    inside = np.all((end > 0) & (start < canvas), axis=1)
    first = np.clip(np.floor(start[inside] + 1e-9), 0, canvas - 1)
    last = np.clip(np.ceil(end[inside] - 1e-9) - 1, 0, canvas - 1)
    return np.concatenate([first, last], axis=1).astype(np.int64)


class BoxEvaluator:
    """Streaming WSOL box accuracy: add one score map at a time, then read the results.

    Always scores the largest-contour box at fixed_tau (GT-known Loc at IoU 0.5). With
    max_box_acc it also counts, per threshold, the images whose largest-contour box reaches
    IoU 0.5 (MaxBoxAcc, "v1") and whose best box over all contours reaches each IoU level
    (MaxBoxAccV2), from one contour set per distinct binary mask. That costs about 100
    findContours calls per map instead of one; max_box_acc=False skips it.
    """

    def __init__(self, thresholds=DEFAULT_THRESHOLDS, iou_levels=IOU_LEVELS, fixed_tau=FIXED_TAU, max_box_acc=True):
        thresholds = np.asarray(thresholds, dtype=np.float64)
        if thresholds.ndim != 1 or len(thresholds) == 0 or not np.all((thresholds >= 0) & (thresholds <= 1)):
            raise ValueError("thresholds: expected a non-empty 1-D list of values in [0, 1]")
        if not 0 <= fixed_tau <= 1:
            raise ValueError(f"fixed_tau: expected a value in [0, 1], got {fixed_tau}")
        if not iou_levels or not all(0 < level <= 100 for level in iou_levels):
            raise ValueError(f"iou_levels: expected percentages in (0, 100], got {iou_levels}")
        self.thresholds = thresholds
        self.iou_levels = tuple(int(level) for level in iou_levels)
        self.fixed_tau = float(fixed_tau)
        self.max_box_acc = max_box_acc
        # The fixed tau goes last, so its results are the last entry of every per-tau array.
        self._taus = np.append(thresholds, self.fixed_tau) if max_box_acc else np.array([self.fixed_tau])
        self.n_images = 0
        self.fixed_tau_correct = 0
        self.v1_correct = np.zeros(len(thresholds), dtype=np.int64)
        self.v2_correct = {level: np.zeros(len(thresholds), dtype=np.int64) for level in self.iou_levels}

    def add(self, score_map, gt_boxes_224):
        """Score one raw map against its GT boxes on the 224 canvas; returns this image's result.

        The result holds box (x0, y0, x1, y1 of the largest contour at fixed_tau), iou (its
        best IoU over the GT boxes) and correct (iou >= 0.5).
        """
        gt_boxes = _checked_gt_boxes(gt_boxes_224)
        return self._add_quantised(quantised_canvas_map(score_map), gt_boxes)

    def add_canvas_map(self, canvas_map, gt_boxes_224):
        """`add` for a map that normalise_score_map has already made, for callers that also use it."""
        gt_boxes = _checked_gt_boxes(gt_boxes_224)
        if np.shape(canvas_map) != (CANVAS, CANVAS):
            raise ValueError(f"canvas map: expected shape ({CANVAS}, {CANVAS}), got {np.shape(canvas_map)}")
        return self._add_quantised(quantise(canvas_map), gt_boxes)

    def _add_quantised(self, quantised, gt_boxes):
        """Score one quantised canvas map: every threshold at once, or the fixed tau alone."""
        if not self.max_box_acc:
            return self._add_fixed_tau_only(quantised, gt_boxes)
        cutoffs = threshold_cutoffs(quantised, self._taus)
        largest_boxes, largest_iou, best_iou = _scores_per_mask(quantised, cutoffs, gt_boxes)

        self.n_images += 1
        correct = bool(is_hit(largest_iou[-1]))
        self.fixed_tau_correct += correct
        self.v1_correct += is_hit(largest_iou[:-1])
        for level in self.iou_levels:
            self.v2_correct[level] += best_iou[:-1] >= level / 100
        return {"box": [int(v) for v in largest_boxes[-1]], "iou": float(largest_iou[-1]), "correct": correct}

    def _add_fixed_tau_only(self, quantised, gt_boxes):
        """One threshold: one findContours and plain Python, none of the per-mask array work."""
        box = largest_contour_box(quantised, int(self.fixed_tau * int(quantised.max())))
        iou = best_iou_of_one_box(box, gt_boxes.tolist())
        correct = iou >= HIT_IOU
        self.n_images += 1
        self.fixed_tau_correct += correct
        return {"box": list(box), "iou": iou, "correct": correct}

    def results(self):
        """Aggregate accuracies (%) and per-threshold counts, keyed as in the wsol-oracle fixture."""
        if self.n_images == 0:
            raise ValueError("BoxEvaluator: no score maps were added")
        out = {
            "n_images": self.n_images,
            "protocol": dict(PROTOCOL),
            f"fixed_tau_{self.fixed_tau:g}_iou50_largest_contour_accuracy": self._percent(self.fixed_tau_correct),
        }
        if not self.max_box_acc:
            return out
        v2_best = {str(level): self._percent(self.v2_correct[level].max()) for level in self.iou_levels}
        out.update(
            {
                "thresholds": [float(t) for t in self.thresholds],
                "maxboxacc_v1_iou50": self._percent(self.v1_correct.max()),
                "v1_num_correct_iou50": [int(n) for n in self.v1_correct],
                "maxboxacc_v2": v2_best,
                "maxboxacc_v2_mean": float(np.mean(list(v2_best.values()))),
                "v2_num_correct": {str(level): [int(n) for n in counts] for level, counts in self.v2_correct.items()},
            }
        )
        return out

    def _percent(self, count):
        return float(count * 100.0 / self.n_images)


def _checked_gt_boxes(gt_boxes):
    gt_boxes = np.asarray(gt_boxes)
    if gt_boxes.ndim != 2 or gt_boxes.shape[1] != 4 or len(gt_boxes) == 0:
        raise ValueError(f"gt_boxes_224: expected an (n >= 1, 4) array of x0, y0, x1, y1, got shape {gt_boxes.shape}")
    if np.any(gt_boxes[:, 2] < gt_boxes[:, 0]) or np.any(gt_boxes[:, 3] < gt_boxes[:, 1]):
        raise ValueError(f"gt_boxes_224: expected x1 >= x0 and y1 >= y0, got {gt_boxes.tolist()}")
    return gt_boxes.astype(np.int64)


def _scores_per_mask(quantised, cutoffs, gt_boxes):
    """For each cut-off: the largest-contour box, its IoU, and the best IoU over all contour boxes.

    Cut-offs that give the same mask share one findContours call, made on the mask's bounding
    box, and the boxes of all masks go through contour_boxes_and_areas and box_iou together.
    """
    ids = mask_ids(quantised, cutoffs) if len(cutoffs) > 1 else cutoffs
    _, first, per_cutoff = np.unique(ids, return_index=True, return_inverse=True)
    distinct = cutoffs[first]
    bounds, nonempty = mask_bounds(quantised, distinct)
    contours_per_mask = [
        _cropped_contours(quantised, cutoff, *box) if any_pixel else ()
        for cutoff, box, any_pixel in zip(distinct.tolist(), bounds.tolist(), nonempty.tolist())
    ]
    counts = np.array([len(contours) for contours in contours_per_mask])
    boxes, areas = contour_boxes_and_areas([c for contours in contours_per_mask for c in contours])

    empty = np.flatnonzero(counts == 0)
    if len(empty):  # a mask without contours predicts the single box (0, 0, 0, 0)
        insert_at = np.cumsum(counts)[empty]
        boxes = np.insert(boxes, insert_at, _EMPTY_BOX, axis=0)
        areas = np.insert(areas, insert_at, 0.0)
        counts[empty] = 1

    starts = np.cumsum(counts) - counts
    ious = box_iou(boxes, gt_boxes).max(axis=1)
    best_iou = np.maximum.reduceat(ious, starts)
    largest = _first_argmax_per_segment(areas, starts, counts)
    return boxes[largest][per_cutoff], ious[largest][per_cutoff], best_iou[per_cutoff]


def _first_argmax_per_segment(values, starts, counts):
    """Index of the first maximum of each consecutive segment (ties go to the earlier one, as max() does)."""
    segment = np.repeat(np.arange(len(starts)), counts)
    is_max = values == np.maximum.reduceat(values, starts)[segment]
    candidates = np.flatnonzero(is_max)
    first_of_segment = np.ones(len(candidates), dtype=bool)
    first_of_segment[1:] = segment[candidates[1:]] != segment[candidates[:-1]]
    return candidates[first_of_segment]


def read_image_sizes(path, optional_column=()):
    """{image_id: (width, height)} from a csv with columns image_id, width, height (and, if
    optional_column names any, one of those last; export-maps reads a label column so)."""
    sizes = {}
    for line, row in _csv_rows(path, ["image_id", "width", "height"], optional_column):
        image_id = row["image_id"]
        if image_id in sizes:
            raise ValueError(f"{path}:{line}: image_id {image_id!r} appears twice")
        width, height = (_number(path, line, row, key, int) for key in ("width", "height"))
        if width <= 0 or height <= 0:
            raise ValueError(f"{path}:{line}: expected a positive width and height, got {width}x{height}")
        sizes[image_id] = (width, height)
    return sizes


def read_gt_boxes(path, sizes):
    """{image_id: [[x0, y0, x1, y1], ...]} in original pixels from a csv, one row per box."""
    boxes = {}
    for line, row in _csv_rows(path, ["image_id", "x0", "y0", "x1", "y1"]):
        image_id = row["image_id"]
        if image_id not in sizes:
            raise ValueError(f"{path}:{line}: box for image {image_id!r}, which is not in the images csv")
        x0, y0, x1, y1 = (_number(path, line, row, key, float) for key in ("x0", "y0", "x1", "y1"))
        if x1 < x0 or y1 < y0:
            raise ValueError(f"{path}:{line}: expected x0 <= x1 and y0 <= y1, got {x0}, {y0}, {x1}, {y1}")
        boxes.setdefault(image_id, []).append([x0, y0, x1, y1])
    return boxes


def _csv_rows(path, columns, optional_column=()):
    """(line number, row dict) for each data row, after checking the header and the field count."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header not in [columns] + [columns + [extra] for extra in optional_column]:
            raise ValueError(f"{path}:1: expected header {','.join(columns)}, got {','.join(header or [])}")
        columns = header
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(columns):
                raise ValueError(f"{path}:{reader.line_num}: expected {len(columns)} fields, got {len(fields)}")
            yield reader.line_num, dict(zip(columns, fields))


def _number(path, line, row, key, kind):
    try:
        return kind(row[key])
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise ValueError(f"{path}:{line}: {key} must be {expected}, got {row[key]!r}") from None


def localize_eval_files(cams_npz, images_csv, boxes_csv, out_json):
    """Evaluate the raw maps in cams_npz (keyed by image_id) and write the results json atomically.

    The output has the keys of tests/fixtures/wsol-oracle/expected.json: aggregate
    accuracies and per-threshold counts, then per_image results in images_csv order.
    """
    sizes = read_image_sizes(images_csv)
    gt_boxes = read_gt_boxes(boxes_csv, sizes)
    with open_score_maps(cams_npz) as cams:
        unknown = sorted(set(cams.files) - set(sizes))
        if unknown:
            raise ValueError(f"{cams_npz}: score map for image {unknown[0]!r}, which is not in {images_csv}")
        npz_map = _npz_map_getter(cams, cams_npz, images_csv)
        evaluate_score_maps(sizes, gt_boxes, npz_map, out_json, image_list=images_csv, boxes_file=boxes_csv)


def _npz_map_getter(cams, cams_npz, images_csv):
    """image_id -> the checked score map stored under that key in the open npz."""
    def score_map_of(image_id):
        if image_id not in cams.files:
            raise ValueError(f"{cams_npz}: no score map for image {image_id!r} listed in {images_csv}")
        try:
            score_map = cams[image_id]
        except ValueError as err:  # e.g. an object array, which would need unpickling
            raise ValueError(f"{cams_npz}: score map {image_id!r} cannot be read ({err})") from None
        return checked_score_map(score_map, f"{cams_npz}: score map {image_id!r}")
    return score_map_of


def checked_score_map(score_map, where):
    """score_map itself if it is a non-empty 2-D numeric array; otherwise a one-line error starting with where."""
    if score_map.ndim != 2 or min(score_map.shape) == 0 or not np.issubdtype(score_map.dtype, np.number):
        raise ValueError(f"{where} must be a non-empty 2-D numeric array, "
                         f"got {score_map.dtype} of shape {score_map.shape}")
    return score_map


def evaluate_score_maps(sizes, gt_boxes, score_map_of, out_json, *, image_list, boxes_file):
    """The evaluation loop both input forms share; writes the results json atomically.

    sizes: {image_id: (width, height)} of the images to score, in output order; gt_boxes:
    {image_id: boxes in original pixels}; score_map_of(image_id): the raw 2-D map. image_list
    and boxes_file name the inputs in error messages.
    """
    missing = next((image_id for image_id in sizes if image_id not in gt_boxes), None)
    if missing is not None:
        raise ValueError(f"{boxes_file}: no box for image {missing!r} listed in {image_list}")
    evaluator = BoxEvaluator()
    per_image, degenerate = [], 0
    for image_id, (width, height) in tqdm(sizes.items(), desc="localize-eval", unit="map", disable=None):
        score_map = score_map_of(image_id)
        degenerate += is_degenerate(score_map)
        gt_224 = boxes_to_canvas(gt_boxes[image_id], width, height)
        per_image.append(_per_image_result(image_id, gt_224, evaluator.add(score_map, gt_224), evaluator.fixed_tau))
    if degenerate:
        print(f"localize-eval: {degenerate} of {len(per_image)} score maps are NaN, infinite or constant; "
              "each is scored as the reference does, with no contour (box 0, 0, 0, 0)", file=sys.stderr)
    write_json_atomic({**evaluator.results(), "n_degenerate_maps": degenerate, "per_image": per_image}, out_json)


def _per_image_result(image_id, gt_224, result, tau):
    tau_name = f"{tau:g}"
    return {
        "image_id": image_id,
        "gt_boxes_224": gt_224.tolist(),
        f"box_at_{tau_name}": result["box"],
        f"best_iou_at_{tau_name}": result["iou"],
        f"correct_at_{tau_name}": result["correct"],
    }


def is_degenerate(score_map):
    """A map the reference evaluator turns into zeros: any NaN or infinity, or a single value."""
    values = np.asarray(score_map, dtype=np.float64)
    return bool(not np.isfinite(values).all() or values.min() == values.max())


def open_score_maps(path):
    """np.load of an .npz of score maps; anything else (text, a pickle, a lone .npy) is a one-line error."""
    if Path(path).is_file() and not zipfile.is_zipfile(path) and not _is_npy(path):
        raise ValueError(f"{path}: not an .npz of 2-D score maps keyed by image_id (not a zip archive)")
    try:
        maps = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path}: not an .npz of 2-D score maps keyed by image_id ({str(err).splitlines()[0]})") \
            from None
    if not isinstance(maps, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a single array (.npy); expected an .npz of 2-D score maps keyed by image_id")
    return maps


def _is_npy(path):
    with open(path, "rb") as stream:
        return stream.read(6) == b"\x93NUMPY"


def write_json_atomic(data, path):
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
