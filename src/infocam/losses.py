"""Classification losses: softmax cross-entropy and PC-softmax (REFERENCE.md §1)."""

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
