"""The 2020-protocol results (infocam.wsol.protocol2020) as tables, comparisons and a figure.

- results/table1_wsol2020.{csv,md}: per cell, method and checkpoint choice (selected on the
  selection split, or the last epoch), MaxBoxAccV2 (and at IoU 30, 50, 70), GT-known and Top-1
  Loc at the chosen tau and at tau = 0.2, each with its 95 % interval, the paper protocol's
  GT-known Loc and MaxBoxAccV2 of the same method beside;
- results/normalisation_wsol2020.{csv,md}: CAM, infoCAM and infoCAM+ under min-max, max, PaS
  and IVR (its percentile and every tau chosen on the selection split);
- results/infocam_vs_cam_wsol2020.csv: infoCAM and infoCAM+ against CAM, MaxBoxAccV2 and
  GT-known Loc at the chosen tau, paired bootstrap on the test images;
- an accuracy-against-tau figure per cell, the chosen tau marked.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from infocam.io import save_png_atomic, write_text_atomic
from infocam.stats import (bootstrap_interval, max_accuracy_interval, mcnemar_exact, paired_bootstrap_interval,
                           paired_max_accuracy_interval)
from infocam.wsol.localize import DEFAULT_THRESHOLDS, IOU_LEVELS
from infocam.wsol.methods import BASELINE, by_name, headline_methods
from infocam.wsol.protocol2020 import SELECTION_NORMALISATION, correct_top1_key, threshold_index
from infocam.wsol.tables import BACKBONE_NAMES, CELL_KEYS, DATASET_NAMES

SPLIT_NOTES = {"fullsup": "train-fullsup: CUBV2", "val": "train-fullsup: the authors' val half (no CUBV2 for this "
                                                        "dataset); test: their test half"}
GROUP = CELL_KEYS + ["method", "checkpoint", "normalisation"]


def load_results(paths):
    """One row per (cell, seed, method, checkpoint choice, normalisation) with its per-image hits."""
    rows = []
    for path in paths:
        result = json.loads(Path(path).read_text())
        hits = np.load(result["hits"]["path"])
        cell = result["cell"]
        for row in result["rows"]:
            v1, v2 = hits[f"{row['key']}_v1"], hits[f"{row['key']}_v2"]
            at_tau, at_fixed = v1[:, threshold_index(row["tau"])], v1[:, threshold_index(0.2)]
            rows.append({"dataset": result["dataset"], "backbone": cell["backbone"], "adl": bool(cell["adl"]),
                         "seed": cell["seed"], "split_note": SPLIT_NOTES[result["selection_split"]],
                         "n_test": result["n_test"], **{k: v for k, v in row.items() if k != "key"},
                         "v1": v1, "v2": v2, "gt_hits": at_tau, "top1_hits": at_tau & hits[correct_top1_key(row["epoch"])],
                         "gt_hits_tau02": at_fixed})
    if not rows:
        raise ValueError("no 2020-protocol results given")
    return pd.DataFrame(rows)


def _summarise(group):
    """Mean over seeds, and intervals over the test images (resampled within each seed)."""
    out = {column: round(group[column].mean(), 2) for column in
           ["maxboxacc_v2", *(f"maxboxacc_v2_iou{level}" for level in IOU_LEVELS), "gt_loc", "top1_loc",
            "gt_loc_tau02", "top1_loc_tau02"]}
    out.update(epoch=",".join(str(e) for e in sorted(set(group["epoch"]))),
               region="" if group["region"].isna().all() else ",".join(str(int(r)) for r in sorted(set(group["region"]))),
               tau=round(group["tau"].mean(), 2), percentile=group["percentile"].mean(),
               n_test=group["n_test"].iloc[0], n_seeds=group["seed"].nunique(), split_note=group["split_note"].iloc[0])
    low, high = max_accuracy_interval(list(group["v2"]))
    out.update(maxboxacc_v2_ci_low=round(100 * low, 2), maxboxacc_v2_ci_high=round(100 * high, 2))
    for metric, column in (("gt_loc", "gt_hits"), ("top1_loc", "top1_hits"), ("gt_loc_tau02", "gt_hits_tau02")):
        low, high = bootstrap_interval(list(group[column]))
        out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = round(100 * low, 2), round(100 * high, 2)
    return pd.Series(out)


def summary_table(frame):
    table = frame.groupby(GROUP, sort=False).apply(_summarise, include_groups=False).reset_index()
    rank = {name: i for i, name in enumerate([*headline_methods(), *sorted(set(frame["method"]))])}
    table["method_label"] = table["method"].map(lambda name: by_name(name).label)
    return table.assign(_m=table["method"].map(rank)).sort_values(
        ["dataset", "backbone", "adl", "checkpoint", "_m"], ascending=[True, False, True, False, True],
        kind="stable").drop(columns="_m").reset_index(drop=True)


def comparison_table(frame):
    """infoCAM and infoCAM+ against CAM, per cell and checkpoint choice, min-max normalised."""
    rows = []
    minmax = frame[frame["normalisation"] == SELECTION_NORMALISATION]
    for keys, block in minmax.groupby(CELL_KEYS + ["checkpoint"], sort=False):
        by_method = {method: group.sort_values("seed") for method, group in block.groupby("method")}
        for method in (m for m in headline_methods() if m != BASELINE and m in by_method):
            ours, cam = by_method[method], by_method[BASELINE]
            low, high = paired_max_accuracy_interval(list(ours["v2"]), list(cam["v2"]))
            rows.append({**dict(zip(CELL_KEYS + ["checkpoint"], keys)), "method": method, "baseline": BASELINE,
                         "metric": "maxboxacc_v2", "diff": round(ours["maxboxacc_v2"].mean()
                                                                 - cam["maxboxacc_v2"].mean(), 2),
                         "ci_low": round(100 * low, 2), "ci_high": round(100 * high, 2), "p_value": None})
            low, high = paired_bootstrap_interval(list(ours["gt_hits"]), list(cam["gt_hits"]))
            a, b = np.concatenate(list(ours["gt_hits"])), np.concatenate(list(cam["gt_hits"]))
            rows.append({**dict(zip(CELL_KEYS + ["checkpoint"], keys)), "method": method, "baseline": BASELINE,
                         "metric": "gt_loc_at_chosen_tau", "diff": round(100 * (a.mean() - b.mean()), 2),
                         "ci_low": round(100 * low, 2), "ci_high": round(100 * high, 2),
                         "p_value": round(mcnemar_exact(a, b), 6)})
    return pd.DataFrame(rows)


def paper_protocol_columns(table, summary_paths):
    """The paper protocol's GT-known Loc and MaxBoxAccV2 of the same cell and method, where evaluated."""
    values = {}
    for path in summary_paths:
        summary = json.loads(Path(path).read_text())
        cell = summary["cell"]
        for method, metrics in summary["methods"].items():
            values[(summary["dataset"], cell["backbone"], bool(cell["adl"]), method)] = (
                metrics["gt_loc"], metrics.get("maxboxacc_v2"))
    keys = zip(table["dataset"], table["backbone"], table["adl"], table["method"])
    pairs = [values.get(key, (None, None)) for key in keys]
    table["paper_protocol_gt_loc"] = [None if gt is None else round(gt, 2) for gt, _ in pairs]
    table["paper_protocol_maxboxacc_v2"] = [None if v2 is None else round(v2, 2) for _, v2 in pairs]
    return table


