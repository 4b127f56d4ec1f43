"""Turn a dataset archive into the prepared layout that training and evaluation read.

checksum -> extract -> parse -> validate -> split, producing in `out_dir`:

    images/...                        the extracted images, native relative paths kept
    train.csv, val.csv, test.csv      image_id,path,label,width,height (path relative to out_dir)
    fullsup.csv, fullsup_ids.csv      with a train-fullsup source (CUB, wsol2020): that split (fullsup.py)
    boxes.csv                         image_id,x0,y0,x1,y1 (original pixels, corners, one row per box)
    classes.csv                       label,name
    parts.csv                         image_id,part,x0,y0,x1,y1 (only with a part-box sidecar, below)
    source.json                       the archive (path, md5) or extracted copy it came from, how
                                      val and test were split, and how many boxes were clipped
    manifest.csv                      path,md5 of every other file (images included)

Snakemake sees the prepared folder as one output and does not notice a file changed inside
it; check_manifest, called before training and evaluation read the folder, does.

Everything is built in a hidden sibling folder and moved into place at the end, so an
error never leaves a half-prepared `out_dir` behind. Where the archive came from
(download, generator, a copy on disk) does not matter here.

prepare_extracted does the same for a copy that is already extracted (a cluster's shared
dataset folder): no checksum, no extraction, the annotation files are read in place and
images/ holds symbolic links to the copy's image folders instead of 1 GB of copies.

Both take an optional part-box sidecar (the synthetic archives' `<archive>.parts.csv`:
path,part,x0,y0,x1,y1 with path as images.txt or the Tiny-ImageNet reader gives it and
inclusive integer corners); its rows go to parts.csv under the prepared image ids.
"""

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from infocam.data import cub, tiny
from infocam.data.archives import extract_archive, verify_md5
from infocam.data.errors import DataFormatError
from infocam.data.fullsup import FullsupSource, add_fullsup
from infocam.data.lines import parse_int
from infocam.data.records import NativeDataset
from infocam.data.splits import ALTERNATING, split_images
from infocam.data.tables import BOX_COLUMNS, box_rows, write_csv
from infocam.data.validate import check_expected_counts, fit_boxes, measure_images
from infocam.io import atomic_folder, file_md5

READERS = {
    "cub": (cub.read_cub, cub.MARKER_FILE),
    "tiny": (tiny.read_tiny, tiny.MARKER_FILE),
}
SPLIT_COLUMNS = ["image_id", "path", "label", "width", "height"]
SIDECAR_COLUMNS = ["path", "part", "x0", "y0", "x1", "y1"]
PART_COLUMNS = ["image_id", "part", "x0", "y0", "x1", "y1"]


def prepare_dataset(archive: Path, fmt: str, md5: str, out_dir: Path, expected: dict | None = None,
                    parts: Path | None = None, fullsup: FullsupSource | None = None) -> None:
    """Check, extract, validate and split `archive` (format 'cub' or 'tiny') into `out_dir`;
    with `parts`, also carry that sidecar's part boxes into parts.csv; with `fullsup` (CUB only),
    add the train-fullsup split (infocam.data.fullsup)."""
    archive, out_dir = Path(archive), Path(out_dir)
    read, marker = _reader(fmt)
    _check_fullsup_format(fmt, fullsup)
    verify_md5(archive, md5)
    with atomic_folder(out_dir) as partial:
        extracted = partial / "extracted"
        extract_archive(archive, extracted)
        dataset = read(_dataset_root(extracted, marker, archive.name))
        checks = _check_and_write(dataset, expected, archive.name, partial, _move_images, parts)
        shutil.rmtree(extracted)
        _add_fullsup(fullsup, dataset, partial, checks)
        _write_source(partial, {"archive": str(archive), "md5": md5, **checks})
        write_manifest(partial)


