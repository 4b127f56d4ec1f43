"""Reader for the Tiny-ImageNet-200 annotation format.

wnids.txt lists the classes (label = line order); words.txt maps `wnid<TAB>name`;
train/<wnid>/<wnid>_boxes.txt has `file x0 y0 x1 y1` for train/<wnid>/images/<file>;
val/val_annotations.txt has `file wnid x0 y0 x1 y1` for val/images/<file>.
Boxes in both files are corners already (the authors' loader misread them as x, y, w, h).
test/ has no labels and is not read. Every image is 64x64.

When val/ holds exactly the official 10,000 val images, they are split into val and test as
the authors split them (splits.authors_tiny_split); other Tiny-format archives alternate.
"""

import re
from pathlib import Path

from infocam.data.errors import DataFormatError
from infocam.data.lines import annotation_lines, parse_int
from infocam.data.records import Box, ImageRecord, NativeDataset
from infocam.data.splits import AUTHORS_TINY_SPLIT, authors_tiny_split

TOP_FOLDER = "tiny-imagenet-200"
MARKER_FILE = "wnids.txt"
IMAGE_SIZE = 64
VAL_FILE = re.compile(r"val_(\d+)\.jpe?g", re.IGNORECASE)


def read_tiny(root: Path) -> NativeDataset:
    """Parse and cross-check the annotation files in a Tiny-ImageNet-200 folder."""
    wnids = _read_wnids(root / "wnids.txt", f"{root.name}/wnids.txt")
    classes = _read_class_names(root / "words.txt", f"{root.name}/words.txt", wnids)
    images, boxes = [], []
    for label, wnid in enumerate(wnids):
        _read_train_class(root, label, wnid, images, boxes)
    val_wnids = _read_val(root, wnids, images, boxes)
    halves = _authors_halves(val_wnids)
    return NativeDataset(
        image_root=root,
        classes=classes,
        images=images,
        boxes=boxes,
        part_names=("train", "val"),
        held_out_halves=halves,
        halves_source=None if halves is None else f"the authors' Tiny-ImageNet list ({AUTHORS_TINY_SPLIT})",
    )


def _authors_halves(val_wnids: dict[str, tuple[str, str]]) -> dict[str, str] | None:
    """file -> 'val' | 'test' from the authors' list when val/ holds the official val images
    (the same 10,000 file names), else None. A file whose wnid differs from the list's fails."""
    authors = authors_tiny_split()
    if set(val_wnids) != set(authors):
        return None
    for file_name, (wnid, where) in val_wnids.items():
        if wnid != authors[file_name][0]:
            raise DataFormatError(f"{where}: {file_name} has wnid {wnid}, the official val set "
                                  f"(the authors' split) gives {authors[file_name][0]}")
    return {file_name: part for file_name, (_, part) in authors.items()}


def _read_wnids(path: Path, name: str) -> list[str]:
    wnids, seen = [], {}
    for where, (wnid,) in annotation_lines(path, name, 1):
        if wnid in seen:
            raise DataFormatError(f"{where}: wnid {wnid} repeats {seen[wnid]}")
        seen[wnid] = where
        wnids.append(wnid)
    if not wnids:
        raise DataFormatError(f"{name}: no classes listed")
    return wnids


def _read_class_names(path: Path, name: str, wnids: list[str]) -> list[str]:
    """Names of the listed wnids from words.txt (which covers many more wnids)."""
    wanted = set(wnids)
    names = {}
    for _, (wnid, words) in annotation_lines(path, name, 2, sep="\t"):
        if wnid in wanted:
            names[wnid] = words.strip()
    missing = [wnid for wnid in wnids if wnid not in names]
    if missing:
        raise DataFormatError(f"{name}: no name for wnid {missing[0]} ({len(missing)} wnids missing)")
    return [names[wnid] for wnid in wnids]


def _read_train_class(root: Path, label: int, wnid: str, images: list, boxes: list) -> None:
    name = f"{root.name}/train/{wnid}/{wnid}_boxes.txt"
    file_pattern = re.compile(rf"{re.escape(wnid)}_(\d+)\.jpe?g", re.IGNORECASE)
    listed = set()
    for where, fields in annotation_lines(root / "train" / wnid / f"{wnid}_boxes.txt", name, 5):
        file_name = fields[0]
        match = file_pattern.fullmatch(file_name)
        if not match:
            raise DataFormatError(f"{where}: file name '{file_name}' is not {wnid}_<number>.JPEG")
        if file_name not in listed:
            listed.add(file_name)
            images.append(_record(file_name, f"train/{wnid}/images/{file_name}", label, False, match, where))
        boxes.append(_box(file_name, fields[1:], where))
    _check_folder_is_listed(root, f"train/{wnid}/images", listed, name)


def _read_val(root: Path, wnids: list[str], images: list, boxes: list) -> dict[str, tuple[str, str]]:
    """Add val/'s images and boxes; return file -> (wnid, where) of every val image."""
    name = f"{root.name}/val/val_annotations.txt"
    labels = {wnid: label for label, wnid in enumerate(wnids)}
    first_label, val_wnids = {}, {}
    for where, fields in annotation_lines(root / "val" / "val_annotations.txt", name, 6):
        file_name, wnid = fields[0], fields[1]
        match = VAL_FILE.fullmatch(file_name)
        if not match:
            raise DataFormatError(f"{where}: file name '{file_name}' is not val_<number>.JPEG")
        if wnid not in labels:
            raise DataFormatError(f"{where}: wnid {wnid} is not in wnids.txt")
        if file_name not in first_label:
            first_label[file_name] = (labels[wnid], where)
            val_wnids[file_name] = (wnid, where)
            images.append(_record(file_name, f"val/images/{file_name}", labels[wnid], True, match, where))
        elif first_label[file_name][0] != labels[wnid]:
            earlier = first_label[file_name][1]
            raise DataFormatError(f"{where}: {file_name} has wnid {wnid}, but {earlier} gives another")
        boxes.append(_box(file_name, fields[2:], where))
    _check_folder_is_listed(root, "val/images", set(first_label), name)
    return val_wnids


def _record(file_name: str, path: str, label: int, held_out: bool, match: re.Match, where: str) -> ImageRecord:
    return ImageRecord(
        image_id=file_name,
        path=path,
        label=label,
        held_out=held_out,
        order=int(match.group(1)),
        where=where,
        size=(IMAGE_SIZE, IMAGE_SIZE),
    )


def _box(file_name: str, corners: list[str], where: str) -> Box:
    x0, y0, x1, y1 = (parse_int(text, where, what) for text, what in zip(corners, ("x0", "y0", "x1", "y1")))
    return Box(file_name, x0, y0, x1, y1, where)


def _check_folder_is_listed(root: Path, folder: str, listed: set[str], annotation_name: str) -> None:
    """Every image in the folder must have an annotation line: an unlisted one means a broken archive."""
    directory = root / folder
    if not directory.is_dir():
        return  # the listed images are reported missing by validation
    for path in sorted(directory.iterdir()):
        if path.name not in listed:
            raise DataFormatError(f"{root.name}/{folder}/{path.name}: not listed in {annotation_name}")