def write_tables(result_paths, table_csv, table_md, norm_csv, norm_md, comparison_csv, summary_paths=()):
    frame = load_results(result_paths)
    table = summary_table(frame)
    main = paper_protocol_columns(table[table["normalisation"] == SELECTION_NORMALISATION].copy(), summary_paths)
    main = main.drop(columns=["normalisation", "percentile"])
    normalisations = table[table["method"].isin(headline_methods()) & (table["checkpoint"] == "selected")]
    write_text_atomic(table_csv, main.to_csv(index=False))
    write_text_atomic(table_md, render_main(main))
    write_text_atomic(norm_csv, normalisations.to_csv(index=False))
    write_text_atomic(norm_md, render_normalisations(normalisations))
    write_text_atomic(comparison_csv, comparison_table(frame).to_csv(index=False))
    return main, normalisations


def _cell(row, metric):
    low, high = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
    shown = f"{row[metric]:.2f}"
    return shown if low is None or pd.isna(low) else f"{shown} [{low:.1f}, {high:.1f}]"


def _block(row):
    return (f"{DATASET_NAMES.get(row['dataset'], row['dataset'])} | "
            f"{BACKBONE_NAMES.get(row['backbone'], row['backbone'])} | {'Y' if row['adl'] else 'N'}")


def render_main(table):
    lines = ["# Table 1 under the 2020 protocol (Choe et al., CVPR 2020): localisation (%)", "",
             "Every choice (checkpoint among the epochs kept, R, tau) made on the selection split; the test "
             "split evaluated once. selected: the checkpoint and R with the best MaxBoxAccV2 there; last: the "
             "last epoch (its own R). Measured [95 % interval]; the paper protocol's numbers (its test half, "
             "the best-val-top-1 checkpoint, tau = 0.2) beside.", "",
             "| dataset | backbone | ADL | checkpoint | method | epoch | R | MaxBoxAccV2 | IoU 30 / 50 / 70 | tau | "
             "GT-known Loc at tau | Top-1 Loc at tau | GT-known Loc at 0.2 | paper protocol: GT-known Loc, "
             "MaxBoxAccV2 |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, row in table.iterrows():
        levels = " / ".join(f"{row[f'maxboxacc_v2_iou{level}']:.1f}" for level in IOU_LEVELS)
        paper = "" if pd.isna(row["paper_protocol_gt_loc"]) else \
            f"{row['paper_protocol_gt_loc']:.2f}, {row['paper_protocol_maxboxacc_v2']:.2f}"
        lines.append(f"| {_block(row)} | {row['checkpoint']} | {row['method_label']} | {row['epoch']} | "
                     f"{row['region']} | {_cell(row, 'maxboxacc_v2')} | {levels} | {row['tau']:.2f} | "
                     f"{_cell(row, 'gt_loc')} | {_cell(row, 'top1_loc')} | {_cell(row, 'gt_loc_tau02')} | {paper} |")
    notes = sorted(set(table["split_note"]))
    return "\n".join(lines + [""] + [f"Selection split: {note}." for note in notes]) + "\n"


def render_normalisations(table):
    lines = ["# Score-map normalisation under the 2020 protocol (Kim et al., ICCV 2021) (%)", "",
             "min-max: the reference's; max: ReLU, then / max (the original CAM's); pas: min-max with the 90th "
             "percentile as maximum, clipped at 1; ivr: minus the p-th percentile, ReLU, / max, p chosen on the "
             "selection split. Checkpoint and R as selected under min-max; tau chosen per normalisation.", "",
             "| dataset | backbone | ADL | method | normalisation | p | tau | MaxBoxAccV2 | GT-known Loc at tau |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, row in table.iterrows():
        percentile = "" if pd.isna(row["percentile"]) else f"{row['percentile']:g}"
        lines.append(f"| {_block(row)} | {row['method_label']} | {row['normalisation']} | {percentile} | "
                     f"{row['tau']:.2f} | {_cell(row, 'maxboxacc_v2')} | {_cell(row, 'gt_loc')} |")
    return "\n".join(lines) + "\n"


def plot_tau_curves(result_paths, png_path):
    """GT-known Loc on the test split against tau, one panel per cell (first seed), the headline
    methods under min-max with the selected checkpoint; a dot marks each method's chosen tau."""
    frame = load_results(result_paths)
    frame = frame[(frame["normalisation"] == SELECTION_NORMALISATION) & (frame["checkpoint"] == "selected")
                  & frame["method"].isin(headline_methods())]
    cells = list(frame.groupby(["dataset", "backbone", "adl"], sort=False))
    columns = min(4, len(cells))
    rows = -(-len(cells) // columns)
    figure = Figure(figsize=(3.2 * columns, 2.6 * rows))
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, ((dataset, backbone, adl), block) in zip(axes, cells):
        for _, row in block[block["seed"] == block["seed"].min()].iterrows():
            curve = 100 * row["v1"].mean(axis=0)
            line, = axis.plot(DEFAULT_THRESHOLDS, curve, label=by_name(row["method"]).label)
            axis.plot([row["tau"]], [curve[threshold_index(row["tau"])]], "o", color=line.get_color())
        axis.set_title(f"{dataset} {backbone}{' ADL' if adl else ''}", fontsize=8)
        axis.set_xlabel("tau", fontsize=7)
        axis.set_ylabel("GT-known Loc (%)", fontsize=7)
        axis.tick_params(labelsize=6)
    for axis in axes[len(cells):]:
        axis.set_visible(False)
    axes[0].legend(fontsize=6)
    figure.suptitle("2020 protocol: GT-known Loc on the test split against tau; dots: tau chosen on the "
                    "selection split", fontsize=8)
    figure.tight_layout()
    save_png_atomic(figure, png_path)
