"""CUB's train-fullsup split (CUBV2) of the wsol2020 protocol, added to a prepared CUB folder.

train-fullsup is a second, small set of CUB images with one box each, on which the wsol2020
protocol chooses hyperparameters and checkpoints (docs/datasets.md#train-fullsup-cubv2). It
comes in two parts:

- the images: a tar of class folders (`001.Black_footed_Albatross/30107316117.jpg`), or a
  folder holding those class folders (or a folder whose one top folder holds them);
- the annotations: four files in the reference evaluator's metadata format, read with
  infocam.wsol.reference_format: image_ids.txt, image_sizes.txt, localization.txt (corners,
  one line per box) and class_labels.txt (`<id>,<class index>`, 0-based: class index k is
  CUB's class folder k + 1).

`add_fullsup` writes, into a prepared folder being built:

    images/fullsup/<class folder>/<name>.jpg  the images (moved out of the tar, or links)
    fullsup.csv                                image_id,path,label,width,height (test.csv's columns)
    fullsup_ids.csv                            image_id,source_id (the metadata's id of each image)
    boxes.csv                                  its boxes appended, clipped as CUB's (validate.fit_boxes)

Image ids are ID_OFFSET + the image's position in image_ids.txt (1000001, 1000002, ...):
integers, like CUB's own ids (1..11788), that can never collide with them.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

from infocam.data.archives import extract_archive, verify_md5
from infocam.data.errors import DataFormatError
from infocam.data.records import Box, ImageRecord, NativeDataset
from infocam.data.tables import BOX_COLUMNS, box_rows, write_csv
from infocam.data.validate import fit_boxes, measure_images
from infocam.io import file_md5
from infocam.wsol import reference_format

METADATA_NAMES = ("image_ids", "image_sizes", "localization", "class_labels")
FIELDS = {"image_ids": 1, "image_sizes": 3, "localization": 5, "class_labels": 2}  # per line
ID_OFFSET = 1_000_000
SPLIT_COLUMNS = ["image_id", "path", "label", "width", "height"]
IMAGES_FOLDER = "images/fullsup"


@dataclass(frozen=True)
class FullsupSource:
    """Where train-fullsup comes from: `images` a tar or a folder; `metadata` the folder of the
    four metadata files. `md5` (of a tar) and `metadata_md5` (name -> md5) are checked when given."""

    images: Path
    metadata: Path
    md5: str | None = None
    metadata_md5: dict[str, str] | None = None


def metadata_path(folder: Path, name: str) -> Path:
    return Path(folder) / f"{name}.txt"


def add_fullsup(source: FullsupSource, classes: list[str], folder: Path) -> dict:
    """Add train-fullsup to the prepared folder `folder` (being built) whose labels are `classes`;
    return what source.json records of it."""
    images = Path(source.images)
    checksums = _check_metadata_md5(source)
    record = {**_images_record(images, source.md5), "metadata": str(source.metadata), "metadata_md5": checksums}
    sizes_file = metadata_path(source.metadata, "image_sizes")
    if images.is_dir():
        dataset = read_fullsup(source.metadata, _image_root(images, source.metadata), classes)
        record.update(_write_fullsup(dataset, sizes_file, folder, _link_image))
    else:
        extracted = folder / ".fullsup-extracted"
        extract_archive(images, extracted)
        dataset = read_fullsup(source.metadata, _image_root(extracted, source.metadata), classes)
        record.update(_write_fullsup(dataset, sizes_file, folder, _move_image))
        shutil.rmtree(extracted)
    return record


def _images_record(images: Path, md5: str | None) -> dict:
    """The tar (md5 checked, or measured and said to be unchecked) or the extracted folder."""
    if images.is_dir():
        print(f"{images}: train-fullsup images read in place from a folder: no checksum")
        return {"extracted": str(images), "md5": None, "md5_checked": False}
    if not images.is_file():
        raise FileNotFoundError(f"{images}: no such train-fullsup archive or folder")
    if md5:
        verify_md5(images, md5)
        return {"archive": str(images), "md5": md5.strip().lower(), "md5_checked": True}
    actual = file_md5(images)
    print(f"{images}: no md5 given, so no checksum was checked; its md5 is {actual} (recorded in source.json)")
    return {"archive": str(images), "md5": actual, "md5_checked": False}


def _check_metadata_md5(source: FullsupSource) -> dict[str, str]:
    """md5 of each metadata file, checked against source.metadata_md5 where it names one."""
    wanted = source.metadata_md5 or {}
    unknown = sorted(set(wanted) - set(METADATA_NAMES))
    if unknown:
        raise ValueError(f"unknown train-fullsup metadata file(s) {', '.join(unknown)} "
                         f"(known: {', '.join(METADATA_NAMES)})")
    checksums = {}
    for name in METADATA_NAMES:
        path = metadata_path(source.metadata, name)
        if not path.is_file():
            raise DataFormatError(f"{path}: missing (train-fullsup metadata)")
        if name in wanted:
            verify_md5(path, wanted[name])
        checksums[name] = file_md5(path)
    return checksums


def _image_root(top: Path, metadata: Path) -> Path:
    """The folder the metadata's ids are relative to: `top` itself or one of its top folders."""
    ids_file = metadata_path(metadata, "image_ids")
    first = next(iter(_read(reference_format.read_image_ids, ids_file)), None)
    if first is None:
        raise DataFormatError(f"{ids_file}: no image ids")
    for candidate in [top] + sorted(path for path in top.iterdir() if path.is_dir()):
        if (candidate / first).is_file():
            return candidate
    raise DataFormatError(f"{ids_file}:1: image '{first}' is neither in {top} nor in one of its top folders")


