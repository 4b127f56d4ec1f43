"""The MI experiment: true MI, each estimator's formula on known answers, and a tiny end-to-end run."""

import json
import math
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import integrate
from scipy.special import logsumexp

from conftest import ROOT
from infocam.cli import main
from infocam.published import mi_values, read_published
from infocam.mi.experiment import (COLUMNS, MiTraining, estimate_setting, label_entropy, make_data, pointwise_mi,
                        class_means, read_results, true_mutual_information)
from infocam.mi.estimators import (MineLoss, dv_bound, exact_product_of_marginals, held_out_estimate,
                                   infonce_bound, jsd_objective, nwj_bound, pc_softmax_estimate,
                                   softmax_estimate, training_loss)

OFFSETS = [0.0, 2.0, -2.0, 4.0, -4.0]
BALANCED = [1.0] * 5
IMBALANCED = [1.0, 2.0, 3.0, 4.0, 5.0]
# The authors' Monte Carlo values for the paper's setting (published.yaml), nats.
PUBLISHED = ROOT / "workflow" / "resources" / "published.yaml"
PAPER_TRUE_MI = mi_values(read_published(PUBLISHED))[0]


def normalised(weights):
    weights = np.asarray(weights, dtype=np.float64)
    return weights / weights.sum()


def log_normal(x, mean):
    return -0.5 * (x - mean) ** 2 - 0.5 * math.log(2 * math.pi)


def mi_by_quadrature(priors, offsets):
    """I(X;Y) of a 1-d mixture of unit Gaussians, integrated numerically class by class."""
    def log_mixture(x):
        return logsumexp([math.log(p) + log_normal(x, c) for p, c in zip(priors, offsets)])

    total = 0.0
    for prior, offset in zip(priors, offsets):
        integrand = lambda x: math.exp(log_normal(x, offset)) * (log_normal(x, offset) - log_mixture(x))
        value, _ = integrate.quad(integrand, offset - 12, offset + 12, limit=200)
        total += prior * value
    return total


@pytest.mark.parametrize("weights", [BALANCED, IMBALANCED], ids=["balanced", "imbalanced"])
def test_true_mi_by_monte_carlo_matches_quadrature_in_one_dimension(weights):
    priors = normalised(weights)
    estimate, se = true_mutual_information(priors, OFFSETS, 1, n_samples=1_000_000, seed=3)
    exact = mi_by_quadrature(priors, OFFSETS)
    assert 0 < se < 2e-3
    assert abs(estimate - exact) < 4 * se


def test_true_mi_in_d_dimensions_matches_the_one_dimensional_reduction():
    # Along (1,...,1)/sqrt(d) the means sit at c_k sqrt(d); the orthogonal directions carry no information.
    priors = normalised(IMBALANCED)
    estimate, se = true_mutual_information(priors, OFFSETS, 5, n_samples=400_000, seed=4)
    assert abs(estimate - mi_by_quadrature(priors, [c * math.sqrt(5) for c in OFFSETS])) < 4 * se


@pytest.mark.parametrize("setting,dim", sorted(PAPER_TRUE_MI))
def test_the_setting_is_the_papers(setting, dim):
    priors = normalised(BALANCED if setting == "balanced" else IMBALANCED)
    exact = mi_by_quadrature(priors, [c * math.sqrt(dim) for c in OFFSETS])
    assert exact == pytest.approx(PAPER_TRUE_MI[setting, dim], abs=3e-3)


def test_true_mi_standard_error_shrinks_with_more_samples():
    priors = normalised(BALANCED)
    _, se_small = true_mutual_information(priors, OFFSETS, 2, n_samples=10_000, seed=0)
    _, se_large = true_mutual_information(priors, OFFSETS, 2, n_samples=40_000, seed=0)
    assert se_large == pytest.approx(se_small / 2, rel=0.1)


def bayes_optimal_logits(counts, dim=2, seed=0):
    """Test labels in exact proportion to counts, with the true log p(x|k) and log p(k|x) per class."""
    _, test = make_data(counts, OFFSETS, dim, test_fraction=0.2, seed=seed)
    x = test.x.double().numpy()
    means = class_means(OFFSETS, dim)
    priors = normalised(counts)
    log_likelihood = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(-1)
    log_posterior = log_likelihood + np.log(priors)
    log_posterior -= logsumexp(log_posterior, axis=1, keepdims=True)
    return test, torch.tensor(log_likelihood), torch.tensor(log_posterior), torch.tensor(priors)


