"""Intervals and paired tests over per-image (or per-seed) records.

Every interval is a seeded percentile bootstrap. With several seeds the images are resampled
within each seed and the statistic is the mean over seeds of the per-seed mean, which is how
the tables average seeds. Paired comparisons resample the same images for both methods.
"""

import math

import numpy as np

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
        totals += _max_accuracy(_resample_counts(rng, len(hits), resamples), hits)
    return _percentiles(totals / len(groups), level)


def paired_max_accuracy_interval(a_groups, b_groups, resamples=RESAMPLES, level=LEVEL, seed=SEED):
    """Interval of max_accuracy(a) - max_accuracy(b) (see max_accuracy_interval), the same images
    resampled for both."""
    rng = np.random.default_rng(seed)
    totals = np.zeros(resamples)
    pairs = [(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)) for a, b in zip(a_groups, b_groups)
             if len(a)]
    if not pairs:
        return float("nan"), float("nan")
    for a, b in pairs:
        counts = _resample_counts(rng, len(a), resamples)
        totals += _max_accuracy(counts, a) - _max_accuracy(counts, b)
    return _percentiles(totals / len(pairs), level)


def _resample_counts(rng, n_items, resamples):
    """(resamples, n_items): how often each item is drawn in each resample."""
    picks = rng.integers(0, n_items, size=(resamples, n_items))
    cells = (np.arange(resamples)[:, None] * n_items + picks).ravel()  # one bin per (resample, item)
    return np.bincount(cells, minlength=resamples * n_items).reshape(resamples, n_items).astype(np.float64)


def _max_accuracy(counts, hits):
    """Per resample: mean over levels of the best threshold's accuracy; hits (items, levels, thresholds)."""
    accuracy = (counts @ hits.reshape(len(hits), -1)).reshape(len(counts), *hits.shape[1:]) / len(hits)
    return accuracy.max(axis=-1).mean(axis=-1)


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
    return min(1.0, 2 * _binomial_half_tail(discordant, min(only_a, only_b)))


def _binomial_half_tail(n, m):
    """P(X <= m) for X ~ Binomial(n, 1/2), summed in log space (scipy.stats, which has it, adds about
    a second to the start-up of every job that imports this module)."""
    i = np.arange(1, m + 1)
    log_terms = np.concatenate([[0.0], np.cumsum(np.log((n - i + 1) / i))]) - n * math.log(2)
    top = log_terms.max()
    return math.exp(top) * float(np.exp(log_terms - top).sum())


def sign_flip_p_value(differences):
    """Exact two-sided p-value of a paired mean difference over a few seeds: every sign flip enumerated."""
    differences = np.asarray(differences, dtype=np.float64)
    if len(differences) == 0 or not np.any(differences):
        return 1.0
    signs = np.array(np.meshgrid(*[[-1, 1]] * len(differences))).reshape(len(differences), -1).T
    flipped = np.abs((signs * differences).mean(axis=1))
    return float(np.mean(flipped >= abs(differences.mean()) - 1e-12))
