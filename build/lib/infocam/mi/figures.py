"""The MI experiment's figure: each estimator's estimate against d, the true MI drawn.

Figures are matplotlib `Figure` objects drawn by the Agg backend (no pyplot, so no display
and no global figure state).
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from infocam.io import save_png_atomic
from infocam.mi.experiment import ESTIMATOR_NAMES, read_results, summarise
from infocam.mi.estimators import ESTIMATORS


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
    save_png_atomic(figure, png_path)

