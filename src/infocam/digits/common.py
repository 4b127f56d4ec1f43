"""Digit data and small networks for the softmax paper's digit experiments.

- An offline MNIST-format source: scikit-learn's 1,797 bundled 8x8 handwritten digits,
  upsampled to 28x28 and written as the four gzipped MNIST IDX files, so the same
  `read_idx` reads them and the real files alike.
- Imbalanced splits (docs/reference.md): within an index range, keep the first `cap`
  examples of each class, the cap depending on the class's parity.
- Double-digit MNIST (infoCAM paper section 3.3): a 28x56 canvas with a left and a right
  slot, each holding a uniformly drawn digit with probability 0.7, empty canvases dropped,
  ten present/absent labels and a ground-truth box per placed digit.
- LeNet (with a plain or a DropMax head) and a small GAP network whose class maps are CAMs.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from infocam.data.mnist import read_idx, write_idx
from infocam.losses import DropMaxHead
from infocam.wsol.models import GAPClassifier

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
NUM_DIGITS = 10
SIDE = 28


# --- MNIST-format data ---


def upsample_digits(images, digit_side=20):
    """8x8 digits (values 0..16) -> uint8 28x28: resized to digit_side (INTER_LINEAR), centred, scaled to 0..255.

    MNIST centres each digit in a 20x20 box inside the 28x28 frame; we do the same.
    """
    images = np.asarray(images, dtype=np.float32)
    pad = (SIDE - digit_side) // 2
    out = np.zeros((len(images), SIDE, SIDE), dtype=np.uint8)
    for i, image in enumerate(images):
        resized = cv2.resize(image, (digit_side, digit_side), interpolation=cv2.INTER_LINEAR)
        out[i, pad:pad + digit_side, pad:pad + digit_side] = np.clip(resized * 255 / 16, 0, 255).round()
    return out


def write_offline_mnist(out_dir, train_count):
    """Write sklearn's digits as the four MNIST IDX files in out_dir: the first train_count
    (in sklearn's order) as the training file, the rest as t10k. Returns the paths."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    if not 0 < train_count < len(digits.target):
        raise ValueError(f"train_count: expected 1 .. {len(digits.target) - 1} (sklearn has "
                         f"{len(digits.target)} digits), got {train_count}")
    images, labels = upsample_digits(digits.images), digits.target.astype(np.uint8)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = {TRAIN_IMAGES: images[:train_count], TRAIN_LABELS: labels[:train_count],
             TEST_IMAGES: images[train_count:], TEST_LABELS: labels[train_count:]}
    for name, array in parts.items():
        write_idx(array, out_dir / name)
    return [out_dir / name for name in parts]


@dataclass(frozen=True)
class Mnist:
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def load_mnist(folder):
    """The four MNIST IDX files of folder, checked for matching lengths and 28x28 uint8 images."""
    folder = Path(folder)
    arrays = [read_idx(folder / name) for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)]
    for images_name, images, labels in ((TRAIN_IMAGES, arrays[0], arrays[1]), (TEST_IMAGES, arrays[2], arrays[3])):
        if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or images.dtype != np.uint8:
            raise ValueError(f"{folder / images_name}: expected uint8 images N x 28 x 28, "
                             f"got {images.dtype} {'x'.join(map(str, images.shape))}")
        if len(labels) != len(images) or labels.max(initial=0) >= NUM_DIGITS:
            raise ValueError(f"{folder / images_name}: {len(images)} images but {len(labels)} labels "
                             f"(expected one label 0..9 per image)")
    return Mnist(*arrays)


def parity_caps(even_cap, odd_cap, num_classes):
    """Per-class caps: even_cap for even classes, odd_cap for odd ones (None: keep all)."""
    unlimited = np.iinfo(np.int64).max
    return np.array([(even_cap if label % 2 == 0 else odd_cap) or unlimited for label in range(num_classes)])


def capped_indices(labels, caps, start=0, stop=None):
    """Indices in [start, stop) keeping the first caps[label] examples of each class, in index order."""
    labels = np.asarray(labels)
    stop = len(labels) if stop is None else stop
    if not 0 <= start < stop <= len(labels):
        raise ValueError(f"index range [{start}, {stop}) does not fit {len(labels)} examples")
    window = np.arange(start, stop)
    rank = np.zeros(len(window), dtype=np.int64)
    for label in np.unique(labels[window]):
        members = labels[window] == label
        rank[members] = np.arange(members.sum())
    return window[rank < caps[labels[window]]]


# --- Double-digit MNIST ---


