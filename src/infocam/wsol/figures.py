"""The infoCAM paper's visual comparison (its Fig. 2, 3 and 5) on a dataset's test images:
one row per image — the image, then the headline methods (CAM, infoCAM, infoCAM+) as heat maps,
each with the GT box (green) and the predicted box at the evaluation's tau (red). The images are
a fixed, seeded draw from the test split (not the best ones). With family=True the CAM family
members the evaluation runs follow them (Table 6's methods), on the same images.
"""

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from infocam.data.images import IMAGENET_MEAN, IMAGENET_STD, PreparedImages, eval_transform, load_boxes
from infocam.io import save_png_atomic
from infocam.wsol.cam import compute_cams
from infocam.wsol.evaluate import gt_boxes_on_canvas
from infocam.wsol.family import FamilyMaps
from infocam.wsol.localize import CANVAS, normalise_score_map, score_map_boxes
from infocam.wsol.methods import headline_methods, table6_methods
from infocam.wsol.train import load_checkpoint_model


def chosen_images(count, rows, seed):
    """A fixed draw of `rows` test indices (sorted), the same for every method and run."""
    return np.sort(np.random.default_rng(seed).choice(count, size=min(rows, count), replace=False))


def _canvas_image(tensor):
    image = tensor.permute(1, 2, 0).numpy() * IMAGENET_STD + IMAGENET_MEAN
    image = torch.from_numpy(np.clip(image, 0, 1)).permute(2, 0, 1)[None]
    return torch.nn.functional.interpolate(image, size=(CANVAS, CANVAS), mode="bilinear")[0].permute(1, 2, 0).numpy()


def _draw_box(axis, box, colour):
    x0, y0, x1, y1 = box
    axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, edgecolor=colour,
                             linewidth=1.5))


@torch.no_grad()
def plot_wsol_examples(prepared_dir, checkpoint_path, settings, png_path, rows=6, seed=0, family=False):
    model, checkpoint = load_checkpoint_model(checkpoint_path, torch.device("cpu"))
    test_set = PreparedImages(prepared_dir, "test", eval_transform(settings.resize, settings.crop))
    boxes = load_boxes(prepared_dir)
    chosen = chosen_images(len(test_set), rows, seed)
    images = torch.stack([test_set[i][0] for i in chosen])
    labels = torch.tensor([test_set[i][1] for i in chosen])
    features, logits = model.features_and_logits(images)
    cams = compute_cams(features, model.classifier.weight.detach().float(), logits, labels, settings.region,
                        settings.region_geometry)
    cams = {method: cam.double().numpy() for method, cam in cams.items()}
    shown = table6_methods(settings.family) if family else headline_methods()
    if family:
        cams |= FamilyMaps(model, settings.family)(images, labels)
    figure = Figure(figsize=(2.2 * (1 + len(shown)), 2.2 * len(chosen) + 0.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(chosen), 1 + len(shown), squeeze=False)
    for row, index in enumerate(chosen):
        record = test_set.table.iloc[index]
        gt = gt_boxes_on_canvas(boxes[str(record.image_id)], record, settings.resize, settings.crop)
        picture = _canvas_image(images[row])
        axes[row][0].imshow(picture)
        axes[row][0].set_ylabel(f"{record.image_id}", fontsize=7)
        for column, (method, title) in enumerate(shown.items(), start=1):
            score_map = cams[method][row]
            axes[row][column].imshow(picture)
            axes[row][column].imshow(normalise_score_map(score_map), cmap="jet", alpha=0.5, vmin=0, vmax=1)
            _draw_box(axes[row][column], score_map_boxes(score_map, settings.tau)[0], "red")
            if row == 0:
                axes[row][column].set_title(title, fontsize=9)
        for axis in axes[row]:
            for box in gt:
                _draw_box(axis, box, "lime")
            axis.set_xticks([])
            axis.set_yticks([])
    axes[0][0].set_title("image", fontsize=9)
    cell = checkpoint["settings"]
    figure.suptitle(f"{settings.dataset}, {cell['backbone']}{' ADL' if cell['adl'] else ''}: GT box green, "
                    f"box at tau = {settings.tau:g} red ({settings.region_geometry} region, R = {settings.region})", fontsize=8)
    figure.tight_layout()
    save_png_atomic(figure, png_path)
