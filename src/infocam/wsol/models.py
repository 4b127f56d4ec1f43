"""Classification backbones for CAM-style localisation: VGG16-GAP and ResNet50, with ADL.

Both networks end in global average pooling and one linear layer, so the class activation
map of class m is the fc weights of m applied to the last feature maps (see cam.py). A
width multiplier scales every channel count, so the same code builds the papers' networks
(width 1.0) and small ones that train on a CPU in minutes. ImageNet weights are read from
torchvision's cache directory and are never downloaded here.
"""

import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

IMAGENET_WEIGHTS_URL = "https://download.pytorch.org/models/"

# VGG16 configuration: conv output channels, "M" = 2x2 max-pool; pool5 is left out.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
VGG16_ADL_AFTER_POOLS = (3, 4)
RESNET50_BLOCKS = (3, 4, 6, 3)
RESNET50_ADL_AFTER = {"layer3": (0,), "layer4": (0, 2)}
OUTPUT_STRIDES = (16, 8)
CHANNEL_MULTIPLE = 8


def scaled_channels(channels: int, width: float) -> int:
    """Channel count times width, rounded to the nearest multiple of 8 and at least 8.

    Multiples of 8 keep tensor-core friendly shapes on GPUs; width 1.0 gives the original counts.
    """
    rounded = int(channels * width / CHANNEL_MULTIPLE + 0.5) * CHANNEL_MULTIPLE
    return max(CHANNEL_MULTIPLE, rounded)


class ADL(nn.Module):
    """Attention-based dropout layer (Choe & Shim, CVPR 2019); the identity in eval mode.

    In train mode one Bernoulli(drop_rate) draw per forward pass, from torch's CPU generator
    so that torch.manual_seed reproduces it, picks either the drop mask (zero where the channel
    mean reaches threshold x its per-sample spatial max) or the importance map
    (sigmoid of the channel mean); the input is multiplied by the chosen map.
    """

    def __init__(self, drop_rate: float = 0.75, threshold: float = 0.8):
        super().__init__()
        if not 0.0 <= drop_rate <= 1.0:
            raise ValueError(f"ADL drop_rate must be in [0, 1], got {drop_rate}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"ADL threshold must be in [0, 1], got {threshold}")
        self.drop_rate = drop_rate
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        attention = x.mean(dim=1, keepdim=True)
        if bool(torch.rand((), device="cpu") < self.drop_rate):
            peak = attention.amax(dim=(2, 3), keepdim=True)
            chosen = (attention < self.threshold * peak).to(x.dtype)
        else:
            chosen = torch.sigmoid(attention)
        return x * chosen

    def extra_repr(self) -> str:
        return f"drop_rate={self.drop_rate}, threshold={self.threshold}"


class GAPClassifier(nn.Module):
    """Shared head: last feature maps -> global average pooling -> fc.

    Subclasses define self.fc, feature_maps(x) and classifier_parameters().
    """

    imagenet_weights: dict | None = None  # what build_model(pretrained=True) loaded: file, tensors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The last conv activations (B, K, h, w) and the logits (B, M), from one forward pass."""
        feature_maps = self.feature_maps(x)
        logits = self.fc(feature_maps.mean(dim=(2, 3)))
        return feature_maps, logits

    @property
    def classifier(self) -> nn.Linear:
        """The final linear layer; its weight (M x K) turns feature maps into class maps."""
        return self.fc

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(backbone, classifier) parameters; the papers train the classifier group at lr x10."""
        classifier_ids = {id(p) for p in self.classifier_parameters()}
        backbone = [p for p in self.parameters() if id(p) not in classifier_ids]
        return backbone, list(self.classifier_parameters())

    def classifier_parameter_names(self) -> list[str]:
        """Names of the classifier group's parameters, in state-dict order."""
        classifier_ids = {id(p) for p in self.classifier_parameters()}
        return [name for name, p in self.named_parameters() if id(p) in classifier_ids]


class VGG16GAP(GAPClassifier):
    """VGG16's 13 conv layers without pool5, conv6 (3x3, 512->1024) + ReLU, GAP, fc.

    self.features has torchvision's vgg16 layout (indices 0-29), so its ImageNet conv weights
    load by name. ADL, when on, follows pool3, pool4 and conv5_3's ReLU; it holds no
    parameters and lives in self.adl, keyed by the features index it follows, so the state
    dict is the same with and without ADL. Output stride 16, or 8 with pool4 an identity (the
    same layout and weights, class maps twice as fine).
    """

    def __init__(self, num_classes: int, width: float = 1.0, adl: bool = False,
                 adl_drop_rate: float = 0.75, adl_threshold: float = 0.8, output_stride: int = 16):
        super().__init__()
        self.features, channels, adl_positions = self._make_features(width)
        if output_stride == 8:
            pool4 = adl_positions[1]
            self.features[pool4] = nn.Identity()
        conv6_channels = scaled_channels(1024, width)
        self.conv6 = nn.Sequential(nn.Conv2d(channels, conv6_channels, 3, padding=1), nn.ReLU(inplace=True))
        self.fc = nn.Linear(conv6_channels, num_classes)
        self.adl = nn.ModuleDict()
        if adl:
            for position in adl_positions:
                self.adl[str(position)] = ADL(adl_drop_rate, adl_threshold)
        self._initialise()

    @staticmethod
    def _make_features(width: float) -> tuple[nn.Sequential, int, list[int]]:
        """The conv trunk, its output channels, and the indices ADL follows (pool3, pool4, conv5_3 ReLU)."""
        layers, in_channels, pools, adl_positions = [], 3, 0, []
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
                pools += 1
                if pools in VGG16_ADL_AFTER_POOLS:
                    adl_positions.append(len(layers) - 1)
                continue
            out_channels = scaled_channels(item, width)
            layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = out_channels
        adl_positions.append(len(layers) - 1)
        return nn.Sequential(*layers), in_channels, adl_positions

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.features):
            x = layer(x)
            if str(index) in self.adl:
                x = self.adl[str(index)](x)
        return self.conv6(x)

    @property
    def cam_layer(self) -> nn.Module:
        """The module whose output is the feature maps (conv6 with its ReLU)."""
        return self.conv6

    def classifier_parameters(self) -> list[nn.Parameter]:
        return [*self.conv6.parameters(), *self.fc.parameters()]


