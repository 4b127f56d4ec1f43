"""Class activation maps: CAM, infoCAM, infoCAM+ and the Table 5 ablations from one forward pass.

Every variant starts from the same class maps M_m(a, b) = sum_k W[m, k] g_k(a, b) of a GAP
network (feature maps g, fc weight W); variants differ only in what they subtract from the
target class map and whether they sum it over a square region R around each location.
"""

import torch
import torch.nn.functional as F

CAM_VARIANTS = ("cam", "infocam", "infocam_plus", "ablation_region_only", "ablation_subtraction_only")


def class_maps(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Class maps (B, M, h, w) from feature maps (B, K, h, w) and fc weight (M, K); the bias is left out."""
    if features.dim() != 4:
        raise ValueError(f"features must have shape (B, K, h, w), got {tuple(features.shape)}")
    if weight.dim() != 2 or weight.shape[1] != features.shape[1]:
        raise ValueError(f"weight must have shape (M, {features.shape[1]}), got {tuple(weight.shape)}")
    return torch.einsum("bkhw,mk->bmhw", features, weight)


def region_sum(maps: torch.Tensor, r: int) -> torch.Tensor:
    """Sum of each r x r box around every location of maps (..., h, w), zero-padded, same shape.

    The box spans offsets -(r-1)//2 .. r//2 in each direction, so for even r it reaches one
    further down/right than up/left (r=4: -1 .. +2). r=1 returns maps unchanged.
    """
    if r < 1:
        raise ValueError(f"region size r must be at least 1, got {r}")
    if r == 1:
        return maps
    height, width = maps.shape[-2:]
    flat = maps.reshape(-1, height, width)
    before, after = (r - 1) // 2, r // 2
    padded = F.pad(flat, (before, after, before, after))
    summed = F.avg_pool2d(padded, kernel_size=r, stride=1, divisor_override=1)
    return summed.reshape(maps.shape)


def compute_cams(features: torch.Tensor, weight: torch.Tensor, logits: torch.Tensor,
                 y: torch.Tensor, region: int) -> dict[str, torch.Tensor]:
    """All CAM variants (each (B, h, w), float32) for target classes y (B,) with region size `region`.

    cam: M_y. infocam: region sum of M_y minus the mean of the other classes' maps.
    infocam_plus: region sum of M_y - M_ymin. ablation_region_only: region sum of M_y.
    ablation_subtraction_only: M_y minus the mean of the others, no region.
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
    others_mean = (maps.sum(dim=1) - target) / (num_classes - 1)
    # The paper picks y' per region (argmin over m of the region sum of M_m). We take the
    # class other than y with the lowest logit for the whole image instead: one contrast class
    # per image, the "most unlikely label according to the classifier's outputs". y itself is
    # excluded, else a GT-known target that scores lowest would give an all-zero map.
    others_logits = logits.float().scatter(1, y[:, None].to(logits.device), float("inf"))
    lowest = _select_class(maps, others_logits.argmin(dim=1))
    subtracted = target - others_mean
    return {
        "cam": target,
        "infocam": region_sum(subtracted, region),
        "infocam_plus": region_sum(target - lowest, region),
        "ablation_region_only": region_sum(target, region),
        "ablation_subtraction_only": subtracted,
    }


def _select_class(maps: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """maps[b, classes[b]] for every b: (B, M, h, w) -> (B, h, w)."""
    return maps[torch.arange(maps.shape[0], device=maps.device), classes.to(maps.device)]
