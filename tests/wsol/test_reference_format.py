"""Tests for infocam.wsol.reference_format: the reference evaluator's layout (.npy maps per image
id, a metadata folder of text files) read by localize-eval and written by export-maps."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_localize import ORACLE, assert_same_json

from infocam import cli
from infocam.wsol.localize import localize_eval_files
from infocam.wsol.reference_format import (
    export_reference_layout,
    localize_eval_reference,
    read_image_ids,
    read_reference_boxes,
    read_reference_image_sizes,
)

EXPECTED = json.loads((ORACLE / "expected.json").read_text())
ORACLE_INPUTS = (ORACLE / "cams.npz", ORACLE / "images.csv", ORACLE / "boxes.csv")


def tree(folder):
    """{relative path: bytes} of every file under folder."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


# --- (a) the oracle fixture, exported and evaluated in the reference layout ----------------


@pytest.mark.parametrize("raw", [False, True])
def test_exported_oracle_reproduces_the_oracle(tmp_path, raw):
    export_reference_layout(*ORACLE_INPUTS, tmp_path / "export", raw=raw)
    out = tmp_path / "result.json"
    localize_eval_reference(tmp_path / "export" / "scoremaps", tmp_path / "export" / "metadata", out)
    result = json.loads(out.read_text())
    # Raw maps keep the fixture's 10 constant maps; normalised ones are no longer constant (the
    # cubic upsampling of a constant map ripples at the 1e-16 level, and normalising spreads it).
    assert result.pop("n_degenerate_maps") == (10 if raw else 0)
    assert_same_json(result, EXPECTED)


def test_export_writes_the_reference_layout(tmp_path):
    export_reference_layout(*ORACLE_INPUTS, tmp_path / "export")
    metadata = tmp_path / "export" / "metadata"
    assert sorted(p.name for p in metadata.iterdir()) == [
        "class_labels.txt", "image_ids.txt", "image_sizes.txt", "localization.txt"]
    ids = (metadata / "image_ids.txt").read_text().splitlines()
    assert ids[:2] == ["img/00000.jpg", "img/00001.jpg"] and len(ids) == 300
    assert (metadata / "image_sizes.txt").read_text().startswith("img/00000.jpg,300,315\n")
    assert (metadata / "localization.txt").read_text().startswith("img/00000.jpg,25,14,298,269\n")
    assert set((metadata / "class_labels.txt").read_text().splitlines()) == {f"{i},0" for i in ids}
    score_map = np.load(tmp_path / "export" / "scoremaps" / "img" / "00000.jpg.npy")
    assert score_map.shape == (224, 224) and score_map.dtype == np.float64
    assert score_map.min() == 0.0 and score_map.max() == 1.0  # what the reference's evaluation.py accepts
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temporary folder left


def test_raw_export_keeps_each_map_as_given(tmp_path):
    export_reference_layout(*ORACLE_INPUTS, tmp_path / "export", raw=True)
    with np.load(ORACLE / "cams.npz") as cams:
        given = cams["img/00001.jpg"]
    stored = np.load(tmp_path / "export" / "scoremaps" / "img" / "00001.jpg.npy")
    assert stored.dtype == given.dtype and np.array_equal(stored, given)


def test_export_takes_class_labels_from_a_label_column(tmp_path):
    (tmp_path / "images.csv").write_text("image_id,width,height,label\na.jpg,40,30,7\nb.jpg,50,50,3\n")
    (tmp_path / "boxes.csv").write_text("image_id,x0,y0,x1,y1\na.jpg,1,2,30,20\nb.jpg,0,0,49,49\n")
    np.savez(tmp_path / "cams.npz", **{"a.jpg": np.eye(7), "b.jpg": np.eye(7)[::-1].astype(np.float32)})
    export_reference_layout(tmp_path / "cams.npz", tmp_path / "images.csv", tmp_path / "boxes.csv", tmp_path / "e")
    assert (tmp_path / "e" / "metadata" / "class_labels.txt").read_text() == "a.jpg,7\nb.jpg,3\n"


def test_export_refuses_fractional_box_corners(tmp_path):
    (tmp_path / "images.csv").write_text("image_id,width,height\na.jpg,40,30\n")
    (tmp_path / "boxes.csv").write_text("image_id,x0,y0,x1,y1\na.jpg,1.5,2,30,20\n")
    np.savez(tmp_path / "cams.npz", **{"a.jpg": np.eye(7)})
    with pytest.raises(ValueError, match=r"boxes\.csv: box .* of image 'a\.jpg' is not in whole pixels"):
        export_reference_layout(tmp_path / "cams.npz", tmp_path / "images.csv", tmp_path / "boxes.csv",
                                tmp_path / "e")
    assert not (tmp_path / "e").exists()


# --- (b) a hand-built reference folder with ids in sub-folders -----------------------------

