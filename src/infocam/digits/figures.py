"""The digit experiments' figures as PNG files: double-digit CAM vs infoCAM (infoCAM paper
Fig. 4) and info-masking (softmax paper Fig. 2).

Figures are matplotlib `Figure` objects drawn by the Agg backend (no pyplot, so no display
and no global figure state).
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dataclasses import dataclass

from infocam.io import save_png_atomic


@dataclass(frozen=True)
class FigureSettings:
    """The digit figures' settings: the double-digit test canvases, the target digit, CAM and masking."""

    region: int  # infoCAM's R on the 14x28 maps
    tau: float = 0.2
    p_present: float = 0.7
    data_seed: int = 0  # the test canvases are drawn with data_seed + 1
    label: int = 0  # target digit
    keep_fraction: float = 0.2  # patches above this share of the max PMI stay
    patch: int = 14  # info-masking patch side in pixels (tiles the 28x56 canvas)


def _test_canvases(mnist_folder, data_seed, p_present, count):
    from infocam.digits.common import load_mnist, make_double_digits

    mnist = load_mnist(mnist_folder)
    return make_double_digits(mnist.test_images, mnist.test_labels, count, data_seed + 1, p_present)


def _upsampled(score_map, height, width):
    import cv2

    return cv2.resize(np.asarray(score_map, dtype=np.float64), (width, height), interpolation=cv2.INTER_CUBIC)


def _draw_box(axis, box, colour):
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = box
    axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, edgecolor=colour, linewidth=1.5))


def plot_double_digit_cams(mnist_folder, data_seed, p_present, checkpoint, label, region, tau, png_path, rows=6):
    """Test canvases holding `label`: the image with its GT box(es), then CAM and infoCAM of `label`
    as heat maps with the box (tau) of the map's positive part in red, the GT in green."""
    from infocam.digits.double_digit import load_model, region_maps
    from infocam.wsol.localize import CANVAS, score_map_boxes

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
    save_png_atomic(figure, png_path)


def plot_info_masking(mnist_folder, data_seed, p_present, checkpoint, label, keep_fraction, patch, png_path,
                      count=16):
    """Test canvases (half of them holding `label`) on the left, on the right the same with every
    patch whose PMI for `label` is at most keep_fraction x the max PMI (over the shown canvases)
    masked out; the title gives the share of the label's and of other digits' pixels kept."""
    from infocam.digits.double_digit import info_mask, load_model, patch_pmi

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
    save_png_atomic(figure, png_path)
