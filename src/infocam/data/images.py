"""Reading a prepared dataset folder (see prepare.py) for training and evaluation."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from infocam.data.errors import DataFormatError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SPLITS = ("train", "val", "test", "fullsup")  # fullsup: CUB's train-fullsup (wsol2020 protocol), fullsup.py
SPLIT_COLUMNS = ["image_id", "path", "label", "width", "height"]
BOX_COLUMNS = ["image_id", "x0", "y0", "x1", "y1"]
PART_COLUMNS = ["image_id", "part", "x0", "y0", "x1", "y1"]


def _read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; prepare the dataset first")
    table = pd.read_csv(path, dtype={"image_id": str, "path": str, "name": str, "part": str})
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataFormatError(f"{path}: missing columns {', '.join(missing)} (expected {','.join(columns)})")
    return table


def load_split(prepared_dir: Path, split: str) -> pd.DataFrame:
    """The rows of <split>.csv: image_id, path, label, width, height."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}', expected one of: {', '.join(SPLITS)}")
    path = Path(prepared_dir) / f"{split}.csv"
    if split == "fullsup" and not path.is_file():
        raise FileNotFoundError(f"{path}: not found; this dataset was prepared without train-fullsup "
                                f"(a CUB-format dataset gets it when its protocols list wsol2020)")
    return _read_table(path, SPLIT_COLUMNS)


def load_boxes(prepared_dir: Path) -> dict[str, np.ndarray]:
    """image_id -> (n, 4) float array of x0, y0, x1, y1 boxes in original pixels."""
    table = _read_table(Path(prepared_dir) / "boxes.csv", BOX_COLUMNS)
    corners = table[BOX_COLUMNS[1:]].to_numpy(dtype=float)
    rows_by_id = table.groupby("image_id", sort=False).indices
    return {image_id: corners[rows] for image_id, rows in rows_by_id.items()}


def load_part_boxes(prepared_dir: Path, part: str = "head") -> dict[str, np.ndarray] | None:
    """image_id -> (n, 4) float array of the `part` boxes (x0, y0, x1, y1, inclusive, original pixels);
    None when the folder has no parts.csv (real data have no part boxes)."""
    path = Path(prepared_dir) / "parts.csv"
    if not path.is_file():
        return None
    table = _read_table(path, PART_COLUMNS)
    table = table[table["part"] == part]
    corners = table[PART_COLUMNS[2:]].to_numpy(dtype=float)
    rows_by_id = table.groupby("image_id", sort=False).indices
    return {image_id: corners[rows] for image_id, rows in rows_by_id.items()}


def load_classes(prepared_dir: Path) -> list[str]:
    """Class names indexed by label."""
    path = Path(prepared_dir) / "classes.csv"
    table = _read_table(path, ["label", "name"])
    if table["label"].tolist() != list(range(len(table))):
        raise DataFormatError(f"{path}: labels must be 0, 1, 2, ... in order")
    return table["name"].tolist()


def to_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB image as a (3, height, width) float tensor in [0, 1]: torchvision's ToTensor."""
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8))
    return pixels.permute(2, 0, 1).contiguous().to(torch.get_default_dtype()).div(255)


class EvalTransform:
    """Resize to (resize, resize) with PIL's bilinear filter, centre crop, to_tensor, ImageNet
    normalisation: torchvision's Compose of Resize, CenterCrop, ToTensor and Normalize value for
    value (tests/data/test_images.py). Our own so that a job need not import torchvision, which
    adds about 1.5 s to its start (benchmarks/README.md)."""

    def __init__(self, resize: int, crop: int):
        if not 0 < crop <= resize:
            raise ValueError(f"eval transform: expected 0 < crop <= resize, got resize={resize}, crop={crop}")
        self.resize, self.crop = resize, crop
        self.mean = torch.tensor(IMAGENET_MEAN).view(-1, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(-1, 1, 1)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        resized = image.resize((self.resize, self.resize), Image.BILINEAR)
        offset = int(round((self.resize - self.crop) / 2.0))
        cropped = resized.crop((offset, offset, offset + self.crop, offset + self.crop))
        return to_tensor(cropped).sub_(self.mean).div_(self.std)


def eval_transform(resize: int, crop: int) -> EvalTransform:
    """Resize to a square, centre crop, normalise with ImageNet statistics."""
    return EvalTransform(resize, crop)


class PreparedImages(Dataset):
    """Images of one split of a prepared folder; item i is (image tensor, label, i).

    Without a transform the image is only converted to a [0, 1] tensor. Evaluation reads
    images this way; training reads decoded.ResizedImages.
    """

    def __init__(self, prepared_dir: Path, split: str, transform=None):
        self.prepared_dir = Path(prepared_dir)
        self.table = load_split(self.prepared_dir, split)
        self.labels = self.table["label"].to_numpy(dtype=np.int64)
        self.transform = transform or to_tensor

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return self.transform(self._image(index)), int(self.labels[index]), index

    def _image(self, index: int) -> Image.Image:
        path = self.prepared_dir / self.table["path"].iat[index]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: image listed in the split table is missing") from None
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise DataFormatError(f"{path}: cannot decode ({err})") from None
        return rgb
