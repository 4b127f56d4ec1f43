"""PC-sigmoid and DropMax on cases with known answers; PC-softmax's relation to softmax and logit adjustment."""

import math

import torch
import torch.nn.functional as F

from infocam.losses import (DropMaxHead, dropmax_loss, dropmax_scores, pc_sigmoid, pc_sigmoid_cross_entropy,
                            pc_softmax_cross_entropy)


def test_pc_softmax_uniform_priors_shifts_the_softmax_estimate_by_log_m():
    torch.manual_seed(0)
    logits, labels = torch.randn(32, 4), torch.randint(0, 4, (32,))
    log_pc = -pc_softmax_cross_entropy(logits, labels, torch.full((4,), 0.25))
    log_softmax = -F.cross_entropy(logits, labels)
    assert torch.allclose(log_pc, log_softmax + math.log(4), atol=1e-6)


def test_pc_softmax_gradient_is_logit_adjusted_cross_entropy_gradient():
    torch.manual_seed(1)
    priors, labels = torch.tensor([0.5, 0.3, 0.2]), torch.randint(0, 3, (16,))
    a = torch.randn(16, 3, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    pc_softmax_cross_entropy(a, labels, priors).backward()
    F.cross_entropy(b + priors.log(), labels).backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


def test_pc_sigmoid_is_pc_softmax_over_absent_and_present():
    torch.manual_seed(2)
    z, priors = torch.randn(8, 5) * 3, torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    f0 = torch.randn(8, 5)
    f1 = f0 + z
    # PC-softmax over {absent, present}: e^{f1} / ((1 - pi) e^{f0} + pi e^{f1})
    expected = torch.exp(f1) / ((1 - priors) * torch.exp(f0) + priors * torch.exp(f1))
    assert torch.allclose(pc_sigmoid(z, priors), expected, rtol=1e-5)


def test_pc_sigmoid_loss_is_pc_softmax_loss_on_two_logits():
    torch.manual_seed(3)
    z, targets = torch.randn(16, 1), torch.randint(0, 2, (16, 1))
    prior = torch.tensor([0.2])
    two_logits = torch.cat([torch.zeros_like(z), z], dim=1)
    expected = pc_softmax_cross_entropy(two_logits, targets[:, 0], torch.tensor([0.8, 0.2]))
    assert torch.allclose(pc_sigmoid_cross_entropy(z, targets, prior), expected, atol=1e-6)


def test_pc_sigmoid_with_half_prior_is_twice_sigmoid_and_stays_finite():
    z = torch.tensor([[-200.0, -1.0, 0.0, 2.0, 200.0]])
    assert torch.allclose(pc_sigmoid(z, torch.full((5,), 0.5)), 2 * torch.sigmoid(z))
    loss = pc_sigmoid_cross_entropy(z, torch.tensor([[1, 1, 0, 0, 0]]), torch.full((5,), 0.3))
    assert torch.isfinite(loss)


def test_dropmax_test_scores_use_p_instead_of_a_sampled_mask():
    o = torch.tensor([[2.0, 1.0, 0.0]])
    keep_logit = torch.tensor([[-20.0, 3.0, 0.0]])  # p ~ (0, 0.95, 0.5)
    scores = dropmax_scores((o, keep_logit, torch.zeros(1, 3)))
    p = torch.sigmoid(keep_logit)
    expected = torch.log((p + 1e-8) * o.exp() / ((p + 1e-8) * o.exp()).sum())
    assert torch.allclose(scores, expected, atol=1e-5)
    assert scores.argmax().item() == 1  # class 0 has the largest logit but is dropped
    assert torch.equal(dropmax_scores((o, keep_logit, torch.zeros(1, 3))), scores)  # deterministic


def test_dropmax_training_loss_is_stochastic_and_keeps_the_target():
    torch.manual_seed(4)
    head = DropMaxHead(6, 4)
    h, labels = torch.randn(10, 6), torch.randint(0, 4, (10,))
    first, second = dropmax_loss(head(h), labels), dropmax_loss(head(h), labels)
    assert not torch.isclose(first, second)  # a fresh mask each call
    # q, p -> 0: every non-target class is dropped, the target kept (z_y = 1), so the masked
    # cross-entropy, KL(q || p) and the entropy of p vanish; only BCE(r, y) = 60 for the target remains.
    very_negative = torch.full((10, 4), -60.0)
    loss = dropmax_loss((torch.randn(10, 4), very_negative, very_negative), labels)
    assert abs(loss.item() - 60.0) < 1e-3


def test_dropmax_loss_trains_a_head():
    torch.manual_seed(5)
    head = DropMaxHead(2, 2)
    h = torch.cat([torch.randn(50, 2) + 3, torch.randn(50, 2) - 3])
    labels = torch.cat([torch.zeros(50), torch.ones(50)]).long()
    optimiser = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(100):
        optimiser.zero_grad()
        dropmax_loss(head(h), labels).backward()
        optimiser.step()
    accuracy = (dropmax_scores(head(h)).argmax(dim=1) == labels).float().mean()
    assert accuracy > 0.95
