"""prepare_dataset end to end: archives in the native formats -> the prepared layout."""

import csv
import io
import json
import re
import tarfile
import zipfile

import pytest
from PIL import Image

from infocam.data import ChecksumError, DataFormatError, prepare_dataset
from infocam.io import file_md5
from infocam.data.images import load_part_boxes
from infocam.data.prepare import check_manifest
from infocam.data.synthetic import parts_path, write_cub_archive, write_tiny_archive

# A hand-made CUB-format dataset. Ids are not contiguous and include 10, so sorting ids
# as strings ("10" < "2") would give a different split. Image 3 has two boxes.
HAND_CLASSES = "1 001.Alpha\n2 002.Beta\n"
HAND_IMAGES = {  # id: (relative path, class id, is_training, width, height)
    1: ("001.Alpha/a1.jpg", 1, 1, 40, 30),
    2: ("001.Alpha/a2.jpg", 1, 0, 40, 30),
    3: ("001.Alpha/a3.jpg", 1, 0, 50, 40),
    4: ("002.Beta/b1.jpg", 2, 1, 40, 30),
    10: ("001.Alpha/a10.jpg", 1, 0, 40, 30),
    5: ("001.Alpha/a5.jpg", 1, 0, 40, 30),
    6: ("002.Beta/b6.jpg", 2, 0, 40, 30),
    7: ("002.Beta/b7.jpg", 2, 0, 40, 30),
}
HAND_BOXES = (
    "1 1.5 2.0 10.0 8.0\n2 0.0 0.0 40.0 30.0\n3 1.0 1.0 5.0 5.0\n3 20.0 10.0 25.0 20.0\n4 3.0 4.0 5.0 6.0\n"
    "10 1.0 1.0 2.0 2.0\n5 1.0 1.0 2.0 2.0\n6 1.0 1.0 2.0 2.0\n7 1.0 1.0 2.0 2.0\n"
)