def prepare_extracted(folder: Path, fmt: str, out_dir: Path, expected: dict | None = None,
                      parts: Path | None = None, fullsup: FullsupSource | None = None) -> None:
    """Validate and split an extracted copy in place into `out_dir`, linking to its images.

    `folder` is the dataset's top folder (CUB_200_2011/, tiny-imagenet-200/) or a folder
    that holds it. The copy must stay where it is: out_dir/images/ points into it.
    """
    folder, out_dir = Path(folder).resolve(), Path(out_dir)
    read, marker = _reader(fmt)
    _check_fullsup_format(fmt, fullsup)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    with atomic_folder(out_dir) as partial:
        dataset = read(_dataset_root(folder, marker, str(folder)))
        checks = _check_and_write(dataset, expected, str(folder), partial, _link_images, parts)
        _add_fullsup(fullsup, dataset, partial, checks)
        _write_source(partial, {"extracted": str(folder), "md5": None, **checks})
        write_manifest(partial)


def _check_fullsup_format(fmt: str, fullsup: FullsupSource | None) -> None:
    if fullsup is not None and fmt != "cub":
        raise ValueError(f"train-fullsup (CUBV2) belongs to the CUB format; a '{fmt}'-format dataset has none")


def _add_fullsup(fullsup: FullsupSource | None, dataset: NativeDataset, folder: Path, checks: dict) -> None:
    """With `fullsup`, add the train-fullsup split to `folder` and its record to `checks` (source.json)."""
    if fullsup is not None:
        checks["fullsup"] = add_fullsup(fullsup, dataset.classes, folder)


def _reader(fmt: str) -> tuple[Callable[[Path], NativeDataset], str]:
    if fmt not in READERS:
        raise ValueError(f"unknown dataset format '{fmt}', expected one of: {', '.join(READERS)}")
    return READERS[fmt]


def _check_and_write(
    dataset: NativeDataset,
    expected: dict | None,
    source: str,
    folder: Path,
    place_images: Callable[[NativeDataset, Path], None],
    parts: Path | None = None,
) -> dict:
    """Check `dataset`, place its images and write its tables into `folder`; return what
    source.json records of the checks: the split used and the box counts (validate.fit_boxes)."""
    check_expected_counts(dataset, expected, source)
    sizes = measure_images(dataset)
    boxes, box_counts = fit_boxes(dataset, sizes)
    print(f"{source}: {box_counts['clipped']} of {box_counts['boxes']} boxes clipped to the image "
          f"({box_counts['past_edge']} ended past its edge, by up to {box_counts['largest_overshoot_px']:g} px)")
    part_rows = None if parts is None else _read_part_sidecar(Path(parts), dataset, sizes)
    place_images(dataset, folder / "images")
    _write_tables(folder, dataset, boxes, sizes)
    if part_rows is not None:
        write_csv(folder / "parts.csv", PART_COLUMNS, part_rows)
    split = dataset.halves_source or ALTERNATING
    print(f"{source}: val and test split {split}")
    return {"split": split, "box_counts": box_counts}


def _dataset_root(top: Path, marker: str, source_name: str) -> Path:
    """The folder holding `marker`: `top` itself or one of its folders."""
    candidates = [top] + sorted(path for path in top.iterdir() if path.is_dir())
    roots = [folder for folder in candidates if (folder / marker).is_file()]
    if len(roots) != 1:
        found = "none" if not roots else ", ".join(root.name for root in roots)
        raise DataFormatError(
            f"{source_name}: expected one {marker} at the top or in a top-level folder, found {found}"
        )
    return roots[0]


def _image_folders(dataset: NativeDataset) -> list[str]:
    """The top-level folders under the image root that hold the listed images."""
    return sorted({record.path.split("/")[0] for record in dataset.images})


def _move_images(dataset: NativeDataset, images_dir: Path) -> None:
    """Move the folders that hold the listed images to images_dir (a rename, no copying)."""
    images_dir.mkdir()
    for top in _image_folders(dataset):
        (dataset.image_root / top).rename(images_dir / top)


def _link_images(dataset: NativeDataset, images_dir: Path) -> None:
    """Link images_dir/<folder> to each folder of an extracted copy that holds listed images."""
    images_dir.mkdir()
    for top in _image_folders(dataset):
        (images_dir / top).symlink_to(dataset.image_root / top, target_is_directory=True)


def _write_tables(folder: Path, dataset: NativeDataset, boxes: list, sizes: dict[str, tuple[int, int]]) -> None:
    for split, records in split_images(dataset.images, dataset.held_out_halves).items():
        rows = [
            [record.image_id, f"images/{record.path}", record.label, *sizes[record.image_id]] for record in records
        ]
        write_csv(folder / f"{split}.csv", SPLIT_COLUMNS, rows)
    write_csv(folder / "boxes.csv", BOX_COLUMNS, box_rows(boxes))
    write_csv(folder / "classes.csv", ["label", "name"], list(enumerate(dataset.classes)))