def _read(reader, *args):
    """A reference_format reader's result; its ValueError (file:line) becomes a DataFormatError."""
    try:
        return reader(*args)
    except DataFormatError:
        raise
    except ValueError as err:
        raise DataFormatError(str(err)) from None


def read_fullsup(metadata: Path, image_root: Path, classes: list[str]) -> NativeDataset:
    """The metadata as a NativeDataset of prepared ids and `classes`' labels, every file cross-checked.

    Image sizes are not set on the records: `check_sizes` compares them with the decoded images
    so that a wrong one is named by its image_sizes.txt line.
    """
    files = {name: metadata_path(metadata, name) for name in METADATA_NAMES}
    ids = _read(reference_format.read_image_ids, files["image_ids"])
    sizes = _read(reference_format.read_reference_image_sizes, files["image_sizes"])
    boxes = _read(reference_format.read_reference_boxes, files["localization"], sizes)
    labels = _read(reference_format.read_reference_class_labels, files["class_labels"])
    listed = _first_lines(files["image_ids"], 1)
    for name, table in [("image_sizes", sizes), ("localization", boxes), ("class_labels", labels)]:
        _check_same_ids(listed, table, files[name], FIELDS[name], files["image_ids"])
    prepared_id = {source_id: str(ID_OFFSET + position) for position, source_id in enumerate(ids, start=1)}
    label_lines = _first_lines(files["class_labels"], FIELDS["class_labels"])
    images = [
        ImageRecord(
            image_id=prepared_id[source_id],
            path=source_id,
            label=_label(source_id, labels[source_id], classes, f"{files['class_labels']}:{label_lines[source_id]}"),
            held_out=True,
            order=position,
            where=f"{files['image_ids']}:{listed[source_id]}",
        )
        for position, source_id in enumerate(ids, start=1)
    ]
    box_lines = _read(reference_format.id_lines, files["localization"], FIELDS["localization"])
    box_records = [
        Box(prepared_id[source_id], *corners, where=f"{files['localization']}:{line}")
        for source_id in ids
        for corners, line in zip(boxes[source_id], box_lines[source_id])
    ]
    return NativeDataset(image_root=image_root, classes=classes, images=images, boxes=box_records,
                         part_names=("train", "fullsup"))


def _first_lines(path: Path, n_fields: int) -> dict[str, int]:
    return {image_id: lines[0] for image_id, lines in _read(reference_format.id_lines, path, n_fields).items()}


def _check_same_ids(listed: dict[str, int], table: dict, path: Path, n_fields: int, ids_file: Path) -> None:
    """Every listed image has an entry in `table`, and `table` names listed images only."""
    for image_id, line in listed.items():
        if image_id not in table:
            raise DataFormatError(f"{path}: no line for image '{image_id}' (listed at {ids_file}:{line})")
    extra = next((image_id for image_id in table if image_id not in listed), None)
    if extra is not None:
        line = _first_lines(path, n_fields)[extra]
        raise DataFormatError(f"{path}:{line}: image '{extra}' is not listed in {ids_file}")


def _label(source_id: str, index: int, classes: list[str], where: str) -> int:
    """The prepared label of class index `index`: the same number, checked against the class folder
    the image sits in (class index k is CUB's class k + 1, classes.csv's label k)."""
    if index >= len(classes):
        raise DataFormatError(f"{where}: class index {index} is not a class of the prepared dataset "
                              f"(labels 0..{len(classes) - 1} in classes.csv)")
    folder = source_id.split("/")[0] if "/" in source_id else None
    if folder is not None and folder != classes[index]:
        raise DataFormatError(f"{where}: class index {index} is '{classes[index]}', "
                              f"but image '{source_id}' is in folder '{folder}'")
    return index


def check_sizes(dataset: NativeDataset, measured: dict[str, tuple[int, int]], sizes_file: Path) -> None:
    """Each image's image_sizes.txt entry must be the size of the decoded image."""
    recorded = _read(reference_format.read_reference_image_sizes, sizes_file)
    lines = _first_lines(sizes_file, FIELDS["image_sizes"])
    for record in dataset.images:
        found, wanted = measured[record.image_id], recorded[record.path]
        if found != wanted:
            raise DataFormatError(f"{sizes_file}:{lines[record.path]}: image '{record.path}' is "
                                  f"{found[0]}x{found[1]}, not {wanted[0]}x{wanted[1]}")


def _write_fullsup(dataset: NativeDataset, sizes_file: Path, folder: Path, place) -> dict:
    """Check the images, place them under images/fullsup/ and write the tables; return the counts."""
    measured = measure_images(dataset)
    check_sizes(dataset, measured, sizes_file)
    boxes, box_counts = fit_boxes(dataset, measured)
    print(f"train-fullsup: {len(dataset.images)} images, {box_counts['clipped']} of {box_counts['boxes']} boxes "
          f"clipped to the image ({box_counts['past_edge']} ended past its edge)")
    for record in dataset.images:
        place(dataset.image_root / record.path, folder / IMAGES_FOLDER / record.path)
    rows = [[record.image_id, f"{IMAGES_FOLDER}/{record.path}", record.label, *measured[record.image_id]]
            for record in dataset.images]
    write_csv(folder / "fullsup.csv", SPLIT_COLUMNS, rows)
    write_csv(folder / "fullsup_ids.csv", ["image_id", "source_id"],
              [[record.image_id, record.path] for record in dataset.images])
    write_csv(folder / "boxes.csv", BOX_COLUMNS, box_rows(boxes), append=True)
    first, last = dataset.images[0].image_id, dataset.images[-1].image_id
    return {"n_images": len(dataset.images), "image_ids": f"{first}..{last}", "box_counts": box_counts}


def _move_image(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source.rename(target)


def _link_image(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve())

