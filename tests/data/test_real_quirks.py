"""What the real annotation files and images hold that made-up data usually do not.

Archives in both official layouts carry each quirk (synthetic `quirks`, docs/datasets.md):
CUB boxes that end past the image by 1 and 32 pixels and one that ends on its edge,
Tiny-ImageNet's one-pixel-wide boxes at the right edge, grayscale and CMYK JPEGs and a PNG
under a JPEG name. The workflow test (.test/config/config.yaml) takes the same archives
through the decoded cache, training and evaluation; this file checks preparation, and the
authors' Tiny-ImageNet split on a copy with the official val file names.
"""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from infocam.data import DataFormatError, prepare_dataset
from infocam.data.decoded import decode_resized
from infocam.data.prepare import prepare_extracted
from infocam.data.splits import authors_tiny_split
from infocam.data.synthetic import CUB_QUIRKS, TINY_QUIRKS, write_cub_archive, write_tiny_archive

from test_prepare import read_csv


def prepared_quirks(tmp_path, fmt):
    archive = tmp_path / ("cub.tgz" if fmt == "cub" else "tiny.zip")
    if fmt == "cub":
        md5 = write_cub_archive(archive, n_classes=2, train_per_class=4, test_per_class=4, seed=0,
                                min_size=40, max_size=56, quirks=True)
    else:
        md5 = write_tiny_archive(archive, n_classes=2, train_per_class=4, val_per_class=4, seed=0,
                                 test_images=0, quirks=True)
    out = tmp_path / fmt
    prepare_dataset(archive, fmt, md5, out)
    return out


def table_rows(out):
    rows = {}
    for split in ("train", "val", "test"):
        rows.update({row["image_id"]: row for row in read_csv(out / f"{split}.csv")})
    return rows


def test_cub_boxes_past_and_on_the_edge_are_clipped_and_counted(tmp_path, capsys):
    out = prepared_quirks(tmp_path, "cub")
    assert "3 of 16 boxes clipped to the image (2 ended past its edge, by up to 32 px)" in capsys.readouterr().out
    source = json.loads((out / "source.json").read_text())
    assert source["box_counts"] == {"boxes": 16, "clipped": 3, "past_edge": 2, "largest_overshoot_px": 32.0}
    assert source["split"] == "alternating per class in id order"
    images = table_rows(out)
    boxes = {row["image_id"]: row for row in read_csv(out / "boxes.csv")}
    width = lambda image_id: int(images[image_id]["width"])  # noqa: E731
    height = lambda image_id: int(images[image_id]["height"])  # noqa: E731
    assert CUB_QUIRKS[:3] == ("past_1", "past_32", "on_edge")
    assert float(boxes["1"]["x1"]) == width("1") - 1  # 1 pixel past the right edge
    assert float(boxes["2"]["y1"]) == height("2") - 1  # 32 pixels past the bottom
    assert float(boxes["3"]["x1"]) == width("3") - 1  # x + w = W
    for image_id, row in boxes.items():
        assert float(row["x1"]) <= width(image_id) - 1 and float(row["y1"]) <= height(image_id) - 1


def test_odd_image_files_are_prepared_and_decoded_as_rgb(tmp_path):
    out = prepared_quirks(tmp_path, "cub")
    images = table_rows(out)
    modes = {}
    for image_id, quirk in zip(("4", "5", "6"), CUB_QUIRKS[3:]):
        path = out / images[image_id]["path"]
        assert path.suffix == ".jpg"
        with Image.open(path) as image:
            modes[quirk] = (image.format, image.mode)
        decoded = decode_resized(path, 24)
        assert decoded.shape == (24, 24, 3) and decoded.dtype == np.uint8
    assert modes == {"grayscale": ("JPEG", "L"), "cmyk": ("JPEG", "CMYK"), "png": ("PNG", "RGB")}


