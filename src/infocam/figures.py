"""Figures of the pipeline as PNG files: MI estimation, double-digit CAM vs infoCAM, info-masking.

Figures are matplotlib `Figure` objects drawn by the Agg backend (no pyplot, so no display
and no global figure state).
"""

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from infocam.mi import ESTIMATOR_NAMES, read_results, summarise
from infocam.mi_estimators import ESTIMATORS


def _plot_setting(axis, summary, setting):
    rows = summary[summary["setting"] == setting].sort_values("dim")
    names = [name for name in ESTIMATORS if name in set(rows["estimator"])]
    truth = rows.drop_duplicates("dim")
    dims = truth["dim"].to_numpy()
    axis.plot(dims, truth["true_mi"], "k--o", linewidth=2, label="true MI", zorder=3)
    axis.axhline(truth["label_entropy"].iloc[0], color="0.6", linestyle=":", label="H(Y)")
    # Spread the estimators sideways a little (multiplicatively, the axis is log) so error bars stay apart.
    spread = np.linspace(-0.06, 0.06, len(names))
    for name, shift in zip(names, spread):
        points = rows[rows["estimator"] == name]
        axis.errorbar(points["dim"] * np.exp(shift), points["mean"], yerr=points["std"].fillna(0), marker="o",
                      markersize=4, capsize=3, linewidth=1, label=ESTIMATOR_NAMES.get(name, name))
    axis.set_xscale("log")
    axis.set_xticks(dims, [str(dim) for dim in dims])
    axis.minorticks_off()
    axis.set_xlabel("dimension d")
    axis.set_title(f"{setting} (mean ± std over seeds)")
    axis.grid(alpha=0.3)


def plot_mi_estimation(results_csv, png_path):
    """Estimate vs d per estimator, one panel per setting, with the true MI and H(Y) drawn."""
    summary = summarise(read_results([results_csv]))
    settings = sorted(summary["setting"].unique())
    figure = Figure(figsize=(5.5 * len(settings), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(settings), sharey=True, squeeze=False)
    for axis, setting in zip(axes[0], settings):
        _plot_setting(axis, summary, setting)
    axes[0][0].set_ylabel("I(X;Y) estimate on the test set (nats)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = png_path.with_name(f".{png_path.name}.tmp")
    figure.savefig(tmp, dpi=120, format="png")
    os.replace(tmp, png_path)


# --- PC-softmax and digits: double-digit CAM vs infoCAM (infoCAM paper Fig. 4), info-masking (softmax paper Fig. 2) ---


def _test_canvases(mnist_folder, data_seed, p_present, count):
    from infocam.digits import load_mnist, make_double_digits

    mnist = load_mnist(mnist_folder)
    return make_double_digits(mnist.test_images, mnist.test_labels, count, data_seed + 1, p_present)


def _upsampled(score_map, height, width):
    import cv2

    return cv2.resize(np.asarray(score_map, dtype=np.float64), (width, height), interpolation=cv2.INTER_CUBIC)


def _draw_box(axis, box, colour):
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = box
    axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, edgecolor=colour, linewidth=1.5))


def _save_png(figure, png_path):
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = png_path.with_name(f".{png_path.name}.tmp")
    figure.savefig(tmp, dpi=120, format="png")
    os.replace(tmp, png_path)


def plot_double_digit_cams(mnist_folder, data_seed, p_present, checkpoint, label, region, tau, png_path, rows=6):
    """Test canvases holding `label`: the image with its GT box(es), then CAM and infoCAM of `label`
    as heat maps with the box (tau) of the map's positive part in red, the GT in green."""
    from infocam.double_digit import load_model, region_maps
    from infocam.localize import CANVAS, score_map_boxes

    test = _test_canvases(mnist_folder, data_seed, p_present, 400)
    chosen = np.flatnonzero((test.digits == label).any(axis=1))[:rows]
    if len(chosen) == 0:
        raise ValueError(f"no test canvas holds digit {label}")
    images = test.images[chosen]
    cam, infocam = region_maps(load_model(checkpoint), images, label, region)
    height, width = images.shape[1:]
    figure = Figure(figsize=(7.5, 1.3 * len(chosen) + 0.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(chosen), 3, squeeze=False)
    for row, i in enumerate(chosen):
        gt_boxes = test.boxes[i][test.digits[i] == label]
        for column, (title, score_map) in enumerate((("image", None), ("CAM", cam[row]), ("infoCAM", infocam[row]))):
            axis = axes[row][column]
            axis.imshow(images[row], cmap="gray", vmin=0, vmax=255)
            if score_map is not None:
                axis.imshow(_upsampled(score_map, height, width), cmap="jet", alpha=0.5)
                box = score_map_boxes(np.maximum(score_map, 0), tau)[0] * ([width / CANVAS, height / CANVAS] * 2)
                _draw_box(axis, box, "red")
            for gt in gt_boxes:
                _draw_box(axis, gt, "lime")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title)
    figure.suptitle(f"Double-digit MNIST, target digit {label}: GT box green; red: box at tau={tau} of the map's "
                    f"positive part (infoCAM R={region})", fontsize=9)
    figure.tight_layout()
    _save_png(figure, png_path)


def plot_info_masking(mnist_folder, data_seed, p_present, checkpoint, label, keep_fraction, patch, png_path,
                      count=16):
    """Test canvases (half of them holding `label`) on the left, on the right the same with every
    patch whose PMI for `label` is at most keep_fraction x the max PMI (over the shown canvases)
    masked out; the title gives the share of the label's and of other digits' pixels kept."""
    from infocam.double_digit import info_mask, load_model, patch_pmi

    test = _test_canvases(mnist_folder, data_seed, p_present, 400)
    holds = (test.digits == label).any(axis=1)
    chosen = np.sort(np.concatenate([np.flatnonzero(holds)[:count // 2], np.flatnonzero(~holds)[:count - count // 2]]))
    images, digits = test.images[chosen], test.digits[chosen]
    pmi = patch_pmi(load_model(checkpoint), images, label, patch)
    masked, _ = info_mask(images, pmi, keep_fraction)
    target = (images > 0) & np.repeat(digits == label, 28, axis=1)[:, None, :]
    kept = masked > 0
    columns = 4
    figure = Figure(figsize=(12, 0.8 * len(chosen) / columns + 1.2))
    FigureCanvasAgg(figure)
    panels = figure.subfigures(1, 2)
    for panel, pictures, title in ((panels[0], images, "(a) original"),
                                   (panels[1], masked, f"(b) info-masked: {patch}x{patch} patches with "
                                                       f"PMI > {keep_fraction:g} x max kept")):
        axes = panel.subplots(len(chosen) // columns, columns, squeeze=False)
        for axis, picture in zip(axes.ravel(), pictures):
            axis.imshow(picture, cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
        panel.suptitle(title, fontsize=10)
    figure.text(0.5, 0.01, f"target digit {label}: {100 * (kept & target).sum() / target.sum():.0f}% of its pixels "
                f"kept, {100 * (kept & ~target).sum() / max((images > 0)[~target].sum(), 1):.0f}% of other digits' "
                f"pixels kept", ha="center", fontsize=10)
    _save_png(figure, png_path)