@dataclass(frozen=True)
class DoubleDigits:
    images: np.ndarray   # (N, 28, 56) uint8
    digits: np.ndarray   # (N, 2) digit in the left / right slot, -1 where empty
    boxes: np.ndarray    # (N, 2, 4) x0, y0, x1, y1 (inclusive pixels) per slot, -1 where empty

    @property
    def labels(self):
        """(N, 10) multi-hot: digit d is present in the image."""
        multi_hot = np.zeros((len(self.digits), NUM_DIGITS), dtype=np.float32)
        for slot in range(2):
            filled = self.digits[:, slot] >= 0
            multi_hot[np.flatnonzero(filled), self.digits[filled, slot]] = 1
        return multi_hot


def make_double_digits(images, labels, count, seed, p_present=0.7):
    """count double-digit canvases from the pool (images, labels), seeded.

    Each slot holds a digit with probability p_present; the digit is uniform over 0..9 and
    the image a uniform draw among the pool's examples of it. Empty canvases are dropped
    (drawn again). A digit's box is the bounding box of its nonzero pixels on the canvas.
    """
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(labels == digit) for digit in range(NUM_DIGITS)]
    missing = [digit for digit, members in enumerate(by_digit) if len(members) == 0]
    if missing:
        raise ValueError(f"digit pool has no example of digit(s) {missing}")
    present = np.zeros((0, 2), dtype=bool)
    while len(present) < count:
        draw = rng.random((2 * count, 2)) < p_present
        present = np.concatenate([present, draw[draw.any(axis=1)]])
    present = present[:count]
    digits = np.where(present, rng.integers(0, NUM_DIGITS, size=(count, 2)), -1)
    canvas = np.zeros((count, SIDE, 2 * SIDE), dtype=np.uint8)
    boxes = np.full((count, 2, 4), -1, dtype=np.int64)
    for i, slot in zip(*np.nonzero(present)):
        digit_image = images[rng.choice(by_digit[digits[i, slot]])]
        canvas[i, :, slot * SIDE:(slot + 1) * SIDE] = digit_image
        rows, cols = np.nonzero(digit_image)
        boxes[i, slot] = (cols.min() + slot * SIDE, rows.min(), cols.max() + slot * SIDE, rows.max())
    return DoubleDigits(canvas, digits, boxes)


# --- Networks ---


def to_tensor(images):
    """uint8 images (N, H, W) or (N, H, W, C) -> float tensor (N, C, H, W) in [-0.5, 0.5], stored
    channels-last as the networks are trained: on one CPU thread their training steps take 10-20 % less
    time than with contiguous tensors (benchmarks/bench_memory_format.py)."""
    array = np.asarray(images, dtype=np.float32) / 255 - 0.5
    if array.ndim == 3:
        array = array[:, None]
    else:
        array = array.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(array)).contiguous(memory_format=torch.channels_last)


class LeNet(nn.Module):
    """Conv(C,20,5)-pool-Conv(20,50,5)-pool-FC(.,500)-FC(500,M) (FC(800,500) for 28x28 inputs).

    With dropmax=True the last layer is DropMax's three heads and forward returns their tuple.
    """

    def __init__(self, num_classes, in_channels=1, image_size=SIDE, dropmax=False):
        super().__init__()
        reduced = ((image_size - 4) // 2 - 4) // 2
        if reduced < 1:
            raise ValueError(f"LeNet needs images of at least 16 pixels, got {image_size}")
        self.trunk = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(50 * reduced * reduced, 500), nn.ReLU(),
        )
        self.head = DropMaxHead(500, num_classes) if dropmax else nn.Linear(500, num_classes)

    def forward(self, x):
        return self.head(self.trunk(x))


class DigitGAPNet(GAPClassifier):
    """Three 3x3 conv-BN-ReLU blocks (one 2x2 pool) -> GAP -> fc: (width*4, 14, 28) maps on a 28x56 canvas.

    One pool, not two: on 7x14 maps a digit's CAM box at tau = 0.2 spans the whole canvas height
    and localisation fell to a few percent; 14x28 maps (2x2-pixel cells) keep it tighter.

    Batch norm: without it the net stays at the label-prior loss for many epochs on this data.
    Its running statistics lag the fast-moving weights, so training ends with
    `recalibrate_batch_norm` (group norm instead learned too slowly here).
    """

    def __init__(self, num_labels=NUM_DIGITS, width=16):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_block(1, width), nn.MaxPool2d(2),
            *_conv_block(width, 2 * width),
            *_conv_block(2 * width, 4 * width),
        )
        self.fc = nn.Linear(4 * width, num_labels)

    def feature_maps(self, x):
        return self.features(x)

    def classifier_parameters(self):
        return self.fc.parameters()


def _conv_block(in_channels, out_channels):
    return nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU()


@torch.no_grad()
def recalibrate_batch_norm(model, x, batch_size=256):
    """Recompute every batch-norm layer's running statistics as exact averages over x (train mode, no
    weight update); returns the model in eval mode."""
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    model.train()
    for start in range(0, len(x), batch_size):
        model(x[start:start + batch_size])
    return model.eval()
