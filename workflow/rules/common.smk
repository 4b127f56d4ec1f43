import json
import os
from types import SimpleNamespace
import re
import sys

from infocam.config import ConfigError, validate_config

try:
    validate_config(config)
except ConfigError as err:
    sys.exit(f"infocam: {err}")



# A GPU is checked for before any job runs (not in a dry run), but only where the jobs run on this
# machine: under a cluster executor Snakemake often runs on a login node without one, and the job
# itself checks on its node.
onstart:
    if config["device"] == "cuda" and workflow.local_exec:
        from infocam.wsol.train import cuda_problem

        if cuda_problem():
            sys.exit(f"infocam: config key 'device': {cuda_problem()}")


# Every job records the config it ran under (infocam.provenance.records) without it being a rule
# parameter, so editing one experiment's section does not rerun the others.
os.environ.update(
    INFOCAM_CONFIG_JSON=json.dumps(config, sort_keys=True),
    INFOCAM_CONFIG_FILES=json.dumps([os.path.abspath(path) for path in workflow.configfiles]),
    INFOCAM_CONFIG_OVERRIDES=json.dumps(workflow.config_settings.config or {}, sort_keys=True),
    INFOCAM_PROJECT=workflow.basedir,  # envs/infocam.post-deploy.sh installs the project from here
)

CONDA_ENV = "../../envs/infocam.yaml"
PUBLISHED = os.path.join(workflow.basedir, "workflow", "resources", "published.yaml")
DATASETS = config["datasets"]
GRID = config["grid"]
USES_GPU = 0 if config["device"] == "cpu" else 1
TRAINING = config["training"]
MODEL = config["model"]
EVALUATION = config["evaluation"]
CELL = "{backbone}-{adl}-{loss}-s{seed}"
PRETRAINING = config["pretraining"]
PRETRAIN_DATASET = "pretrain"
# Every dataset the data rules write and prepare: the grid's, and the pretraining corpus when it is on.
DATA_SOURCES = dict(DATASETS)
if PRETRAINING["enabled"]:
    DATA_SOURCES[PRETRAIN_DATASET] = {
        "format": PRETRAINING["format"], "source": "synthetic", "archive": PRETRAINING["archive"], "md5": None,
        "synthetic": PRETRAINING["synthetic"], "resize": PRETRAINING["resize"],
    }


def _alternatives(names):
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    dataset=_alternatives(DATA_SOURCES),
    backbone="vgg16|resnet50",
    adl="adl|noadl",
    loss="softmax|pc_softmax",
    seed=r"\d+",


def cells(losses=None):
    """Cell names {backbone}-{adl|noadl}-{loss}-s{seed} of the configured grid."""
    return [
        f"{backbone}-{'adl' if adl else 'noadl'}-{loss}-s{seed}"
        for backbone in GRID["backbones"]
        for adl in GRID["adl"]
        for loss in losses or GRID["losses"]
        for seed in GRID["seeds"]
    ]


def summaries(datasets, losses=("softmax",)):
    return [
        f"results/eval/{dataset}/{cell}/summary.json"
        for dataset in datasets
        for cell in cells([l for l in losses if l in GRID["losses"]])
    ]


def raw_archive(dataset):
    spec = DATA_SOURCES[dataset]
    if spec["source"] == "local":
        return spec["path"]
    return f"data/raw/{dataset}/{spec['archive']}"


def part_boxes(dataset):
    """The part-box sidecar a synthetic archive comes with; real data have none."""
    if DATA_SOURCES[dataset]["source"] != "synthetic":
        return []
    return f"{raw_archive(dataset)}.parts.csv"


def dataset_setting(key):
    return lambda wildcards: DATA_SOURCES[wildcards.dataset][key]


def checksum_options(wildcards, input):
    spec = DATA_SOURCES[wildcards.dataset]
    if spec["source"] == "synthetic":
        return f"--md5-file {input.archive}.md5"
    return f"--md5 {spec['md5']}"


def prepare_source_options(wildcards, input):
    """An archive with its checksum (and a synthetic archive's head boxes), or (datasets.<name>.path a
    folder) an extracted copy read in place."""
    if os.path.isdir(input.archive):
        return f"--extracted {input.archive}"
    parts = f" --parts {input.parts}" if input.parts else ""
    return f"--archive {input.archive} {checksum_options(wildcards, input)}{parts}"


def expected_options(wildcards):
    expected = DATA_SOURCES[wildcards.dataset].get("expected") or {}
    return " ".join(f"--expect {key}={value}" for key, value in sorted(expected.items()))


