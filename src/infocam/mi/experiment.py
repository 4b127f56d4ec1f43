"""The softmax paper's MI experiment: classifiers and variational bounds as estimators of I(X;Y).

Data: K isotropic unit-variance Gaussians in R^d with means c_k * (1, ..., 1), class counts
given per setting (balanced or imbalanced), a test set of `test_fraction` of each class count.
The true I(X;Y) = E[log p(x|y) - log sum_k pi_k p(x|k)] is computed by Monte Carlo with the exact
densities. Every estimator (mi_estimators.ESTIMATORS) trains the same MLP from the same initial
weights on the same batches for a fixed number of epochs; nothing is selected on the test set,
which is used once, for the reported estimate.
"""

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.special import logsumexp
from torch import nn

from infocam.losses import class_priors
from infocam.mi.estimators import ESTIMATORS, held_out_estimate, training_loss
from infocam.published import mi_values, read_published
from infocam.io import read_result_csvs, write_text_atomic
from infocam.stats import bootstrap_interval

COLUMNS = ["setting", "dim", "estimator", "seed", "estimate_nats", "true_mi_nats", "true_mi_se", "abs_error",
           "num_classes", "label_entropy_nats", "epochs"]


@dataclass(frozen=True)
class MiTraining:
    """How every estimator's network is trained, with Adam (the paper: d-100-100-100-K, batch 2000, 100 epochs)."""

    hidden: tuple = (100, 100, 100)
    epochs: int = 100
    batch_size: int = 2000
    lr: float = 1e-3
    mine_rate: float = 0.01


@dataclass(frozen=True, kw_only=True)
class MiSettings(MiTraining):
    """One job of the MI experiment: a setting's class counts, the estimators and seeds, the training."""

    counts: tuple  # training samples per class
    offsets: tuple  # class k's mean is offsets[k] * (1, ..., 1)
    estimators: tuple
    seeds: tuple
    test_fraction: float = 0.2
    mc_samples: int = 1_000_000
    mc_seed: int = 0


@dataclass(frozen=True)
class Labelled:
    x: torch.Tensor
    y: torch.Tensor


def class_means(offsets, dim):
    """(K, d) means: offset c_k times the all-ones vector."""
    return np.outer(np.asarray(offsets, dtype=np.float64), np.ones(dim))


def sample_classes(counts, means, rng):
    labels = np.repeat(np.arange(len(counts)), counts)
    x = means[labels] + rng.standard_normal((len(labels), means.shape[1]))
    return Labelled(torch.tensor(x, dtype=torch.float32), torch.tensor(labels, dtype=torch.long))


def held_out_counts(counts, test_fraction):
    held_out = [round(count * test_fraction) for count in counts]
    if min(held_out) < 1:
        raise ValueError(f"test fraction {test_fraction} leaves no test sample for a class with counts {counts}")
    return held_out


def check_counts(counts, offsets):
    if len(counts) != len(offsets):
        raise ValueError(f"{len(counts)} class counts for {len(offsets)} class means: expected one count per mean")


def make_data(counts, offsets, dim, test_fraction, seed):
    """Seeded train and test sets: exactly counts[k] (train) and counts[k] * test_fraction (test) per class."""
    check_counts(counts, offsets)
    rng = np.random.default_rng(seed)
    means = class_means(offsets, dim)
    return sample_classes(counts, means, rng), sample_classes(held_out_counts(counts, test_fraction), means, rng)


def log_densities(x, means):
    """(N, K) log N(x; mean_k, I) in float64."""
    squared = (x**2).sum(1)[:, None] - 2 * x @ means.T + (means**2).sum(1)[None, :]
    return -0.5 * squared - 0.5 * means.shape[1] * math.log(2 * math.pi)


def pointwise_mi(x, labels, means, priors):
    """log p(x|y) - log sum_k pi_k p(x|k) for each sample."""
    log_p = log_densities(x, means)
    return log_p[np.arange(len(labels)), labels] - logsumexp(log_p + np.log(priors), axis=1)