@pytest.mark.parametrize("counts", [[500] * 5, [250, 500, 750, 1000, 1250]], ids=["balanced", "imbalanced"])
def test_softmax_overestimates_by_log_k_minus_label_entropy_at_the_optimum(counts):
    # softmax's optimum is the posterior p(y|x); PC-softmax's is log p(x|y) up to a per-x shift.
    test, log_likelihood, log_posterior, priors = bayes_optimal_logits(counts)
    softmax = softmax_estimate(log_posterior, test.y).item()
    pc = pc_softmax_estimate(log_likelihood + 7.0, test.y, priors).item()
    assert softmax - pc == pytest.approx(math.log(5) - label_entropy(priors), abs=1e-9)
    pmi = pointwise_mi(test.x.double().numpy(), test.y.numpy(), class_means(OFFSETS, 2), priors.numpy())
    assert pc == pytest.approx(pmi.mean(), abs=1e-9)


def test_classifier_estimates_on_hand_made_logits():
    labels = torch.tensor([0, 1, 1, 2])
    priors = torch.tensor([0.25, 0.5, 0.25])
    assert softmax_estimate(torch.zeros(4, 3), labels).item() == pytest.approx(0.0, abs=1e-6)
    assert pc_softmax_estimate(torch.zeros(4, 3), labels, priors).item() == pytest.approx(0.0, abs=1e-6)
    certain = 50.0 * torch.nn.functional.one_hot(labels, 3).float()
    assert softmax_estimate(certain, labels).item() == pytest.approx(math.log(3), abs=1e-5)
    expected = -np.mean(np.log([0.25, 0.5, 0.5, 0.25]))  # log PC_y -> -log pi_y when the class is certain
    assert pc_softmax_estimate(certain, labels, priors).item() == pytest.approx(expected, abs=1e-5)


def discrete_joint():
    """P(x, y) = [[3, 1], [1, 3]] / 8 as 8 equally weighted samples; Q = P(x)P(y) uniform on the 4 cells."""
    joint_cells = [(0, 0)] * 3 + [(0, 1)] + [(1, 0)] + [(1, 1)] * 3
    log_ratio = {(0, 0): math.log(1.5), (1, 1): math.log(1.5), (0, 1): math.log(0.5), (1, 0): math.log(0.5)}
    joint = torch.tensor([log_ratio[cell] for cell in joint_cells], dtype=torch.float64)
    marginal = torch.tensor([log_ratio[(a, b)] for a in (0, 1) for b in (0, 1)], dtype=torch.float64)
    mi = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    return joint, marginal, mi


def test_dv_and_nwj_are_tight_at_their_optimal_critics():
    log_ratio_joint, log_ratio_marginal, mi = discrete_joint()
    assert dv_bound(log_ratio_joint + 3.7, log_ratio_marginal + 3.7).item() == pytest.approx(mi, abs=1e-12)
    assert nwj_bound(log_ratio_joint + 1, log_ratio_marginal + 1).item() == pytest.approx(mi, abs=1e-12)
    assert nwj_bound(log_ratio_joint, log_ratio_marginal).item() == pytest.approx(mi - math.exp(-1), abs=1e-12)
    assert dv_bound(torch.zeros(8), torch.zeros(4)).item() == pytest.approx(0.0, abs=1e-7)
    assert dv_bound(0.5 * log_ratio_joint, 0.5 * log_ratio_marginal).item() < mi


def test_weighted_marginal_equals_repeated_samples():
    joint, marginal, _ = discrete_joint()
    repeated = torch.cat([marginal, marginal[:1].repeat(2)])  # cell 0 three times, the others once
    log_weights = torch.log(torch.tensor([3.0, 1.0, 1.0, 1.0], dtype=torch.float64) / 6)
    for bound in (dv_bound, nwj_bound, jsd_objective):
        assert bound(joint, marginal, log_weights).item() == pytest.approx(bound(joint, repeated).item(), abs=1e-12)


def test_jsd_objective_at_its_optimum_is_twice_the_js_divergence_minus_2_log_2():
    log_ratio_joint, log_ratio_marginal, _ = discrete_joint()
    p = np.array([3, 1, 1, 3]) / 8
    q = np.full(4, 0.25)
    m = (p + q) / 2
    jsd = 0.5 * (p * np.log(p / m)).sum() + 0.5 * (q * np.log(q / m)).sum()
    at_optimum = jsd_objective(log_ratio_joint, log_ratio_marginal).item()
    assert at_optimum == pytest.approx(2 * jsd - 2 * math.log(2), abs=1e-12)
    assert jsd_objective(log_ratio_joint + 0.3, log_ratio_marginal + 0.3).item() < at_optimum


