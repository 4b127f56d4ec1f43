"""The field's evaluation protocol since Choe et al. (CVPR 2020), beside the infoCAM paper's.

Three disjoint splits: the training set, a selection split with boxes (`train-fullsup`: CUBV2
for CUB-200-2011, the authors' val half for Tiny-ImageNet, which has none) and a test split
used once (CUB's whole official test set; Tiny-ImageNet's test half). Everything is chosen on
the selection split, per method:

1. the checkpoint among the epochs kept in training and the region R among the grid, by
   MaxBoxAccV2 under min-max normalisation (the last epoch is reported too, with its own R);
2. IVR's percentile, by MaxBoxAccV2 under IVR, for the chosen checkpoint and R (the selected
   checkpoint's only: the last epoch is reported under min-max, the normalisation table's);
3. an operating tau per normalisation: the threshold with the highest GT-known Loc (largest
   contour, IoU 0.5), the box a deployed method would draw.

`select_cell` writes those choices (and every candidate's score); `score_test_split` evaluates each
choice once on the test split and keeps the per-image hits for intervals.
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader

from infocam.data.images import PreparedImages, eval_transform, load_boxes
from infocam.device import resolve_device
from infocam.io import atomic_path, file_md5, write_text_atomic
from infocam.provenance.records import base_record, dataset_record
from infocam.wsol.cam import compute_cams
from infocam.wsol.evaluate import gt_boxes_on_canvas
from infocam.wsol.family import FamilyMaps
from infocam.wsol.localize import (DEFAULT_THRESHOLDS, FIXED_TAU, IOU_LEVELS, NORMALISATIONS, BoxEvaluator,
                                   normalise_score_map)
from infocam.wsol.methods import by_name, checked_family, headline_methods
from infocam.wsol.train import load_checkpoint_model

SPLITS = {  # dataset format: (selection split, test splits)
    "cub": ("fullsup", ("val", "test")),
    "tiny": ("val", ("test",)),
}
SELECTION_NORMALISATION = "minmax"
NORMALISED_METHODS = tuple(headline_methods())  # the methods evaluated under every normalisation


@dataclass(frozen=True)
class ProtocolSettings:
    dataset: str
    format: str  # cub | tiny: which splits play which role (SPLITS)
    regions: tuple[int, ...]  # the grid of infoCAM's R for this backbone
    ivr_percentiles: tuple[float, ...]
    resize: int
    crop: int
    region_geometry: str
    family: tuple[str, ...] = ()
    batch_size: int = 64
    device: str = "cpu"

    def __post_init__(self):
        for name in ("regions", "ivr_percentiles", "family"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        checked_family(self.family)
        if self.format not in SPLITS:
            raise ValueError(f"format must be one of {', '.join(SPLITS)}, got {self.format!r}")

    @property
    def methods(self):
        return (*headline_methods(), *self.family)


@dataclass(frozen=True)
class Setting:
    """One way of scoring a method's maps: its checkpoint, R (region methods only) and normalisation."""

    method: str
    epoch: int
    region: int | None
    normalisation: str = SELECTION_NORMALISATION
    percentile: float | None = None

    @property
    def key(self):
        parts = [self.method, f"e{self.epoch}", f"r{self.region}" if self.region else "", self.normalisation,
                 f"p{self.percentile:g}" if self.percentile is not None else ""]
        return "-".join(part for part in parts if part)


class HitRecorder:
    """A BoxEvaluator that also keeps each image's hits: largest-contour box at IoU 0.5 per
    threshold (v1, GT-known Loc at each tau) and best box per IoU level and threshold (v2)."""

    def __init__(self):
        self.boxes = BoxEvaluator(fixed_tau=FIXED_TAU)
        self.v1, self.v2 = [], []

    def add(self, canvas_map, gt):
        v1_before, v2_before = self.boxes.v1_correct.copy(), self._v2()
        self.boxes.add_canvas_map(canvas_map, gt)
        self.v1.append(self.boxes.v1_correct - v1_before)
        self.v2.append(self._v2() - v2_before)

    def _v2(self):
        return np.stack([self.boxes.v2_correct[level] for level in IOU_LEVELS])

    def maxboxacc_v2(self):
        return float(self.boxes.results()["maxboxacc_v2_mean"])

    def operating_tau(self):
        """The threshold with the highest GT-known Loc (the first of equals)."""
        return float(DEFAULT_THRESHOLDS[int(np.argmax(self.boxes.v1_correct))])

    def hit_arrays(self):
        return np.array(self.v1, dtype=bool), np.array(self.v2, dtype=bool)


def _loader(prepared_dir, splits, settings):
    parts = [PreparedImages(prepared_dir, split, eval_transform(settings.resize, settings.crop)) for split in splits]
    rows = [row for part in parts for _, row in part.table.iterrows()]
    return DataLoader(ConcatDataset(parts), batch_size=settings.batch_size, shuffle=False), rows