def true_mutual_information(priors, offsets, dim, n_samples, seed, chunk=200_000):
    """Monte Carlo I(X;Y) in nats and its standard error std / sqrt(n), from n i.i.d. draws of (x, y)."""
    if n_samples < 2:
        raise ValueError(f"{n_samples} Monte Carlo samples: expected at least 2")
    priors = np.asarray(priors, dtype=np.float64)
    means = class_means(offsets, dim)
    rng = np.random.default_rng(seed)
    total = total_sq = 0.0
    for start in range(0, n_samples, chunk):
        size = min(chunk, n_samples - start)
        labels = rng.choice(len(priors), size=size, p=priors)
        x = means[labels] + rng.standard_normal((size, dim))
        values = pointwise_mi(x, labels, means, priors)
        total += values.sum()
        total_sq += (values**2).sum()
    mean = total / n_samples
    variance = max(total_sq / n_samples - mean**2, 0.0) * n_samples / (n_samples - 1)
    return mean, math.sqrt(variance / n_samples)


def label_entropy(priors):
    priors = np.asarray(priors, dtype=np.float64)
    priors = priors[priors > 0]
    return float(-(priors * np.log(priors)).sum())


def build_mlp(dim, hidden, num_outputs):
    layers, width = [], dim
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, num_outputs))
    return nn.Sequential(*layers)


def train_estimator(name, train, num_classes, training, seed):
    """Train estimator `name` for a fixed number of epochs; the same seed gives every estimator the
    same initial weights, batches and shuffled negatives."""
    init_seed, order_seed, negative_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(3))
    torch.manual_seed(init_seed)
    model = build_mlp(train.x.shape[1], training.hidden, num_classes)
    order = torch.Generator().manual_seed(order_seed)
    negatives = torch.Generator().manual_seed(negative_seed)
    loss_fn = training_loss(name, class_priors(train.y, num_classes), negatives, training.mine_rate)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.lr)
    model.train()
    for _ in range(training.epochs):
        for batch in torch.randperm(len(train.y), generator=order).split(training.batch_size):
            optimizer.zero_grad()
            loss_fn(model(train.x[batch]), train.y[batch]).backward()
            optimizer.step()
    return model.eval()


def estimate_setting(setting, counts, offsets, dim, estimators, seeds, training, test_fraction=0.2,
                     mc_samples=1_000_000, mc_seed=0, log=print):
    """Rows of COLUMNS: every estimator and seed on one (setting, dim)."""
    unknown = sorted(set(estimators) - set(ESTIMATORS))
    if unknown:
        raise ValueError(f"unknown MI estimator(s) {', '.join(unknown)} (expected some of {', '.join(ESTIMATORS)})")
    check_counts(counts, offsets)
    priors = np.asarray(counts, dtype=np.float64) / sum(counts)
    true_mi, true_se = true_mutual_information(priors, offsets, dim, mc_samples, mc_seed)
    log(f"{setting} d={dim}: true MI {true_mi:.4f} +- {true_se:.4f} nats ({mc_samples} Monte Carlo samples)")
    rows = []
    for seed in seeds:
        train, test = make_data(counts, offsets, dim, test_fraction, seed)
        train_priors = class_priors(train.y, len(counts))
        for name in estimators:
            start = time.perf_counter()
            model = train_estimator(name, train, len(counts), training, seed)
            with torch.no_grad():
                estimate = held_out_estimate(name, model(test.x), test.y, train_priors)
            log(f"{setting} d={dim} {name} seed {seed}: {estimate:.4f} nats ({time.perf_counter() - start:.1f} s)")
            rows.append({"setting": setting, "dim": dim, "estimator": name, "seed": seed,
                         "estimate_nats": estimate, "true_mi_nats": true_mi, "true_mi_se": true_se,
                         "abs_error": abs(estimate - true_mi), "num_classes": len(counts),
                         "label_entropy_nats": label_entropy(priors), "epochs": training.epochs})
    return pd.DataFrame(rows, columns=COLUMNS)


