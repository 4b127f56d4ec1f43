"""The file layout of the field's reference WSOL evaluator (clovaai/wsolevaluation), in and out.

Score maps: one .npy per image id under a score-map folder, at `<folder>/<image_id>.npy`
(the id keeps its extension: the reference's inference.py saves `scoremaps/<image_id>` with
np.save, which appends .npy, and its evaluation.py loads `<image_id>.npy`). The form the
reference's evaluate_wsol docstring describes, the id's extension replaced by .npy, is read
too when the first is absent.

Metadata, one folder per split (`metadata/<dataset>/<split>/` in the reference), no headers,
fields separated by commas (spaces after a comma are tolerated here):

- image_ids.txt    `<image_id>`, one per line; the images to score, in this order
- image_sizes.txt  `<image_id>,<width>,<height>`
- localization.txt `<image_id>,<x0>,<y0>,<x1>,<y1>` in original pixels, integers, one line
  per GT box (an image may have several)
- class_labels.txt `<image_id>,<class index>` (not needed for boxes; written by export, read
  when CUB's train-fullsup split is prepared, infocam.data.fullsup)

`localize_eval_reference` scores such a folder with the same loop as `localize_eval_files`
(infocam.wsol.localize.evaluate_score_maps), so both give the same json. `export_reference_layout`
writes our npz + csv form in this layout. The reference's evaluation.py takes maps that are
already 224 x 224 and min-max normalised to [0, 1] (float64; its check_scoremap_validity
refuses anything else), which is what its inference.py saves; export writes those by default,
so the reference can score the export, and our evaluator gives the same result on them as on
the raw maps. With raw=True it writes the input maps unchanged instead (size and dtype kept),
which only our evaluator reads.
"""

import csv
from pathlib import Path, PurePosixPath

import numpy as np

from infocam.io import atomic_folder
from infocam.wsol.localize import (
    checked_score_map,
    evaluate_score_maps,
    normalise_score_map,
    open_score_maps,
    read_gt_boxes,
    read_image_sizes,
)

METADATA_FILES = ("image_ids.txt", "image_sizes.txt", "localization.txt", "class_labels.txt")
LABEL_COLUMNS = ("label", "class")  # an images csv's optional last column, exported to class_labels.txt
DEFAULT_CLASS = 0  # class_labels.txt entry of every image when the images csv has no label column


# --- reading the metadata ------------------------------------------------------------------


def _text_rows(path, n_fields):
    """(line number, fields stripped of spaces) per non-blank line of a comma-separated text file."""
    with open(path) as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            fields = [field.strip() for field in text.split(",")]
            if len(fields) != n_fields:
                raise ValueError(f"{path}:{line}: expected {n_fields} comma-separated fields, got {len(fields)}")
            yield line, fields


