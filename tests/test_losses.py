"""Softmax and PC-softmax losses on cases with known answers."""

import math

import torch
import torch.nn.functional as F

from infocam.losses import class_priors, classification_loss, pc_softmax_cross_entropy


def test_priors_are_label_proportions():
    priors = class_priors([0, 1, 1, 2, 2, 2], 4)
    assert torch.allclose(priors, torch.tensor([1 / 6, 2 / 6, 3 / 6, 0.0]))


def test_pc_softmax_with_uniform_priors_is_cross_entropy_minus_log_m():
    torch.manual_seed(0)
    logits, labels = torch.randn(16, 5), torch.randint(0, 5, (16,))
    uniform = torch.full((5,), 0.2)
    expected = F.cross_entropy(logits, labels) - math.log(5)
    assert torch.allclose(pc_softmax_cross_entropy(logits, labels, uniform), expected, atol=1e-6)


def test_pc_softmax_gradient_equals_logit_adjusted_cross_entropy():
    torch.manual_seed(1)
    priors = torch.tensor([0.1, 0.2, 0.3, 0.4])
    labels = torch.randint(0, 4, (32,))
    logits_pc = torch.randn(32, 4, requires_grad=True)
    logits_la = logits_pc.detach().clone().requires_grad_(True)
    pc_softmax_cross_entropy(logits_pc, labels, priors).backward()
    F.cross_entropy(logits_la + priors.log(), labels).backward()
    assert torch.allclose(logits_pc.grad, logits_la.grad, atol=1e-7)


def test_loss_by_name():
    priors = torch.tensor([0.5, 0.5])
    logits, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    assert classification_loss("softmax", priors)(logits, labels) == F.cross_entropy(logits, labels)
    assert torch.isclose(classification_loss("pc_softmax", priors)(logits, labels),
                         F.cross_entropy(logits, labels) - math.log(2))