def run_job(setting, dim, settings, out_csv, log=print):
    """`estimate_setting` for one (setting, dim) under a job's MiSettings, written to `out_csv`."""
    results = estimate_setting(setting, settings.counts, settings.offsets, dim, settings.estimators, settings.seeds,
                               settings, test_fraction=settings.test_fraction, mc_samples=settings.mc_samples,
                               mc_seed=settings.mc_seed, log=log)
    write_text_atomic(out_csv, results.to_csv(index=False))


def read_results(paths):
    """Concatenate per-setting result CSVs, ordered by setting, dim, estimator and seed."""
    results = read_result_csvs(paths, COLUMNS, "MI")
    rank = {name: i for i, name in enumerate(ESTIMATORS)}
    ordered = results.assign(_rank=results["estimator"].map(rank)).sort_values(["setting", "dim", "_rank", "seed"])
    return ordered.drop(columns="_rank").reset_index(drop=True)


ESTIMATOR_NAMES = {"softmax": "softmax + log K", "pc_softmax": "PC-softmax", "mine": "MINE (DV)", "nwj": "NWJ",
                   "infonce": "InfoNCE", "jsd": "JSD (DV read-out)"}


def summarise(results):
    """One row per (setting, dim, estimator): mean and std over seeds, the true MI, the mean error."""
    grouped = results.groupby(["setting", "dim", "estimator"], sort=False)
    summary = grouped.agg(mean=("estimate_nats", "mean"), std=("estimate_nats", "std"), seeds=("seed", "nunique"),
                          true_mi=("true_mi_nats", "first"), true_se=("true_mi_se", "first"),
                          num_classes=("num_classes", "first"), label_entropy=("label_entropy_nats", "first"),
                          epochs=("epochs", "max"))
    summary["error"] = summary["mean"] - summary["true_mi"]
    bounds = grouped["estimate_nats"].apply(lambda values: bootstrap_interval([values.to_numpy()]))
    summary["ci_low"], summary["ci_high"] = bounds.str[0], bounds.str[1]
    return summary.reset_index()


def _estimator_order(summary):
    return [name for name in ESTIMATORS if name in set(summary["estimator"])]


def _cells(summary, value):
    """Rows "| setting | d | true MI | per-estimator cell |" with value(row) formatting each cell."""
    lines = []
    for (setting, dim), group in summary.groupby(["setting", "dim"], sort=True):
        by_name = group.set_index("estimator")
        first = group.iloc[0]
        cells = [value(by_name.loc[name]) if name in by_name.index else "" for name in _estimator_order(summary)]
        lines.append(f"| {setting} | {dim} | {first['true_mi']:.3f} ± {first['true_se']:.3f} | " + " | ".join(cells)
                     + " |")
    return lines


def _header(summary, extra=""):
    names = [ESTIMATOR_NAMES.get(name, name) for name in _estimator_order(summary)]
    return [f"| setting | d | true MI ± SE{extra} | " + " | ".join(names) + " |",
            "|---|---|---|" + "---|" * len(names)]


def _bias_lines(summary):
    lines = []
    for setting, group in summary.groupby("setting", sort=True):
        first = group.iloc[0]
        expected = max(math.log(first["num_classes"]) - first["label_entropy"], 0.0)  # >= 0; no "-0.000"
        measured = [f"{ESTIMATOR_NAMES[name]} {group[group.estimator == name]['error'].mean():+.3f}"
                    for name in ("softmax", "pc_softmax") if name in set(group["estimator"])]
        lines.append(f"- {setting}: log K − H(Y) = {expected:.3f} nats; mean error over d: " + ", ".join(measured)
                     + ".")
    return lines