def test_infonce_equals_the_in_batch_negatives_formula():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(9, 4, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 2, 2, 2, 0, 1, 2])  # class 3 absent from the batch
    scores = logits[:, labels]  # scores[i, j] = T(x_i, y_j)
    explicit = (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(len(labels))
    assert infonce_bound(logits, labels).item() == pytest.approx(explicit.item(), abs=1e-12)


def test_infonce_is_capped_by_the_label_entropy():
    labels = torch.tensor([0, 1, 1, 2, 2, 2])
    certain = 60.0 * torch.nn.functional.one_hot(labels, 3).double()
    assert infonce_bound(certain, labels).item() == pytest.approx(label_entropy(np.array([1, 2, 3]) / 6), abs=1e-9)
    assert infonce_bound(torch.zeros(6, 3), labels).item() == pytest.approx(0.0, abs=1e-6)


def test_exact_product_of_marginals_matches_all_pairs():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    joint = logits.gather(1, labels[:, None]).squeeze(1)
    all_pairs = logits[:, labels].reshape(-1)  # every x_i with every y_j
    marginal, log_weights = exact_product_of_marginals(logits, labels)
    assert log_weights.exp().sum().item() == pytest.approx(1.0)
    for bound in (dv_bound, nwj_bound):
        assert bound(joint, marginal, log_weights).item() == pytest.approx(bound(joint, all_pairs).item(), abs=1e-12)
    assert held_out_estimate("mine", logits, labels, None) == pytest.approx(dv_bound(joint, all_pairs).item())


def test_mine_gradient_uses_the_moving_average():
    joint = torch.tensor([0.5, 1.0], requires_grad=True)
    marginal = torch.tensor([0.0, math.log(3.0)], requires_grad=True)
    MineLoss(rate=1.0)(joint, marginal).backward()
    dv_joint = torch.tensor([0.5, 1.0], requires_grad=True)
    dv_marginal = torch.tensor([0.0, math.log(3.0)], requires_grad=True)
    (-dv_bound(dv_joint, dv_marginal)).backward()
    assert torch.allclose(marginal.grad, dv_marginal.grad) and torch.allclose(joint.grad, dv_joint.grad)

    mine = MineLoss(rate=0.25)
    mine(joint.detach(), torch.zeros(2))  # batch mean of e^T: 1
    marginal = torch.tensor([0.0, math.log(3.0)], requires_grad=True)  # batch mean of e^T: 2
    mine(joint.detach(), marginal).backward()
    assert mine.average.item() == pytest.approx(0.75 * 1 + 0.25 * 2)
    assert torch.allclose(marginal.grad, torch.tensor([1.0, 3.0]) / 2 / 1.25)


def test_make_data_has_exact_counts_and_is_seeded():
    train, test = make_data([50, 100, 150], [0.0, 3.0, -3.0], 4, test_fraction=0.2, seed=5)
    assert torch.bincount(train.y).tolist() == [50, 100, 150]
    assert torch.bincount(test.y).tolist() == [10, 20, 30]
    assert train.x.shape == (300, 4)
    assert torch.equal(make_data([50, 100, 150], [0.0, 3.0, -3.0], 4, 0.2, seed=5)[0].x, train.x)
    class_two = train.x[train.y == 2]
    assert torch.allclose(class_two.mean(0), torch.full((4,), -3.0), atol=0.35)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one count per mean"):
        make_data([10, 10], OFFSETS, 1, 0.2, seed=0)
    with pytest.raises(ValueError, match="no test sample"):
        make_data([10, 2], [0.0, 1.0], 1, 0.2, seed=0)
    with pytest.raises(ValueError, match="unknown MI estimator"):
        training_loss("dropmax", torch.ones(2) / 2, torch.Generator(), 0.01)


def test_read_results_names_a_file_without_the_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("setting,dim\nbalanced,1\n")
    with pytest.raises(ValueError, match="bad.csv: missing column"):
        read_results([bad])


def test_every_estimator_learns_an_easy_problem():
    # Two well-separated classes: I(X;Y) is close to H(Y) = log 2.
    training = MiTraining(hidden=(16, 16), epochs=20, batch_size=100, lr=1e-2)
    results = estimate_setting("balanced", [300, 300], [-3.0, 3.0], 1, ["softmax", "pc_softmax", "mine", "nwj",
                               "infonce", "jsd"], [0], training, mc_samples=20_000, log=lambda line: None)
    assert list(results.columns) == COLUMNS
    assert (results["abs_error"] < 0.1).all(), results
    again = estimate_setting("balanced", [300, 300], [-3.0, 3.0], 1, ["nwj"], [0], training, mc_samples=20_000,
                             log=lambda line: None)
    assert again["estimate_nats"].iloc[0] == results.set_index("estimator").loc["nwj", "estimate_nats"]


def test_cli_writes_the_csv_table_and_figure(tmp_path):
    common = {"offsets": [0, 2, -2], "estimators": ["softmax", "pc_softmax", "mine", "nwj", "infonce", "jsd"],
              "seeds": [0, 1], "hidden": [8], "epochs": 2, "batch_size": 32, "lr": 0.01, "mc_samples": 5000}
    parts = []
    for setting, counts in (("balanced", [40, 40, 40]), ("imbalanced", [20, 40, 60])):
        for dim in ("1", "2"):
            out = tmp_path / "mi" / f"{setting}-d{dim}.csv"
            settings = json.dumps({**common, "counts": counts})
            assert main(["mi-estimate", "--setting", setting, "--dim", dim, "--settings", settings,
                         "--out", str(out)]) == 0
            parts.append(str(out))
    csv, md, png = tmp_path / "mi_estimation.csv", tmp_path / "mi_estimation.md", tmp_path / "fig" / "mi.png"
    assert main(["mi-table", "--published", str(PUBLISHED), "--csv", str(csv), "--md", str(md), *parts]) == 0
    assert main(["mi-figure", "--results", str(csv), "--out", str(png)]) == 0

    table = pd.read_csv(csv)
    required = ["setting", "dim", "estimator", "seed", "estimate_nats", "true_mi_nats", "true_mi_se", "abs_error"]
    assert set(required) <= set(table.columns)
    assert len(table) == 2 * 2 * 6 * 2
    assert np.allclose(table.abs_error, (table.estimate_nats - table.true_mi_nats).abs())
    softmax_balanced_d1 = table[(table.setting == "balanced") & (table.dim == 1) & (table.estimator == "softmax")]
    assert (softmax_balanced_d1.paper_estimate_nats == 0.990).all()
    assert (softmax_balanced_d1.paper_true_mi_nats == 1.032).all()
    assert table[table.estimator != "softmax"].paper_estimate_nats.isna().all()
    assert table[table.setting == "imbalanced"].paper_estimate_nats.isna().all()
    text = md.read_text()
    assert "| imbalanced | 2 |" in text and "PC-softmax" in text and "±" in text
    assert "| 1.032 |" in text and "| 0.990 |" in text  # the authors' values beside ours
    assert f"log K − H(Y) = {math.log(3) - label_entropy([1 / 6, 2 / 6, 3 / 6]):.3f}" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob("*.tmp"))


