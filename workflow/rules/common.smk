import json
import os
import re
import sys

from infocam.config import ConfigError, validate_config

try:
    validate_config(config)
except ConfigError as err:
    sys.exit(f"infocam: {err}")


# Every job records the config it ran under (infocam.provenance) without it being a rule
# parameter, so editing one experiment's section does not rerun the others.
os.environ.update(
    INFOCAM_CONFIG_JSON=json.dumps(config, sort_keys=True),
    INFOCAM_CONFIG_FILES=json.dumps([os.path.abspath(path) for path in workflow.configfiles]),
)

CONDA_ENV = "../../envs/infocam.yaml"
PUBLISHED = os.path.join(workflow.basedir, "config", "published.yaml")
DATASETS = config["datasets"]
GRID = config["grid"]
USES_GPU = 0 if config["device"] == "cpu" else 1
TRAINING = config["training"]
MODEL = config["model"]
EVALUATION = config["evaluation"]
CELL = "{backbone}-{adl}-{loss}-s{seed}"


def _alternatives(names):
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    dataset=_alternatives(DATASETS),
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
    spec = DATASETS[dataset]
    if spec["source"] == "local":
        return spec["path"]
    return f"data/raw/{dataset}/{spec['archive']}"


def dataset_setting(key):
    return lambda wildcards: DATASETS[wildcards.dataset][key]


def checksum_options(wildcards, input):
    spec = DATASETS[wildcards.dataset]
    if spec["source"] == "synthetic":
        return f"--md5-file {input.archive}.md5"
    return f"--md5 {spec['md5']}"


def prepare_source_options(wildcards, input):
    """An archive with its checksum, or (datasets.<name>.path a folder) an extracted copy read in place."""
    if os.path.isdir(input.archive):
        return f"--extracted {input.archive}"
    return f"--archive {input.archive} {checksum_options(wildcards, input)}"


def expected_options(wildcards):
    expected = DATASETS[wildcards.dataset].get("expected") or {}
    return " ".join(f"--expect {key}={value}" for key, value in expected.items())


def flag(name, on):
    return f"--{name}" if on else ""


def train_options(wildcards):
    """Hyperparameters of one cell as `infocam train` options (params, so changes trigger a rerun)."""
    dataset = DATASETS[wildcards.dataset]
    hyper = dataset["hyper"][wildcards.backbone]
    options = [
        f"--backbone {wildcards.backbone} --loss {wildcards.loss} --seed {wildcards.seed}",
        flag("adl", wildcards.adl == "adl"),
        f"--width {MODEL['width']} --adl-drop-rate {MODEL['adl_drop_rate']}",
        flag("pretrained", MODEL["pretrained"]),
        f"--epochs {TRAINING['epochs']} --lr {hyper['lr']} --batch-size {hyper['batch_size']}",
        f"--optimizer {TRAINING['optimizer']}",
        f"--lr-step {TRAINING['lr_step']} --lr-gamma {TRAINING['lr_gamma']}",
        f"--momentum {TRAINING['momentum']} --weight-decay {TRAINING['weight_decay']}",
        flag("nesterov", TRAINING["nesterov"]),
        f"--classifier-lr-mult {TRAINING['classifier_lr_mult']}",
        f"--resize {dataset['resize']} --crop {dataset['crop']}",
        f"--device {config['device']} --num-workers {TRAINING['num_workers']}",
        flag("amp", TRAINING["amp"]),
        flag("channels-last", TRAINING["channels_last"]),
        flag("cache-images", TRAINING["cache_images"]),
    ]
    return " ".join(option for option in options if option)


def evaluate_options(wildcards):
    dataset = DATASETS[wildcards.dataset]
    options = [
        f"--dataset {wildcards.dataset} --region {dataset['region'][wildcards.backbone]}",
        f"--resize {dataset['resize']} --crop {dataset['crop']}",
        f"--batch-size {EVALUATION['batch_size']} --device {config['device']}",
        flag("max-box-acc", EVALUATION["max_box_acc"]),
    ]
    return " ".join(option for option in options if option)


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


# --- MI estimation ---
MI = config["mi"]
MI_RESULTS = [f"results/mi/{setting}-d{dim}.csv" for setting in MI["settings"] for dim in MI["dims"]]
MI_TARGETS = ["results/mi_estimation.csv", "results/mi_estimation.md", "results/figures/mi_estimation.png"]


def _words(values):
    return " ".join(str(value) for value in values)


def mi_estimate_options(wildcards):
    """`infocam mi-estimate` options of one setting (params, so a config change triggers a rerun)."""
    return (
        f"--counts {_words(MI['settings'][wildcards.setting])} --offsets {_words(MI['offsets'])}"
        f" --estimators {_words(MI['estimators'])} --seeds {_words(MI['seeds'])}"
        f" --hidden {_words(MI['hidden'])} --epochs {MI['epochs']} --batch-size {MI['batch_size']}"
        f" --lr {MI['lr']} --mine-rate {MI['mine_rate']} --test-fraction {MI['test_fraction']}"
        f" --mc-samples {MI['mc_samples']} --mc-seed {MI['mc_seed']}"
    )


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


def _caps_words(caps):
    return " ".join("all" if cap is None else str(cap) for cap in (caps["even"], caps["odd"]))


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


def pc_softmax_options(wildcards, input):
    """`infocam pc-softmax-run` options of one imbalanced dataset (params, so a config change triggers a rerun)."""
    spec = IMBALANCED["datasets"][wildcards.imbalanced]
    if wildcards.imbalanced == "mnist":
        data = f"--data {os.path.dirname(input[0])} --train-range {_words(spec['train_range'])} --test-range {_words(spec['test_range'])}"
    else:
        data = f"--data {input[0]} --image-size {spec['image_size']}"
    return (
        f"{data} --train-caps {_caps_words(spec['train_caps'])} --test-caps {_caps_words(spec['test_caps'])}"
        f" --losses {_words(IMBALANCED['losses'])} --seeds {_words(IMBALANCED['seeds'])}"
        f" --epochs {spec['epochs']} --batch-size {spec['batch_size']} --lr {spec['lr']} --momentum {spec['momentum']}"
        f" --dropmax-tau {IMBALANCED['dropmax_tau']}"
    )


def _double_digit_data_options():
    return (
        f"--train-count {DOUBLE['train_count']} --test-count {DOUBLE['test_count']}"
        f" --p-present {DOUBLE['p_present']} --data-seed {DOUBLE['data_seed']}"
    )


def double_digit_options(wildcards):
    return (
        f"{_double_digit_data_options()} --width {DOUBLE['width']} --epochs {DOUBLE['epochs']}"
        f" --batch-size {DOUBLE['batch_size']} --lr {DOUBLE['lr']} --region {DOUBLE['region']} --tau {DOUBLE['tau']}"
    )


def digits_figure_options(wildcards):
    masking = DIGITS["info_masking"]
    return (
        f"--p-present {DOUBLE['p_present']} --data-seed {DOUBLE['data_seed']} --label {masking['label']}"
        f" --region {DOUBLE['region']} --tau {DOUBLE['tau']} --keep-fraction {masking['keep_fraction']}"
        f" --patch {masking['patch']}"
    )
