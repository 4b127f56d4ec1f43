"""Classification losses: softmax cross-entropy, PC-softmax, PC-sigmoid and DropMax (docs/reference.md)."""

import numpy as np
import torch
import torch.nn.functional as F


def class_priors(labels, num_classes):
    """Training label proportions pi_j."""
    counts = torch.bincount(torch.tensor(np.asarray(labels), dtype=torch.long), minlength=num_classes).double()
    return (counts / counts.sum()).float()


def pc_softmax_cross_entropy(logits, labels, priors):
    """-log PC(f)_y with PC(f)_y = exp(f_y) / sum_j pi_j exp(f_j).

    Equals the cross-entropy of softmax(f + log pi) plus the constant log pi_y, so it has
    the gradient of logit-adjusted cross-entropy. Prediction stays argmax f.
    """
    log_norm = torch.logsumexp(logits + priors.log(), dim=1)
    return (log_norm - logits.gather(1, labels[:, None]).squeeze(1)).mean()


def classification_loss(name, priors):
    """The training loss named in the grid cell, as a function (logits, labels) -> scalar."""
    if name == "softmax":
        return F.cross_entropy
    if name == "pc_softmax":
        return lambda logits, labels: pc_softmax_cross_entropy(logits, labels, priors)
    raise ValueError(f"unknown loss '{name}' (expected softmax or pc_softmax)")


# --- PC-sigmoid and DropMax (the softmax paper's multi-label and imbalanced experiments) ---


def pc_sigmoid(logits, priors):
    """PC-sigmoid: the probability-corrected 'present' output of each label, 1 / (pi + (1 - pi) e^{-z}).

    Derivation. Label k is a two-class problem {absent, present} with class priors
    (1 - pi_k, pi_k) and logits (f0, f1). PC-softmax of 'present' is

        PC(f)_1 = e^{f1} / ((1 - pi) e^{f0} + pi e^{f1}).

    Divide top and bottom by e^{f1} and write z = f1 - f0 (the one logit a sigmoid unit has):

        PC(f)_1 = 1 / (pi + (1 - pi) e^{-z}),   PC(f)_0 = e^{f0} / (...) = 1 / (pi e^{z} + 1 - pi).

    With pi = 1/2 both are 2 sigmoid(z) and 2 sigmoid(-z): the plain sigmoid up to the factor
    M = 2, just as PC-softmax with uniform priors is M times softmax. The outputs are not
    probabilities (PC_1 can exceed 1); prediction is z > 0, i.e. f1 > f0.
    """
    return torch.exp(-_log_pc_sigmoid_normaliser(logits, priors))


def pc_sigmoid_cross_entropy(logits, targets, priors):
    """Mean over labels and samples of -log PC(present) for present labels and -log PC(absent) for absent ones.

    logits, targets: (B, K) with targets in {0, 1}; priors: (K,) share of training images with each label.
    """
    targets = targets.float()
    log_present = -_log_pc_sigmoid_normaliser(logits, priors)
    log_absent = log_present - logits  # log PC_0 = log PC_1 - z
    return -(targets * log_present + (1 - targets) * log_absent).mean()


def _log_pc_sigmoid_normaliser(logits, priors):
    """log(pi + (1 - pi) e^{-z}), computed as a log-sum-exp so large |z| stays finite."""
    priors = priors.to(logits)
    stacked = torch.stack([priors.log().expand_as(logits), torch.log1p(-priors) - logits])
    return torch.logsumexp(stacked, dim=0)


class DropMaxHead(torch.nn.Module):
    """DropMax's three heads on a hidden vector h: class logits o, keep-probability logits (W_p h) and r logits."""

    def __init__(self, in_features, num_classes):
        super().__init__()
        self.logits = torch.nn.Linear(in_features, num_classes)
        self.keep = torch.nn.Linear(in_features, num_classes)
        self.retain = torch.nn.Linear(in_features, num_classes)

    def forward(self, hidden):
        return self.logits(hidden), self.keep(hidden), self.retain(hidden)


def dropmax_loss(outputs, labels, tau=0.1, eps=1e-8):
    """DropMax training loss (docs/reference.md) for the heads' outputs (o, W_p h, W_r h).

    p = sigmoid(W_p h) are the keep probabilities, r = sigmoid(W_r h) is trained to predict the
    label, q = sigmoid(stopgrad(W_p h) + W_r h) is the variational posterior of the mask. The
    mask z is a relaxed Bernoulli(q) draw at temperature tau with z_y = 1. Loss:
    masked cross-entropy + KL(q || p) + BCE(r, one-hot y) - mean Bernoulli entropy of p.
    """
    o, keep_logit, retain_logit = outputs
    one_hot = F.one_hot(labels, o.shape[1]).float()
    q_logit = keep_logit.detach() + retain_logit
    u = torch.rand_like(o).clamp(eps, 1 - eps)
    z = torch.sigmoid((q_logit + torch.log(u) - torch.log1p(-u)) / tau)
    z = torch.where(one_hot.bool(), torch.ones_like(z), z)
    masked = _masked_log_softmax(o, z, eps)
    cross_entropy = -(masked * one_hot).sum(dim=1).mean()
    q = torch.sigmoid(q_logit)
    kl = (_bernoulli_cross_entropy(q, keep_logit) - _bernoulli_entropy(q_logit)).sum(dim=1).mean()
    retain = F.binary_cross_entropy_with_logits(retain_logit, one_hot, reduction="none").sum(dim=1).mean()
    entropy = _bernoulli_entropy(keep_logit).sum(dim=1).mean()
    return cross_entropy + kl + retain - entropy


def dropmax_scores(outputs, eps=1e-8):
    """Test-time DropMax class scores log[(p_k + eps) e^{o_k} / sum_j (p_j + eps) e^{o_j}]: p replaces the mask."""
    o, keep_logit, _ = outputs
    return _masked_log_softmax(o, torch.sigmoid(keep_logit), eps)


def _masked_log_softmax(logits, mask, eps):
    return F.log_softmax(logits + torch.log(mask + eps), dim=1)


def _bernoulli_entropy(logit):
    """Entropy of Bernoulli(sigmoid(logit)): p softplus(-x) + (1 - p) softplus(x)."""
    p = torch.sigmoid(logit)
    return p * F.softplus(-logit) + (1 - p) * F.softplus(logit)


def _bernoulli_cross_entropy(q, p_logit):
    """-q log p - (1 - q) log(1 - p) with p = sigmoid(p_logit), computed from the logit."""
    return F.binary_cross_entropy_with_logits(p_logit, q, reduction="none")
