"""infoCAM and infoCAM+ on any network whose head is global average pooling then one Linear layer.

InfoCAM and InfoCAMPlus are called the way pytorch-grad-cam's methods are:

    with InfoCAM(model, target_layers=[model.layer4[-1]], region=3) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])

and return float32 numpy maps (B, H, W) in [0, 1] at the input's size. The maps themselves come
from the pipeline's own infocam.wsol.cam.compute_cams, fed with the target layer's output (caught
by a forward hook) and the head's Linear weight.
"""

import numpy as np
import torch
from torch import nn
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from infocam.wsol.cam import compute_cams
from infocam.wsol.methods import GEOMETRIES

HEAD_RTOL = 1e-4
HEAD_ATOL = 1e-4  # scaled by the logits' largest magnitude (at least 1)


class _RegionCAM:
    """Shared machinery; subclasses name the compute_cams entry they return."""

    method: str

    def __init__(self, model: nn.Module, target_layers: list[nn.Module], region: int, geometry: str = "full",
                 fc_layer: nn.Linear | None = None):
        name = type(self).__name__
        if len(target_layers) != 1:
            raise ValueError(f"{name} supports exactly one target layer, got {len(target_layers)}")
        if not isinstance(region, int) or region < 1:
            raise ValueError(f"{name}: region must be an integer of at least 1, got {region!r}")
        if geometry not in GEOMETRIES:
            raise ValueError(f"{name}: geometry must be one of {', '.join(GEOMETRIES)}, got {geometry!r}")
        if fc_layer is not None and not isinstance(fc_layer, nn.Linear):
            raise ValueError(f"{name}: fc_layer must be an nn.Linear, got {type(fc_layer).__name__}")
        self.model = model.eval()
        self.target_layer = target_layers[0]
        self.region = region
        self.geometry = geometry
        self.fc_layer = fc_layer
        self.device = next(model.parameters()).device
        self._features = None
        self._hook = self.target_layer.register_forward_hook(self._keep_features)

    def _keep_features(self, module, inputs, output):
        self._features = output

    def __call__(self, input_tensor: torch.Tensor, targets: list | None = None) -> np.ndarray:
        """Maps (B, H, W), float32 in [0, 1], resized to input_tensor's (H, W); targets None: each image's top-1 class."""
        classes = None if targets is None else self._target_classes(targets)
        raw = self.raw_maps(input_tensor, classes)
        height, width = input_tensor.shape[-2:]
        return scale_cam_image(raw.cpu().numpy(), (width, height))

    @torch.no_grad()
    def raw_maps(self, input_tensor: torch.Tensor, classes=None) -> torch.Tensor:
        """The method's maps (B, h', w') before normalisation and resizing, on the model's device."""
        features, logits = self._features_and_logits(input_tensor.to(self.device))
        fc = self._head(features, logits)
        if classes is None:
            y = logits.argmax(dim=1)
        else:
            y = torch.as_tensor(classes, dtype=torch.long, device=logits.device).reshape(-1)
            if y.shape[0] != logits.shape[0]:
                raise ValueError(f"{len(y)} targets for a batch of {logits.shape[0]} images")
        return compute_cams(features, fc.weight, logits, y, self.region, self.geometry)[self.method]

    def _features_and_logits(self, input_tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._hook is None:
            raise RuntimeError(f"{type(self).__name__}'s forward hook was released; build a new one")
        self._features = None
        logits = self.model(input_tensor)
        features, self._features = self._features, None
        if features is None:
            raise ValueError(f"{type(self).__name__}: the target layer did not run in the model's forward pass")
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            raise ValueError(f"{type(self).__name__} needs a model that returns logits (B, classes), "
                             f"got {_describe(logits)}")
        if not isinstance(features, torch.Tensor) or features.dim() != 4:
            raise ValueError(f"{type(self).__name__} needs a target layer whose output is (B, K, h, w), "
                             f"got {_describe(features)}")
        return features, logits

    def _head(self, features: torch.Tensor, logits: torch.Tensor) -> nn.Linear:
        """The Linear layer that turns the target layer's pooled output into the logits, checked on this batch."""
        requirement = f"{type(self).__name__} needs global average pooling then one Linear layer after the target layer"
        channels = features.shape[1]
        fc = self.fc_layer if self.fc_layer is not None else _last_linear_with_inputs(self.model, channels)
        if fc is None:
            raise ValueError(f"{requirement}; found no Linear layer with in_features={channels} "
                             f"(the target layer's channel count)")
        if fc.in_features != channels or fc.out_features != logits.shape[1]:
            raise ValueError(f"{requirement}; found {fc} but the target layer has {channels} channels "
                             f"and the model gives {logits.shape[1]} logits")
        pooled_logits = fc(features.mean(dim=(2, 3)))
        tolerance = HEAD_ATOL * max(1.0, logits.abs().max().item())
        if not torch.allclose(pooled_logits, logits, rtol=HEAD_RTOL, atol=tolerance):
            difference = (pooled_logits - logits).abs().max().item()
            raise ValueError(f"{requirement}; found {fc} but the logits are not fc(mean of the target layer's "
                             f"output) (largest difference {difference:.3g})")
        return fc

    def _target_classes(self, targets: list) -> list[int]:
        for target in targets:
            if not isinstance(target, ClassifierOutputTarget):
                raise ValueError(f"{type(self).__name__} supports only ClassifierOutputTarget targets, "
                                 f"got {type(target).__name__}")
        return [int(target.category) for target in targets]

    def release(self) -> None:
        """Remove the forward hook from the target layer."""
        if getattr(self, "_hook", None) is not None:
            self._hook.remove()
            self._hook = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.release()

    def __del__(self):
        self.release()


class InfoCAM(_RegionCAM):
    """infoCAM: region sum (region x region) of the target class map minus the mean of the other classes' maps.

    geometry "full" (the authors'): a full convolution, a (h + region - 1)-sided map stretched to
    the input; "same": h x w, the box centred on each cell.
    """

    method = "infocam"


class InfoCAMPlus(_RegionCAM):
    """infoCAM+: region sum of the target class map minus the map of the class with the image's lowest logit."""

    method = "infocam_plus"


def _last_linear_with_inputs(model: nn.Module, in_features: int) -> nn.Linear | None:
    matches = [module for module in model.modules() if isinstance(module, nn.Linear) and module.in_features == in_features]
    return matches[-1] if matches else None


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__