@torch.no_grad()
def _raw_maps(model, forward, images, labels, region, settings, methods, family_maps):
    """{method: (B, h, w) float64 array} of the headline methods at region R and, for R = 1, the
    family members (`family_maps`, a FamilyMaps of this model); `forward` is the batch's
    (features, logits), one forward pass for every region."""
    features, logits = forward
    cams = compute_cams(features.float(), model.classifier.weight.detach().float(), logits.float(), labels,
                        region, settings.region_geometry)
    maps = {name: cams[name].cpu().double().numpy() for name in methods if name in cams}
    if any(by_name(name).family for name in methods):
        maps |= family_maps(images, labels)
    return maps


def score_settings(model, prepared_dir, splits, settings, wanted):
    """HitRecorder per Setting of `wanted` (all of one checkpoint) over the images of `splits`,
    and whether each image's top-1 class is right."""
    loader, rows = _loader(prepared_dir, splits, settings)
    boxes = load_boxes(prepared_dir)
    device = next(model.parameters()).device
    recorders = {setting: HitRecorder() for setting in wanted}
    regions = sorted({setting.region or 1 for setting in wanted})
    family_maps = FamilyMaps(model, sorted({s.method for s in wanted if by_name(s.method).family}))
    correct, start = [], 0
    for images, labels, _ in loader:
        images, labels = images.to(device), labels.to(device)
        batch_rows = rows[start:start + len(labels)]
        start += len(labels)
        gts = [gt_boxes_on_canvas(boxes[str(row.image_id)], row, settings.resize, settings.crop)
               for row in batch_rows]
        with torch.no_grad():
            forward = model.features_and_logits(images)
        top1 = forward[1].argmax(dim=1).cpu().numpy()
        for region in regions:
            methods = {s.method for s in wanted if (s.region or 1) == region}
            maps = _raw_maps(model, forward, images, labels, region, settings, methods, family_maps)
            for setting in (s for s in wanted if (s.region or 1) == region):
                for score_map, gt in zip(maps[setting.method], gts):
                    if len(gt):
                        canvas = normalise_score_map(score_map, setting.normalisation, setting.percentile)
                        recorders[setting].add(canvas, gt)
        correct += [bool(t == y) for t, y, gt in zip(top1, labels.cpu().numpy(), gts) if len(gt)]
    return recorders, np.array(correct, dtype=bool)


def _candidates(settings, epoch):
    for method in settings.methods:
        regions = settings.regions if by_name(method).region else (None,)
        for region in regions:
            yield Setting(method, epoch, region)


def _best(scores):
    """The Setting with the highest MaxBoxAccV2; ties go to the first (earlier epoch, smaller R)."""
    return max(scores, key=lambda setting: (scores[setting], -setting.epoch, -(setting.region or 0)))


def select_cell(prepared_dir, snapshot_paths, out_json, settings, threads=1):
    """Choose, per method, the checkpoint, R, IVR percentile and tau on the selection split; write them.

    One pass over the split per checkpoint scores every candidate under min-max normalisation; one
    more per chosen checkpoint scores the other normalisations of the headline methods' selected
    choices (the normalisation table's; the last epoch is reported under min-max only)."""
    started = time.time()
    torch.set_num_threads(threads)
    device = resolve_device(settings.device)
    split = SPLITS[settings.format][0]
    models = {}
    for path in snapshot_paths:
        model, checkpoint = load_checkpoint_model(path, device)
        models[checkpoint["epoch"]] = (model, path)
    cell = {key: checkpoint["settings"][key] for key in ("backbone", "adl", "loss", "seed")}
    scored = {}  # Setting -> (MaxBoxAccV2, operating tau)
    for epoch, (model, _) in sorted(models.items()):
        scored |= _scored(model, prepared_dir, split, settings, list(_candidates(settings, epoch)))
    candidates = dict(scored)
    bests = {}
    for method in settings.methods:
        for label, epochs in (("selected", models), ("last", [max(models)])):
            of_method = {s: v[0] for s, v in candidates.items() if s.method == method and s.epoch in epochs}
            bests[method, label] = _best(of_method)
    selected = {best for (_, label), best in bests.items() if label == "selected"}
    others = [other for best in selected for other in _normalised(best, settings)
              if other.normalisation != SELECTION_NORMALISATION]
    for epoch in sorted({setting.epoch for setting in others}):
        scored |= _scored(models[epoch][0], prepared_dir, split, settings, [s for s in others if s.epoch == epoch])
    choices = {}
    for (method, label), best in bests.items():
        choices.setdefault(method, {})[label] = _normalisation_choices(best, scored, settings, label == "selected")
    record = {
        "dataset": settings.dataset,
        "cell": cell,
        "selection_split": split,
        "test_splits": list(SPLITS[settings.format][1]),
        "candidates": [{**asdict(s), "maxboxacc_v2": round(v[0], 4)} for s, v in candidates.items()],
        "choices": choices,
        "checkpoints": {str(epoch): {"path": str(path), "md5": file_md5(path)} for epoch, (_, path) in models.items()},
    }
    record["provenance"] = {**base_record(started, device), "parameters": asdict(settings),
                            "dataset": dataset_record(prepared_dir)}
    write_text_atomic(out_json, json.dumps(record, indent=1) + "\n")
    return record