def test_cli_reports_bad_counts_in_one_line(tmp_path, capsys):
    settings = {"counts": [10, 10], "offsets": [0, 1, 2], "estimators": ["softmax"], "seeds": [0], "epochs": 1,
                "batch_size": 8, "lr": 0.01}
    status = main(["mi-estimate", "--setting", "x", "--dim", "1", "--settings", json.dumps(settings),
                   "--out", str(tmp_path / "x.csv")])
    assert status == 1
    assert "one count per mean" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_the_command_as_a_job_runs_it_leaves_its_whole_log_output_and_exit_status(tmp_path):
    """`infocam` ends with os._exit (cli.run): what the verbs print to a log file must still be flushed."""
    settings = json.dumps({"counts": [30, 30], "offsets": [-2, 2], "estimators": ["softmax", "jsd"], "seeds": [0],
                           "hidden": [8], "epochs": 1, "batch_size": 16, "lr": 0.01, "mc_samples": 2000})
    out, csv, md, log = tmp_path / "b-d1.csv", tmp_path / "mi.csv", tmp_path / "mi.md", tmp_path / "job.log"
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    with log.open("w") as handle:
        for verb in (["mi-estimate", "--setting", "balanced", "--dim", "1", "--settings", settings, "--out", str(out)],
                     ["mi-table", "--published", str(PUBLISHED), "--csv", str(csv), "--md", str(md), str(out)]):
            done = subprocess.run(["infocam", *verb], stdout=handle, stderr=subprocess.STDOUT, env=buffered)
            assert done.returncode == 0
    assert len(pd.read_csv(out)) == 2
    assert "balanced d=1 jsd seed 0:" in log.read_text()
    assert log.read_text().endswith(md.read_text() + "\n")  # mi-table prints the table last, unflushed
    bad = json.loads(settings) | {"offsets": [0, 1, 2]}
    failed = subprocess.run(["infocam", "mi-estimate", "--setting", "x", "--dim", "1", "--settings", json.dumps(bad),
                             "--out", str(tmp_path / "x.csv")], capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stderr.startswith("infocam mi-estimate: error:") and "one count per mean" in failed.stderr