def as_settings(section):
    """A job's settings as one JSON object: a rule parameter, so a changed value reruns exactly that job."""
    return json.dumps(section, sort_keys=True)


# training.cache_images chooses the data path (rule decode_images and --decoded), not a TrainSettings field.
TRAIN_SETTINGS = {key: value for key, value in TRAINING.items() if key != "cache_images"}


def decoded_images(dataset):
    """The decoded-image cache a training job of `dataset` reads ([]: it decodes the JPEGs)."""
    return f"data/decoded/{dataset}" if TRAINING["cache_images"] else []


def decoded_option(wildcards, input):
    return f"--decoded {input.decoded}" if input.decoded else ""


def train_settings(wildcards):
    """TrainSettings of one cell (infocam.wsol.train): model, training, the dataset's sizes and hyperparameters."""
    dataset = DATASETS[wildcards.dataset]
    return as_settings({
        **MODEL, **TRAIN_SETTINGS, **dataset["hyper"][wildcards.backbone],
        "resize": dataset["resize"], "crop": dataset["crop"], "device": config["device"],
        "backbone": wildcards.backbone, "adl": wildcards.adl == "adl", "loss": wildcards.loss,
        "seed": int(wildcards.seed), "init_from": pretrained_checkpoint(wildcards.backbone) or None,
        "output_stride": dataset["output_stride"][wildcards.backbone],
    })


def pretrained_checkpoint(backbone):
    """The pretraining stage's checkpoint every cell of `backbone` starts from ([] when pretraining is off)."""
    return f"results/pretrain/{backbone}.pt" if PRETRAINING["enabled"] else []


def pretrain_settings(wildcards):
    """TrainSettings of the pretraining run of one backbone: training's settings, the corpus's sizes."""
    return as_settings({
        **MODEL, **TRAIN_SETTINGS, **PRETRAINING["hyper"][wildcards.backbone],
        "epochs": PRETRAINING["epochs"], "lr_step": PRETRAINING["lr_step"],
        "resize": PRETRAINING["resize"], "crop": PRETRAINING["crop"],
        "device": config["device"], "backbone": wildcards.backbone, "adl": False, "loss": "softmax",
        "seed": PRETRAINING["seed"], "init_from": None,
    })


def figure_checkpoint(wildcards):
    return f"results/checkpoints/{wildcards.dataset}/{FIGURE_CELL}.pt"


def figure_settings(wildcards):
    backbone = FIGURE_CELL.split("-")[0]
    return evaluate_settings(SimpleNamespace(dataset=wildcards.dataset, backbone=backbone))


def evaluate_settings(wildcards):
    """EvaluateSettings of one cell (infocam.wsol.evaluate)."""
    dataset = DATASETS[wildcards.dataset]
    return as_settings({
        **EVALUATION, "dataset": wildcards.dataset, "region": dataset["region"][wildcards.backbone],
        "resize": dataset["resize"], "crop": dataset["crop"], "device": config["device"],
    })


# --- DVC: raw archives, prepared datasets and checkpoints get a .dvc file (rule dvc_track) ---
DVC = config.get("dvc") or {"track": False}


def dvc_records(paths):
    """The .dvc files for `paths` (none when tracking is off; a copy outside the project is not tracked)."""
    if not DVC["track"]:
        return []
    return [f"{path}.dvc" for path in paths if not os.path.isabs(path) and not path.startswith("..")]


def checkpoints(dataset):
    return [f"results/checkpoints/{dataset}/{cell}.pt" for cell in cells([l for l in ("softmax",) if l in GRID["losses"]])]


def dataset_dvc_records(datasets):
    paths = []
    for dataset in datasets:
        paths += [raw_archive(dataset), f"data/prepared/{dataset}", *checkpoints(dataset)]
    if datasets and PRETRAINING["enabled"]:
        paths += [raw_archive(PRETRAIN_DATASET), f"data/prepared/{PRETRAIN_DATASET}"]
        paths += [pretrained_checkpoint(backbone) for backbone in GRID["backbones"]]
    return dvc_records(paths)


