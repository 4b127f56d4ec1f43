"""Cell names: one trained network of the grid, `{backbone}-{adl|noadl}-{loss}-s{seed}`,
e.g. `resnet50-adl-softmax-s0`. Built and read here only; the workflow's paths use PATTERN."""

import re

PATTERN = "{backbone}-{adl}-{loss}-s{seed}"  # the workflow's wildcard form of a cell name
_NAME = re.compile(r"(?P<backbone>[a-z0-9]+)-(?P<adl>adl|noadl)-(?P<loss>[a-z_]+)-s(?P<seed>\d+)")


def cell_name(backbone: str, adl: bool, loss: str, seed: int) -> str:
    return PATTERN.format(backbone=backbone, adl="adl" if adl else "noadl", loss=loss, seed=seed)


def parse_cell(name: str) -> dict:
    """{backbone, adl (bool), loss, seed (int)} of a cell name; ValueError for anything else."""
    match = _NAME.fullmatch(name)
    if not match:
        raise ValueError(f"'{name}' is not a cell name ({PATTERN})")
    return {"backbone": match["backbone"], "adl": match["adl"] == "adl", "loss": match["loss"],
            "seed": int(match["seed"])}


def grid_cells(grid: dict, losses: list[str] | None = None) -> list[str]:
    """The cell names of a config's `grid`, restricted to `losses` when given (an empty list: none)."""
    losses = grid["losses"] if losses is None else [loss for loss in losses if loss in grid["losses"]]
    return [cell_name(backbone, adl, loss, seed)
            for backbone in grid["backbones"] for adl in grid["adl"] for loss in losses for seed in grid["seeds"]]


def figure_cell(grid: dict) -> str:
    """The cell the example figures show: ResNet50 without ADL where the grid has them (the paper's
    Fig. 2, 3 and 5 show no ADL), trained with softmax, the grid's first seed."""
    backbone = "resnet50" if "resnet50" in grid["backbones"] else grid["backbones"][0]
    with_adl = False not in grid["adl"]
    return cell_name(backbone, with_adl, "softmax", grid["seeds"][0])
