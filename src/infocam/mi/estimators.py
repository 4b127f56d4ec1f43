"""Mutual-information estimators I(X;Y) for a discrete label Y, as plain functions of one network output.

Every estimator reads the same output f(x) in R^K of a same-sized MLP:

- the classifiers use f as logits: `softmax` (mean log softmax(f)_y + log K, the softmax
  paper's estimator) and `pc_softmax` (mean log PC(f)_y, PC(f)_y = e^{f_y} / sum_j pi_j e^{f_j});
- the variational baselines use f as a critic T(x, y) = f(x)_y: `mine` (Donsker-Varadhan
  bound, trained with MINE's moving-average gradient correction), `nwj`, `infonce` and `jsd`
  (Deep InfoMax's Jensen-Shannon objective).

The bounds take critic values on samples of the joint P(X,Y) and of the product of marginals
Q = P(X)P(Y). Training draws Q by shuffling y within the batch; evaluation uses Q exactly on a
held-out set: every x paired with every class k, weighted by the set's label proportions.
"""

import math

import torch
import torch.nn.functional as F

from infocam.losses import pc_softmax_cross_entropy

ESTIMATORS = ("softmax", "pc_softmax", "mine", "nwj", "infonce", "jsd")


def softmax_estimate(logits, labels):
    """mean log softmax(f)_y + log K: the MI at the optimum when the labels are balanced."""
    log_probs = F.log_softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1)
    return log_probs.mean() + math.log(logits.shape[1])


def pc_softmax_estimate(logits, labels, priors):
    """mean log PC(f)_y, pi = the training label proportions: unbiased at the optimum on any labels."""
    return -pc_softmax_cross_entropy(logits, labels, priors)


def _log_weights(values, log_weights):
    if log_weights is None:
        return torch.full_like(values, -math.log(values.numel()))
    return log_weights


def dv_bound(joint, marginal, marginal_log_weights=None):
    """Donsker-Varadhan: E_P[T] - log E_Q[e^T]. Q's samples carry log-weights summing to 1 (default uniform)."""
    log_weights = _log_weights(marginal, marginal_log_weights)
    return joint.mean() - torch.logsumexp(marginal + log_weights, dim=0)


def nwj_bound(joint, marginal, marginal_log_weights=None):
    """Nguyen-Wainwright-Jordan: E_P[T] - e^{-1} E_Q[e^T]; tight at T = 1 + log dP/dQ."""
    log_weights = _log_weights(marginal, marginal_log_weights)
    return joint.mean() - torch.exp(marginal - 1 + log_weights).sum()


def jsd_objective(joint, marginal, marginal_log_weights=None):
    """Deep InfoMax's Jensen-Shannon objective E_P[-softplus(-T)] - E_Q[softplus(T)].

    Its value is 2 JSD(P, Q) - 2 log 2 at its optimum T* = log dP/dQ, not an MI estimate.
    """
    log_weights = _log_weights(marginal, marginal_log_weights)
    return -F.softplus(-joint).mean() - (F.softplus(marginal) * log_weights.exp()).sum()


def infonce_bound(logits, labels):
    """InfoNCE with every other sample of the batch as a negative: the log-softmax of the positive
    T(x_i, y_i) against T(x_i, y_j) over all j, plus log N.

    With T(x, y) = f(x)_y the N negatives of x_i hold only K distinct values, so
    log sum_j e^{T(x_i, y_j)} = log sum_k n_k e^{f_k(x_i)}, n_k the batch's count of label k, and
    the bound is mean f_y - log sum_k (n_k / N) e^{f_k}: the PC-softmax estimate with the batch's
    label proportions as priors. It is at most the entropy of those proportions (<= log K), not log N.
    """
    counts = torch.bincount(labels, minlength=logits.shape[1]).to(logits.dtype)
    batch_priors = counts / counts.sum()
    log_norm = torch.logsumexp(logits + batch_priors.log(), dim=1)
    return (logits.gather(1, labels[:, None]).squeeze(1) - log_norm).mean()


