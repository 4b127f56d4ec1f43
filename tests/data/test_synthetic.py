"""The offline generators: native formats, determinism, and a box much larger than the head."""

import tarfile
import zipfile

import numpy as np
import pytest

from infocam.io import file_md5
from infocam.data.synthetic import (
    MAX_CLASSES,
    draw_specimen,
    head_colours,
    write_cub_archive,
    write_tiny_archive,
)

CUB_ARGS = dict(n_classes=3, train_per_class=2, test_per_class=3, seed=5)
TINY_ARGS = dict(n_classes=3, train_per_class=2, val_per_class=2, seed=5, test_images=2)


def inclusive_iou(a, b):
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(width, 0) * max(height, 0)
    area = lambda box: (box[2] - box[0] + 1) * (box[3] - box[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_cub_archive_is_byte_identical_for_a_seed(tmp_path):
    first = write_cub_archive(tmp_path / "a.tgz", **CUB_ARGS)
    second = write_cub_archive(tmp_path / "b.tgz", **CUB_ARGS)
    other = write_cub_archive(tmp_path / "c.tgz", **{**CUB_ARGS, "seed": 6})
    assert first == second == file_md5(tmp_path / "a.tgz")
    assert other != first
    assert (tmp_path / "a.tgz.md5").read_text().strip() == first


def test_tiny_archive_is_byte_identical_for_a_seed(tmp_path):
    first = write_tiny_archive(tmp_path / "a.zip", **TINY_ARGS)
    second = write_tiny_archive(tmp_path / "b.zip", **TINY_ARGS)
    assert first == second == file_md5(tmp_path / "a.zip")
    assert (tmp_path / "b.zip.md5").read_text().strip() == second


def test_cub_archive_has_the_native_layout(tmp_path):
    write_cub_archive(tmp_path / "cub.tgz", **CUB_ARGS)
    with tarfile.open(tmp_path / "cub.tgz") as tar:
        names = set(tar.getnames())
        images = tar.extractfile("CUB_200_2011/images.txt").read().decode().splitlines()
        boxes = tar.extractfile("CUB_200_2011/bounding_boxes.txt").read().decode().splitlines()
        split = tar.extractfile("CUB_200_2011/train_test_split.txt").read().decode().splitlines()
    for name in ["classes.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt"]:
        assert f"CUB_200_2011/{name}" in names
    assert len(images) == 3 * 5
    image_id, relative = images[0].split()
    assert image_id == "1" and relative.startswith("001.") and relative.endswith(".jpg")
    assert f"CUB_200_2011/images/{relative}" in names
    assert len(boxes[0].split()) == 5 and all("." in field for field in boxes[0].split()[1:])
    assert sorted(line.split()[1] for line in split).count("0") == 3 * 3


def test_tiny_archive_has_the_native_layout(tmp_path):
    write_tiny_archive(tmp_path / "tiny.zip", **TINY_ARGS)
    with zipfile.ZipFile(tmp_path / "tiny.zip") as zf:
        names = set(zf.namelist())
        wnids = zf.read("tiny-imagenet-200/wnids.txt").decode().split()
        val_lines = zf.read("tiny-imagenet-200/val/val_annotations.txt").decode().splitlines()
        train_lines = zf.read(f"tiny-imagenet-200/train/{wnids[0]}/{wnids[0]}_boxes.txt").decode().splitlines()
    assert len(wnids) == 3
    assert f"tiny-imagenet-200/train/{wnids[0]}/images/{wnids[0]}_0.JPEG" in names
    assert {"tiny-imagenet-200/test/images/test_0.JPEG", "tiny-imagenet-200/val/images/val_5.JPEG"} <= names
    assert len(val_lines) == 6 and len(val_lines[0].split("\t")) == 6
    assert len(train_lines) == 2 and len(train_lines[0].split("\t")) == 5


def test_head_is_a_small_part_of_the_object_box():
    rng = np.random.default_rng(0)
    for label in range(12):
        for width, height in [(64, 64), (96, 144), (144, 100)]:
            specimen = draw_specimen(rng, width, height, label)
            box, head = specimen.box, specimen.head_box
            assert specimen.image.size == (width, height)
            assert 0 <= box[0] <= head[0] and head[2] <= box[2] < width
            assert 0 <= box[1] <= head[1] and head[3] <= box[3] < height
            assert inclusive_iou(box, head) < 0.3


def test_head_shows_its_class_colours():
    rng = np.random.default_rng(1)
    specimen = draw_specimen(rng, 96, 96, 2 + 8 * 3)
    x0, y0, x1, y1 = specimen.head_box
    pixels = np.asarray(specimen.image).astype(int)
    eye = pixels[(y0 + y1) // 2, (x0 + x1) // 2]
    disc = pixels[(y0 + y1) // 2, x0 + (x1 - x0) // 6]
    assert head_colours(2 + 8 * 3) == ("yellow", "black")
    assert eye.max() < 70  # the black eye
    assert disc[0] > 180 and disc[1] > 180 and disc[2] < 90  # the yellow disc


def test_first_eight_classes_share_no_saturated_colour(tmp_path):
    pairs = [head_colours(label) for label in range(MAX_CLASSES)]
    assert len(set(pairs)) == MAX_CLASSES
    assert len({disc for disc, _ in pairs[:8]}) == 8 and {eye for _, eye in pairs[:8]} == {"white"}
    assert len({eye for _, eye in pairs}) == 4
    with pytest.raises(ValueError, match="n_classes"):
        write_tiny_archive(tmp_path / "t.zip", n_classes=MAX_CLASSES + 1, train_per_class=1, val_per_class=1, seed=0)
    with pytest.raises(ValueError, match="first_class"):
        write_cub_archive(tmp_path / "c.tgz", n_classes=8, first_class=MAX_CLASSES - 7, train_per_class=1,
                          test_per_class=1, seed=0)
    assert not (tmp_path / "t.zip").exists() and not (tmp_path / "c.tgz").exists()


def test_first_class_shifts_the_classes_drawn(tmp_path):
    write_cub_archive(tmp_path / "c.tgz", n_classes=2, first_class=9, train_per_class=1, test_per_class=1, seed=0)
    with tarfile.open(tmp_path / "c.tgz") as archive:
        classes = archive.extractfile("CUB_200_2011/classes.txt").read().decode().split("\n")
    assert classes[:2] == ["1 001.Orange_headed_Silver_eyed_Bird", "2 002.Yellow_headed_Silver_eyed_Bird"]


def test_body_cue_makes_a_class_wear_its_own_stripes():
    from infocam.data.synthetic import _body_texture

    def pattern(seed, label, body_cue):
        grey = _body_texture(np.random.default_rng(seed), 64, 64, label, body_cue).astype(float).mean(axis=2)
        return grey - grey.mean()

    def correlation(a, b):
        return abs((a * b).sum()) / np.sqrt((a * a).sum() * (b * b).sum())

    for seed in range(3):
        assert correlation(pattern(seed, 0, 1.0), pattern(seed + 9, 0, 1.0)) > 0.95
        assert correlation(pattern(seed, 0, 1.0), pattern(seed + 9, 1 + seed, 1.0)) < 0.3
        assert correlation(pattern(seed, 0, 0.0), pattern(seed + 9, 0, 0.0)) < 0.3


def test_bad_body_cue_is_refused(tmp_path):
    with pytest.raises(ValueError, match="body_cue"):
        write_cub_archive(tmp_path / "c.tgz", n_classes=2, train_per_class=1, test_per_class=1, seed=0, body_cue=1.5)


def recorded_specimens(monkeypatch):
    """Every Specimen the archive writers draw, in drawing order."""
    from infocam.data import synthetic

    drawn, draw = [], synthetic.draw_specimen

    def draw_and_record(*args, **kwargs):
        drawn.append(draw(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(synthetic, "draw_specimen", draw_and_record)
    return drawn


def read_sidecar(archive):
    from infocam.data.synthetic import parts_path

    lines = parts_path(archive).read_text().splitlines()
    assert lines[0] == "path,part,x0,y0,x1,y1"
    rows = [line.split(",") for line in lines[1:]]
    assert {part for _, part, *_ in rows} == {"head"}
    return [(path, tuple(int(v) for v in corners)) for path, _, *corners in rows]


def test_cub_sidecar_holds_each_images_head_box_inside_its_object_box(tmp_path, monkeypatch):
    drawn = recorded_specimens(monkeypatch)
    write_cub_archive(tmp_path / "cub.tgz", **CUB_ARGS)
    rows = read_sidecar(tmp_path / "cub.tgz")
    with tarfile.open(tmp_path / "cub.tgz") as tar:
        names = set(tar.getnames())
        images, boxes = ([line.split() for line in tar.extractfile(f"CUB_200_2011/{name}").read().decode().splitlines()]
                         for name in ("images.txt", "bounding_boxes.txt"))
    assert not any("parts" in name for name in names)  # beside the archive, not in it
    assert [path for path, _ in rows] == [path for _, path in images]  # images.txt's paths, in its order
    assert [head for _, head in rows] == [specimen.head_box for specimen in drawn] and len(rows) == 15
    for (_, (hx0, hy0, hx1, hy1)), (_, x, y, w, h) in zip(rows, boxes):
        x0, y0, x1, y1 = float(x), float(y), float(x) + float(w), float(y) + float(h)
        assert x0 <= hx0 <= hx1 <= x1 and y0 <= hy0 <= hy1 <= y1


def test_tiny_sidecar_covers_train_and_val_but_not_test(tmp_path, monkeypatch):
    drawn = recorded_specimens(monkeypatch)
    write_tiny_archive(tmp_path / "tiny.zip", **TINY_ARGS)
    rows = read_sidecar(tmp_path / "tiny.zip")
    with zipfile.ZipFile(tmp_path / "tiny.zip") as zf:
        names = set(zf.namelist())
        object_boxes = {}
        for name in names:
            if name.endswith("_boxes.txt") or name.endswith("val_annotations.txt"):
                for line in zf.read(name).decode().splitlines():
                    fields = line.split("\t")
                    object_boxes[fields[0]] = [int(v) for v in fields[-4:]]
    assert len(rows) == 3 * 2 + 3 * 2 and len(drawn) == len(rows) + 2  # the 2 test/ images have no row
    assert [head for _, head in rows] == [specimen.head_box for specimen in drawn[:len(rows)]]
    assert rows[0][0] == "train/n90000000/images/n90000000_0.JPEG" and rows[-1][0] == "val/images/val_5.JPEG"
    for path, (hx0, hy0, hx1, hy1) in rows:
        assert f"tiny-imagenet-200/{path}" in names
        x0, y0, x1, y1 = object_boxes[path.split("/")[-1]]
        assert x0 <= hx0 <= hx1 <= x1 and y0 <= hy0 <= hy1 <= y1


def test_writers_return_the_archive_md5_and_write_the_sidecars_beside_it(tmp_path):
    assert write_cub_archive(tmp_path / "c.tgz", **CUB_ARGS) == file_md5(tmp_path / "c.tgz")
    assert write_tiny_archive(tmp_path / "t.zip", **TINY_ARGS) == file_md5(tmp_path / "t.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.tgz", "c.tgz.md5", "c.tgz.parts.csv", "t.zip", "t.zip.md5", "t.zip.parts.csv"]


def test_settings_choose_the_cub_image_sizes_but_not_tinys(tmp_path):
    from PIL import Image

    from infocam.data.synthetic import SyntheticSettings, write_synthetic_archive

    settings = SyntheticSettings(n_classes=2, train_per_class=1, heldout_per_class=2, seed=0,
                                 min_size=375, max_size=500)
    write_synthetic_archive("cub", tmp_path / "cub.tgz", settings)
    with tarfile.open(tmp_path / "cub.tgz") as tar:
        jpegs = [member for member in tar.getmembers() if member.name.endswith(".jpg")]
        sizes = [Image.open(tar.extractfile(member)).size for member in jpegs]
    assert len(sizes) == 6 and all(375 <= side <= 500 for size in sizes for side in size)
    with pytest.raises(ValueError, match="always 64 x 64"):
        write_synthetic_archive("tiny", tmp_path / "tiny.zip", settings)
