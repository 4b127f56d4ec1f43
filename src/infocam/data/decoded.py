"""Training images as uint8 tensors at the Resize size: decoded from the JPEGs, or read from a cache.

The cache (rule decode_images) holds one memory-mapped `<split>.npy` of shape (n, resize,
resize, 3) per split that training reads (train, val), written once per prepared dataset, and
`cache.json`, which ties it to the prepared folder's manifest and the resize. Both sources give
the same bytes: PIL decoding and PIL's bilinear Resize, as torchvision's Resize does on PIL
images. Cropping, flipping and normalising happen on whole batches (augment_batch), on the
device that trains, so whichever source is used, the same seed gives the same batches.
"""

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from infocam.data.errors import DataFormatError
from infocam.data.images import IMAGENET_MEAN, IMAGENET_STD, load_split
from infocam.data.prepare import MANIFEST
from infocam.io import atomic_folder, file_md5

CACHED_SPLITS = ("train", "val")
CACHE_RECORD = "cache.json"


def decode_resized(path: Path, resize: int) -> np.ndarray:
    """(resize, resize, 3) uint8 RGB of an image file; a missing or undecodable file is one line naming it."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((resize, resize), Image.BILINEAR)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: image listed in the split table is missing") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataFormatError(f"{path}: cannot decode ({err})") from None
    return np.array(rgb)  # a writable copy, as torch.from_numpy wants


def write_decoded_cache(prepared_dir: Path, resize: int, out_dir: Path) -> None:
    """Decode and resize every train and val image of a prepared folder into out_dir, atomically."""
    prepared_dir, out_dir = Path(prepared_dir), Path(out_dir)
    counts = {}
    with atomic_folder(out_dir) as partial:
        for split in CACHED_SPLITS:
            table = load_split(prepared_dir, split)
            images = np.lib.format.open_memmap(partial / f"{split}.npy", mode="w+", dtype=np.uint8,
                                               shape=(len(table), resize, resize, 3))
            for row, relative in enumerate(table["path"]):
                images[row] = decode_resized(prepared_dir / relative, resize)
            images.flush()
            del images
            counts[split] = len(table)
        record = {"prepared": str(prepared_dir), "manifest_md5": file_md5(prepared_dir / MANIFEST),
                  "resize": resize, "images": counts}
        (partial / CACHE_RECORD).write_text(json.dumps(record, indent=1) + "\n")


def check_decoded_cache(cache_dir: Path, prepared_dir: Path, resize: int) -> None:
    """Raise DataFormatError (one line naming the cache) unless it was made from this prepared folder at resize."""
    record_path = Path(cache_dir) / CACHE_RECORD
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path}: missing; build the decoded-image cache first (rule decode_images)")
    record = json.loads(record_path.read_text())
    if record["manifest_md5"] != file_md5(Path(prepared_dir) / MANIFEST):
        raise DataFormatError(f"{record_path}: made from another version of {prepared_dir}; remove "
                              f"{cache_dir} and rebuild it")
    if record["resize"] != resize:
        raise DataFormatError(f"{record_path}: images resized to {record['resize']}, training asks for {resize}; "
                              f"remove {cache_dir} and rebuild it")


class ResizedImages(Dataset):
    """One split as (uint8 tensor (3, resize, resize), label, index) items, from the JPEGs or the cache.

    The cache's memory map is opened on first use, in whichever process (loader worker) reads it.
    """

    def __init__(self, prepared_dir: Path, split: str, resize: int, cache_dir: Path | None = None):
        self.prepared_dir = Path(prepared_dir)
        self.table = load_split(self.prepared_dir, split)
        self.labels = self.table["label"].to_numpy(dtype=np.int64)
        self.resize = resize
        self.cache_path = Path(cache_dir) / f"{split}.npy" if cache_dir else None
        self._images = None

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return torch.from_numpy(self._pixels(index)).permute(2, 0, 1), int(self.labels[index]), index

    def _pixels(self, index: int) -> np.ndarray:
        if self.cache_path is None:
            return decode_resized(self.prepared_dir / self.table["path"].iat[index], self.resize)
        if self._images is None:
            self._images = np.load(self.cache_path, mmap_mode="r")
            if self._images.shape != (len(self.table), self.resize, self.resize, 3):
                raise DataFormatError(f"{self.cache_path}: shape {self._images.shape}, expected "
                                      f"{(len(self.table), self.resize, self.resize, 3)}; rebuild the cache")
        return np.array(self._images[index])


def draw_crops(batch_size: int, resize: int, crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crop corners (batch, 2: top, left) and horizontal-flip flags (batch,) for one training batch."""
    corners = torch.randint(0, resize - crop + 1, (batch_size, 2), generator=generator)
    flips = torch.rand(batch_size, generator=generator) < 0.5
    return corners, flips


def augment_batch(images: torch.Tensor, crop: int, corners: torch.Tensor | None = None,
                  flips: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 (B, 3, R, R) -> normalised float (B, 3, crop, crop) on the images' device.

    With corners and flips (draw_crops): those crops, mirrored where flipped (training). Without:
    the centre crop (evaluation), as torchvision's CenterCrop places it.
    """
    height, width = images.shape[-2:]
    if corners is None:
        top, left = int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0))
        cropped = images[:, :, top:top + crop, left:left + crop]
    else:
        cropped = torch.empty((len(images), images.shape[1], crop, crop), dtype=images.dtype, device=images.device)
        for index, ((top, left), flip) in enumerate(zip(corners.tolist(), flips.tolist())):
            piece = images[index, :, top:top + crop, left:left + crop]
            cropped[index] = piece.flip(-1) if flip else piece
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (cropped.float() / 255.0 - mean) / std