class Bottleneck(nn.Module):
    """ResNet's bottleneck block, 1x1 -> 3x3 (stride) -> 1x1 convolutions with batch norm and a
    residual, with torchvision's module names and construction order, so that state dicts and
    seeded initial weights are torchvision's (tests/wsol/test_models.py). Our own so that a job
    need not import torchvision, which adds about 1.5 s to its start."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class ResNet50GAP(GAPClassifier):
    """torchvision-layout Bottleneck ResNet50 with layer4 at stride 1 (output stride 16), GAP, fc.

    Output stride 8 puts layer3 at stride 1 too (the same weights, class maps twice as fine).

    Module names match torchvision's resnet50, so its state dict loads at width 1. ADL, when on,
    follows layer3 block 0 and layer4 blocks 0 and 2; it holds no parameters and lives in
    self.adl so that it does not shift the block indices.
    """

    def __init__(self, num_classes: int, width: float = 1.0, adl: bool = False,
                 adl_drop_rate: float = 0.75, adl_threshold: float = 0.9, output_stride: int = 16):
        super().__init__()
        strides = (1, 2, 2, 1) if output_stride == 16 else (1, 2, 1, 1)
        stem_channels = scaled_channels(64, width)
        self.conv1 = nn.Conv2d(3, stem_channels, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = stem_channels
        for index, (blocks, stride) in enumerate(zip(RESNET50_BLOCKS, strides)):
            planes = scaled_channels(64 * 2**index, width)
            layer, in_channels = self._make_layer(in_channels, planes, blocks, stride)
            setattr(self, f"layer{index + 1}", layer)
        self.fc = nn.Linear(in_channels, num_classes)
        self.adl = nn.ModuleDict()
        if adl:
            for layer_name, block_indices in RESNET50_ADL_AFTER.items():
                for block_index in block_indices:
                    self.adl[f"{layer_name}_{block_index}"] = ADL(adl_drop_rate, adl_threshold)
        self._initialise()

    @staticmethod
    def _make_layer(in_channels: int, planes: int, blocks: int, stride: int) -> tuple[nn.Sequential, int]:
        out_channels = planes * Bottleneck.expansion
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(out_channels))
        layers = [Bottleneck(in_channels, planes, stride, downsample)]
        layers += [Bottleneck(out_channels, planes) for _ in range(blocks - 1)]
        return nn.Sequential(*layers), out_channels

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for layer_name in ("layer1", "layer2", "layer3", "layer4"):
            for block_index, block in enumerate(getattr(self, layer_name)):
                x = block(x)
                adl_key = f"{layer_name}_{block_index}"
                if adl_key in self.adl:
                    x = self.adl[adl_key](x)
        return x

    @property
    def cam_layer(self) -> nn.Module:
        """The module whose output is the feature maps in eval mode (ADL after it is then the identity)."""
        return self.layer4[-1]

    def classifier_parameters(self) -> list[nn.Parameter]:
        return [*self.layer4.parameters(), *self.fc.parameters()]


def build_model(backbone: str, num_classes: int, *, width: float = 1.0, adl: bool = False,
                adl_drop_rate: float = 0.75, adl_threshold: float | None = None,
                pretrained: bool = False, output_stride: int = 16) -> GAPClassifier:
    """Build VGG16-GAP or ResNet50 (GAP + fc) for num_classes, optionally with ADL and ImageNet weights.

    adl_threshold None means the backbone's default (0.8 for VGG16, 0.9 for ResNet50).
    output_stride 16 is the papers' networks; 8 gives class maps twice as fine from the same weights.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
    spec = BACKBONES[backbone]
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    if pretrained and width != 1.0:
        raise ValueError(f"pretrained weights need width 1.0, got width {width}")
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be one of {', '.join(map(str, OUTPUT_STRIDES))}, got {output_stride!r}")
    threshold = spec.adl_threshold if adl_threshold is None else adl_threshold
    model = spec.network(num_classes, width, adl, adl_drop_rate, threshold, output_stride)
    if pretrained:
        model.imagenet_weights = load_imagenet_weights(model, backbone)
    return model


