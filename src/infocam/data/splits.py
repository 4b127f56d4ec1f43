"""The train / val / test split (docs/reference.md).

train is the official training part. The official held-out part (CUB's test list,
Tiny-ImageNet's val/) is split into val (checkpoint selection) and test (reported):

- by default per class in id order, alternating: the 1st, 3rd, ... image of each class go
  to val, the 2nd, 4th, ... to test. For CUB-200-2011 this gives the authors' own lists.
- for the official Tiny-ImageNet val images, the authors' own partition, shipped as
  resources/tiny_imagenet_split.csv (file,wnid,part): their order within a class follows no
  file name, so no rule reproduces it (docs/datasets.md says where the list comes from).
"""

import csv
import hashlib
import io
from collections import defaultdict
from importlib import resources

from infocam.data.errors import DataFormatError
from infocam.data.records import ImageRecord

ALTERNATING = "alternating per class in id order"
AUTHORS_TINY_SPLIT = "tiny_imagenet_split.csv"
AUTHORS_TINY_SPLIT_MD5 = "af3b1433d57a1f637c6d7d079a973a2e"


def authors_tiny_split() -> dict[str, tuple[str, str]]:
    """file name -> (wnid, 'val' | 'test') of the authors' partition of the 10,000 official
    Tiny-ImageNet val images; the shipped file's md5 is checked first."""
    resource = resources.files("infocam.data") / "resources" / AUTHORS_TINY_SPLIT
    data = resource.read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    if md5 != AUTHORS_TINY_SPLIT_MD5:
        raise DataFormatError(f"{resource}: md5 {md5}, expected {AUTHORS_TINY_SPLIT_MD5}; "
                              f"the package's copy of the authors' split is damaged, reinstall it")
    rows = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return {row["file"]: (row["wnid"], row["part"]) for row in rows}


def split_images(images: list[ImageRecord], assigned: dict[str, str] | None = None) -> dict[str, list[ImageRecord]]:
    """{"train", "val", "test"} -> records; val and test are sorted by id.

    `assigned` (image id -> 'val' | 'test') fixes the held-out images' halves; without it they
    alternate per class in id order.
    """
    held_out = [record for record in images if record.held_out]
    halves = _alternating(held_out) if assigned is None else _assigned(held_out, assigned)
    return {
        "train": [record for record in images if not record.held_out],
        "val": sorted(halves["val"], key=lambda record: record.order),
        "test": sorted(halves["test"], key=lambda record: record.order),
    }


def _alternating(held_out: list[ImageRecord]) -> dict[str, list[ImageRecord]]:
    by_class = defaultdict(list)
    for record in held_out:
        by_class[record.label].append(record)
    halves = {"val": [], "test": []}
    for records in by_class.values():
        in_id_order = sorted(records, key=lambda record: record.order)
        halves["val"].extend(in_id_order[0::2])
        halves["test"].extend(in_id_order[1::2])
    return halves


def _assigned(held_out: list[ImageRecord], assigned: dict[str, str]) -> dict[str, list[ImageRecord]]:
    halves = {"val": [], "test": []}
    for record in held_out:
        halves[assigned[record.image_id]].append(record)
    return halves
