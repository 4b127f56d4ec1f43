"""CUB's train-fullsup (CUBV2, the wsol2020 protocol): the synthetic tar, preparing it, its checks."""

import csv
import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from infocam import cli
from infocam.data import DataFormatError, prepare_dataset
from infocam.data.archives import extract_archive
from infocam.data.errors import ChecksumError
from infocam.data.fullsup import ID_OFFSET, FullsupSource
from infocam.data.images import PreparedImages, load_boxes, load_split
from infocam.data.prepare import check_manifest, prepare_extracted
from infocam.data.synthetic import (FullsupSettings, SyntheticSettings, fullsup_metadata_folder,
                                    write_cub_archive, write_fullsup_archive)

CUB = SyntheticSettings(n_classes=3, train_per_class=2, heldout_per_class=2, seed=0, min_size=40, max_size=56)
NAMES = ("image_ids", "image_sizes", "localization", "class_labels")


def rows(path):
    with open(path, newline="") as stream:
        return list(csv.reader(stream))


@pytest.fixture
def sources(tmp_path):
    """(CUB archive, its md5, train-fullsup tar, its metadata folder); 2 fullsup images per class, quirks on."""
    cub = tmp_path / "raw" / "cub.tgz"
    md5 = write_cub_archive(cub, n_classes=3, train_per_class=2, test_per_class=2, seed=0, min_size=40, max_size=56)
    tar = tmp_path / "raw" / "cubv2.tar"
    quirky = SyntheticSettings(**{**CUB.__dict__, "quirks": True})
    write_fullsup_archive(tar, quirky, FullsupSettings(per_class=2, seed=0))
    return cub, md5, tar, fullsup_metadata_folder(tar)


def prepared(tmp_path, sources, **changes):
    cub, md5, tar, metadata = sources
    out = tmp_path / "prepared" / "cub"
    prepare_dataset(cub, "cub", md5, out, fullsup=FullsupSource(**{"images": tar, "metadata": metadata, **changes}))
    return out


def test_synthetic_tar_has_the_cub_class_folders_and_the_reference_metadata(tmp_path, sources):
    cub, _, tar, metadata = sources
    with tarfile.open(tar) as archive:  # an uncompressed tar, as the real CUBV2.tar
        files = sorted(member.name for member in archive if member.isfile())
    with tarfile.open(cub) as archive:
        cub_folders = sorted({m.name.split("/")[2] for m in archive if m.isfile() and "/images/" in m.name})
        cub_images = {hashlib.md5(archive.extractfile(m).read()).hexdigest() for m in archive
                      if m.isfile() and m.name.endswith(".jpg")}
    assert sorted({name.split("/")[0] for name in files}) == cub_folders
    ids = (metadata / "image_ids.txt").read_text()
    assert not ids.endswith("\n") and len(ids.split("\n")) == 6  # no final newline, as the reference's files
    assert sorted(ids.split("\n")) == files
    for line in (metadata / "class_labels.txt").read_text().split("\n"):
        image_id, index = line.split(",")
        assert int(image_id[:3]) == int(index) + 1  # class index k: CUB's class folder k + 1
    with tarfile.open(tar) as archive:
        fullsup_images = {hashlib.md5(archive.extractfile(name).read()).hexdigest() for name in files}
    assert not fullsup_images & cub_images  # new images, none of the CUB archive's
    again = tmp_path / "again.tar"
    write_fullsup_archive(again, SyntheticSettings(**{**CUB.__dict__, "quirks": True}), FullsupSettings(2, 0))
    assert again.read_bytes() == tar.read_bytes()
    assert [(fullsup_metadata_folder(again) / f"{n}.txt").read_bytes() for n in NAMES] == \
        [(metadata / f"{n}.txt").read_bytes() for n in NAMES]