def _scored(model, prepared_dir, split, settings, wanted):
    recorders, _ = score_settings(model, prepared_dir, [split], settings, wanted)
    return {setting: (recorder.maxboxacc_v2(), recorder.operating_tau()) for setting, recorder in recorders.items()}


def _normalised(best, settings, every=True):
    """`best` (scored under min-max) under every normalisation its method is evaluated with (`every`),
    or under min-max alone."""
    every = every and best.method in NORMALISED_METHODS
    normalisations = NORMALISATIONS if every else (SELECTION_NORMALISATION,)
    return [Setting(best.method, best.epoch, best.region, name, percentile)
            for name in normalisations
            for percentile in (settings.ivr_percentiles if name == "ivr" else (None,))]


def _normalisation_choices(best, scored, settings, every):
    """The chosen checkpoint's epoch and R, and per normalisation of `_normalised` the best-scoring
    {percentile, maxboxacc_v2, tau} (IVR: its best percentile)."""
    by_normalisation = {}
    for setting in _normalised(best, settings, every):
        score, tau = scored[setting]
        kept = by_normalisation.get(setting.normalisation)
        if kept is None or score > kept["maxboxacc_v2"]:
            by_normalisation[setting.normalisation] = {"percentile": setting.percentile, "maxboxacc_v2": score,
                                                       "tau": tau}
    return {"epoch": best.epoch, "region": best.region, "normalisations": by_normalisation}


def score_test_split(prepared_dir, selection_json, out_json, out_npz, settings, threads=1):
    """Evaluate every chosen setting once on the test split: MaxBoxAccV2 (and at each IoU level),
    GT-known and Top-1 Loc at the chosen tau and at tau = 0.2; per-image hits into out_npz."""
    started = time.time()
    torch.set_num_threads(threads)
    device = resolve_device(settings.device)
    selection = json.loads(Path(selection_json).read_text())
    splits = SPLITS[settings.format][1]
    wanted = {}  # Setting -> [(checkpoint choice, normalisation, tau)]
    for method, by_choice in selection["choices"].items():
        for choice, chosen in by_choice.items():
            for name, normalised in chosen["normalisations"].items():
                setting = Setting(method, chosen["epoch"], chosen["region"], name, normalised["percentile"])
                wanted.setdefault(setting, []).append((choice, normalised["tau"]))
    rows, arrays = [], {}
    for epoch in sorted({setting.epoch for setting in wanted}):
        model, _ = load_checkpoint_model(selection["checkpoints"][str(epoch)]["path"], device)
        of_epoch = [setting for setting in wanted if setting.epoch == epoch]
        recorders, correct = score_settings(model, prepared_dir, splits, settings, of_epoch)
        arrays[correct_top1_key(epoch)] = correct  # each checkpoint classifies the test images its own way
        for setting, recorder in recorders.items():
            v1, v2 = recorder.hit_arrays()
            arrays[f"{setting.key}_v1"], arrays[f"{setting.key}_v2"] = v1, v2
            for choice, tau in wanted[setting]:
                rows.append(_test_row(setting, choice, tau, recorder, v1, correct))
    with atomic_path(out_npz) as tmp, open(tmp, "wb") as stream:
        np.savez_compressed(stream, **arrays)
    record = {"dataset": settings.dataset, "cell": selection["cell"], "selection_split": selection["selection_split"],
              "test_splits": list(splits), "n_test": int(len(correct)),
              "rows": rows, "selection": {"path": str(selection_json), "md5": file_md5(selection_json)},
              "hits": {"path": str(out_npz), "md5": file_md5(out_npz)}}
    record["provenance"] = {**base_record(started, device), "parameters": asdict(settings),
                            "dataset": dataset_record(prepared_dir)}
    write_text_atomic(out_json, json.dumps(record, indent=1) + "\n")
    return record


def correct_top1_key(epoch):
    """The hits file's array of whether checkpoint `epoch`'s top-1 class is right, per test image."""
    return f"correct_top1_e{epoch}"


def threshold_index(tau):
    return int(np.argmin(np.abs(DEFAULT_THRESHOLDS - tau)))


def _test_row(setting, choice, tau, recorder, v1, correct):
    results = recorder.boxes.results()
    at_tau, at_fixed = v1[:, threshold_index(tau)], v1[:, threshold_index(FIXED_TAU)]
    return {**asdict(setting), "key": setting.key, "checkpoint": choice, "tau": tau,
            "maxboxacc_v2": results["maxboxacc_v2_mean"],
            **{f"maxboxacc_v2_iou{level}": results["maxboxacc_v2"][str(level)] for level in IOU_LEVELS},
            "gt_loc": 100 * float(at_tau.mean()), "top1_loc": 100 * float((at_tau & correct).mean()),
            "gt_loc_tau02": 100 * float(at_fixed.mean()), "top1_loc_tau02": 100 * float((at_fixed & correct).mean())}
