"""Evaluating one trained cell: one forward pass per test image gives every class-map CAM
variant; the CAM family members configured (evaluation.family) add their backward or forward
passes (infocam.wsol.family).

Localisation follows the field's reference conventions (docs/protocol.md): GT-known Loc is
the share of test images whose box at tau (0.2) has IoU >= 0.5 with a GT box; Top-1 Loc
also needs the top-1 class to be right. Both are hits / images over the whole test split.
Where the prepared data have head boxes (the synthetic data's parts.csv), peak_on_part says
whether each map's peak lies on the head, the class's most discriminative part.

Each method's maps go through the evaluators of EVALUATORS, one interface in the reference
evaluator's spirit: made with the settings and the method's name, `add` one normalised map with
the image's GT and part boxes on the canvas, which returns that image's record fields, then
`results` for the summary. With several threads the methods' maps of a batch are scored side by
side, one method per thread at a time, so each evaluator still sees its images in order.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from infocam.data.images import PreparedImages, eval_transform, load_boxes, load_part_boxes
from infocam.data.prepare import check_manifest
from infocam.io import atomic_path, file_md5, write_text_atomic
from infocam.provenance.records import base_record, dataset_record
from infocam.wsol.cam import compute_cams
from infocam.wsol.family import FamilyMaps
from infocam.wsol.localize import (CANVAS, FIXED_TAU, BoxEvaluator, gt_coverage, inclusive_boxes_to_canvas,
                                   localisation_hits, normalise_score_map, pack_hits)
from infocam.wsol.methods import evaluated_names, table6_methods
from infocam.device import autocast_context, resolve_device
from infocam.wsol.train import load_checkpoint_model

NO_BOXES = np.zeros((0, 4))


def gt_boxes_on_canvas(boxes, row, resize, crop):
    """GT boxes of one image mapped onto the 224 evaluation canvas through the test transform."""
    if resize == crop:
        return inclusive_boxes_to_canvas(boxes, row.width, row.height)
    return inclusive_boxes_to_canvas(boxes, row.width, row.height, resize=resize, crop=crop)


@torch.no_grad()
def predict_batches(model, loader, device, region, geometry, amp=False, family=()):
    """Yield (indices, labels, top5, cams) per batch, cams as {method: (B, h, w) float64 array}:
    the class-map methods, then the CAM family members named in `family`."""
    weight = model.classifier.weight.detach().float()
    family_maps = FamilyMaps(model, family)
    for images, labels, indices in loader:
        images = images.to(device, non_blocking=True)
        with autocast_context(device, amp):
            features, logits = model.features_and_logits(images)
        features, logits = features.float(), logits.float()
        cams = compute_cams(features, weight, logits, labels.to(device), region, geometry, both_geometries=True)
        cams = {m: cam.cpu().double().numpy() for m, cam in cams.items()} | family_maps(images, labels)
        top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices.cpu().numpy()
        yield indices.numpy(), labels.numpy(), top5, cams


@dataclass(frozen=True)
class EvaluateSettings:
    dataset: str  # the config's name for the dataset, recorded in the summary
    region: int  # infoCAM's region R
    resize: int
    crop: int
    region_geometry: str  # full: the authors' (h + R - 1) map; same: h x h, centred (infocam.wsol.cam)
    batch_size: int = 64
    max_box_acc: bool = True  # also MaxBoxAcc and MaxBoxAccV2 over 100 thresholds
    tau: float = FIXED_TAU  # the fixed threshold of GT-known and Top-1 Loc
    family: tuple[str, ...] = ()  # the CAM family members to evaluate beside CAM and infoCAM (methods.FAMILY)
    device: str = "cpu"

    def __post_init__(self):
        object.__setattr__(self, "family", tuple(self.family))


class BoxRecords:
    """The box at tau of every map with its IoU and GT coverage; for the methods Table 6 shows,
    MaxBoxAcc(V2) over thresholds and per image the MaxBoxAccV2 hits at every IoU level and
    threshold (v2_hits, for its intervals). No table reports MaxBoxAcc of the ablations and
    geometry controls, and their 100 thresholds would cost as much as the rest of the scoring."""

    def __init__(self, settings, method):
        reported = method in table6_methods(settings.family)
        self.boxes = BoxEvaluator(fixed_tau=settings.tau, max_box_acc=settings.max_box_acc and reported)

    def add(self, canvas_map, gt, parts):
        if not len(gt):  # every GT box of the image lies outside the crop: not scored, no box, no IoU
            return {"x0": -1, "y0": -1, "x1": -1, "y1": -1, "iou": None, "gt_coverage": None,
                    **({"v2_hits": None} if self.boxes.max_box_acc else {})}
        before = self._v2_counts()
        result = self.boxes.add_canvas_map(canvas_map, gt)
        fields = {**dict(zip(("x0", "y0", "x1", "y1"), result["box"])), "iou": round(float(result["iou"]), 6),
                  "gt_coverage": round(gt_coverage(result["box"], gt), 6)}
        if self.boxes.max_box_acc:
            fields["v2_hits"] = pack_hits(self._v2_counts() - before)
        return fields

    def _v2_counts(self):
        """(IoU levels, thresholds) counts of images so far whose best box reaches each level."""
        return np.stack([self.boxes.v2_correct[level] for level in self.boxes.iou_levels])

    def results(self):
        if not self.boxes.max_box_acc:
            return {}
        results = self.boxes.results()
        return {"maxboxacc": results["maxboxacc_v1_iou50"], "maxboxacc_v2": results["maxboxacc_v2_mean"]}


class PartPeaks:
    """Whether each map's peak lies on a part box (images with part boxes only)."""

    def __init__(self, settings, method):
        pass

    def add(self, canvas_map, gt, parts):
        return {"peak_on_part": peak_on_part(canvas_map, parts) if len(parts) else None}

    def results(self):
        return {}