class MineLoss:
    """Negative DV bound whose gradient uses a moving average of E_Q[e^T] as the denominator.

    The DV gradient E_P[grad T] - E_Q[e^T grad T] / E_Q[e^T] is biased when the denominator is a
    minibatch mean; MINE replaces it by an exponential moving average with rate `rate`
    (rate 1 gives the plain minibatch DV gradient). The loss value is only a surrogate.
    """

    def __init__(self, rate):
        if not 0 < rate <= 1:
            raise ValueError(f"MINE moving-average rate {rate}: expected a value in (0, 1]")
        self.rate = rate
        self.average = None

    def __call__(self, joint, marginal):
        batch_mean = torch.exp(marginal).mean()
        current = batch_mean.detach()
        if self.average is None:
            self.average = current
        else:
            self.average = (1 - self.rate) * self.average + self.rate * current
        return -(joint.mean() - batch_mean / self.average)


def joint_and_shuffled(logits, labels, generator):
    """Critic values T(x_i, y_i) and T(x_i, y_perm(i)): negatives from y shuffled within the batch."""
    shuffled = labels[torch.randperm(len(labels), generator=generator)]
    return logits.gather(1, labels[:, None]).squeeze(1), logits.gather(1, shuffled[:, None]).squeeze(1)


def exact_product_of_marginals(logits, labels):
    """Critic values on every (x_i, k) with log-weights log(n_k / N) - log N: Q = P(X)P(Y) of the set, exactly."""
    num, num_classes = logits.shape
    counts = torch.bincount(labels, minlength=num_classes).to(logits.dtype)
    log_weights = (counts / num).log() - math.log(num)
    return logits.reshape(-1), log_weights.repeat(num)


def training_loss(name, priors, generator, mine_rate):
    """The objective that trains estimator `name`, as a function (logits, labels) -> scalar to minimise."""
    if name == "softmax":
        return F.cross_entropy
    if name == "pc_softmax":
        return lambda logits, labels: pc_softmax_cross_entropy(logits, labels, priors)
    if name == "infonce":
        return lambda logits, labels: -infonce_bound(logits, labels)
    if name == "mine":
        mine = MineLoss(mine_rate)
        return lambda logits, labels: mine(*joint_and_shuffled(logits, labels, generator))
    if name == "nwj":
        return lambda logits, labels: -nwj_bound(*joint_and_shuffled(logits, labels, generator))
    if name == "jsd":
        return lambda logits, labels: -jsd_objective(*joint_and_shuffled(logits, labels, generator))
    raise ValueError(f"unknown MI estimator '{name}' (expected one of {', '.join(ESTIMATORS)})")


def held_out_estimate(name, logits, labels, train_priors):
    """The MI estimate of a trained network on a held-out set, in nats.

    `jsd` is read out with the DV bound: the JSD objective's optimal critic is exactly
    log dP/dQ, which is DV's optimum (DV ignores a constant shift, while NWJ would need T + 1),
    and DV(T) >= NWJ(T) for any critic, so DV is the tighter read-out of the same critic.
    """
    if name == "softmax":
        return softmax_estimate(logits, labels).item()
    if name == "pc_softmax":
        return pc_softmax_estimate(logits, labels, train_priors).item()
    if name == "infonce":
        return infonce_bound(logits, labels).item()
    joint = logits.gather(1, labels[:, None]).squeeze(1)
    marginal, log_weights = exact_product_of_marginals(logits, labels)
    if name in ("mine", "jsd"):
        return dv_bound(joint, marginal, log_weights).item()
    if name == "nwj":
        return nwj_bound(joint, marginal, log_weights).item()
    raise ValueError(f"unknown MI estimator '{name}' (expected one of {', '.join(ESTIMATORS)})")