TABLE_DATASETS = {
    "table1": list(DATASETS),
    "table3": [d for d in DATASETS if d == "cub"],
    "table4": [d for d in DATASETS if d == "tiny"],
    "table5": list(DATASETS),
}
ALL_TABLES = [
    f"results/{table}.{ext}"
    for table, datasets in TABLE_DATASETS.items()
    if datasets
    for ext in ("csv", "md")
]
# The figure's cell: ResNet50 without ADL where the grid has them (the paper's Fig. 2/3/5 show no ADL).
FIGURE_CELL = (
    f"{'resnet50' if 'resnet50' in GRID['backbones'] else GRID['backbones'][0]}"
    f"-{'noadl' if False in GRID['adl'] else 'adl'}-softmax-s{GRID['seeds'][0]}"
)
WSOL_FIGURES = [f"results/figures/wsol_{dataset}.png" for dataset in DATASETS]
WSOL_TARGETS = ALL_TABLES + ["results/infocam_vs_cam.csv"] + WSOL_FIGURES
SYNTHETIC_DATASETS = [name for name, spec in DATASETS.items() if spec["source"] == "synthetic"]
CLAIMS_TARGETS = ["results/claims.csv", "results/claims.md"]


# --- MI estimation ---
MI = config["mi"]
MI_RESULTS = [f"results/mi/{setting}-d{dim}.csv" for setting in MI["settings"] for dim in MI["dims"]]
MI_TARGETS = ["results/mi_estimation.csv", "results/mi_estimation.md", "results/figures/mi_estimation.png"]


def mi_settings(wildcards):
    """MiSettings of one (setting, dim) job (infocam.mi.experiment)."""
    shared = {key: value for key, value in MI.items() if key not in ("settings", "dims", "threads")}
    return as_settings({**shared, "counts": MI["settings"][wildcards.setting]})


# --- PC-softmax and digits ---
from infocam.data.mnist import MNIST_FILES as _MNIST_FILES

DIGITS = config["digits"]
DOUBLE = DIGITS["double_digit"]
IMBALANCED = DIGITS["imbalanced"]
MNIST_FOLDER = "data/raw/mnist-offline" if DIGITS["mnist"]["source"] == "offline" else "data/raw/mnist"
MNIST_INPUT = [f"{MNIST_FOLDER}/{name}" for name in _MNIST_FILES]
PC_SOFTMAX_RESULTS = [f"results/pc_softmax/{name}.csv" for name in IMBALANCED["datasets"]]
DOUBLE_DIGIT_RESULTS = [
    f"results/double_digit/{loss}-s{seed}.csv" for loss in ("sigmoid", "pc_sigmoid") for seed in DOUBLE["seeds"]
]
DIGITS_TARGETS = [
    "results/pc_softmax.csv",
    "results/pc_softmax.md",
    "results/table2.csv",
    "results/table2.md",
    "results/double_digit_localisation.csv",
    "results/figures/double_digit_cam_vs_infocam.png",
    "results/figures/info_masking.png",
]


PC_SOFTMAX_UPSTREAM = MNIST_INPUT + (
    [f"data/prepared/cub/{name}" for name in ("train.csv", "test.csv", "classes.csv")]
    if "cub" in IMBALANCED["datasets"] else []
)
DOUBLE_DIGIT_CHECKPOINTS = [path.replace(".csv", ".pt") for path in DOUBLE_DIGIT_RESULTS]
DIGITS_DVC_RECORDS = dvc_records(
    MNIST_INPUT + (["data/prepared/cub"] if "cub" in IMBALANCED["datasets"] else []) + DOUBLE_DIGIT_CHECKPOINTS
)
DVC_TARGETS = sorted(set(dataset_dvc_records(DATASETS) + DIGITS_DVC_RECORDS))


def upstream_options(paths):
    return " ".join(f"--upstream {path}" for path in paths)


def pc_softmax_input(wildcards):
    return MNIST_INPUT if wildcards.imbalanced == "mnist" else "data/prepared/cub"


def pc_softmax_settings(wildcards):
    """ImbalancedSettings of one imbalanced dataset (infocam.digits.imbalanced)."""
    shared = {key: value for key, value in IMBALANCED.items() if key != "datasets"}
    return as_settings({**shared, **IMBALANCED["datasets"][wildcards.imbalanced]})


def double_digit_settings(wildcards):
    """DoubleDigitSettings (infocam.digits.double_digit); the seed is the job's wildcard."""
    return as_settings({key: value for key, value in DOUBLE.items() if key != "seeds"})


def digits_figure_settings(wildcards):
    """FigureSettings (infocam.digits.figures): the double-digit canvases and CAM, and info-masking."""
    canvases = {key: DOUBLE[key] for key in ("p_present", "data_seed", "region", "tau")}
    return as_settings({**canvases, **DIGITS["info_masking"]})