NOTES = """## Notes

- Every estimator trains the same MLP (same initial weights, same batches) for a fixed number of
  epochs; nothing is selected on the test set, which is used once, for the estimate.
- softmax + log K is biased by log K − H(Y) at the optimum on imbalanced labels (0 when balanced);
  PC-softmax, with π the training label proportions, is not.
- MINE, NWJ and JSD are evaluated with the product of marginals taken exactly on the test set (every
  test x with every class, weighted by the test label proportions), not by a shuffle.
- InfoNCE's bound log N (N = the batch size in training, e.g. log 2000 = 7.6 nats; the test-set size
  at evaluation, which uses the whole test set as the batch) does not bind here: with a discrete y
  the N negatives of a sample hold only K distinct critic values, so InfoNCE equals the PC-softmax
  estimate with the batch's label proportions as priors and is at most H(Y) ≤ log K. Since
  I(X;Y) ≤ H(Y) too, this cap costs nothing.
- JSD trains Deep InfoMax's Jensen-Shannon objective; its critic is read out with the DV bound,
  whose optimum log dP/dQ is also the JSD optimum (NWJ would need the critic shifted by 1).
"""


def with_published(results, published):
    """The per-seed results with the authors' values beside: paper_true_mi_nats, paper_estimate_nats."""
    true_mi, softmax_estimate = mi_values(published)
    keys = list(zip(results["setting"], results["dim"]))
    estimate = [softmax_estimate.get(key) if name == "softmax" else None
                for key, name in zip(keys, results["estimator"])]
    return results.assign(paper_true_mi_nats=[true_mi.get(key) for key in keys],
                          paper_estimate_nats=pd.array(estimate, dtype="Float64"))


def _published_lines(summary, published):
    true_mi, softmax_estimate = mi_values(published)
    lines = ["## Beside the authors' published values", "",
             "The authors' Monte Carlo true MI, and the softmax estimate of their shipped checkpoints "
             "(balanced labels only), nats.", "",
             "| setting | d | true MI (ours) | true MI (paper) | softmax (ours) | softmax (paper) |",
             "|---|---|---|---|---|---|"]
    softmax = summary[summary["estimator"] == "softmax"].sort_values(["setting", "dim"])
    for row in softmax.itertuples():
        true_paper, estimate_paper = true_mi.get((row.setting, row.dim)), softmax_estimate.get((row.setting, row.dim))
        lines.append(f"| {row.setting} | {row.dim} | {row.true_mi:.3f} | {_maybe(true_paper)} | {row.mean:.3f} | "
                     f"{_maybe(estimate_paper)} |")
    return lines


def _maybe(value):
    return "" if value is None else f"{value:.3f}"


def render_markdown(results, published):
    summary = summarise(results)
    seeds, epochs = int(summary["seeds"].min()), sorted(set(summary["epochs"]))
    lines = ["# MI estimation: estimates of I(X;Y) in nats", "",
             f"{int(summary['num_classes'].iloc[0])}-class Gaussian data with known MI; every network trained for "
             f"{'/'.join(map(str, epochs))} epochs. Estimates on the test set, mean over {seeds} seeds [95 % "
             "interval: percentile bootstrap over seeds, 2,000 resamples]; true MI by Monte Carlo with exact "
             "densities ± its standard error.", ""]
    lines += _header(summary) + _cells(summary, lambda row: f"{row['mean']:.3f} [{row['ci_low']:.3f}, "
                                                           f"{row['ci_high']:.3f}]")
    lines += ["", "## Error: estimate − true MI (mean over seeds)", ""]
    lines += _header(summary) + _cells(summary, lambda row: f"{row['error']:+.3f}")
    lines += ["", "## Imbalance bias", ""] + _bias_lines(summary)
    lines += [""] + _published_lines(summary, published) + ["", NOTES]
    return "\n".join(lines)


def write_mi_table(result_paths, csv_path, md_path, published_path):
    """results/mi_estimation.csv (one row per setting, dim, estimator, seed) and its Markdown summary,
    the authors' values (published.yaml) beside."""
    results = read_results(result_paths)
    published = read_published(published_path)
    write_text_atomic(csv_path, with_published(results, published).to_csv(index=False))
    write_text_atomic(md_path, render_markdown(results, published))
    return results
