"""The softmax paper's imbalanced-classification experiment: softmax vs PC-softmax vs DropMax.

Imbalanced MNIST and imbalanced CUB (docs/reference.md): even classes are capped at
fewer training examples than odd ones. Each loss trains the same LeNet from the same initial
weights on the same batches for a fixed number of epochs (nothing is selected on a test set),
then is scored on two test sets: the imbalanced one (the same caps on the test side, as
the paper) and a balanced one (MNIST's t10k file; CUB's whole reported test half).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from infocam.digits.common import LeNet, capped_indices, load_mnist, parity_caps, to_tensor
from infocam.io import read_result_csvs, write_text_atomic
from infocam.published import pc_softmax_values, read_published
from infocam.stats import bootstrap_interval
from infocam.losses import class_priors, dropmax_loss, dropmax_scores, pc_softmax_cross_entropy

LOSSES = ("softmax", "pc_softmax", "dropmax")
COLUMNS = ["dataset", "loss", "seed", "test_set", "accuracy", "mean_class_accuracy", "class_accuracies",
           "train_size", "test_size", "epochs"]
@dataclass(frozen=True)
class Labelled:
    images: np.ndarray  # uint8 (N, H, W) or (N, H, W, 3)
    labels: np.ndarray


@dataclass(frozen=True)
class Splits:
    train: Labelled
    tests: dict  # test-set name -> Labelled
    num_classes: int


@dataclass(frozen=True)
class Training:
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    dropmax_tau: float = 0.1



@dataclass(frozen=True, kw_only=True)
class ImbalancedSettings(Training):
    """One imbalanced dataset's job: its caps (and MNIST index ranges or CUB image size), losses, seeds."""

    losses: tuple
    seeds: tuple
    train_caps: dict  # {"even": cap, "odd": cap}, a cap of None keeps every example
    test_caps: dict
    train_range: tuple = None  # MNIST: [start, stop) of the training file used for training
    test_range: tuple = None  # MNIST: [start, stop) of the training file used for testing
    image_size: int = 32  # CUB: images resized to this square


def _caps(caps):
    return parity_caps(caps["even"], caps["odd"], num_classes=1000)


def run_job(dataset, data, settings, out_csv, log=print):
    """Every loss and seed on one imbalanced dataset (mnist: an IDX folder; cub: a prepared folder)."""
    train_caps, test_caps = _caps(settings.train_caps), _caps(settings.test_caps)
    if dataset == "mnist":
        if not (settings.train_range and settings.test_range):
            raise ValueError("imbalanced mnist needs train_range and test_range")
        splits = mnist_splits(data, settings.train_range, settings.test_range, train_caps, test_caps)
    else:
        splits = cub_splits(data, settings.image_size, train_caps, test_caps)
    results = run_experiment(dataset, splits, settings.losses, settings.seeds, settings, log=log)
    write_text_atomic(out_csv, results.to_csv(index=False, float_format="%.4f"))

def mnist_splits(folder, train_range, test_range, train_caps, test_caps):
    """Imbalanced train/test from index ranges of MNIST's training file; t10k as the balanced test set."""
    mnist = load_mnist(folder)
    train = capped_indices(mnist.train_labels, train_caps, *train_range)
    test = capped_indices(mnist.train_labels, test_caps, *test_range)
    return Splits(
        train=Labelled(mnist.train_images[train], mnist.train_labels[train]),
        tests={"imbalanced": Labelled(mnist.train_images[test], mnist.train_labels[test]),
               "balanced": Labelled(mnist.test_images, mnist.test_labels)},
        num_classes=10,
    )


def cub_splits(prepared, image_size, train_caps, test_caps):
    """Imbalanced train/test (first examples per class in image-id order) of a prepared CUB folder;
    the whole test half as the balanced test set. Images resized to image_size x image_size."""
    prepared = Path(prepared)
    train, test = _read_split(prepared / "train.csv"), _read_split(prepared / "test.csv")
    num_classes = int(max(train["label"].max(), test["label"].max())) + 1
    kept_train = train.iloc[capped_indices(train["label"].to_numpy(), train_caps[:num_classes])]
    kept_test = test.iloc[capped_indices(test["label"].to_numpy(), test_caps[:num_classes])]
    return Splits(
        train=_load_images(prepared, kept_train, image_size),
        tests={"imbalanced": _load_images(prepared, kept_test, image_size),
               "balanced": _load_images(prepared, test, image_size)},
        num_classes=num_classes,
    )