def test_prepare_adds_the_split_its_boxes_and_its_record(tmp_path, sources, capsys):
    out = prepared(tmp_path, sources)
    assert "no md5 given, so no checksum was checked; its md5 is" in capsys.readouterr().out
    table = rows(out / "fullsup.csv")
    assert table[0] == rows(out / "test.csv")[0] == ["image_id", "path", "label", "width", "height"]
    assert [row[0] for row in table[1:]] == [str(ID_OFFSET + k) for k in range(1, 7)]
    other_ids = {row[0] for split in ("train", "val", "test") for row in rows(out / f"{split}.csv")[1:]}
    assert not other_ids & {row[0] for row in table[1:]}
    ids = (sources[3] / "image_ids.txt").read_text().split("\n")
    assert rows(out / "fullsup_ids.csv")[1:] == [[str(ID_OFFSET + k), i] for k, i in enumerate(ids, start=1)]
    assert all(row[1] == f"images/fullsup/{source}" for row, source in zip(table[1:], ids))
    classes = [row[1] for row in rows(out / "classes.csv")[1:]]
    assert all(classes[int(row[2])] == row[1].split("/")[2] for row in table[1:])

    images = PreparedImages(out, "fullsup")
    image, label, _ = images[1]
    assert len(images) == 6 and label == 0 and tuple(image.shape[1:]) == (int(table[2][4]), int(table[2][3]))
    boxes = load_boxes(out)
    first_width = int(table[1][3])
    assert boxes[str(ID_OFFSET + 1)][0][2] == first_width - 1  # the quirk box, x1 = W + 1, clipped
    assert set(boxes) >= {row[0] for row in table[1:]} | other_ids
    source = json.loads((out / "source.json").read_text())["fullsup"]
    assert source["n_images"] == 6 and source["md5_checked"] is False
    assert source["md5"] == hashlib.md5(sources[2].read_bytes()).hexdigest()
    assert source["box_counts"] == {"boxes": 6, "clipped": 1, "past_edge": 1, "largest_overshoot_px": 1}
    assert source["metadata_md5"]["localization"] == hashlib.md5((sources[3] / "localization.txt").read_bytes()).hexdigest()
    manifest = [row[0] for row in rows(out / "manifest.csv")[1:]]
    assert {"fullsup.csv", "fullsup_ids.csv"} | {row[1] for row in table[1:]} <= set(manifest)
    assert not any(".fullsup-extracted" in path for path in manifest)
    check_manifest(out)


def test_an_extracted_folder_gives_the_same_tables_with_links(tmp_path, sources):
    cub, md5, tar, metadata = sources
    from_tar = prepared(tmp_path, sources, md5=hashlib.md5(tar.read_bytes()).hexdigest())
    shared = tmp_path / "shared"
    extract_archive(tar, shared / "CUBV2")  # a folder whose one top folder holds the class folders
    extract_archive(cub, tmp_path / "cub_copy")
    out = tmp_path / "from_folder"
    prepare_extracted(tmp_path / "cub_copy", "cub", out, fullsup=FullsupSource(shared, metadata))
    for name in ("fullsup.csv", "fullsup_ids.csv", "boxes.csv"):
        assert (out / name).read_bytes() == (from_tar / name).read_bytes()
    first = out / rows(out / "fullsup.csv")[1][1]
    assert first.is_symlink() and first.resolve().is_relative_to(shared.resolve())
    assert json.loads((out / "source.json").read_text())["fullsup"]["extracted"] == str(shared)


def edit_line(path, number, text):
    lines = path.read_text().split("\n")
    lines[number - 1] = text
    path.write_text("\n".join(lines))


@pytest.mark.parametrize("name, line, edit, message", [
    ("image_sizes", 2, lambda f: f[:1] + ["999", f[2]], "image '{id}' is {w}x{h}, not 999x{h}"),
    ("class_labels", 3, lambda f: [f[0], "7"], "class index 7 is not a class of the prepared dataset (labels 0..2 in classes.csv)"),
    ("class_labels", 3, lambda f: [f[0], "2"], "class index 2 is '003.{c3}', but image '{id}' is in folder '{folder}'"),
    ("localization", 4, lambda f: [f[0], "500", "1", "501", "2"], "box (500, 1, 501, 2) starts outside image {pid} of size {w}x{h}"),
])
def test_bad_metadata_names_file_and_line_and_leaves_nothing(tmp_path, sources, name, line, edit, message):
    metadata = sources[3]
    path = metadata / f"{name}.txt"
    fields = path.read_text().split("\n")[line - 1].split(",")
    image_id = fields[0]
    width, height = next(s.split(",")[1:] for s in (metadata / "image_sizes.txt").read_text().split("\n")
                         if s.startswith(image_id + ","))
    edit_line(path, line, ",".join(edit(fields)))
    third = next(i for i in (metadata / "image_ids.txt").read_text().split("\n") if i.startswith("003."))
    position = (metadata / "image_ids.txt").read_text().split("\n").index(image_id) + 1
    with pytest.raises(DataFormatError) as caught:
        prepared(tmp_path, sources)
    expected = message.format(id=image_id, w=width, h=height, folder=image_id.split("/")[0],
                              c3=third.split("/")[0][4:], pid=ID_OFFSET + position)
    assert str(caught.value) == f"{path}:{line}: {expected}"
    assert list((tmp_path / "prepared").iterdir()) == []