TINY_IDS = ["001.Black_footed_Albatross/img_1.jpg", "001.Black_footed_Albatross/img_2.jpg", "017.Cardinal/c_3.jpg"]
TINY_SIZES = {TINY_IDS[0]: (40, 30), TINY_IDS[1]: (50, 60), TINY_IDS[2]: (224, 224)}
TINY_BOXES = {TINY_IDS[0]: [[1, 2, 30, 20]], TINY_IDS[1]: [[0, 0, 49, 30], [10, 20, 40, 59]],
              TINY_IDS[2]: [[30, 40, 200, 180]]}


def tiny_maps():
    rng = np.random.default_rng(11)
    return {image_id: rng.standard_normal((7, 7)) for image_id in TINY_IDS}


def write_tiny_reference(folder, sizes=None, boxes=None, ids=TINY_IDS):
    """A reference-layout folder by hand: ids in sub-folders, a space after some commas, and the
    second map saved under the docstring's name (extension replaced by .npy)."""
    metadata, scoremaps = folder / "metadata", folder / "scoremaps"
    metadata.mkdir(parents=True)
    (metadata / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    default_sizes = "".join(f"{i}, {w}, {h}\n" for i, (w, h) in TINY_SIZES.items())
    (metadata / "image_sizes.txt").write_text(default_sizes if sizes is None else sizes)
    default_boxes = "".join(f"{i},{','.join(map(str, b))}\n" for i, bs in TINY_BOXES.items() for b in bs)
    (metadata / "localization.txt").write_text(default_boxes if boxes is None else boxes)
    for index, (image_id, score_map) in enumerate(tiny_maps().items()):
        path = scoremaps / (image_id[: -len(".jpg")] + ".npy" if index == 1 else image_id + ".npy")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, score_map)
    return scoremaps, metadata


def write_tiny_npz_form(folder):
    (folder / "images.csv").write_text("image_id,width,height\n" + "".join(
        f"{i},{w},{h}\n" for i, (w, h) in TINY_SIZES.items()))
    (folder / "boxes.csv").write_text("image_id,x0,y0,x1,y1\n" + "".join(
        f"{i},{','.join(map(str, b))}\n" for i, bs in TINY_BOXES.items() for b in bs))
    np.savez(folder / "cams.npz", **tiny_maps())
    return folder / "cams.npz", folder / "images.csv", folder / "boxes.csv"


def test_reference_folder_gives_the_npz_forms_result(tmp_path):
    scoremaps, metadata = write_tiny_reference(tmp_path / "ref")
    localize_eval_reference(scoremaps, metadata, tmp_path / "ref.json")
    localize_eval_files(*write_tiny_npz_form(tmp_path), tmp_path / "npz.json")
    assert (tmp_path / "ref.json").read_text() == (tmp_path / "npz.json").read_text()
    result = json.loads((tmp_path / "ref.json").read_text())
    assert [image["image_id"] for image in result["per_image"]] == TINY_IDS
    assert len(result["per_image"][1]["gt_boxes_224"]) == 2


def test_metadata_readers_return_what_the_csv_readers_return(tmp_path):
    _, metadata = write_tiny_reference(tmp_path)
    sizes = read_reference_image_sizes(metadata / "image_sizes.txt")
    assert read_image_ids(metadata / "image_ids.txt") == TINY_IDS
    assert sizes == TINY_SIZES
    assert read_reference_boxes(metadata / "localization.txt", sizes) == TINY_BOXES


# --- (c) bad input: one line naming the file (and line) ------------------------------------


def evaluate_tiny(tmp_path, **changes):
    scoremaps, metadata = write_tiny_reference(tmp_path / "ref", **changes)
    return scoremaps, lambda: localize_eval_reference(scoremaps, metadata, tmp_path / "out" / "result.json")


def assert_one_line_error(run, pattern, tmp_path):
    with pytest.raises(ValueError, match=pattern) as error:
        run()
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_a_missing_npy_names_the_expected_path(tmp_path):
    scoremaps, run = evaluate_tiny(tmp_path)
    expected = scoremaps / "017.Cardinal" / "c_3.jpg.npy"
    expected.unlink()
    assert_one_line_error(run, rf"^{expected}: no score map for image '017\.Cardinal/c_3\.jpg' listed in "
                               r".*metadata/image_ids\.txt$", tmp_path)