EVALUATORS = (BoxRecords, PartPeaks)  # each method's maps go through each, in this order


def evaluate_cell(prepared_dir, checkpoint_path, per_image_path, summary_path, settings, threads=1):
    """Evaluate one checkpoint on the test split; write per_image.csv.gz and summary.json."""
    started = time.time()
    torch.set_num_threads(threads)
    device = resolve_device(settings.device)
    region, resize, crop = settings.region, settings.resize, settings.crop
    batch_size = settings.batch_size
    check_manifest(prepared_dir)
    model, checkpoint = load_checkpoint_model(checkpoint_path, device)
    test_set = PreparedImages(prepared_dir, "test", eval_transform(resize, crop))
    boxes = load_boxes(prepared_dir)
    heads = load_part_boxes(prepared_dir, "head") or {}
    methods = evaluated_names(settings.region_geometry, settings.family)
    evaluators = {method: [evaluator(settings, method) for evaluator in EVALUATORS] for method in methods}
    loader = DataLoader(test_set, batch_size=batch_size, shuffle=False, num_workers=0)

    records = []
    batches = predict_batches(model, loader, device, region, settings.region_geometry, family=settings.family)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for indices, labels, top5, cams in tqdm(batches, total=len(loader), desc="evaluate", unit="batch",
                                                mininterval=5):
            rows = [test_set.table.iloc[index] for index in indices]
            boxes_on_canvas = [(gt_boxes_on_canvas(boxes[str(row.image_id)], row, resize, crop),
                                gt_boxes_on_canvas(heads.get(str(row.image_id), NO_BOXES), row, resize, crop))
                               for row in rows]
            scored = pool.map(lambda method: score_method(cams[method], boxes_on_canvas, evaluators[method]), methods)
            per_method = dict(zip(methods, scored))
            for i, (row, (gt, head)) in enumerate(zip(rows, boxes_on_canvas)):
                record = {"image_id": row.image_id, "label": int(labels[i]), "pred_top1": int(top5[i, 0]),
                          "top5": " ".join(map(str, top5[i])), "has_gt_box": len(gt) > 0,
                          "has_part_box": len(head) > 0}
                record["correct_top1"] = record["pred_top1"] == record["label"]
                record["correct_top5"] = record["label"] in top5[i]
                for method in methods:
                    record.update({f"{method}_{name}": value for name, value in per_method[method][i].items()})
                records.append(record)
            map_size = list(cams["cam"].shape[-2:])

    frame = pd.DataFrame.from_records(records)
    with atomic_path(per_image_path) as tmp:
        frame.to_csv(tmp, index=False, compression="gzip")
    summary = summarize(frame, evaluators)
    summary.update(
        dataset=settings.dataset,
        cell={key: checkpoint["settings"][key] for key in ("backbone", "adl", "loss", "seed")},
        region=region,
        region_geometry=settings.region_geometry,
        map_size=map_size,
        checkpoint_epoch=checkpoint["epoch"],
        val_top1=checkpoint["val_top1"],
    )
    provenance = base_record(started, device)
    provenance.update(
        parameters={
            "evaluation": asdict(settings),
            "training": checkpoint["settings"],
        },
        checkpoint={"path": str(checkpoint_path), "md5": file_md5(checkpoint_path)},
        pretrained=pretrained_record(checkpoint),
        per_image={"path": str(per_image_path), "md5": file_md5(per_image_path)},
        dataset=dataset_record(prepared_dir),
    )
    summary["provenance"] = provenance
    write_text_atomic(summary_path, json.dumps(summary, indent=1) + "\n")
    return summary


