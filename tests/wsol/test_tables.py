"""Paper tables from evaluation summaries: tidy columns, published values, seed means."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from infocam.wsol.methods import evaluated_names
from infocam.wsol.tables import render_markdown, write_table

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "workflow" / "resources" / "published.yaml"
# cam, infocam, infocam_plus, ablation_region_only, ablation_subtraction_only, then infocam_same,
# infocam_plus_same, ablation_region_only_same, cam_full_placement: metrics base + 0 ... base + 8.
VARIANTS = evaluated_names("full")


def write_summary(directory, dataset, backbone, adl, seed, base):
    """A summary whose metrics encode the cell, so each table cell can be traced back."""
    methods = {
        name: {"gt_loc": base + i, "top1_loc": base + i - 10} for i, name in enumerate(VARIANTS)
    }
    summary = {
        "dataset": dataset,
        "cell": {"backbone": backbone, "adl": adl, "loss": "softmax", "seed": seed},
        "n_test": 40,
        "top1_cls": base + 20,
        "top5_cls": base + 30,
        "methods": methods,
        "region_geometry": "full",
    }
    path = directory / f"{dataset}-{backbone}-{adl}-{seed}.json"
    path.write_text(json.dumps(summary))
    return path


@pytest.fixture
def summaries(tmp_path):
    paths = []
    for dataset in ("cub", "tiny"):
        for backbone in ("vgg16", "resnet50"):
            for adl in (False, True):
                for seed in (0, 1):
                    paths.append(write_summary(tmp_path, dataset, backbone, adl, seed, base=40 + 2 * seed))
    return paths


def test_table1_is_tidy_with_published_values_and_seed_means(tmp_path, summaries):
    table = write_table("table1", summaries, PUBLISHED, tmp_path / "t1.csv", tmp_path / "t1.md")
    frame = pd.read_csv(tmp_path / "t1.csv")
    assert list(frame.columns)[:9] == ["dataset", "backbone", "method", "adl", "gt_loc", "top1_loc",
                                       "paper_gt_loc", "paper_top1_loc", "n_test"]
    assert len(frame) == 2 * 2 * 2 * 3 and len(table) == len(frame)
    row = frame[(frame.dataset == "cub") & (frame.backbone == "vgg16") & (frame.method == "infoCAM+") & frame.adl]
    assert row.gt_loc.item() == pytest.approx(43.0)  # mean of seeds 42 and 44 for infocam_plus (index 2)
    assert row.paper_gt_loc.item() == 75.89 and row.paper_top1_loc.item() == 54.35
    assert (frame.n_seeds == 2).all() and frame.paper_gt_loc.notna().all()
    markdown = (tmp_path / "t1.md").read_text()
    assert "| VGG16-GAP | infoCAM+ (ADL) | 43.00 (75.89) | 33.00 (54.35) |" in markdown


def test_classification_tables_per_dataset(tmp_path, summaries):
    table = write_table("table4", summaries, PUBLISHED, tmp_path / "t4.csv", tmp_path / "t4.md")
    assert set(table.dataset) == {"tiny"}
    cam = table[(table.backbone == "resnet50") & (table.method == "CAM") & ~table.adl]
    assert cam.top1_cls.item() == pytest.approx(61.0) and cam.paper_top1_cls.item() == 66.45
    info = table[(table.backbone == "resnet50") & (table.method == "infoCAM") & ~table.adl]
    assert pd.isna(info.paper_top1_cls.item())


def test_table5_maps_ablation_switches_to_variants(tmp_path, summaries):
    table = write_table("table5", summaries, PUBLISHED, tmp_path / "t5.csv", tmp_path / "t5.md")
    cub_vgg = table[(table.dataset == "cub") & (table.backbone == "vgg16") & ~table.adl].set_index(
        ["region", "subtraction", "geometry"])
    assert len(cub_vgg) == 7
    assert cub_vgg.loc[(False, False, "none"), "gt_loc"] == pytest.approx(41.0)  # cam
    assert cub_vgg.loc[(True, True, "full"), "gt_loc"] == pytest.approx(42.0)  # infocam
    assert cub_vgg.loc[(True, False, "full"), "gt_loc"] == pytest.approx(44.0)  # region only
    assert cub_vgg.loc[(False, True, "none"), "gt_loc"] == pytest.approx(45.0)  # subtraction only
    assert cub_vgg.loc[(True, True, "same"), "gt_loc"] == pytest.approx(46.0)  # infocam_same
    assert cub_vgg.loc[(True, False, "same"), "gt_loc"] == pytest.approx(48.0)  # ablation_region_only_same
    assert cub_vgg.loc[(False, False, "full"), "gt_loc"] == pytest.approx(49.0)  # the geometry-only control
    assert cub_vgg.loc[(False, True, "none"), "paper_gt_loc"] == 47.59
    assert cub_vgg.loc[(True, True, "full"), "paper_gt_loc"] == 52.96
    assert pd.isna(cub_vgg.loc[(True, True, "same"), "paper_gt_loc"])  # the authors computed the full map
    assert cub_vgg.loc[(False, False, "full"), "paper_note"].startswith("geometry-only control")


def test_table5b_stands_beside_tiny_imagenet_and_no_block_mixes_datasets(tmp_path, summaries):
    table = write_table("table5", summaries, PUBLISHED, tmp_path / "t5.csv", tmp_path / "t5.md")
    cub_resnet = table[(table.dataset == "cub") & (table.backbone == "resnet50") & ~table.adl]
    tiny_resnet = table[(table.dataset == "tiny") & (table.backbone == "resnet50") & ~table.adl].set_index(
        ["region", "subtraction", "geometry"])
    # 5(b)'s baseline is Table 1's Tiny-ImageNet ResNet50 CAM; CUB's ResNet50 block keeps only CUB's infoCAM.
    assert tiny_resnet.loc[(False, False, "none"), "paper_gt_loc"] == 54.56
    assert tiny_resnet.loc[(False, False, "none"), "paper_note"] == "captioned CUB-200-2011"
    assert tiny_resnet.loc[(True, True, "full"), "paper_gt_loc"] == 57.79  # Tiny infoCAM, Table 1
    assert cub_resnet["paper_gt_loc"].dropna().tolist() == [64.78]
    assert "Tiny-ImageNet localisation numbers come from the authors' code" in (tmp_path / "t5.md").read_text()


def test_no_summaries_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no evaluation summaries"):
        write_table("table1", [], PUBLISHED, tmp_path / "t.csv", tmp_path / "t.md")
    assert not (tmp_path / "t.csv").exists()


def test_every_cell_gets_a_bootstrap_interval_from_its_per_image_records(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for seed in (0, 1):
        records = pd.DataFrame({"image_id": range(60), "has_gt_box": True,
                                "correct_top1": rng.random(60) < 0.7, "correct_top5": True})
        for method in VARIANTS:
            records[f"{method}_iou"] = rng.random(60)
        (tmp_path / f"cell{seed}").mkdir()
        per_image = tmp_path / f"cell{seed}" / "per_image.csv.gz"  # beside its summary, as rule evaluate writes it
        records.to_csv(per_image, index=False, compression="gzip")
        hits = {m: records[f"{m}_iou"] >= 0.5 for m in VARIANTS}
        summary = {"dataset": "cub", "cell": {"backbone": "vgg16", "adl": False, "loss": "softmax", "seed": seed},
                   "n_test": 60, "top1_cls": 100 * records.correct_top1.mean(), "top5_cls": 100.0,
                   "region_geometry": "full",
                   "methods": {m: {"gt_loc": 100 * h.mean(), "top1_loc": 100 * (h & records.correct_top1).mean()}
                               for m, h in hits.items()}}
        paths.append(tmp_path / f"cell{seed}" / "summary.json")
        paths[-1].write_text(json.dumps(summary))
    table = write_table("table3", paths, PUBLISHED, tmp_path / "t3.csv", tmp_path / "t3.md")
    for metric in ("gt_loc", "top1_loc", "top1_cls"):
        assert (table[f"{metric}_ci_low"] < table[metric]).all() and (table[metric] < table[f"{metric}_ci_high"]).all()
        assert ((table[f"{metric}_ci_high"] - table[f"{metric}_ci_low"]) < 30).all()
    assert (table["top5_cls_ci_low"] == 100).all()  # every image right: a point interval
    cam = table[table.method == "CAM"].iloc[0]
    assert f"{cam.gt_loc:.2f} [{cam.gt_loc_ci_low:.1f}, {cam.gt_loc_ci_high:.1f}] (42.49)" in (tmp_path / "t3.md").read_text()


def test_paired_comparisons_against_cam_on_the_same_images(tmp_path):
    from infocam.wsol.compare import write_comparison

    records = pd.DataFrame({"image_id": range(40), "has_gt_box": True, "correct_top1": True, "correct_top5": True})
    cam_hits = np.array([True] * 10 + [False] * 30)
    for method in VARIANTS:
        records[f"{method}_iou"] = np.where(cam_hits, 0.9, 0.1)  # every variant is CAM ...
    records.loc[10:19, "infocam_iou"] = 0.9  # ... but infoCAM also hits 10 more images
    records.to_csv(tmp_path / "per_image.csv.gz", index=False, compression="gzip")
    summary = {"dataset": "cub", "cell": {"backbone": "vgg16", "adl": False, "loss": "softmax", "seed": 0},
               "n_test": 40, "top1_cls": 100.0, "top5_cls": 100.0, "region_geometry": "full",
               "methods": {m: {"gt_loc": 0, "top1_loc": 0} for m in VARIANTS}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    table = write_comparison([tmp_path / "summary.json"], tmp_path / "c.csv").set_index(["metric", "method", "baseline"])
    gain = table.loc[("gt_loc", "infocam", "cam")]
    assert gain["diff"] == 25.0 and gain["only_method"] == 10 and gain["only_baseline"] == 0
    assert 0 < gain["ci_low"] < 25 < gain["ci_high"]
    assert gain["p_value"] == pytest.approx(2 / 2 ** 10, abs=1e-6)  # exact McNemar: 10 discordant pairs, one way
    same = table.loc[("gt_loc", "infocam_plus", "cam")]
    assert (same["diff"], same["ci_low"], same["ci_high"], same["p_value"]) == (0, 0, 0, 1)
    assert table.loc[("gt_loc", "cam_full_placement", "cam"), "geometry"] == "full"
    assert ("top1_loc", "infocam", "ablation_region_only") in table.index


def test_table6_markdown_says_once_that_it_has_no_published_numbers():
    row = {"dataset": "cub", "backbone": "vgg16", "adl": False, "method": "Grad-CAM", "gt_loc": 50.0,
           "top1_loc": 40.0, "maxboxacc_v2": 60.0}
    text = render_markdown("table6", pd.DataFrame([row]))
    assert text.count("no published numbers") == 1 and "(published)" not in text
    assert "| CUB-200-2011 | VGG16-GAP | N | Grad-CAM | 50.00 | 40.00 | 60.00 |" in text
