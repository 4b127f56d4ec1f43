"""The config schema: shipped configs pass, a broken one names its key."""

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import SNAKEMAKE
from infocam.config import ConfigError, load_config, load_config_files, validate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_config():
    return load_config(ROOT / "config" / "config.yaml")


def test_shipped_configs_validate():
    for name in ("config.yaml", "paper.yaml"):
        config = load_config(ROOT / "config" / name)
        assert set(config["datasets"]) == {"cub", "tiny"}


def test_paper_config_holds_the_papers_settings():
    config = load_config(ROOT / "config" / "paper.yaml")
    assert config["training"]["epochs"] == 200 and config["training"]["lr_step"] == 60
    # The authors' code: a full convolution with a 4x4 window on CUB (both backbones), 3x3 on Tiny-ImageNet.
    assert config["evaluation"]["region_geometry"] == "full"
    assert config["datasets"]["cub"]["region"] == {"vgg16": 4, "resnet50": 4}
    assert config["datasets"]["tiny"]["region"] == {"vgg16": 3, "resnet50": 3}
    assert config["datasets"]["cub"]["hyper"]["vgg16"] == {"lr": 0.001, "batch_size": 30}  # run_vgg.sh, both ADL
    assert config["datasets"]["cub"]["md5"] == "97eceeb196236b17998738112f37df78"


def test_validation_fills_in_a_schema_default(default_config):
    config = copy.deepcopy(default_config)
    del config["evaluation"]["region_geometry"]
    assert validate_config(config)["evaluation"]["region_geometry"] == "full"


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c["datasets"]["cub"].update(crop=-3), "datasets.cub.crop"),
        (lambda c: c["training"].update(epochs="many"), "training.epochs"),
        (lambda c: c["grid"].update(backbones=["alexnet"]), "grid.backbones.0"),
        (lambda c: c["model"].update(widht=0.5), "model"),
        (lambda c: c["datasets"]["tiny"].update(crop=999), "datasets.tiny.crop"),
        (lambda c: c["datasets"]["tiny"].update(source="url"), "datasets.tiny.url"),
        (lambda c: c["mi"]["settings"].update(balanced=[10, 10]), "mi.settings.balanced"),
        (lambda c: c["model"].update(pretrained=True), "model.pretrained"),  # width 0.125: no such weights
        (lambda c: c["datasets"]["cub"].update(source="local", path="/no/such/CUB_200_2011.tgz", md5=None),
         "datasets.cub.path"),
        (lambda c: c["pretraining"].pop("hyper"), "pretraining.hyper"),
        (lambda c: c["pretraining"].update(crop=96), "pretraining.crop"),  # resize 80
        (lambda c: c["pretraining"]["synthetic"].update(first_class=30), "pretraining.synthetic"),  # 30 + 8 > 32
        (lambda c: c["datasets"].update(pretrain=copy.deepcopy(c["datasets"]["cub"])), "datasets.pretrain"),
        (lambda c: c["datasets"]["cub"]["synthetic"].update(min_size=500, max_size=375),
         "datasets.cub.synthetic.min_size"),
        (lambda c: c["datasets"]["tiny"]["synthetic"].update(max_size=500), "datasets.tiny.synthetic.min_size"),
        (lambda c: c["datasets"]["cub"]["output_stride"].update(vgg16=4), "datasets.cub.output_stride.vgg16"),
        (lambda c: c["model"].update(pretrained=True, width=1.0), "pretraining.enabled"),  # ImageNet or synthetic
        (lambda c: c["datasets"]["cub"]["region"].update(resnet50=8), "datasets.cub.region.resnet50"),  # 7 x 7 maps
    ],
)
def test_broken_config_names_the_key(default_config, edit, key):
    config = copy.deepcopy(default_config)
    edit(config)
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    message = str(error.value)
    assert f"'{key}'" in message and "\n" not in message