def test_tiny_one_pixel_wide_boxes_at_the_right_edge_are_kept(tmp_path):
    out = prepared_quirks(tmp_path, "tiny")
    source = json.loads((out / "source.json").read_text())
    assert source["box_counts"]["clipped"] == 0  # every corner already lies inside the 64 x 64 image
    assert source["split"] == "alternating per class in id order"  # not the official val set
    boxes = read_csv(out / "boxes.csv")
    edge = [row for row in boxes if row["x0"] == row["x1"] == "63.0"]
    assert TINY_QUIRKS[0] == "one_pixel_wide"
    assert {row["image_id"] for row in edge} == {"val_0.JPEG", "n90000000_0.JPEG"}
    images = table_rows(out)
    with Image.open(out / images["val_3.JPEG"]["path"]) as image:
        assert image.format == "PNG"


def test_tiny_corner_past_the_last_pixel_is_clipped_and_counted(tmp_path):
    archive = tmp_path / "tiny.zip"
    write_tiny_archive(archive, n_classes=2, train_per_class=2, val_per_class=2, seed=3, test_images=0)
    copy = tmp_path / "copy"
    shutil.unpack_archive(archive, copy)
    annotations = copy / "tiny-imagenet-200" / "val" / "val_annotations.txt"
    lines = annotations.read_text().splitlines()
    file_name, wnid = lines[0].split("\t")[:2]
    lines[0] = "\t".join([file_name, wnid, "1", "20", "64", "57"])  # x1 = 64: the last pixel is 63
    annotations.write_text("\n".join(lines) + "\n")
    prepare_extracted(copy, "tiny", tmp_path / "out")
    source = json.loads((tmp_path / "out" / "source.json").read_text())
    assert source["box_counts"] == {"boxes": 8, "clipped": 1, "past_edge": 0, "largest_overshoot_px": 0}
    assert {"image_id": file_name, "x0": "1.0", "y0": "20.0", "x1": "63.0", "y1": "57.0"} in \
        read_csv(tmp_path / "out" / "boxes.csv")


def official_tiny_copy(root, split):
    """An extracted Tiny-ImageNet copy with the official val file names and wnids (one training
    image per class, blank 64 x 64 JPEGs)."""
    top = root / "tiny-imagenet-200"
    wnids = sorted({wnid for wnid, _ in split.values()})
    blank = root / "blank.JPEG"
    Image.new("RGB", (64, 64), (120, 110, 90)).save(blank)
    (top / "val" / "images").mkdir(parents=True)
    (top / "wnids.txt").write_text("".join(f"{wnid}\n" for wnid in wnids))
    (top / "words.txt").write_text("".join(f"{wnid}\tclass {wnid}\n" for wnid in wnids))
    for wnid in wnids:
        images = top / "train" / wnid / "images"
        images.mkdir(parents=True)
        shutil.copyfile(blank, images / f"{wnid}_0.JPEG")
        (top / "train" / wnid / f"{wnid}_boxes.txt").write_text(f"{wnid}_0.JPEG\t0\t0\t63\t63\n")
    lines = []
    for file_name, (wnid, _) in split.items():
        shutil.copyfile(blank, top / "val" / "images" / file_name)
        lines.append(f"{file_name}\t{wnid}\t0\t0\t63\t63\n")
    (top / "val" / "val_annotations.txt").write_text("".join(lines))
    return top


def test_official_tiny_val_images_are_split_as_the_authors_split_them(tmp_path):
    split = authors_tiny_split()
    top = official_tiny_copy(tmp_path, split)
    prepare_extracted(top, "tiny", tmp_path / "out")
    source = json.loads((tmp_path / "out" / "source.json").read_text())
    assert source["split"] == "the authors' Tiny-ImageNet list (tiny_imagenet_split.csv)"
    for part in ("val", "test"):
        listed = {file_name for file_name, (_, half) in split.items() if half == part}
        assert {row["image_id"] for row in read_csv(tmp_path / "out" / f"{part}.csv")} == listed

    # a val image whose class differs from the official one
    annotations = top / "val" / "val_annotations.txt"
    lines = annotations.read_text().splitlines()
    file_name, wnid = lines[6].split("\t")[:2]
    other = next(w for w, _ in split.values() if w != wnid)
    lines[6] = "\t".join([file_name, other, "0", "0", "63", "63"])
    annotations.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as caught:
        prepare_extracted(top, "tiny", tmp_path / "again")
    assert str(caught.value) == (f"tiny-imagenet-200/val/val_annotations.txt:7: {file_name} has wnid {other}, "
                                 f"the official val set (the authors' split) gives {wnid}")
