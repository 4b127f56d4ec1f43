"""The papers' published numbers, read from the one file that holds them
(workflow/resources/published.yaml, a rule input of every table that prints them; the package
ships it as infocam/resources/published.yaml)."""

from importlib.resources import files
from pathlib import Path

import yaml

PUBLISHED = files("infocam") / "resources" / "published.yaml"


def read_published(path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def mi_values(published: dict) -> tuple[dict, dict]:
    """({(setting, dim): true MI}, {(setting, dim): softmax estimate}) of the MI experiment, in nats."""
    rows = published["mi_estimation"]
    true_mi = {(row["setting"], row["dim"]): row["true_mi"] for row in rows}
    estimate = {(row["setting"], row["dim"]): row["softmax_estimate"] for row in rows if "softmax_estimate" in row}
    return true_mi, estimate


def pc_softmax_values(published: dict) -> dict:
    """{(dataset, loss): {accuracy, mean_class_accuracy, model}} of the imbalanced experiments."""
    return {(row["dataset"], row["loss"]): {key: row[key] for key in ("accuracy", "mean_class_accuracy", "model")}
            for row in published["pc_softmax"]}


def table2_accuracy(published: dict) -> dict:
    """{loss: per-digit accuracy (10 values, fractions)} of the infoCAM paper's Table 2."""
    return {loss: tuple(values) for loss, values in published["table2"].items()}


def double_digit_localisation(published: dict) -> dict:
    """{method: localisation accuracy (%)} on double-digit MNIST."""
    return dict(published["double_digit_localisation"])
