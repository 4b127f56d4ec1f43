"""Reader for the CUB-200-2011 annotation format.

Files, all with 1-based numeric ids: images.txt (`id relpath`, relative to images/),
classes.txt (`class_id name`), image_class_labels.txt (`id class_id`),
train_test_split.txt (`id 1|0`, 1 = training image) and bounding_boxes.txt
(`id x y w h`, floats). Boxes are turned into corners x0=x, y0=y, x1=x+w, y1=y+h; once the
image sizes are known, validate.fit_boxes keeps x1, y1 inside the image (30 real boxes end past it).
"""

from pathlib import Path, PurePosixPath

from infocam.data.errors import DataFormatError
from infocam.data.lines import annotation_lines, parse_float, parse_int
from infocam.data.records import Box, ImageRecord, NativeDataset

TOP_FOLDER = "CUB_200_2011"
MARKER_FILE = "images.txt"


def read_cub(root: Path) -> NativeDataset:
    """Parse and cross-check the annotation files in a CUB-200-2011 folder."""

    def name(file_name: str) -> str:
        return f"{root.name}/{file_name}"

    classes = _read_classes(root / "classes.txt", name("classes.txt"))
    paths = _read_id_table(root / "images.txt", name("images.txt"), _relative_image_path)
    labels = _read_id_table(
        root / "image_class_labels.txt",
        name("image_class_labels.txt"),
        lambda text, where: _class_label(text, where, len(classes)),
    )
    flags = _read_id_table(root / "train_test_split.txt", name("train_test_split.txt"), _training_flag)
    boxes = _read_boxes(root / "bounding_boxes.txt", name("bounding_boxes.txt"))

    for table, table_name in [(labels, "image_class_labels.txt"), (flags, "train_test_split.txt")]:
        _check_same_ids(paths, table, name(table_name))
    _check_every_image_has_a_box(paths, boxes, name("bounding_boxes.txt"))

    images = [
        ImageRecord(
            image_id=str(image_id),
            path=path,
            label=labels[image_id][1],
            held_out=not flags[image_id][1],
            order=image_id,
            where=where,
        )
        for image_id, (where, path) in paths.items()
    ]
    return NativeDataset(
        image_root=root / "images",
        classes=classes,
        images=images,
        boxes=boxes,
        part_names=("train", "test"),
    )


def _read_classes(path: Path, name: str) -> list[str]:
    classes = []
    for where, (class_id, class_name) in annotation_lines(path, name, 2):
        expected_id = len(classes) + 1
        if parse_int(class_id, where, "class id") != expected_id:
            raise DataFormatError(f"{where}: class id {class_id} out of sequence, expected {expected_id}")
        classes.append(class_name)
    if not classes:
        raise DataFormatError(f"{name}: no classes listed")
    return classes


def _read_id_table(path: Path, name: str, parse_value) -> dict[int, tuple[str, object]]:
    """Map image id -> (where, parsed value) for a two-column `id value` file."""
    table = {}
    for where, (id_text, value_text) in annotation_lines(path, name, 2):
        image_id = parse_int(id_text, where, "image id")
        if image_id in table:
            raise DataFormatError(f"{where}: image id {image_id} repeats {table[image_id][0]}")
        table[image_id] = (where, parse_value(value_text, where))
    return table


def _relative_image_path(text: str, where: str) -> str:
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts:
        raise DataFormatError(f"{where}: image path '{text}' must be relative to images/ without '..'")
    return path.as_posix()


def _class_label(text: str, where: str, n_classes: int) -> int:
    class_id = parse_int(text, where, "class id")
    if not 1 <= class_id <= n_classes:
        raise DataFormatError(f"{where}: class id {class_id} outside 1..{n_classes}")
    return class_id - 1


def _training_flag(text: str, where: str) -> bool:
    if text not in ("0", "1"):
        raise DataFormatError(f"{where}: training flag must be 0 or 1, got '{text}'")
    return text == "1"


def _read_boxes(path: Path, name: str) -> list[Box]:
    boxes = []
    for where, fields in annotation_lines(path, name, 5):
        image_id = parse_int(fields[0], where, "image id")
        x, y, w, h = (parse_float(text, where, what) for text, what in zip(fields[1:], "xywh"))
        boxes.append(Box(str(image_id), x, y, x + w, y + h, where))
    return boxes


def _check_same_ids(paths: dict, table: dict, table_name: str) -> None:
    for image_id, (where, _) in table.items():
        if image_id not in paths:
            raise DataFormatError(f"{where}: image id {image_id} is not in images.txt")
    for image_id, (where, _) in paths.items():
        if image_id not in table:
            raise DataFormatError(f"{table_name}: no line for image id {image_id} (listed at {where})")


def _check_every_image_has_a_box(paths: dict, boxes: list[Box], boxes_name: str) -> None:
    boxed = set()
    for box in boxes:
        if int(box.image_id) not in paths:
            raise DataFormatError(f"{box.where}: image id {box.image_id} is not in images.txt")
        boxed.add(int(box.image_id))
    for image_id, (where, _) in paths.items():
        if image_id not in boxed:
            raise DataFormatError(f"{boxes_name}: no box for image id {image_id} (listed at {where})")
