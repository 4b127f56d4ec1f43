import json
import os
import re
import sys

from snakemake.sourcecache import HostingProviderFile

from infocam.config import ConfigError, validate_config
from infocam.published import PUBLISHED as _PUBLISHED
from infocam.wsol import cells as wsol_cells
from infocam.wsol import jobs

try:
    validate_config(config)
except ConfigError as err:
    sys.exit(f"infocam: {err}")


# A GPU is checked for before any job runs (not in a dry run), but only where the jobs run on this
# machine: under a cluster executor Snakemake often runs on a login node without one, and the job
# itself checks on its node.
onstart:
    if config["device"] == "cuda" and workflow.local_exec:
        from infocam.device import cuda_problem

        if cuda_problem():
            sys.exit(f"infocam: config key 'device': {cuda_problem()}")


def workflow_repository():
    """Where this workflow's files come from, as pip installs it: the repository's folder, or, for a
    module read from GitHub or GitLab (a snakedeploy deployment), that repository at the same ref.
    Used as a module, workflow.basedir is the host's folder, so this starts from this file's own."""
    rules_dir = workflow.current_basedir
    if isinstance(rules_dir, HostingProviderFile):
        return f"git+https://{rules_dir.host}/{rules_dir.repo}@{rules_dir.ref}"
    return os.path.dirname(os.path.dirname(os.path.abspath(rules_dir.get_path_or_uri(secret_free=True))))


# Every job records the config it ran under (infocam.provenance.records) without it being a rule
# parameter, so editing one experiment's section does not rerun the others.
os.environ.update(
    INFOCAM_CONFIG_JSON=json.dumps(config, sort_keys=True),
    INFOCAM_CONFIG_FILES=json.dumps([os.path.abspath(path) for path in workflow.configfiles]),
    INFOCAM_CONFIG_OVERRIDES=json.dumps(workflow.config_settings.config or {}, sort_keys=True),
    INFOCAM_PROJECT=workflow_repository(),  # envs/infocam.post-deploy.sh installs the package from here
)