def test_snakemake_reports_a_bad_config_in_one_line(tmp_path, default_config):
    config = copy.deepcopy(default_config)
    config["datasets"]["cub"]["region"]["vgg16"] = 0
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [*SNAKEMAKE, "-n", "--configfile", str(configfile)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "config key 'datasets.cub.region.vgg16'" in result.stderr


def test_strings_where_the_schema_wants_numbers_are_read_as_yaml(default_config):
    # What Snakemake's --config 'training={epochs: 3, amp: true}' hands over: nested values as strings.
    config = copy.deepcopy(default_config)
    config["training"].update(epochs="3", amp="true", lr_gamma="0.5")
    config["mi"]["dims"] = ["1", "2"]
    validate_config(config)
    assert config["training"]["epochs"] == 3 and config["training"]["amp"] is True
    assert config["training"]["lr_gamma"] == 0.5 and config["mi"]["dims"] == [1, 2]
    assert config["training"]["optimizer"] == "adam"  # a string where a string is due stays one


def test_a_nested_override_reaches_the_job_as_a_number(tmp_path):
    # --config, like --configfile, takes every word after it: the target goes first.
    result = subprocess.run([*SNAKEMAKE, "-n", "-p", "-d", str(tmp_path), "results/checkpoints/cub/vgg16-noadl-softmax-s0.pt",
                             "--config", "training={epochs: 3}"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"epochs": 3,' in result.stdout


BROKEN_YAML = "device: cpu\ntraining:\n  epochs: [3\n  amp: false\n"  # the list on line 3 is never closed


def test_a_yaml_error_names_the_file_and_line(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(BROKEN_YAML)
    with pytest.raises(ConfigError) as error:
        load_config_files([ROOT / "config" / "config.yaml", overlay])
    assert str(error.value).startswith(f"{overlay}:4:")
    assert "not valid YAML" in str(error.value) and "\n" not in str(error.value)


def test_check_config_reads_the_files_before_snakemake_as_make_tables_does(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(BROKEN_YAML)
    # -o: take the venv as it is; make stops at check-config, before Snakemake starts
    done = subprocess.run(["make", "-s", "-o", ".venv/.installed", "tables", f"CONFIGFILES=config/config.yaml {overlay}"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stderr.splitlines()[0].startswith(f"infocam check-config: error: {overlay}:4:")
    assert "snakemake" not in done.stdout

    overlay.write_text("training:\n  epochs: 3\n")
    done = subprocess.run(["infocam", "check-config", str(ROOT / "config" / "config.yaml"), str(overlay)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith(": valid")
    overlay.write_text("datasets:\n  tiny:\n    region: {vgg16: 5, resnet50: 3}\n")
    done = subprocess.run(["infocam", "check-config", str(ROOT / "config" / "config.yaml"), str(overlay)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == ("infocam check-config: error: config key 'datasets.tiny.region.vgg16': R = 5 is "
                                   "larger than the 4 x 4 class maps of vgg16 at crop 64 and output stride 16")


# --- protocols and CUB's train-fullsup (wsol2020) -------------------------------------------


def test_protocols_default_to_the_papers_and_need_no_fullsup(default_config):
    cub = default_config["datasets"]["cub"]
    del cub["protocols"], cub["fullsup"]
    assert validate_config(default_config)["datasets"]["cub"]["protocols"] == ["paper"]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["cub"].update(protocols=["paper", "wsol2020"]) or d["cub"].pop("fullsup"),
     "config key 'datasets.cub.fullsup': required when protocols list wsol2020 "
     "(CUB's train-fullsup images and metadata, config/README.md)"),
    (lambda d: d["tiny"].update(fullsup={"source": "synthetic", "archive": "x.tar", "synthetic": {"per_class": 1, "seed": 0}}),
     "config key 'datasets.tiny.fullsup': only a CUB-format dataset has train-fullsup "
     "(under wsol2020 Tiny-ImageNet's val half plays its part); remove the key"),
    (lambda d: d["cub"]["fullsup"].pop("synthetic"),
     "config key 'datasets.cub.fullsup.synthetic': required when source is 'synthetic'"),
    (lambda d: d["cub"]["fullsup"].update(archive="synthetic-cub.tgz"),
     "config key 'datasets.cub.fullsup.archive': synthetic-cub.tgz is the dataset's own archive's name"),
    (lambda d: d["cub"]["fullsup"].update(source="url", url="http://x/CUBV2.tar", metadata="http://x/val",
                                          metadata_md5={"image_ids": "0" * 32}),
     "config key 'datasets.cub.fullsup.source': 'url' train-fullsup images do not match the dataset's "
     "'synthetic' ones (a synthetic dataset's fullsup is synthetic)"),
    (lambda d: d["cub"]["fullsup"].update(source="local", path="/no/such/CUBV2.tar", metadata="/no/such"),
     "config key 'datasets.cub.fullsup.path': /no/such/CUBV2.tar does not exist (source is 'local')"),
    (lambda d: d["cub"]["fullsup"].update(md5="xyz"),
     "config key 'datasets.cub.fullsup.md5': 'xyz' does not match '^[0-9a-f]{32}$'"),
])
def test_a_bad_fullsup_names_its_key(default_config, edit, message):
    edit(default_config["datasets"])
    with pytest.raises(ConfigError) as caught:
        validate_config(default_config)
    assert str(caught.value) == message


def test_a_url_fullsup_needs_every_metadata_md5():
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "paper.yaml")
    assert config["datasets"]["cub"]["fullsup"]["md5"] is None  # CUBV2.tar's md5 is not published
    del config["datasets"]["cub"]["fullsup"]["metadata_md5"]["localization"]
    with pytest.raises(ConfigError, match=r"^config key 'datasets.cub.fullsup.metadata_md5.localization': "
                                          r"required when source is 'url'$"):
        validate_config(config)