def test_missing_image_or_missing_line_is_named(tmp_path, sources):
    cub, md5, tar, metadata = sources
    ids = (metadata / "image_ids.txt").read_text().split("\n")
    missing = f"{ids[0].split('/')[0]}/404.jpg"
    (metadata / "image_ids.txt").write_text("\n".join(ids + [missing]))
    with pytest.raises(DataFormatError) as caught:
        prepared(tmp_path, sources)
    assert str(caught.value) == (f"{metadata / 'image_sizes.txt'}: no line for image '{missing}' "
                                 f"(listed at {metadata / 'image_ids.txt'}:7)")
    for name, extra in [("image_sizes", f"{missing},10,10"), ("class_labels", f"{missing},0"),
                        ("localization", f"{missing},1,1,5,5")]:
        with open(metadata / f"{name}.txt", "a") as stream:
            stream.write(f"\n{extra}")
    with pytest.raises(DataFormatError) as caught:
        prepared(tmp_path, sources)
    assert str(caught.value) == f"{metadata / 'image_ids.txt'}:7: image '{missing}' does not exist"
    assert list((tmp_path / "prepared").iterdir()) == []


def test_wrong_checksums_and_a_tiny_format_are_refused(tmp_path, sources):
    with pytest.raises(ChecksumError, match=r"cubv2.tar: md5 is [0-9a-f]{32}, expected 0{32}$"):
        prepared(tmp_path, sources, md5="0" * 32)
    with pytest.raises(ChecksumError, match=r"localization.txt: md5 is [0-9a-f]{32}, expected 0{32}$"):
        prepared(tmp_path, sources, metadata_md5={"localization": "0" * 32})
    assert list((tmp_path / "prepared").iterdir()) == []
    with pytest.raises(ValueError, match="a 'tiny'-format dataset has none"):
        prepare_dataset(sources[0], "tiny", sources[1], tmp_path / "t", fullsup=FullsupSource(*sources[2:]))


def test_cli_writes_and_prepares_fullsup(tmp_path, sources, capsys):
    cub, md5, _, _ = sources
    tar = tmp_path / "cli.tar"
    settings = json.dumps(CUB.__dict__)
    assert cli.main(["synthesize", "--format", "cub", "--out", str(tar), "--settings", settings,
                     "--fullsup", '{"per_class": 1, "seed": 3}']) == 0
    out = tmp_path / "cli_prepared"
    argv = ["prepare", "--format", "cub", "--archive", str(cub), "--md5", md5, "--out", str(out),
            "--fullsup", str(tar), "--fullsup-md5-file", f"{tar}.md5", "--fullsup-metadata", f"{tar}.metadata"]
    assert cli.main(argv) == 0
    assert len(load_split(out, "fullsup")) == 3
    assert cli.main(["prepare", "--format", "cub", "--archive", str(cub), "--md5", md5, "--out", str(out),
                     "--fullsup", str(tar)]) == 1
    assert "--fullsup needs --fullsup-metadata" in capsys.readouterr().err


def test_a_dataset_without_fullsup_says_so(tmp_path, sources):
    cub, md5, _, _ = sources
    prepare_dataset(cub, "cub", md5, tmp_path / "plain")
    with pytest.raises(FileNotFoundError, match="prepared without train-fullsup"):
        PreparedImages(tmp_path / "plain", "fullsup")