def score_method(maps, boxes_on_canvas, evaluators):
    """One method's record fields for each image of a batch: each map normalised onto the canvas
    (where the image has a GT or part box) and passed to the method's evaluators in image order."""
    fields = []
    for score_map, (gt, head) in zip(maps, boxes_on_canvas):
        canvas_map = normalise_score_map(score_map) if len(gt) or len(head) else None
        image_fields = {}
        for evaluator in evaluators:
            image_fields.update(evaluator.add(canvas_map, gt, head))
        fields.append(image_fields)
    return fields


def pretrained_record(checkpoint):
    """The checkpoint the cell's training started from (pretraining), as recorded at training time; or None."""
    init_from = checkpoint["settings"].get("init_from")
    return {"path": init_from, "md5": checkpoint.get("init_md5")} if init_from else None


def metrics_from_records(frame, methods):
    """Hits / images over the per-image records, in percent: classification over every test image,
    localisation over the images left with a GT box on the canvas (n_test - n_no_gt_box)."""
    scored = frame[frame["has_gt_box"].astype(bool)] if "has_gt_box" in frame else frame
    metrics = {
        "n_test": len(frame),
        "n_no_gt_box": len(frame) - len(scored),
        "n_part_boxes": int(frame["has_part_box"].astype(bool).sum()) if "has_part_box" in frame else 0,
        "top1_cls": 100.0 * frame["correct_top1"].mean(),
        "top5_cls": 100.0 * frame["correct_top5"].mean(),
        "methods": {},
    }
    for method in methods:
        hits = localisation_hits(frame, method)
        metrics["methods"][method] = {
            "gt_loc": 100.0 * hits["gt_loc"].mean(),
            "top1_loc": 100.0 * hits["top1_loc"].mean(),
            **box_diagnostics(scored, method),
        }
    return metrics


def box_area_share(x0, y0, x1, y1):
    """Share of the canvas a box covers, pixels counted inclusively (the IoU's convention)."""
    return (x1 - x0 + 1) * (y1 - y0 + 1) / CANVAS ** 2


def peak_on_part(canvas_map, part_boxes):
    """Whether the map's first maximum (row-major) lies in one of the part boxes on the canvas
    (inclusive corners); an all-zero map, constant before normalising, has no peak."""
    if not canvas_map.any():
        return False
    y, x = np.unravel_index(np.argmax(canvas_map), canvas_map.shape)
    inside = (part_boxes[:, 0] <= x) & (x <= part_boxes[:, 2]) & (part_boxes[:, 1] <= y) & (y <= part_boxes[:, 3])
    return bool(inside.any())


def peak_on_part_share(scored, method):
    """Share of the scored images with a part box whose map peaks on it; None when none has one."""
    column = f"{method}_peak_on_part"
    on_part = scored[column].dropna() if column in scored else []
    return float(on_part.astype(bool).mean()) if len(on_part) else None


def box_diagnostics(scored, method):
    """mean_box_area (share of the canvas of the box at tau) and gt_coverage, when the records hold them,
    and peak_on_part (None without part boxes)."""
    diagnostics = {}
    if f"{method}_x0" in scored and f"{method}_gt_coverage" in scored:
        corners = [scored[f"{method}_{name}"].to_numpy(dtype=float) for name in ("x0", "y0", "x1", "y1")]
        diagnostics.update(mean_box_area=float(np.mean(box_area_share(*corners))),
                           gt_coverage=float(scored[f"{method}_gt_coverage"].mean()))
    diagnostics["peak_on_part"] = peak_on_part_share(scored, method)
    return diagnostics


def summarize(frame, evaluators):
    """The per-image metrics, plus what each method's evaluators give (MaxBoxAcc, MaxBoxAccV2)."""
    summary = metrics_from_records(frame, evaluators)
    for method, method_evaluators in evaluators.items():
        for evaluator in method_evaluators:
            summary["methods"][method].update(evaluator.results())
    return summary
