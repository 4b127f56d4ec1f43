"""Class activation maps: CAM, infoCAM, infoCAM+ and the Table 5 ablations from one forward pass.

Every variant starts from the same class maps M_m(a, b) = sum_k W[m, k] g_k(a, b) of a GAP
network (feature maps g, fc weight W); variants differ only in what they subtract from the
target class map (their contrast) and whether they sum it over a square region R around each
location. Which variants exist, and what each one does, is infocam.wsol.methods' registry.
"""

import torch
import torch.nn.functional as F

from infocam.wsol.localize import CANVAS
from infocam.wsol import methods
from infocam.wsol.methods import GEOMETRIES, GEOMETRY_CONTROL, other_geometry


def class_maps(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Class maps (B, M, h, w) from feature maps (B, K, h, w) and fc weight (M, K); the bias is left out."""
    if features.dim() != 4:
        raise ValueError(f"features must have shape (B, K, h, w), got {tuple(features.shape)}")
    if weight.dim() != 2 or weight.shape[1] != features.shape[1]:
        raise ValueError(f"weight must have shape (M, {features.shape[1]}), got {tuple(weight.shape)}")
    return torch.einsum("bkhw,mk->bmhw", features, weight)


def region_sum(maps: torch.Tensor, r: int, geometry: str = "same") -> torch.Tensor:
    """Sum of maps (..., h, w) over an r x r box around every location, zero outside the map.

    geometry "full": the authors' computation, a full convolution with an all-ones r x r
    window; the result is (h + r - 1, w + r - 1), cell (i, j) summing input cells i - r + 1 .. i.
    geometry "same": h x w, the box centred on each cell for every r. For even r the centred
    box covers half of the cells at its two ends, so its weights are 1/2, 1, ..., 1, 1/2
    (length r + 1, total r) and a map's centre of mass does not move.
    """
    if r < 1:
        raise ValueError(f"region size r must be at least 1, got {r}")
    if geometry not in GEOMETRIES:
        raise ValueError(f"region geometry must be one of {', '.join(GEOMETRIES)}, got '{geometry}'")
    height, width = maps.shape[-2:]
    flat = maps.reshape(-1, 1, height, width)
    if geometry == "full":
        summed = F.conv2d(flat, maps.new_ones(1, 1, r, r), padding=r - 1)
    else:
        line = maps.new_ones(r + 1 - r % 2)
        if r % 2 == 0:
            line[0] = line[-1] = 0.5
        summed = F.conv2d(flat, torch.outer(line, line)[None, None], padding=len(line) // 2)
    return summed.reshape(*maps.shape[:-2], *summed.shape[-2:])


def full_placement(maps: torch.Tensor, r: int, canvas: int = CANVAS) -> torch.Tensor:
    """Maps (B, h, w) placed on a (B, canvas, canvas) canvas where a `full` region map puts its cells.

    A full map of (h + r - 1) cells is stretched over the canvas, so input cell i lands at
    cell i + (r - 1) / 2 of it: the content is squeezed towards the centre by h / (h + r - 1).
    Here the map itself is resized (bicubic) into that central window, with no region sum.
    The margin is filled with the window's minimum, which min-max normalisation turns into 0:
    never above a threshold, so the fill adds no contour of its own.
    """
    height, width = maps.shape[-2:]
    window_h, top = round(canvas * height / (height + r - 1)), round(canvas * (r - 1) / 2 / (height + r - 1))
    window_w, left = round(canvas * width / (width + r - 1)), round(canvas * (r - 1) / 2 / (width + r - 1))
    window = F.interpolate(maps[:, None], size=(window_h, window_w), mode="bicubic", align_corners=False)[:, 0]
    placed = window.amin(dim=(-2, -1), keepdim=True).expand(-1, canvas, canvas).clone()
    placed[:, top:top + window_h, left:left + window_w] = window
    return placed


def compute_cams(features: torch.Tensor, weight: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, region: int,
                 geometry: str = "same", both_geometries: bool = False) -> dict[str, torch.Tensor]:
    """Every registered method's map (each (B, h', w'), float32) for target classes y (B,) with region size `region`.

    cam: M_y. infocam: region sum of M_y minus the mean of the other classes' maps.
    infocam_plus: region sum of M_y - M_ymin. ablation_region_only: region sum of M_y.
    ablation_subtraction_only: M_y minus the mean of the others, no region.
    The region methods use `geometry`. With both_geometries, each is also given under the other
    geometry, with its name as suffix (e.g. infocam_same), and cam_full_placement, the
    geometry-only control, is added (a canvas-sized map per image, so only where it is scored).
    """
    maps = class_maps(features.float(), weight.float())
    batch, num_classes = maps.shape[:2]
    if num_classes < 2:
        raise ValueError(f"infoCAM needs at least 2 classes, the weight has {num_classes}")
    if logits.shape != (batch, num_classes):
        raise ValueError(f"logits must have shape ({batch}, {num_classes}), got {tuple(logits.shape)}")
    if y.shape != (batch,):
        raise ValueError(f"y must have shape ({batch},), got {tuple(y.shape)}")
    if y.numel() and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"y must hold class indices in [0, {num_classes}), got {y.tolist()}")

    target = _select_class(maps, y)
    contrasted = _contrasted_maps(maps, target, logits, y)
    other = other_geometry(geometry)
    cams = {}
    for method in methods.class_map_methods():
        before_sum = contrasted[method.contrast]
        cams[method.name] = region_sum(before_sum, region, geometry) if method.region else before_sum
    if both_geometries:
        for method in methods.class_map_methods():
            if method.region:
                cams[f"{method.name}_{other}"] = region_sum(contrasted[method.contrast], region, other)
        cams[GEOMETRY_CONTROL] = full_placement(target, region)
    return cams


def _contrasted_maps(maps: torch.Tensor, target: torch.Tensor, logits: torch.Tensor,
                     y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The target map minus each contrast (methods.CONTRASTS), before any region sum."""
    num_classes = maps.shape[1]
    others_mean = (maps.sum(dim=1) - target) / (num_classes - 1)
    # The paper picks y' per region (argmin over m of the region sum of M_m). We take the
    # class other than y with the lowest logit for the whole image instead: one contrast class
    # per image, the "most unlikely label according to the classifier's outputs". y itself is
    # excluded, else a GT-known target that scores lowest would give an all-zero map.
    others_logits = logits.float().scatter(1, y[:, None].to(logits.device), float("inf"))
    lowest = _select_class(maps, others_logits.argmin(dim=1))
    return {"none": target, "mean_of_others": target - others_mean, "lowest_class": target - lowest}


def _select_class(maps: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """maps[b, classes[b]] for every b: (B, M, h, w) -> (B, h, w)."""
    return maps[torch.arange(maps.shape[0], device=maps.device), classes.to(maps.device)]