def _integer(path, line, name, text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{path}:{line}: {name} must be an integer, got {text!r}") from None


def _checked_image_id(path, line, image_id):
    """The id, if it is a relative path that stays inside the score-map folder."""
    parts = PurePosixPath(image_id).parts
    if not image_id or image_id.startswith("/") or ".." in parts or "\\" in image_id:
        raise ValueError(f"{path}:{line}: image id must be a relative path with / separators, got {image_id!r}")
    return image_id


def read_image_ids(path):
    """[image_id, ...] from image_ids.txt, in file order."""
    ids, seen = [], set()
    for line, (image_id,) in _text_rows(path, 1):
        _checked_image_id(path, line, image_id)
        if image_id in seen:
            raise ValueError(f"{path}:{line}: image id {image_id!r} appears twice")
        seen.add(image_id)
        ids.append(image_id)
    return ids


def read_reference_image_sizes(path):
    """{image_id: (width, height)} from image_sizes.txt (what localize.read_image_sizes returns)."""
    sizes = {}
    for line, (image_id, width_text, height_text) in _text_rows(path, 3):
        if image_id in sizes:
            raise ValueError(f"{path}:{line}: image id {image_id!r} appears twice")
        width, height = _integer(path, line, "width", width_text), _integer(path, line, "height", height_text)
        if width <= 0 or height <= 0:
            raise ValueError(f"{path}:{line}: expected a positive width and height, got {width}x{height}")
        sizes[image_id] = (width, height)
    return sizes


def read_reference_boxes(path, sizes):
    """{image_id: [[x0, y0, x1, y1], ...]} from localization.txt (what localize.read_gt_boxes returns)."""
    boxes = {}
    for line, (image_id, *corners) in _text_rows(path, 5):
        if image_id not in sizes:
            raise ValueError(f"{path}:{line}: box for image {image_id!r}, which is not in image_sizes.txt")
        x0, y0, x1, y1 = (_integer(path, line, name, text) for name, text in zip(("x0", "y0", "x1", "y1"), corners))
        if x1 < x0 or y1 < y0:
            raise ValueError(f"{path}:{line}: expected x0 <= x1 and y0 <= y1, got {x0}, {y0}, {x1}, {y1}")
        boxes.setdefault(image_id, []).append([x0, y0, x1, y1])
    return boxes


def read_reference_class_labels(path):
    """{image_id: class index} from class_labels.txt; an index must be a non-negative integer."""
    labels = {}
    for line, (image_id, label_text) in _text_rows(path, 2):
        if image_id in labels:
            raise ValueError(f"{path}:{line}: image id {image_id!r} appears twice")
        label = _integer(path, line, "class index", label_text)
        if label < 0:
            raise ValueError(f"{path}:{line}: class index must be 0 or more, got {label}")
        labels[image_id] = label
    return labels


def id_lines(path, n_fields):
    """{image_id: [line number, ...]} of a metadata file, one number per line of that id in file order
    (what error messages name; the readers above return values only)."""
    lines = {}
    for line, fields in _text_rows(path, n_fields):
        lines.setdefault(fields[0], []).append(line)
    return lines


def sizes_of_listed_images(image_ids, sizes, ids_file, sizes_file):
    """{image_id: (width, height)} in image_ids order; an id without a size is an error naming both files."""
    missing = next((image_id for image_id in image_ids if image_id not in sizes), None)
    if missing is not None:
        raise ValueError(f"{sizes_file}: no size for image {missing!r} listed in {ids_file}")
    return {image_id: sizes[image_id] for image_id in image_ids}


# --- score maps ----------------------------------------------------------------------------


def score_map_path(folder, image_id):
    """Where the reference keeps image_id's map: <folder>/<image_id>.npy."""
    return Path(folder) / f"{image_id}.npy"


class NpyScoreMaps:
    """image_id -> raw score map, read from a folder of .npy files in the reference's layout."""

    def __init__(self, folder, ids_file):
        self.folder = Path(folder)
        self.ids_file = ids_file
        if not self.folder.is_dir():
            raise ValueError(f"{self.folder}: not a folder of .npy score maps")

    def path_of(self, image_id):
        """<image_id>.npy, or the id with its extension replaced by .npy if only that exists."""
        saved = score_map_path(self.folder, image_id)
        replaced = self.folder / PurePosixPath(image_id).with_suffix(".npy")
        return replaced if not saved.is_file() and replaced.is_file() else saved

    def __call__(self, image_id):
        path = self.path_of(image_id)
        if not path.is_file():
            raise ValueError(f"{path}: no score map for image {image_id!r} listed in {self.ids_file}")
        try:
            score_map = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise ValueError(f"{path}: not a .npy score map ({str(err).splitlines()[0]})") from None
        return checked_score_map(score_map, f"{path}: score map")


def localize_eval_reference(scoremap_dir, metadata_dir, out_json):
    """localize_eval_files for the reference's layout: .npy maps and one split's metadata folder."""
    metadata_dir = Path(metadata_dir)
    ids_file, sizes_file, boxes_file = (metadata_dir / name for name in METADATA_FILES[:3])
    image_ids = read_image_ids(ids_file)
    if not image_ids:
        raise ValueError(f"{ids_file}: no image ids")
    all_sizes = read_reference_image_sizes(sizes_file)
    sizes = sizes_of_listed_images(image_ids, all_sizes, ids_file, sizes_file)
    gt_boxes = read_reference_boxes(boxes_file, all_sizes)
    maps = NpyScoreMaps(scoremap_dir, ids_file)
    evaluate_score_maps(sizes, gt_boxes, maps, out_json, image_list=ids_file, boxes_file=boxes_file)


# --- writing the layout --------------------------------------------------------------------


def read_csv_labels(images_csv, image_ids):
    """{image_id: class index} from the images csv's label (or class) column; DEFAULT_CLASS without one.

    The csv's header and rows are those read_image_sizes has already checked.
    """
    with open(images_csv, newline="") as handle:
        reader = csv.DictReader(handle)
        column = next((name for name in LABEL_COLUMNS if name in (reader.fieldnames or [])), None)
        if column is None:
            return dict.fromkeys(image_ids, DEFAULT_CLASS)
        return {row["image_id"]: _integer(images_csv, reader.line_num, column, row[column]) for row in reader}


def _whole_pixel_boxes(gt_boxes, boxes_csv):
    """The boxes as ints, for localization.txt, which holds integers; a fractional corner is an error."""
    out = {}
    for image_id, boxes in gt_boxes.items():
        for box in boxes:
            if any(value != int(value) for value in box):
                raise ValueError(f"{boxes_csv}: box {box} of image {image_id!r} is not in whole pixels; "
                                 "localization.txt holds integers")
        out[image_id] = [[int(value) for value in box] for box in boxes]
    return out


def _metadata_lines(sizes, boxes, labels):
    """{file name: text} of the four metadata files, in the images csv's order."""
    return {
        "image_ids.txt": "".join(f"{i}\n" for i in sizes),
        "image_sizes.txt": "".join(f"{i},{w},{h}\n" for i, (w, h) in sizes.items()),
        "localization.txt": "".join(f"{i},{x0},{y0},{x1},{y1}\n" for i in sizes for x0, y0, x1, y1 in boxes[i]),
        "class_labels.txt": "".join(f"{i},{labels[i]}\n" for i in sizes),
    }


def _refuse_non_empty(out_dir):
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"{out_dir}: exists and is not an empty folder; export-maps writes a fresh one "
                         "(remove it or choose another)")