def imagenet_weights_path(backbone: str) -> str:
    """Where torchvision caches the ImageNet weights of backbone ($TORCH_HOME/hub/checkpoints/<file>)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", BACKBONES[backbone].imagenet_file)


def load_imagenet_weights(model: GAPClassifier, backbone: str) -> dict:
    """Copy torchvision's ImageNet weights into model: VGG16's 13 convs, or all of ResNet50 but fc.

    Returns what was loaded: {"file": path, "tensors": number of tensors copied, "sha256_matches":
    whether the file's SHA-256 starts with the digits torchvision names it by}. A file that does
    not match still loads (a local copy may be re-saved), with a warning naming it.
    """
    path = imagenet_weights_path(backbone)
    if not os.path.isfile(path):
        file_name = os.path.basename(path)
        raise FileNotFoundError(
            f"ImageNet weights {file_name} not found: put {BACKBONES[backbone].imagenet_url} "
            f"into {os.path.dirname(path)} (the directory follows $TORCH_HOME)")
    state = _read_state_dict(path)
    tensors = BACKBONES[backbone].load_imagenet(model, state, path)
    matches = sha256_matches_name(path)
    if not matches:
        print(f"warning: {path}: its SHA-256 does not start with {BACKBONES[backbone].imagenet_sha256_prefix}, "
              f"the digits torchvision's file is named by; not the published weights", file=sys.stderr)
    return {"file": path, "tensors": tensors, "sha256_matches": matches}


def sha256_matches_name(path: str) -> bool:
    """Whether the file's SHA-256 starts with the hex digits after the last '-' of its name, as
    torchvision names its weight files (vgg16-397923af.pth)."""
    prefix = os.path.basename(path).rsplit(".", 1)[0].rsplit("-", 1)[-1]
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest().startswith(prefix)


def _read_state_dict(path: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file can fail in the zip reader or the unpickler, many types
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path}: not a readable PyTorch weights file ({reason}); fetch it again") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def _load_vgg16_convs(model: VGG16GAP, state: dict, path: str) -> int:
    convs = {key.removeprefix("features."): value for key, value in state.items() if key.startswith("features.")}
    _check_state(model.features.state_dict(), convs, path, "a torchvision vgg16 'features' state dict")
    model.features.load_state_dict(convs)
    return len(convs)


def _load_resnet50_trunk(model: ResNet50GAP, state: dict, path: str) -> int:
    return load_all_but_fc(model, state, path, "a torchvision resnet50 state dict")


def load_all_but_fc(model: GAPClassifier, state: dict, path: str, what: str) -> int:
    """Copy every weight of `state` but the fc layer's into model (same keys and shapes, else a
    one-line ValueError saying the file is not `what`); return the number of tensors copied."""
    own = {key: value for key, value in model.state_dict().items() if not key.startswith("fc.")}
    trunk = {key: value for key, value in state.items() if not key.startswith("fc.")}
    _check_state(own, trunk, path, what)
    model.load_state_dict(trunk, strict=False)
    return len(trunk)


@dataclass(frozen=True)
class Backbone:
    """One backbone: its network, default ADL threshold, and torchvision's ImageNet weight file
    (under IMAGENET_WEIGHTS_URL, named by the first hex digits of its SHA-256) with the function
    that copies it in. Inputs are normalised with ImageNet's mean and std for every backbone
    (infocam.data.images.IMAGENET_MEAN, IMAGENET_STD)."""

    network: type
    adl_threshold: float
    imagenet_file: str
    load_imagenet: Callable[[GAPClassifier, dict, str], int]

    @property
    def imagenet_url(self) -> str:
        return IMAGENET_WEIGHTS_URL + self.imagenet_file

    @property
    def imagenet_sha256_prefix(self) -> str:
        return self.imagenet_file.rsplit(".", 1)[0].rsplit("-", 1)[-1]


BACKBONES = {
    "vgg16": Backbone(VGG16GAP, 0.8, "vgg16-397923af.pth", _load_vgg16_convs),
    "resnet50": Backbone(ResNet50GAP, 0.9, "resnet50-0676ba61.pth", _load_resnet50_trunk),
}


def _check_state(own: dict, loaded: dict, path: str, what: str) -> None:
    """Raise a one-line ValueError unless loaded has own's keys and shapes."""
    # Older torchvision files carry no BatchNorm num_batches_tracked; load_state_dict fills it in.
    missing = sorted(key for key in set(own) - set(loaded) if not key.endswith("num_batches_tracked"))
    unexpected = sorted(set(loaded) - set(own))
    if missing or unexpected:
        raise ValueError(f"{path}: not {what} (missing e.g. {missing[:3]}, unexpected e.g. {unexpected[:3]})")
    for key, value in loaded.items():
        if value.shape != own[key].shape:
            raise ValueError(f"{path}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}")
