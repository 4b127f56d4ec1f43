"""The common in-memory form of a parsed dataset, shared by the native-format readers.

A reader (cub.py, tiny.py) turns a dataset's annotation files into a `NativeDataset`;
validation, splitting and writing the prepared layout then work on that form only.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageRecord:
    image_id: str  # the dataset's own id, as a string
    path: str  # posix path relative to NativeDataset.image_root
    label: int  # 0-based class index
    held_out: bool  # in the official held-out part (CUB test list, Tiny val/)
    order: int  # numeric id that orders images within a class for the split
    where: str  # "file:line" that lists the image, for error messages
    size: tuple[int, int] | None = None  # (width, height) where the format fixes one


@dataclass(frozen=True)
class Box:
    image_id: str
    x0: float
    y0: float
    x1: float
    y1: float
    where: str  # "file:line" the box was read from


@dataclass(frozen=True)
class NativeDataset:
    image_root: Path  # folder that ImageRecord.path is relative to
    classes: list[str]  # class names, indexed by label
    images: list[ImageRecord]
    boxes: list[Box]
    part_names: tuple[str, str]  # the format's own names for its training and held-out parts
    # image id -> 'val' | 'test' where the format fixes the held-out halves (the authors' list for
    # the official Tiny-ImageNet), with where that list comes from; None: alternate per class
    held_out_halves: dict[str, str] | None = None
    halves_source: str | None = None

    def counts(self) -> dict[str, int]:
        """Number of images, classes and images per native part, keyed as in `expected`."""
        held_out = sum(record.held_out for record in self.images)
        train_name, held_out_name = self.part_names
        return {
            "images": len(self.images),
            "classes": len(self.classes),
            train_name: len(self.images) - held_out,
            held_out_name: held_out,
        }