def _read_split(path):
    frame = pd.read_csv(path)
    missing = {"image_id", "path", "label"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return frame.sort_values("image_id").reset_index(drop=True)


def _load_images(root, frame, image_size):
    images = [np.asarray(Image.open(root / path).convert("RGB").resize((image_size, image_size), Image.BILINEAR))
              for path in frame["path"]]
    return Labelled(np.stack(images), frame["label"].to_numpy())


def train_classifier(loss, train, num_classes, training, seed):
    """LeNet trained with `loss` by SGD (momentum); the same seed gives the same initial weights and batches."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss '{loss}' (expected one of {', '.join(LOSSES)})")
    x, y = to_tensor(train.images), torch.from_numpy(np.array(train.labels, dtype=np.int64))
    torch.manual_seed(seed)
    model = LeNet(num_classes, in_channels=x.shape[1], image_size=x.shape[-1], dropmax=loss == "dropmax")
    model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.SGD(model.parameters(), lr=training.lr, momentum=training.momentum)
    priors = class_priors(train.labels, num_classes)
    batches = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(training.epochs):
        for batch in torch.randperm(len(y), generator=batches).split(training.batch_size):
            outputs = model(x[batch])
            if loss == "softmax":
                value = F.cross_entropy(outputs, y[batch])
            elif loss == "pc_softmax":
                value = pc_softmax_cross_entropy(outputs, y[batch], priors)
            else:
                value = dropmax_loss(outputs, y[batch], tau=training.dropmax_tau)
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
    return model.eval()


@torch.no_grad()
def predict(model, loss, images):
    """Predicted classes: argmax f (softmax and PC-softmax alike); DropMax: argmax of its test-time scores."""
    outputs = model(to_tensor(images))
    scores = dropmax_scores(outputs) if loss == "dropmax" else outputs
    return scores.argmax(dim=1).numpy()


def class_accuracies(predicted, labels, num_classes):
    """Accuracy per class (NaN for a class with no test example)."""
    hits = np.bincount(labels, weights=predicted == labels, minlength=num_classes)
    counts = np.bincount(labels, minlength=num_classes)
    return np.divide(hits, counts, out=np.full(num_classes, np.nan), where=counts > 0)


def run_experiment(dataset, splits, losses, seeds, training, log=print):
    """One row per (loss, seed, test set): accuracy, mean per-class accuracy and per-class accuracies (%)."""
    rows = []
    for loss in losses:
        for seed in seeds:
            model = train_classifier(loss, splits.train, splits.num_classes, training, seed)
            for name, test in splits.tests.items():
                predicted = predict(model, loss, test.images)
                per_class = 100 * class_accuracies(predicted, test.labels, splits.num_classes)
                rows.append({"dataset": dataset, "loss": loss, "seed": seed, "test_set": name,
                             "accuracy": 100 * float(np.mean(predicted == test.labels)),
                             "mean_class_accuracy": float(np.nanmean(per_class)),
                             "class_accuracies": " ".join(f"{value:.2f}" for value in per_class),
                             "train_size": len(splits.train.labels), "test_size": len(test.labels),
                             "epochs": training.epochs})
                log(f"{dataset} {loss} seed {seed} {name}: accuracy {rows[-1]['accuracy']:.2f}, "
                    f"mean per-class {rows[-1]['mean_class_accuracy']:.2f}")
    return pd.DataFrame(rows, columns=COLUMNS)


def read_results(paths):
    return read_result_csvs(paths, COLUMNS, "pc-softmax")


def render_markdown(results, published):
    """Mean ± std over seeds per dataset, test set and loss, with the paper's CUB numbers beside."""
    order = {loss: i for i, loss in enumerate(LOSSES)}
    lines = ["# Imbalanced classification: softmax vs PC-softmax vs DropMax", "",
             "Accuracy and mean per-class accuracy (%), mean over seeds [95 % interval: percentile bootstrap "
             "over seeds, 2,000 resamples]; argmax f for prediction.", "",
             "| dataset | test set | loss | seeds | accuracy | mean per-class acc. |",
             "|---|---|---|---|---|---|"]
    grouped = results.groupby(["dataset", "test_set", "loss"], sort=False)
    keys = sorted(grouped.groups, key=lambda key: (key[0], key[1] != "imbalanced", order.get(key[2], 99)))
    for dataset, test_set, loss in keys:
        group = grouped.get_group((dataset, test_set, loss))
        lines.append(f"| {dataset} | {test_set} | {loss} | {len(group)} | {_mean_std(group['accuracy'])} | "
                     f"{_mean_std(group['mean_class_accuracy'])} |")
    lines += ["", "## Published, by another model", "",
              "Not comparable with the rows above (our LeNet trained from scratch on small images): the "
              "published imbalanced-CUB number comes from a different, pretrained network (docs/reference.md); "
              "its test split is also ambiguous.", "",
              "| dataset | loss | model | accuracy | mean per-class acc. |", "|---|---|---|---|---|"]
    for (dataset, loss), paper in pc_softmax_values(published).items():
        lines.append(f"| {dataset} | {loss} | {paper['model']} | {paper['accuracy']:.2f} | "
                     f"{paper['mean_class_accuracy']:.2f} |")
    return "\n".join(lines) + "\n"


def with_published(results, published):
    """The results with paper_accuracy, paper_mean_class_accuracy and paper_model (the model that made them)."""
    values = pc_softmax_values(published)
    paper = [values.get((dataset, loss), {}) for dataset, loss in zip(results["dataset"], results["loss"])]
    return results.assign(paper_accuracy=[p.get("accuracy") for p in paper],
                          paper_mean_class_accuracy=[p.get("mean_class_accuracy") for p in paper],
                          paper_model=[p.get("model", "") for p in paper])


def _mean_std(values):
    low, high = bootstrap_interval([values.to_numpy()])
    return f"{values.mean():.2f} [{low:.2f}, {high:.2f}]"


def write_pc_softmax_table(result_paths, csv_path, md_path, published_path):
    results = read_results(result_paths)
    published = read_published(published_path)
    write_text_atomic(csv_path, with_published(results, published).to_csv(index=False, float_format="%.4f"))
    write_text_atomic(md_path, render_markdown(results, published))
