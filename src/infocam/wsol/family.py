"""The CAM family on our networks: pytorch-grad-cam's methods at the layer CAM uses.

Each map is what the library computes before it resizes and rescales: its own channel (or
element) weights applied to the layer's activations, then the ReLU it applies to every method.
The evaluation resizes, normalises and boxes these maps exactly as it does CAM's. Maps are for
the GT class: Top-1 Loc counts an image only when the top-1 class is the GT class, so the GT
class's map is the top-1 class's map wherever it matters.

The activations and gradients come from one forward and backward pass per batch that every
gradient method shares (FinerCAM, whose target is a weighted difference of logits, needs a
second backward pass); the library's own hooks are released, so the library only weights.
"""

import contextlib
import io

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from infocam.wsol.methods import by_name, checked_family

FINER_COMPARISONS = (1, 2, 3)  # the library's default: the three classes whose logits are nearest the target's
FINER_ALPHA = 1.0  # the library's default weight of the compared classes
SCORE_CAM_BATCH = 64  # masked images per forward pass of Score-CAM


def _library():
    """pytorch-grad-cam and its target classes, imported only where a family member is computed:
    with the scikit-learn it imports, it adds about 1.5 s to the start of every job that loads it."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils import model_targets

    return pytorch_grad_cam, model_targets


class FamilyMaps:
    """Maps of the chosen family members for a batch: {name: (B, h, w) float64 array}."""

    def __init__(self, model, names):
        self.model = model
        self.names = checked_family(names)
        self.cams = {name: self._library_cam(name) for name in self.names}

    def _library_cam(self, name):
        cam = getattr(_library()[0], by_name(name).library)(self.model, [self.model.cam_layer])
        weighting = getattr(cam, "base_cam", cam)  # FinerCAM weights with its Grad-CAM
        weighting.activations_and_grads.release()
        weighting.batch_size = SCORE_CAM_BATCH
        return weighting

    def __call__(self, images, labels):
        if not self.names:
            return {}
        labels = labels.to(images.device)
        with torch.enable_grad():
            features, logits = self.model.features_and_logits(images)
            gt_targets = [_library()[1].ClassifierOutputTarget(int(label)) for label in labels]
            finer_targets = finer_weighted_targets(logits.detach(), labels)
            gradients = {"gt": _gradient(features, logits, gt_targets)} if self._gt_gradients_needed() else {}
            if "finercam" in self.names:
                gradients["finer"] = _gradient(features, logits, finer_targets)
        activations = features.detach().float().cpu().numpy()
        maps = {}
        for name, cam in self.cams.items():
            targets, grads = (finer_targets, gradients.get("finer")) if name == "finercam" else \
                (gt_targets, gradients.get("gt"))
            # Score-CAM draws a progress bar per image. EigenCAM's small SVDs run ten times slower
            # with BLAS threads competing with torch's than on one thread.
            with contextlib.redirect_stderr(io.StringIO()), threadpool_limits(limits=1, user_api="blas"):
                raw = cam.get_cam_image(images, self.model.cam_layer, targets, activations, grads, False)
            maps[name] = np.maximum(raw, 0).astype(np.float64)
        return maps

    def _gt_gradients_needed(self):
        return any(by_name(name).needs == "gradients" and name != "finercam" for name in self.names)


def finer_weighted_targets(logits, labels):
    """FinerCAM's target per image: the GT logit against the classes whose logits are nearest to it."""
    distance = (logits - logits.gather(1, labels[:, None])).abs()
    distance.scatter_(1, labels[:, None], -1.0)  # the GT class itself first, so it is never compared
    nearest = distance.argsort(dim=1).cpu().numpy()
    comparisons = [i for i in FINER_COMPARISONS if i < logits.shape[1]]
    weighted_target = _library()[1].FinerWeightedTarget
    return [weighted_target(int(label), [int(row[i]) for i in comparisons], FINER_ALPHA)
            for label, row in zip(labels.tolist(), nearest)]


def _gradient(features, logits, targets):
    """d(sum over images of target(logits of the image)) / d(features), as a numpy array."""
    score = sum(target(image_logits) for target, image_logits in zip(targets, logits))
    (gradient,) = torch.autograd.grad(score, features, retain_graph=True)
    return gradient.float().cpu().numpy()
