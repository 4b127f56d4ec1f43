"""The Snakemake workflow: lint, planning, and a whole run on a tiny config."""

import json
import os
import subprocess

import pandas as pd
import pytest
import yaml

from conftest import ROOT, SNAKEFILE, SNAKEMAKE, TINY



def snakemake(*args, workdir=ROOT, env=None):
    return subprocess.run([*SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(workdir), *args],
                          capture_output=True, text=True, env=env)


def write_config(path, edit, base=TINY):
    config = yaml.safe_load(base.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_cuda_on_a_machine_without_one_stops_before_any_job(tmp_path):
    configfile = write_config(tmp_path / "cuda.yaml", lambda c: c.update(device="cuda"))
    hidden = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU visible, whatever the machine has
    result = snakemake("--cores", "1", "--configfile", configfile, workdir=tmp_path, env=hidden)
    assert result.returncode == 1
    assert "infocam: config key 'device': 'cuda' requested but no CUDA device is visible on" in result.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "results").exists()


def test_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_files_are_in_snakefmt_format():
    """The Snakemake workflow catalog's style check (line length from pyproject.toml's [tool.snakefmt])."""
    result = subprocess.run(["snakefmt", "--check", str(ROOT / "workflow")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_named_targets_are_listed():
    result = snakemake("--list-target-rules")
    assert result.returncode == 0, result.stderr
    assert {"wsol_tables", "mi", "digits", "all"} <= set(result.stdout.split())


def job_counts(stdout):
    """{rule: jobs} from the job stats of `snakemake -n --quiet rules`."""
    return {line.split()[0]: int(line.split()[1]) for line in stdout.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}


def planned_jobs(workdir, *args):
    result = snakemake("-n", "--cores", "2", "--quiet", "rules", *args, workdir=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    return job_counts(result.stdout)


def test_an_overlay_after_a_full_config_changes_only_its_keys(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"grid": {"backbones": ["vgg16"], "adl": [False], "losses": ["softmax"],
                                                "seeds": [0]}}))
    jobs = planned_jobs(tmp_path, "--configfile", str(ROOT / "config" / "config.yaml"), str(overlay))
    assert jobs["train"] == 2 and jobs["evaluate"] == 2  # one cell per dataset
    assert jobs["mi_estimate"] == 8  # the rest of config.yaml still holds


def test_a_cells_hyper_can_set_its_own_schedule(tmp_path):
    def edit(config):
        config["datasets"]["tiny"]["hyper"]["vgg16"].update(epochs=5, lr_step=4)
    result = snakemake("-n", "-p", "--cores", "1", "results/checkpoints/tiny/vgg16-adl-softmax-s0.pt",
                       "results/checkpoints/cub/vgg16-adl-softmax-s0.pt",
                       "--configfile", write_config(tmp_path / "schedule.yaml", edit), workdir=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    commands = {line.split("--data data/prepared/")[1].split()[0]: line
                for line in result.stdout.splitlines() if "infocam train --data data/prepared/" in line}
    assert '"epochs": 5' in commands["tiny"] and '"lr_step": 4' in commands["tiny"]
    assert '"epochs": 2' in commands["cub"] and '"lr_step": 1' in commands["cub"]  # training's


def test_default_config_plans_the_full_grid(tmp_path):
    result = snakemake("-n", "--cores", "2", "--quiet", "rules", workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = dict(line.split() for line in result.stdout.splitlines()
                  if len(line.split()) == 2 and line.split()[1].isdigit())
    assert counts["train"] == "8" and counts["evaluate"] == "8"
    assert counts["synthesize_archive"] == "3" and counts["prepare_dataset"] == "3" and counts["table"] == "5"
    assert counts["pretrain"] == "2"  # one per backbone, on the synthetic pretraining corpus
    assert counts["decode_images"] == "3"  # training.cache_images: each prepared dataset decoded once
    # the 2020 protocol on CUB's 4 cells (Tiny-ImageNet's is off), from one synthetic train-fullsup tar
    assert counts["select_2020"] == counts["test_2020"] == "4" and counts["synthesize_fullsup"] == "1"
    assert counts["table_2020"] == counts["tau_figure_2020"] == "1"


def deployed_plan(deployment, configfile):
    """Planned jobs in a deployed folder under `configfile` alone (snakedeploy's Snakefile loads
    config/config.yaml, which a --configfile would otherwise only extend)."""
    result = deployment.snakemake("-n", "--cores", "2", "--quiet", "rules", "--configfile", configfile,
                                  "--replace-workflow-config")
    assert result.returncode == 0, result.stdout + result.stderr
    return job_counts(result.stdout)


@pytest.mark.slow
def test_tiny_config_builds_every_table(tiny_run, tmp_path):
    """The suite's one whole run (conftest.tiny_run), in a folder deployed as the README says:
    snakedeploy's module Snakefile, the tiny config with DVC tracking on as its config/config.yaml,
    infocam installed from the same source into a fresh venv."""
    deployment, work = tiny_run, tiny_run.folder
    table1 = pd.read_csv(work / "results" / "table1.csv")
    assert len(table1) == 2 * 2 * 2 * 3  # dataset x backbone x ADL x method
    assert table1[["gt_loc", "top1_loc"]].notna().all().all()
    assert ((table1.gt_loc >= table1.top1_loc) & table1.gt_loc.between(0, 100)).all()
    assert (table1.n_test == 3 * 2).all()  # 4 held-out per class -> 2 test per class
    # wsol2020's CUB train-fullsup: 2 synthetic CUBV2 images per class of the 3, in the prepared folder
    fullsup = pd.read_csv(work / "data" / "prepared" / "cub" / "fullsup.csv")
    assert len(fullsup) == 3 * 2 and list(fullsup.columns) == ["image_id", "path", "label", "width", "height"]
    assert not (work / "data" / "prepared" / "tiny" / "fullsup.csv").exists()
    for name in ("table3", "table4", "table5", "table6"):
        assert (work / "results" / f"{name}.md").read_text().startswith("# Table")
    table6 = pd.read_csv(work / "results" / "table6.csv")
    assert len(table6) == 2 * 2 * 2 * (3 + 8)  # dataset x backbone x ADL x (headline methods + the family)
    assert table6[["gt_loc", "top1_loc", "maxboxacc_v2", "maxboxacc_v2_ci_low"]].notna().all().all()
    summary = json.loads((work / "results/eval/cub/vgg16-adl-softmax-s0/summary.json").read_text())
    per_image = pd.read_csv(work / "results/eval/cub/vgg16-adl-softmax-s0/per_image.csv.gz")
    assert len(per_image) == summary["n_test"]
    assert summary["methods"]["cam"]["gt_loc"] == pytest.approx(100 * (per_image.cam_iou >= 0.5).mean())
    assert summary["map_size"] == [4, 4]  # datasets.cub.output_stride.vgg16: 8 on 32-pixel crops
    resnet = json.loads((work / "results/eval/cub/resnet50-adl-softmax-s0/summary.json").read_text())
    assert resnet["map_size"] == [2, 2]
    history = pd.read_csv(work / "results/train/cub/vgg16-adl-softmax-s0/history.csv")
    assert list(history.epoch) == [1, 2]
    assert not list((work / "results/train").rglob("resume.pt"))
    pc_softmax = pd.read_csv(work / "results" / "pc_softmax.csv")
    assert set(pc_softmax.loss) == {"softmax", "pc_softmax", "dropmax"} and set(pc_softmax.dataset) == {"mnist", "cub"}
    assert pc_softmax.accuracy.between(0, 100).all()
    assert len(pd.read_csv(work / "results" / "table2.csv")) > 0
    for figure in ("mi_estimation", "double_digit_cam_vs_infocam", "info_masking", "wsol_cub", "wsol_tiny",
                   "family_cub", "family_tiny"):
        assert (work / "results" / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"

    # The audit follows every table's md5 chain to the DVC records (provenance/test_audit.py tampers with it).
    tables = sorted(str(path) for path in (work / "results").glob("*.csv") if path.name != "double_digit_localisation.csv")
    audit = deployment.run("infocam", "audit", *tables)  # the installed package checks its own records
    assert audit.returncode == 0, audit.stdout[-3000:] + audit.stderr
    # 8 tables, comparisons, claims, and the 2020 protocol's table, normalisation table and comparisons
    assert audit.stdout.count("links hold") == len(tables) == 13 and "DVC was not used" not in audit.stdout
    wsol2020 = pd.read_csv(work / "results" / "table1_wsol2020.csv")
    assert len(wsol2020) == 8 * 2 * (3 + 8)  # cells x (selected, last) x (headline methods + the family)

    # Evidence: intervals in the tables, paired comparisons, the claims ledger.
    assert (table1.gt_loc_ci_low <= table1.gt_loc).all() and (table1.gt_loc <= table1.gt_loc_ci_high).all()
    comparison = pd.read_csv(work / "results" / "infocam_vs_cam.csv")
    assert len(comparison[(comparison.baseline == "cam") & (comparison.metric == "gt_loc")]) == 8 * (8 + 8)
    assert len(comparison[comparison.baseline.isin(["gradcam", "scorecam"]) & (comparison.metric == "gt_loc")]) \
        == 8 * 2 * 2  # infoCAM and infoCAM+ against each family member, per cell
    assert comparison.p_value.between(0, 1).all()
    claims = pd.read_csv(work / "results" / "claims.csv")
    assert {"mi-balanced", "pc-softmax-mnist", "double-digit-localisation"} <= set(claims.id)
    assert set(claims.verdict.str.split(" \\(").str[0]) <= {"reproduced", "not reproduced", "finding",
                                                              "not testable on this config"}
    wsol = claims[claims.id.str.startswith("infocam-vs-cam") & ~claims.id.str.contains("wsol2020")]
    assert len(wsol) == 8 and (wsol.verdict == "not testable on this config (synthetic data)").all()
    assert (claims.id.str.startswith("infocam-vs-best-family").sum()) == 8
    assert (claims.id.str.startswith("infocam-vs-cam-wsol2020").sum()) == 8

    # One dataset's learning rate changes: only that dataset's training and what follows from it is planned.
    built_config = work / "config" / "config.yaml"  # edited copies go to tmp_path: the run is shared
    changed = write_config(tmp_path / "changed.yaml", lambda c: c["datasets"]["cub"]["hyper"]["vgg16"].update(lr=0.004),
                           base=built_config)
    jobs = deployed_plan(deployment, changed)
    assert jobs.pop("train") == 2 and jobs.pop("evaluate") == 2  # cub x vgg16 x {ADL off, on}
    assert jobs.pop("table") == 4  # table1, 3, 5 and 6 hold cub cells; table4 is Tiny-ImageNet only
    assert jobs.pop("select_2020") == 2 and jobs.pop("test_2020") == 2  # the 2020 protocol of those cells
    assert jobs.pop("dvc_track") == 2  # the two new checkpoints' DVC records
    assert jobs == {"infocam_vs_cam": 1, "table_2020": 1, "tau_figure_2020": 1, "claims": 1, "all": 1,
                    "total": 19}

    # The same folder under a paper-style config whose local copy is missing: one line, nothing runs.
    checkpoints = {path: path.stat().st_mtime for path in (work / "results" / "checkpoints").rglob("*.pt")}
    missing = write_config(tmp_path / "missing.yaml", lambda c: c["datasets"]["cub"].update(
        source="local", path=str(work / "no-such" / "CUB_200_2011.tgz"), md5="0" * 32), base=built_config)
    result = deployment.snakemake("--cores", "2", "--configfile", missing, "--replace-workflow-config")
    assert result.returncode == 1, result.stdout[-2000:]
    assert f"infocam: config key 'datasets.cub.path': {work}/no-such/CUB_200_2011.tgz does not exist" \
        in result.stderr
    assert {path: path.stat().st_mtime for path in checkpoints} == checkpoints

    # Another synthetic seed: the archive, its preparation and everything made from them are planned again.
    reseeded = write_config(tmp_path / "reseeded.yaml", lambda c: c["datasets"]["cub"]["synthetic"].update(seed=5),
                            base=built_config)
    jobs = deployed_plan(deployment, reseeded)
    assert jobs["synthesize_archive"] == 1 and jobs["prepare_dataset"] == 1
    assert jobs["train"] == 4 and jobs["evaluate"] == 4 and jobs["pc_softmax_run"] == 1
