"""Intervals and paired tests over per-image (or per-seed) records.

Every interval is a seeded percentile bootstrap. With several seeds the images are resampled
within each seed and the statistic is the mean over seeds of the per-seed mean, which is how
the tables average seeds. Paired comparisons resample the same images for both methods.
"""

import numpy as np
from scipy.stats import binom

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


def _resampled_means(groups, resamples, seed):
    """(resamples,) means over groups of each group's resampled mean; groups: list of 1-D arrays."""
    rng = np.random.default_rng(seed)
    totals = np.zeros(resamples)
    for values in groups:
        values = np.asarray(values, dtype=np.float64)
        picks = rng.integers(0, len(values), size=(resamples, len(values)))
        totals += values[picks].mean(axis=1)
    return totals / len(groups)


def _percentiles(samples, level):
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(groups, resamples=RESAMPLES, level=LEVEL, seed=SEED):
    """Percentile interval of the mean over groups (seeds) of each group's mean (images)."""
    groups = [np.asarray(values) for values in groups if len(values)]
    if not groups:
        return float("nan"), float("nan")
    return _percentiles(_resampled_means(groups, resamples, seed), level)


def max_accuracy_interval(groups, resamples=RESAMPLES, level=LEVEL, seed=SEED):
    """Percentile interval of a best-threshold accuracy such as MaxBoxAccV2: groups (seeds) of
    (images, IoU levels, thresholds) 0/1 hit arrays; per resample of each group's images, the
    mean over levels of the best threshold's accuracy, averaged over groups."""
    groups = [np.asarray(hits, dtype=np.float64) for hits in groups if len(hits)]
    if not groups:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    totals = np.zeros(resamples)
    for hits in groups:
        n_images = len(hits)
        picks = rng.integers(0, n_images, size=(resamples, n_images))
        counts = np.zeros((resamples, n_images))
        np.add.at(counts, (np.arange(resamples)[:, None], picks), 1)
        accuracy = (counts @ hits.reshape(n_images, -1)).reshape(resamples, *hits.shape[1:]) / n_images
        totals += accuracy.max(axis=-1).mean(axis=-1)
    return _percentiles(totals / len(groups), level)


def paired_bootstrap_interval(a_groups, b_groups, resamples=RESAMPLES, level=LEVEL, seed=SEED):
    """Interval of mean(a) - mean(b), resampling the same items (images) for both, within each group."""
    differences = [np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
                   for a, b in zip(a_groups, b_groups) if len(a)]
    if not differences:
        return float("nan"), float("nan")
    return _percentiles(_resampled_means(differences, resamples, seed), level)


def mcnemar_exact(a_hits, b_hits):
    """Two-sided exact McNemar p-value for paired hits: a binomial test on the discordant pairs."""
    a_hits, b_hits = np.asarray(a_hits, dtype=bool), np.asarray(b_hits, dtype=bool)
    only_a, only_b = int(np.sum(a_hits & ~b_hits)), int(np.sum(~a_hits & b_hits))
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    return float(min(1.0, 2 * binom.cdf(min(only_a, only_b), discordant, 0.5)))


def sign_flip_p_value(differences):
    """Exact two-sided p-value of a paired mean difference over a few seeds: every sign flip enumerated."""
    differences = np.asarray(differences, dtype=np.float64)
    if len(differences) == 0 or not np.any(differences):
        return 1.0
    signs = np.array(np.meshgrid(*[[-1, 1]] * len(differences))).reshape(len(differences), -1).T
    flipped = np.abs((signs * differences).mean(axis=1))
    return float(np.mean(flipped >= abs(differences.mean()) - 1e-12))
