"""Paired comparisons of CAM variants on the same test images: results/infocam_vs_cam.csv.

For every evaluated cell (dataset, backbone, ADL) and localisation metric, each variant is set
against plain CAM (and infoCAM against each of its two ablations, Table 5's claim that both the
region and the subtraction are needed; infoCAM and infoCAM+ against each CAM family member evaluated): the difference in points, its 95 % paired bootstrap
interval (the same images resampled for both, within each seed; infocam.stats), and the exact
McNemar p-value on the per-image hits pooled over seeds.
"""

import numpy as np
import pandas as pd

from infocam.io import write_text_atomic
from infocam.stats import mcnemar_exact, paired_bootstrap_interval
from infocam.wsol.methods import BASELINE, FAMILY, evaluated_names, layout
from infocam.wsol.tables import CELL_KEYS, load_summaries

LOCALISATION = ["gt_loc", "top1_loc"]
COLUMNS = [*CELL_KEYS, "metric", "method", "baseline", "region", "subtraction", "geometry", "value", "baseline_value",
           "diff", "ci_low", "ci_high", "p_value", "only_method", "only_baseline", "n_images", "n_seeds"]


def _pairs(geometry, family):
    """[(method, baseline)] and {method: (region, subtraction, geometry)} of an evaluation under `geometry`
    with the CAM family members `family`: every evaluated map against CAM, infoCAM against each of its
    two ablations, then infoCAM and infoCAM+ against each family member."""
    variants = {name: layout(name, geometry)[1:] for name in evaluated_names(geometry, family)}
    pairs = [(method, BASELINE) for method in variants if method != BASELINE]
    pairs += [("infocam", "ablation_region_only"), ("infocam", "ablation_subtraction_only")]
    return pairs + [(ours, member) for member in family for ours in ("infocam", "infocam_plus")], variants


def compare(frame, method, baseline, metric):
    """One comparison row's numbers from the cell's per-seed rows of `method` and `baseline`."""
    a = [hits[metric] for hits in frame[frame["variant"] == method].sort_values("seed")["hits"]]
    b = [hits[metric] for hits in frame[frame["variant"] == baseline].sort_values("seed")["hits"]]
    low, high = paired_bootstrap_interval(a, b)
    a_all, b_all = np.concatenate(a), np.concatenate(b)
    value, baseline_value = 100 * np.mean([x.mean() for x in a]), 100 * np.mean([x.mean() for x in b])
    return {"value": value, "baseline_value": baseline_value, "diff": value - baseline_value,
            "ci_low": 100 * low, "ci_high": 100 * high, "p_value": mcnemar_exact(a_all, b_all),
            "only_method": int(np.sum(a_all & ~b_all)), "only_baseline": int(np.sum(~a_all & b_all)),
            "n_images": len(a_all), "n_seeds": len(a)}


def comparison_table(summary_paths):
    frame = load_summaries(summary_paths)
    if frame["hits"].isna().any():
        raise ValueError("paired comparisons need the per-image records each summary names")
    rows = []
    for cell, group in frame.groupby(CELL_KEYS + ["region_geometry"], sort=False):
        family = [name for name in FAMILY if name in set(group["variant"])]
        pairs, variants = _pairs(cell[-1], family)
        for metric in LOCALISATION:
            for method, baseline in pairs:
                region, subtraction, geometry = variants[method]
                rows.append(dict(zip(CELL_KEYS, cell[:-1]), metric=metric, method=method, baseline=baseline,
                                 region=region, subtraction=subtraction, geometry=geometry,
                                 **compare(group, method, baseline, metric)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    numbers = ["value", "baseline_value", "diff", "ci_low", "ci_high"]
    table[numbers] = table[numbers].round(2)
    table["p_value"] = table["p_value"].round(6)
    return table


def write_comparison(summary_paths, csv_path):
    table = comparison_table(summary_paths)
    write_text_atomic(csv_path, table.to_csv(index=False))
    return table