def _read_part_sidecar(path: Path, dataset: NativeDataset, sizes: dict[str, tuple[int, int]]) -> list[list]:
    """Rows image_id, part, x0, y0, x1, y1 of a part-box sidecar, each checked against its image."""
    if not path.is_file():
        raise DataFormatError(f"{path}: part-box file missing")
    image_ids = {record.path: record.image_id for record in dataset.images}
    rows = []
    with open(path, newline="", encoding="utf-8") as stream:
        try:
            reader = csv.reader(stream)
            header = next(reader, [])
            if header != SIDECAR_COLUMNS:
                found = ",".join(header) or "nothing"
                raise DataFormatError(f"{path}:1: expected header {','.join(SIDECAR_COLUMNS)}, got {found}")
            for fields in reader:
                if fields:
                    rows.append(_part_row(fields, f"{path}:{reader.line_num}", image_ids, sizes))
        except UnicodeDecodeError:
            raise DataFormatError(f"{path}: not UTF-8 text") from None
        except csv.Error as err:
            raise DataFormatError(f"{path}:{reader.line_num}: not a CSV row ({err})") from None
    return rows


def _part_row(fields: list[str], where: str, image_ids: dict[str, str], sizes: dict[str, tuple[int, int]]) -> list:
    if len(fields) != len(SIDECAR_COLUMNS):
        raise DataFormatError(f"{where}: expected {len(SIDECAR_COLUMNS)} fields, found {len(fields)}")
    image_path, part = fields[:2]
    if image_path not in image_ids:
        raise DataFormatError(f"{where}: '{image_path}' is not an image of the dataset")
    if not part:
        raise DataFormatError(f"{where}: empty part name")
    x0, y0, x1, y1 = (parse_int(text, where, name) for text, name in zip(fields[2:], SIDECAR_COLUMNS[2:]))
    image_id = image_ids[image_path]
    width, height = sizes[image_id]
    # Inclusive integer corners: the last pixel of the box must be a pixel of the image.
    if not (0 <= x0 <= x1 < width and 0 <= y0 <= y1 < height):
        raise DataFormatError(
            f"{where}: {part} box ({x0}, {y0}, {x1}, {y1}) is inverted or lies outside image '{image_path}' "
            f"of size {width}x{height}"
        )
    return [image_id, part, x0, y0, x1, y1]


def _write_source(folder: Path, source: dict) -> None:
    (folder / "source.json").write_text(json.dumps(source, indent=1) + "\n")


MANIFEST = "manifest.csv"


def _manifest_entries(folder: Path) -> list[list[str]]:
    """[relative path, md5] of every file under `folder` but the manifest, links followed.

    Snakemake's marker for a directory output (.snakemake_timestamp) is not part of the data.
    """
    files = sorted(path for path in folder.rglob("*")
                   if path.is_file() and path.name != MANIFEST and not path.name.startswith(".snakemake"))
    return [[path.relative_to(folder).as_posix(), file_md5(path)] for path in files]


def write_manifest(folder: Path) -> None:
    write_csv(folder / MANIFEST, ["path", "md5"], _manifest_entries(folder))


def check_manifest(prepared_dir: Path) -> None:
    """Raise DataFormatError naming the first file of a prepared folder that changed since preparation."""
    prepared_dir = Path(prepared_dir)
    manifest = prepared_dir / MANIFEST
    if not manifest.is_file():
        raise DataFormatError(f"{manifest}: missing; prepare the dataset again (remove {prepared_dir} and rerun)")
    with open(manifest, newline="", encoding="utf-8") as stream:
        recorded = {row["path"]: row["md5"] for row in csv.DictReader(stream)}
    current = dict(_manifest_entries(prepared_dir))
    for path in sorted(set(recorded) | set(current)):
        if recorded.get(path) != current.get(path):
            what = "missing" if path not in current else "not in the manifest" if path not in recorded else \
                "changed since preparation"
            raise DataFormatError(f"{prepared_dir / path}: {what}; prepare the dataset again "
                                  f"(remove {prepared_dir} and rerun)")