@pytest.mark.parametrize(
    "sizes, pattern",
    [
        ("001.Black_footed_Albatross/img_1.jpg,40,30\n001.Black_footed_Albatross/img_2.jpg,50,60\n"
         "017.Cardinal/c_3.jpg,x,224\n", r"metadata/image_sizes\.txt:3: width must be an integer, got 'x'$"),
        ("001.Black_footed_Albatross/img_1.jpg,40\n", r"metadata/image_sizes\.txt:1: expected 3 comma-separated"),
        ("001.Black_footed_Albatross/img_1.jpg,40,30\n001.Black_footed_Albatross/img_2.jpg,50,60\n",
         r"metadata/image_sizes\.txt: no size for image '017\.Cardinal/c_3\.jpg' listed in .*image_ids\.txt$"),
    ],
)
def test_a_bad_image_sizes_file_is_one_line_with_file_and_line(tmp_path, sizes, pattern):
    _, run = evaluate_tiny(tmp_path, sizes=sizes)
    assert_one_line_error(run, pattern, tmp_path)


def test_an_id_without_a_box_names_localization_txt(tmp_path):
    boxes = "001.Black_footed_Albatross/img_1.jpg,1,2,30,20\n017.Cardinal/c_3.jpg,30,40,200,180\n"
    _, run = evaluate_tiny(tmp_path, boxes=boxes)
    assert_one_line_error(run, r"metadata/localization\.txt: no box for image '001\.Black_footed_Albatross/img_2"
                               r"\.jpg' listed in .*image_ids\.txt$", tmp_path)


def test_a_bad_box_line_names_file_and_line(tmp_path):
    boxes = "001.Black_footed_Albatross/img_1.jpg,1,2,30,20\n017.Cardinal/c_3.jpg,30,40,2.5,180\n"
    _, run = evaluate_tiny(tmp_path, boxes=boxes)
    assert_one_line_error(run, r"metadata/localization\.txt:2: x1 must be an integer, got '2\.5'$", tmp_path)


def test_an_id_leaving_the_folder_is_refused(tmp_path):
    ids = [*TINY_IDS, "../outside.jpg"]
    _, run = evaluate_tiny(tmp_path, ids=ids)
    assert_one_line_error(run, r"image_ids\.txt:4: image id must be a relative path", tmp_path)


# --- (d) export never mixes old and new files ----------------------------------------------


def test_export_into_a_non_empty_folder_is_refused_and_leaves_it_as_it_was(tmp_path):
    out = tmp_path / "export"
    (out / "scoremaps").mkdir(parents=True)
    (out / "scoremaps" / "old.npy").write_bytes(b"old")
    (out / "notes.txt").write_text("keep me\n")
    before = tree(out)
    with pytest.raises(ValueError, match=rf"^{out}: exists and is not an empty folder") as error:
        export_reference_layout(*ORACLE_INPUTS, out)
    assert "\n" not in str(error.value)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_export_into_an_empty_folder_fills_it(tmp_path):
    (tmp_path / "export").mkdir()
    export_reference_layout(*ORACLE_INPUTS, tmp_path / "export")
    assert (tmp_path / "export" / "metadata" / "image_ids.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_a_failed_export_leaves_nothing(tmp_path):
    cams, images, boxes = write_tiny_npz_form(tmp_path)
    np.savez(cams, **{TINY_IDS[0]: np.zeros((7, 7))})  # the other two maps are missing
    with pytest.raises(ValueError, match=r"cams\.npz: no score map for image '001\.Black_footed_Albatross/img_2"):
        export_reference_layout(cams, images, boxes, tmp_path / "export")
    assert not (tmp_path / "export").exists()
    assert not any(p.name.startswith(".export") for p in tmp_path.iterdir())


# --- (e) the command line ------------------------------------------------------------------


def test_command_line_exports_and_evaluates_the_oracle(tmp_path):
    cams, images, boxes = (str(p) for p in ORACLE_INPUTS)
    export = tmp_path / "export"
    assert cli.main(["export-maps", "--cams", cams, "--images", images, "--boxes", boxes, "--out", str(export)]) == 0
    out = tmp_path / "result.json"
    command = [str(Path(sys.executable).parent / "infocam"), "localize-eval", "--scoremaps", str(export / "scoremaps"),
               "--metadata", str(export / "metadata"), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    del result["n_degenerate_maps"]
    assert_same_json(result, EXPECTED)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--cams", "c.npz", "--images", "i.csv", "--boxes", "b.csv", "--scoremaps", "s"],
         "give either --cams, --images and --boxes, or --scoremaps and --metadata"),
        ([], "give either --cams, --images and --boxes, or --scoremaps and --metadata"),
        (["--scoremaps", "s"], "the --scoremaps form also needs --metadata"),
        (["--cams", "c.npz", "--boxes", "b.csv"], "the --cams form also needs --images"),
    ],
)
def test_command_line_wants_exactly_one_input_form(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["localize-eval", *arguments, "--out", str(tmp_path / "out.json")])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_command_line_refuses_a_non_empty_export_folder_on_one_line(tmp_path, capsys):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "x").write_text("x")
    cams, images, boxes = (str(p) for p in ORACLE_INPUTS)
    argv = ["export-maps", "--cams", cams, "--images", images, "--boxes", boxes, "--out", str(tmp_path / "export")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not an empty folder" in err