def jpeg(width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def hand_cub_members():
    """{member name: bytes} of the hand-made CUB dataset."""
    top = "CUB_200_2011"
    members = {
        f"{top}/classes.txt": HAND_CLASSES,
        f"{top}/images.txt": "".join(f"{i} {path}\n" for i, (path, *_) in HAND_IMAGES.items()),
        f"{top}/image_class_labels.txt": "".join(f"{i} {c}\n" for i, (_, c, *_) in HAND_IMAGES.items()),
        f"{top}/train_test_split.txt": "".join(f"{i} {t}\n" for i, (_, _, t, *_) in HAND_IMAGES.items()),
        f"{top}/bounding_boxes.txt": HAND_BOXES,
    }
    members = {name: text.encode() for name, text in members.items()}
    for path, _, _, width, height in HAND_IMAGES.values():
        members[f"{top}/images/{path}"] = jpeg(width, height)
    return members


def write_tgz(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return file_md5(path)


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def column(rows, name):
    return [row[name] for row in rows]


def test_hand_made_cub_is_prepared(tmp_path):
    archive = tmp_path / "cub.tgz"
    md5 = write_tgz(archive, hand_cub_members())
    out = tmp_path / "prepared" / "cub"
    prepare_dataset(archive, "cub", md5, out, expected={"images": 8, "classes": 2, "train": 2, "test": 6})

    assert sorted(p.name for p in out.parent.iterdir()) == ["cub"]
    train, val, test = (read_csv(out / f"{split}.csv") for split in ("train", "val", "test"))
    assert column(train, "image_id") == ["1", "4"]
    # held out, per class in numeric id order: Alpha 2,3,5,10 -> val 2,5 / test 3,10; Beta 6,7 -> val 6 / test 7
    assert column(val, "image_id") == ["2", "5", "6"]
    assert column(test, "image_id") == ["3", "7", "10"]
    assert column(val, "label") == ["0", "0", "1"]
    row = test[0]
    assert (row["path"], row["width"], row["height"]) == ("images/001.Alpha/a3.jpg", "50", "40")
    assert (out / row["path"]).is_file()
    assert read_csv(out / "classes.csv") == [{"label": "0", "name": "001.Alpha"}, {"label": "1", "name": "002.Beta"}]

    boxes = read_csv(out / "boxes.csv")
    corners = lambda r: tuple(float(r[k]) for k in ("x0", "y0", "x1", "y1"))  # noqa: E731
    by_id = {}
    for row in boxes:
        by_id.setdefault(row["image_id"], []).append(corners(row))
    assert by_id["1"] == [(1.5, 2.0, 11.5, 10.0)]  # x y w h -> corners
    assert by_id["3"] == [(1.0, 1.0, 6.0, 6.0), (20.0, 10.0, 45.0, 30.0)]  # both boxes kept
    assert by_id["2"] == [(0.0, 0.0, 39.0, 29.0)]  # x + w = width: the far corner is the last pixel, 39
    assert len(boxes) == 9


def test_generated_cub_split_alternates_per_class(tmp_path):
    archive = tmp_path / "cub.tgz"
    md5 = write_cub_archive(archive, n_classes=3, train_per_class=3, test_per_class=5, seed=2, min_size=40, max_size=60)
    out = tmp_path / "cub"
    prepare_dataset(archive, "cub", md5, out, expected={"images": 24, "classes": 3})

    with tarfile.open(archive) as tar:
        read = lambda name: tar.extractfile(f"CUB_200_2011/{name}").read().decode().split("\n")  # noqa: E731
        labels = dict(line.split() for line in read("image_class_labels.txt") if line)
        training = dict(line.split() for line in read("train_test_split.txt") if line)
        raw_boxes = [line.split() for line in read("bounding_boxes.txt") if line]
    expected_val, expected_test = set(), set()
    for class_id in sorted(set(labels.values())):
        held_out = sorted(int(i) for i, c in labels.items() if c == class_id and training[i] == "0")
        expected_val |= {str(i) for i in held_out[0::2]}
        expected_test |= {str(i) for i in held_out[1::2]}
    val, test, train = (read_csv(out / f"{split}.csv") for split in ("val", "test", "train"))
    assert set(column(val, "image_id")) == expected_val and len(expected_val) == 9
    assert set(column(test, "image_id")) == expected_test and len(expected_test) == 6
    assert set(column(train, "image_id")) == {i for i, flag in training.items() if flag == "1"}

    boxes = {row["image_id"]: row for row in read_csv(out / "boxes.csv")}
    for image_id, x, y, w, h in raw_boxes:
        row = boxes[image_id]
        assert float(row["x1"]) == float(x) + float(w) and float(row["y1"]) == float(y) + float(h)
    sizes = {row["image_id"]: (int(row["width"]), int(row["height"])) for row in train + val + test}
    assert all(40 <= side <= 60 for size in sizes.values() for side in size)
    assert len(set(sizes.values())) > 1


def test_generated_tiny_keeps_corner_boxes_and_splits_val(tmp_path):
    archive = tmp_path / "tiny.zip"
    md5 = write_tiny_archive(archive, n_classes=2, train_per_class=3, val_per_class=4, seed=1, test_images=2)
    out = tmp_path / "tiny"
    prepare_dataset(archive, "tiny", md5, out, expected={"train": 6, "val": 8, "classes": 2})

    with zipfile.ZipFile(archive) as zf:
        wnids = zf.read("tiny-imagenet-200/wnids.txt").decode().split()
        read = lambda name: [line.split("\t") for line in zf.read(name).decode().splitlines()]  # noqa: E731
        val_lines = read("tiny-imagenet-200/val/val_annotations.txt")
        train_lines = read(f"tiny-imagenet-200/train/{wnids[1]}/{wnids[1]}_boxes.txt")
    boxes = {row["image_id"]: [float(row[k]) for k in ("x0", "y0", "x1", "y1")] for row in read_csv(out / "boxes.csv")}
    for file_name, _, *corners in val_lines:
        assert boxes[file_name] == [float(v) for v in corners]
    for file_name, *corners in train_lines:
        assert boxes[file_name] == [float(v) for v in corners]
    assert len(boxes) == 6 + 8  # test/ images are not read

    val, test = read_csv(out / "val.csv"), read_csv(out / "test.csv")
    for label, wnid in enumerate(wnids):
        numbers = sorted(int(name[4:-5]) for name, w, *_ in val_lines if w == wnid)
        assert [int(r["image_id"][4:-5]) for r in val if r["label"] == str(label)] == numbers[0::2]
        assert [int(r["image_id"][4:-5]) for r in test if r["label"] == str(label)] == numbers[1::2]
    assert {(r["width"], r["height"]) for r in val + test} == {("64", "64")}
    assert (out / val[0]["path"]).is_file() and val[0]["path"].startswith("images/val/images/")
    train = read_csv(out / "train.csv")
    assert train[0]["path"] == f"images/train/{wnids[0]}/images/{wnids[0]}_0.JPEG"
    assert (out / train[0]["path"]).is_file()


def test_existing_output_is_replaced(tmp_path):
    archive = tmp_path / "cub.tgz"
    md5 = write_tgz(archive, hand_cub_members())
    out = tmp_path / "cub"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    prepare_dataset(archive, "cub", md5, out)
    assert not (out / "stale.txt").exists() and (out / "train.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cub", "cub.tgz"]


def test_generated_archives_carry_their_head_boxes_into_parts_csv(tmp_path):
    cub_archive, tiny_archive = tmp_path / "cub.tgz", tmp_path / "tiny.zip"
    cub_md5 = write_cub_archive(cub_archive, n_classes=2, train_per_class=2, test_per_class=2, seed=4,
                                min_size=40, max_size=60)
    tiny_md5 = write_tiny_archive(tiny_archive, n_classes=2, train_per_class=2, val_per_class=2, seed=4,
                                  test_images=1)
    prepare_dataset(cub_archive, "cub", cub_md5, tmp_path / "cub", parts=parts_path(cub_archive))
    prepare_dataset(tiny_archive, "tiny", tiny_md5, tmp_path / "tiny", parts=parts_path(tiny_archive))

    with tarfile.open(cub_archive) as tar:
        images_txt = tar.extractfile("CUB_200_2011/images.txt").read().decode().splitlines()
    cub_ids = {path: image_id for image_id, path in (line.split() for line in images_txt)}
    tiny_id = lambda path: path.split("/")[-1]  # noqa: E731  Tiny-ImageNet's ids are file names
    for out, archive, image_id in [("cub", cub_archive, cub_ids.get), ("tiny", tiny_archive, tiny_id)]:
        out = tmp_path / out
        parts = read_csv(out / "parts.csv")
        assert list(parts[0]) == ["image_id", "part", "x0", "y0", "x1", "y1"] and len(parts) == 8
        expected = [{"image_id": image_id(row["path"]), "part": "head", **{k: row[k] for k in ("x0", "y0", "x1", "y1")}}
                    for row in read_csv(parts_path(archive))]
        assert parts == expected and None not in column(parts, "image_id")
        listed = {row["image_id"] for split in ("train", "val", "test") for row in read_csv(out / f"{split}.csv")}
        assert set(column(parts, "image_id")) == listed  # every prepared image has its head box
        manifest = {row["path"]: row["md5"] for row in read_csv(out / "manifest.csv")}
        assert manifest["parts.csv"] == file_md5(out / "parts.csv")
        check_manifest(out)
        heads = load_part_boxes(out)
        first = parts[0]
        assert heads[first["image_id"]].tolist() == [[float(first[k]) for k in ("x0", "y0", "x1", "y1")]]
        assert load_part_boxes(out, part="tail") == {}


def test_without_a_sidecar_there_is_no_parts_csv(tmp_path):
    archive = tmp_path / "cub.tgz"
    prepare_dataset(archive, "cub", write_tgz(archive, hand_cub_members()), tmp_path / "out")
    assert not (tmp_path / "out" / "parts.csv").exists() and load_part_boxes(tmp_path / "out") is None


# --- bad input ---------------------------------------------------------------


def prepare_broken(tmp_path, members, fmt="cub"):
    """Run prepare_dataset on an archive of `members` and return the error message;
    check that nothing but the archive is left in tmp_path."""
    archive = tmp_path / "broken.tgz"
    md5 = write_tgz(archive, members)
    with pytest.raises(DataFormatError) as caught:
        prepare_dataset(archive, fmt, md5, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tgz"]
    message = str(caught.value)
    assert "\n" not in message
    return message


def replace_line(members, name, number, text):
    lines = members[name].decode().splitlines()
    lines[number - 1] = text
    members[name] = ("\n".join(lines) + "\n").encode()


def test_wrong_md5_names_both_and_creates_nothing(tmp_path):
    archive = tmp_path / "raw" / "cub.tgz"
    archive.parent.mkdir()
    actual = write_tgz(archive, hand_cub_members())
    parent = tmp_path / "prepared"
    parent.mkdir()
    with pytest.raises(ChecksumError) as caught:
        prepare_dataset(archive, "cub", "0" * 32, parent / "cub")
    assert actual in str(caught.value) and "0" * 32 in str(caught.value) and "cub.tgz" in str(caught.value)
    assert list(parent.iterdir()) == []


def test_missing_annotation_file_is_named(tmp_path):
    members = hand_cub_members()
    del members["CUB_200_2011/bounding_boxes.txt"]
    message = prepare_broken(tmp_path, members)
    assert message == "CUB_200_2011/bounding_boxes.txt: missing from the archive"


def test_malformed_lines_name_file_and_line(tmp_path):
    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/image_class_labels.txt", 3, "3 two")
    assert prepare_broken(tmp_path, members).startswith("CUB_200_2011/image_class_labels.txt:3: class id")

    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/bounding_boxes.txt", 4, "3 20.0 10.0 25.0")
    assert prepare_broken(tmp_path, members) == "CUB_200_2011/bounding_boxes.txt:4: expected 5 fields, found 4"

    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/image_class_labels.txt", 2, "2 3")
    assert prepare_broken(tmp_path, members) == "CUB_200_2011/image_class_labels.txt:2: class id 3 outside 1..2"


def test_inconsistent_ids_are_reported(tmp_path):
    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/train_test_split.txt", 5, "11 0")
    message = prepare_broken(tmp_path, members)
    assert message == "CUB_200_2011/train_test_split.txt:5: image id 11 is not in images.txt"

    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/bounding_boxes.txt", 9, "6 1.0 1.0 2.0 2.0")  # image 7 loses its box
    assert "no box for image id 7" in prepare_broken(tmp_path, members)


def test_box_that_starts_outside_its_image_is_refused(tmp_path):
    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/bounding_boxes.txt", 2, "2 40.0 0.0 1.0 30.0")  # x0 = 40: past the last pixel, 39
    message = prepare_broken(tmp_path, members)
    assert message == "CUB_200_2011/bounding_boxes.txt:2: box (40, 0, 41, 30) starts outside image 2 of size 40x30"

    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/bounding_boxes.txt", 2, "2 5.0 -1.0 4.0 4.0")
    message = prepare_broken(tmp_path, members)
    assert message == "CUB_200_2011/bounding_boxes.txt:2: box (5, -1, 9, 3) starts outside image 2 of size 40x30"

    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/bounding_boxes.txt", 2, "2 5.0 1.0 -4.0 4.0")
    message = prepare_broken(tmp_path, members)
    assert message == "CUB_200_2011/bounding_boxes.txt:2: box (5, 1, 1, 5) is inverted (x0 > x1 or y0 > y1)"


def test_box_past_the_edge_is_clipped_to_the_last_pixel_as_the_reference_keeps_it(tmp_path):
    """Real CUB box 47 is `5 127 496 131` on a 500 x 275 image: it ends 1 pixel past the right edge."""
    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/bounding_boxes.txt", 2, "2 1.0 0.0 40.0 62.0")  # 1 and 32 px past
    archive = tmp_path / "cub.tgz"
    out = tmp_path / "prepared"
    prepare_dataset(archive, "cub", write_tgz(archive, members), out)
    assert [row for row in read_csv(out / "boxes.csv") if row["image_id"] == "2"] == \
        [{"image_id": "2", "x0": "1.0", "y0": "0.0", "x1": "39.0", "y1": "29.0"}]
    counts = json.loads((out / "source.json").read_text())["box_counts"]
    assert counts == {"boxes": 9, "clipped": 1, "past_edge": 1, "largest_overshoot_px": 32.0}


def test_missing_or_broken_image_is_refused(tmp_path):
    members = hand_cub_members()
    del members["CUB_200_2011/images/002.Beta/b6.jpg"]
    assert prepare_broken(tmp_path, members) == "CUB_200_2011/images.txt:7: image '002.Beta/b6.jpg' does not exist"

    members = hand_cub_members()
    members["CUB_200_2011/images/002.Beta/b6.jpg"] = members["CUB_200_2011/images/002.Beta/b6.jpg"][:200]
    message = prepare_broken(tmp_path, members)
    assert message.startswith("CUB_200_2011/images.txt:7: image '002.Beta/b6.jpg' cannot be decoded")


def test_expected_counts_are_checked(tmp_path):
    archive = tmp_path / "cub.tgz"
    md5 = write_tgz(archive, hand_cub_members())
    with pytest.raises(DataFormatError, match="cub.tgz: has 2 classes, expected 200"):
        prepare_dataset(archive, "cub", md5, tmp_path / "out", expected={"classes": 200})
    with pytest.raises(DataFormatError, match="unknown expected count 'val'"):
        prepare_dataset(archive, "cub", md5, tmp_path / "out", expected={"val": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cub.tgz"]


def test_failed_run_keeps_the_previous_output(tmp_path):
    good = tmp_path / "good.tgz"
    prepare_dataset(good, "cub", write_tgz(good, hand_cub_members()), tmp_path / "out")
    members = hand_cub_members()
    replace_line(members, "CUB_200_2011/classes.txt", 2, "3 003.Gamma")
    bad = tmp_path / "bad.tgz"
    with pytest.raises(DataFormatError, match="classes.txt:2: class id 3 out of sequence"):
        prepare_dataset(bad, "cub", write_tgz(bad, members), tmp_path / "out")
    assert len(read_csv(tmp_path / "out" / "val.csv")) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tgz", "good.tgz", "out"]


@pytest.mark.parametrize("bad_name", ["../evil.txt", "CUB_200_2011/../../evil.txt", "/tmp/evil.txt"])
def test_tar_member_escaping_the_folder_is_refused(tmp_path, bad_name):
    members = {bad_name: b"gotcha", **hand_cub_members()}
    message = prepare_broken(tmp_path, members)
    assert f"member '{bad_name}'" in message and "refusing" in message
    assert not (tmp_path.parent / "evil.txt").exists()


def test_zip_member_escaping_the_folder_is_refused(tmp_path):
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("tiny-imagenet-200/wnids.txt", "n0\n")
        zf.writestr("../evil.txt", "gotcha")
    with pytest.raises(DataFormatError, match=r"member '\.\./evil\.txt'"):
        prepare_dataset(archive, "tiny", file_md5(archive), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.zip"]
    assert not (tmp_path.parent / "evil.txt").exists()


def test_tar_symlink_is_refused(tmp_path):
    archive = tmp_path / "broken.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("CUB_200_2011/images.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(DataFormatError, match="link or special file"):
        prepare_dataset(archive, "cub", file_md5(archive), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tgz"]


def test_tiny_image_of_the_wrong_size_is_refused(tmp_path):
    archive = tmp_path / "tiny.zip"
    md5 = write_tiny_archive(archive, n_classes=1, train_per_class=1, val_per_class=1, seed=0, size=32, test_images=0)
    expected = (
        "tiny-imagenet-200/train/n90000000/n90000000_boxes.txt:1: "
        "image 'train/n90000000/images/n90000000_0.JPEG' is 32x32, expected 64x64"
    )
    with pytest.raises(DataFormatError, match=f"^{re.escape(expected)}$"):
        prepare_dataset(archive, "tiny", md5, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.zip", "tiny.zip.md5", "tiny.zip.parts.csv"]


def test_tiny_val_line_with_unknown_wnid_is_refused(tmp_path):
    archive = tmp_path / "tiny.zip"
    write_tiny_archive(archive, n_classes=2, train_per_class=1, val_per_class=1, seed=0, test_images=0)
    with zipfile.ZipFile(archive) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    name = "tiny-imagenet-200/val/val_annotations.txt"
    lines = members[name].decode().splitlines()
    lines[1] = "\t".join(["val_1.JPEG", "n12345678", "1", "1", "20", "20"])
    members[name] = ("\n".join(lines) + "\n").encode()
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    expected = "tiny-imagenet-200/val/val_annotations.txt:2: wnid n12345678 is not in wnids.txt"
    with pytest.raises(DataFormatError, match=f"^{re.escape(expected)}$"):
        prepare_dataset(broken, "tiny", file_md5(broken), tmp_path / "out")


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset format 'imagenet'"):
        prepare_dataset(tmp_path / "x.tgz", "imagenet", "0" * 32, tmp_path / "out")


HAND_SIDECAR = "path,part,x0,y0,x1,y1\n001.Alpha/a1.jpg,head,1,2,5,6\n002.Beta/b6.jpg,head,0,0,39,29\n"


@pytest.mark.parametrize("line, text, problem", [
    (1, "path,part,x0,y0,x1", "expected header path,part,x0,y0,x1,y1, got path,part,x0,y0,x1"),
    (3, "002.Beta/b6.jpg,head,0,0,39", "expected 6 fields, found 5"),
    (2, "001.Alpha/a1.jpg,head,1,2.5,5,6", "y0 must be an integer, got '2.5'"),
    (3, "002.Beta/b9.jpg,head,0,0,3,3", "'002.Beta/b9.jpg' is not an image of the dataset"),
    (3, "002.Beta/b6.jpg,head,0,0,40,29",
     "head box (0, 0, 40, 29) is inverted or lies outside image '002.Beta/b6.jpg' of size 40x30"),
    (2, "001.Alpha/a1.jpg,head,5,2,1,6",
     "head box (5, 2, 1, 6) is inverted or lies outside image '001.Alpha/a1.jpg' of size 40x30"),
])
def test_bad_part_sidecar_names_its_file_and_line(tmp_path, line, text, problem):
    archive = tmp_path / "cub.tgz"
    md5 = write_tgz(archive, hand_cub_members())
    prepare_dataset(archive, "cub", md5, tmp_path / "out", parts=_sidecar(tmp_path, HAND_SIDECAR))  # the good one
    lines = HAND_SIDECAR.splitlines()
    lines[line - 1] = text
    sidecar = _sidecar(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as caught:
        prepare_dataset(archive, "cub", md5, tmp_path / "out", parts=sidecar)
    assert str(caught.value) == f"{sidecar}:{line}: {problem}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cub.tgz", "out", "parts.csv"]  # no .partial left
    assert read_csv(tmp_path / "out" / "parts.csv")[0]["image_id"] == "1"  # the previous output stays


def test_missing_part_sidecar_is_named(tmp_path):
    archive = tmp_path / "cub.tgz"
    with pytest.raises(DataFormatError, match=f"^{re.escape(str(tmp_path / 'absent.csv'))}: part-box file missing$"):
        prepare_dataset(archive, "cub", write_tgz(archive, hand_cub_members()), tmp_path / "out",
                        parts=tmp_path / "absent.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cub.tgz"]


def _sidecar(folder, text):
    (folder / "parts.csv").write_text(text)
    return folder / "parts.csv"