CONDA_ENV = "../../envs/infocam.yaml"
PUBLISHED = str(_PUBLISHED)  # shipped with the package: a local file wherever the workflow is read from
DATASETS = config["datasets"]
GRID = config["grid"]
USES_GPU = 0 if config["device"] == "cpu" else 1
TRAINING = config["training"]
MODEL = config["model"]
EVALUATION = config["evaluation"]
CELL = wsol_cells.PATTERN
PRETRAINING = config["pretraining"]
PRETRAIN_DATASET = "pretrain"
# Every dataset the data rules write and prepare: the grid's, and the pretraining corpus when it is on.
DATA_SOURCES = dict(DATASETS)
if PRETRAINING["enabled"]:
    DATA_SOURCES[PRETRAIN_DATASET] = {
        "format": PRETRAINING["format"],
        "source": "synthetic",
        "archive": PRETRAINING["archive"],
        "md5": None,
        "synthetic": PRETRAINING["synthetic"],
        "resize": PRETRAINING["resize"],
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
    """Cell names of the configured grid (infocam.wsol.cells), restricted to `losses` when given."""
    return wsol_cells.grid_cells(GRID, losses)


def summaries(datasets, losses=("softmax",)):
    return [f"results/eval/{dataset}/{cell}/summary.json" for dataset in datasets for cell in cells(losses)]


def per_image_records(datasets, losses=("softmax",)):
    """The per-image records beside each summary, which tables and comparisons read."""
    return [path.replace("summary.json", "per_image.csv.gz") for path in summaries(datasets, losses)]


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


def decoded_images(dataset):
    """The decoded-image cache a training job of `dataset` reads ([]: it decodes the JPEGs)."""
    return f"data/decoded/{dataset}" if TRAINING["cache_images"] else []


def decoded_option(wildcards, input):
    return f"--decoded {input.decoded}" if input.decoded else ""


def train_settings(wildcards):
    """TrainSettings of one cell (infocam.wsol.jobs)."""
    return as_settings(
        jobs.train_settings(
            config,
            wildcards.dataset,
            wildcards.backbone,
            wildcards.adl == "adl",
            wildcards.loss,
            int(wildcards.seed),
            pretrained_checkpoint(wildcards.backbone) or None,
        )
    )


def pretrained_checkpoint(backbone):
    """The pretraining stage's checkpoint every cell of `backbone` starts from ([] when pretraining is off)."""
    return f"results/pretrain/{backbone}.pt" if PRETRAINING["enabled"] else []


def pretrain_settings(wildcards):
    """TrainSettings of the pretraining run of one backbone (infocam.wsol.jobs)."""
    return as_settings(jobs.pretrain_settings(config, wildcards.backbone))


def figure_checkpoint(wildcards):
    return f"results/checkpoints/{wildcards.dataset}/{FIGURE_CELL}.pt"


def figure_settings(wildcards):
    backbone = wsol_cells.parse_cell(FIGURE_CELL)["backbone"]
    return as_settings(jobs.evaluate_settings(config, wildcards.dataset, backbone))


def evaluate_settings(wildcards):
    """EvaluateSettings of one cell (infocam.wsol.jobs)."""
    return as_settings(jobs.evaluate_settings(config, wildcards.dataset, wildcards.backbone))


# --- DVC: raw archives, prepared datasets and checkpoints get a .dvc file (rule dvc_track) ---
DVC = config.get("dvc") or {"track": False}


def dvc_records(paths):
    """The .dvc files for `paths` (none when tracking is off; a copy outside the project is not tracked)."""
    if not DVC["track"]:
        return []
    return [f"{path}.dvc" for path in paths if not os.path.isabs(path) and not path.startswith("..")]


def cell_checkpoints(dataset):
    """The checkpoints of the cells the tables use."""
    return [f"results/checkpoints/{dataset}/{cell}.pt" for cell in cells(["softmax"])]


def dataset_dvc_records(datasets):
    """Called after fullsup.smk is included (FULLSUP and its helpers are defined there)."""
    paths = []
    for dataset in datasets:
        paths += [raw_archive(dataset), f"data/prepared/{dataset}", *cell_checkpoints(dataset)]
        if dataset in FULLSUP:  # wsol2020's train-fullsup (CUBV2): its images and metadata files
            paths += [fullsup_images(dataset), *fullsup_metadata(dataset)]
    if datasets and PRETRAINING["enabled"]:
        paths += [raw_archive(PRETRAIN_DATASET), f"data/prepared/{PRETRAIN_DATASET}"]
        paths += [pretrained_checkpoint(backbone) for backbone in GRID["backbones"]]
    return dvc_records(paths)


TABLE_DATASETS = {
    "table1": list(DATASETS),
    "table3": [d for d in DATASETS if d == "cub"],
    "table4": [d for d in DATASETS if d == "tiny"],
    "table5": list(DATASETS),
    "table6": list(DATASETS),
}
ALL_TABLES = [
    f"results/{table}.{ext}" for table, datasets in TABLE_DATASETS.items() if datasets for ext in ("csv", "md")
]
FIGURE_CELL = wsol_cells.figure_cell(GRID)
WSOL_FIGURES = [f"results/figures/{kind}_{dataset}.png" for kind in ("wsol", "family") for dataset in DATASETS]
WSOL_TARGETS = ALL_TABLES + ["results/infocam_vs_cam.csv"] + WSOL_FIGURES
SYNTHETIC_DATASETS = [name for name, spec in DATASETS.items() if spec["source"] == "synthetic"]
CLAIMS_TARGETS = ["results/claims.csv", "results/claims.md"]
WSOL2020_DATASETS = [name for name in DATASETS if jobs.uses_protocol(config, name, "wsol2020")]
WSOL2020_RESULTS = [
    f"results/wsol2020/test/{dataset}/{cell}.json" for dataset in WSOL2020_DATASETS for cell in cells(("softmax",))
]
WSOL2020_TARGETS = ["results/table1_wsol2020.csv", "results/figures/tau_wsol2020.png"] if WSOL2020_DATASETS else []


def protocol_settings(wildcards):
    """ProtocolSettings of one cell's 2020-protocol jobs (infocam.wsol.jobs)."""
    return as_settings(jobs.protocol_settings(config, wildcards.dataset, wildcards.backbone))


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
    if "cub" in IMBALANCED["datasets"]
    else []
)
DOUBLE_DIGIT_CHECKPOINTS = [path.replace(".csv", ".pt") for path in DOUBLE_DIGIT_RESULTS]
DIGITS_DVC_RECORDS = dvc_records(
    MNIST_INPUT + (["data/prepared/cub"] if "cub" in IMBALANCED["datasets"] else []) + DOUBLE_DIGIT_CHECKPOINTS
)


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
