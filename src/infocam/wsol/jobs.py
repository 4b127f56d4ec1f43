"""The settings of each training and evaluation job, assembled from the config.

The workflow's rules pass them to `infocam train` / `infocam evaluate` as one JSON object
(workflow/rules/common.smk), so a changed value reruns exactly the jobs it concerns. Cell
training and the pretraining stage share one builder: they differ only in their data sizes,
hyperparameters and cell.
"""

# training.cache_images chooses the data path (rule decode_images and --decoded), not a TrainSettings field.
NOT_TRAIN_SETTINGS = ("cache_images",)


def _training(config: dict, sizes: dict, hyper: dict, **cell) -> dict:
    """TrainSettings (infocam.wsol.train): model, training, then `hyper` over them, the data sizes and the cell."""
    training = {key: value for key, value in config["training"].items() if key not in NOT_TRAIN_SETTINGS}
    return {**config["model"], **training, **hyper, "resize": sizes["resize"], "crop": sizes["crop"],
            "device": config["device"], **cell}


def train_settings(config: dict, dataset: str, backbone: str, adl: bool, loss: str, seed: int,
                   init_from: str | None) -> dict:
    """One cell: the dataset's sizes and per-backbone hyperparameters (their epochs and lr_step, if
    given, over training's), starting from `init_from` (the pretraining checkpoint) or from scratch."""
    spec = config["datasets"][dataset]
    return _training(config, spec, spec["hyper"][backbone], backbone=backbone, adl=adl, loss=loss, seed=seed,
                     init_from=init_from or None, output_stride=spec["output_stride"][backbone])


def pretrain_settings(config: dict, backbone: str) -> dict:
    """The pretraining run of one backbone on the synthetic corpus: its own epochs, sizes and hyper."""
    pretraining = config["pretraining"]
    hyper = {**pretraining["hyper"][backbone], "epochs": pretraining["epochs"], "lr_step": pretraining["lr_step"]}
    return _training(config, pretraining, hyper, backbone=backbone, adl=False, loss="softmax",
                     seed=pretraining["seed"], init_from=None)


def evaluate_settings(config: dict, dataset: str, backbone: str) -> dict:
    """EvaluateSettings (infocam.wsol.evaluate) of the cells of one dataset and backbone."""
    spec = config["datasets"][dataset]
    return {**config["evaluation"], "dataset": dataset, "region": spec["region"][backbone],
            "resize": spec["resize"], "crop": spec["crop"], "device": config["device"]}


def uses_protocol(config: dict, dataset: str, protocol: str) -> bool:
    return protocol in config["datasets"][dataset].get("protocols", ["paper"])


def snapshot_epochs_of(config: dict, dataset: str, backbone: str) -> list[int]:
    """The epochs whose checkpoints a cell keeps for the 2020 protocol (wsol2020.kept_epochs)."""
    from infocam.wsol.train import snapshot_epochs

    epochs = train_settings(config, dataset, backbone, False, "softmax", 0, None)["epochs"]
    return snapshot_epochs(epochs, config["wsol2020"]["kept_epochs"])


def protocol_settings(config: dict, dataset: str, backbone: str) -> dict:
    """ProtocolSettings (infocam.wsol.protocol2020) of the cells of one dataset and backbone: the
    grid of R around the dataset's R (wsol2020.region_offsets), the IVR percentiles, the family
    (wsol2020.family, or else evaluation.family)."""
    spec, protocol, evaluation = config["datasets"][dataset], config["wsol2020"], config["evaluation"]
    region = spec["region"][backbone]
    return {"dataset": dataset, "format": spec["format"],
            "regions": sorted({max(1, region + offset) for offset in protocol["region_offsets"]}),
            "ivr_percentiles": protocol["ivr_percentiles"], "resize": spec["resize"], "crop": spec["crop"],
            "region_geometry": evaluation.get("region_geometry", "full"),
            "family": protocol.get("family", evaluation.get("family", [])),
            "batch_size": evaluation["batch_size"], "device": config["device"]}
