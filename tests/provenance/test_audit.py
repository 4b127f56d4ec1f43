"""Provenance: DVC tracking by the workflow, `infocam audit` and its tamper tests, and tables
rebuilt from checkpoints pulled from the DVC remote without a training job.

They read the suite's one whole run (conftest.tiny_run: the tiny config, DVC tracking on, in a
deployed git + DVC project); each tamper test works on its own copy of it. The audits run with
the deployment's installed infocam, whose files the provenance records hash.
"""

import gzip
import json
import shutil
import subprocess

import pandas as pd
import pytest

from deployment import DVC

TABLES = ["table1", "table3", "table4", "table5", "mi_estimation", "pc_softmax", "table2"]
WSOL_TABLES = ["results/table1.csv", "results/table3.csv", "results/table4.csv", "results/table5.csv"]
CELL = "vgg16-adl-softmax-s0"


def run(command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def built(tiny_run):
    return tiny_run.folder


@pytest.fixture(scope="module")
def audit(tiny_run):
    def audit_in(workdir, *tables):
        return tiny_run.run("infocam", "audit", *tables, cwd=workdir)
    return audit_in


def table1_row(built, dataset, backbone, method, adl):
    """The audit's name of a Table 1 row: its 1-based number and its key."""
    table = pd.read_csv(built / "results" / "table1.csv")
    index = table.index[(table.dataset == dataset) & (table.backbone == backbone) & (table.method == method)
                        & (table.adl == adl)][0]
    return index, f"row {index + 1} ({dataset}, {backbone}, {method}, {adl})"


@pytest.fixture
def copy(built, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(built, target, symlinks=True)
    return target


def test_workflow_tracks_archives_prepared_data_and_checkpoints_and_dvc_status_is_clean(built):
    for record in ["data/raw/cub/synthetic-cub.tgz.dvc", "data/prepared/tiny.dvc",
                   f"results/checkpoints/cub/{CELL}.pt.dvc", "results/double_digit/sigmoid-s0.pt.dvc",
                   "data/raw/cub/synthetic-cubv2.tar.dvc",  # wsol2020's train-fullsup and its metadata files
                   "data/raw/cub/synthetic-cubv2.tar.metadata/localization.txt.dvc"]:
        assert (built / record).is_file(), record
    assert "up to date" in run([*DVC, "status"], built).stdout
    # The .dvc files are ready to commit; the data they describe stays out of git.
    untracked = run(["git", "status", "--porcelain", "-uall"], built).stdout.split("\n")
    assert f"?? results/checkpoints/cub/{CELL}.pt.dvc" in untracked
    assert not [line for line in untracked if line and not line.endswith(".dvc")]


def test_every_table_has_a_provenance_record_and_passes_the_audit(built, audit):
    result = audit(built, *(f"results/{table}.csv" for table in TABLES))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert result.stdout.count("links hold") == len(TABLES)
    record = pd.read_json(built / "results" / "table1.provenance.json", typ="series")
    assert {"code", "config", "environment", "inputs", "outputs", "started", "finished"} <= set(record.index)


def test_a_tampered_checkpoint_is_caught(copy, audit):
    with open(copy / "results" / "checkpoints" / "cub" / f"{CELL}.pt", "ab") as handle:
        handle.write(b"\0")
    result = audit(copy, "results/table1.csv")
    assert result.returncode == 1
    assert f"checkpoint results/checkpoints/cub/{CELL}.pt: md5 is" in result.stderr
    assert table1_row(copy, "cub", "vgg16", "CAM", True)[1] in result.stdout


def test_a_tampered_per_image_file_is_caught(copy, audit):
    path = copy / "results" / "eval" / "cub" / CELL / "per_image.csv.gz"
    with gzip.open(path) as stream:
        frame = pd.read_csv(stream)
    frame["cam_iou"] = 1.0 - frame["cam_iou"]  # every CAM hit becomes a miss and back
    frame.to_csv(path, index=False, compression="gzip")
    result = audit(copy, "results/table1.csv")
    assert result.returncode == 1
    assert f"{table1_row(copy, 'cub', 'vgg16', 'CAM', True)[1]}: gt_loc" in result.stderr
    assert f"per-image results/eval/cub/{CELL}/per_image.csv.gz: md5 is" in result.stdout
    assert "metrics of cam differ from its per-image records" in result.stdout


def test_a_tampered_table_cell_is_caught(copy, audit):
    index, row = table1_row(copy, "cub", "vgg16", "infoCAM", False)
    path = copy / "results" / "table1.csv"
    table = pd.read_csv(path)
    table.loc[index, "gt_loc"] = table.loc[index, "gt_loc"] + 12.5
    table.to_csv(path, index=False)
    result = audit(copy, "results/table1.csv")
    assert result.returncode == 1
    assert f"{row}: gt_loc" in result.stderr


def test_a_tampered_split_file_is_caught(copy, audit):
    path = copy / "data" / "prepared" / "cub" / "test.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # one test image dropped
    result = audit(copy, "results/table1.csv")
    assert result.returncode == 1
    assert "split data/prepared/cub/test.csv: md5 is" in result.stderr
    assert "prepared dataset data/prepared/cub: differs from its DVC record" in result.stdout


def test_a_tampered_mi_result_is_caught(copy, audit):
    path = next((copy / "results" / "mi").glob("balanced-*.csv"))
    frame = pd.read_csv(path)
    frame.loc[0, "estimate_nats"] += 1.0
    frame.to_csv(path, index=False)
    result = audit(copy, "results/mi_estimation.csv")
    assert result.returncode == 1
    assert "differs from the per-job results" in result.stdout


def test_tables_are_rebuilt_from_pulled_checkpoints_without_training(tiny_run, built, audit, tmp_path):
    run([*DVC, "push", "-q"], built)
    run(["git", "add", "-A"], built)
    run(["git", "commit", "-qm", "results tracked"], built)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(built), str(clone)], tmp_path)
    run([*DVC, "pull", "-q"], clone)
    # What `make tables-from-checkpoints` runs after `dvc pull`.
    result = tiny_run.snakemake("--cores", "2", *WSOL_TABLES, "--allowed-rules", "evaluate", "table", cwd=clone)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "rule train:" not in result.stdout + result.stderr
    assert not (clone / "logs" / "train").exists()
    for table in WSOL_TABLES:
        rebuilt, original = pd.read_csv(clone / table), pd.read_csv(built / table)
        pd.testing.assert_frame_equal(rebuilt, original)
    assert audit(clone, *WSOL_TABLES).returncode == 0


def test_a_cell_made_from_another_dataset_than_the_tables_config_names_is_caught(copy, audit):
    summary_path = copy / "results" / "eval" / "cub" / CELL / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["provenance"]["dataset"]["source"]["archive"] = "data/raw/cub/CUB_200_2011.tgz"
    summary_path.write_text(json.dumps(summary))
    result = audit(copy, "results/table1.csv")
    assert result.returncode == 1
    assert f"results/eval/cub/{CELL}/summary.json -> dataset cub: made from" in result.stdout