def _exported_map(score_map, raw):
    """What the reference's inference.py saves (224 x 224, min-max normalised, float64), or the map as given."""
    return score_map if raw else normalise_score_map(score_map)


def export_reference_layout(cams_npz, images_csv, boxes_csv, out_dir, raw=False):
    """Write our npz + csv inputs as out_dir/scoremaps/<id>.npy and out_dir/metadata/*.txt, all or nothing."""
    _refuse_non_empty(out_dir)
    sizes = read_image_sizes(images_csv, optional_column=LABEL_COLUMNS)
    for line, image_id in enumerate(sizes, start=2):
        _checked_image_id(images_csv, line, image_id)
    boxes = _whole_pixel_boxes(read_gt_boxes(boxes_csv, sizes), boxes_csv)
    missing = next((image_id for image_id in sizes if image_id not in boxes), None)
    if missing is not None:
        raise ValueError(f"{boxes_csv}: no box for image {missing!r} listed in {images_csv}")
    labels = read_csv_labels(images_csv, sizes)
    with open_score_maps(cams_npz) as cams, atomic_folder(out_dir) as partial:
        for image_id in sizes:
            if image_id not in cams.files:
                raise ValueError(f"{cams_npz}: no score map for image {image_id!r} listed in {images_csv}")
            score_map = checked_score_map(cams[image_id], f"{cams_npz}: score map {image_id!r}")
            target = score_map_path(partial / "scoremaps", image_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, _exported_map(score_map, raw))
        (partial / "metadata").mkdir()
        for name, text in _metadata_lines(sizes, boxes, labels).items():
            (partial / "metadata" / name).write_text(text)
