"""config/paper.yaml: the dry run plans the paper's grid quickly; copies on disk replace downloads."""

import copy
import resource
import subprocess

import pytest
import yaml

from conftest import ROOT, SNAKEFILE, SNAKEMAKE
from infocam.config import ConfigError, validate_config

PAPER = ROOT / "config" / "paper.yaml"
TABLES = ["results/table1.csv", "results/table3.csv", "results/table4.csv", "results/table5.csv"]


def dry_run(workdir, configfile, *targets):
    """(job counts by rule, stdout, CPU seconds) of `snakemake -n` for `targets` under `configfile`.

    CPU time, not wall time: other tests running beside this one do not change it.
    """
    # --configfile takes several values: it goes last so it does not swallow the targets
    command = [*SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(workdir), "-n", *targets]
    command += ["--configfile", str(configfile)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = {}
    for line in result.stdout[result.stdout.index("Job stats:"):].splitlines()[3:]:  # after the table's header
        rule, count = line.split()
        counts[rule] = int(count)
        if rule == "total":
            break
    return counts, result.stdout, seconds


def paper_config():
    return yaml.safe_load(PAPER.read_text())


def test_paper_config_plans_the_whole_grid_in_under_ten_seconds(tmp_path):
    counts, _, seconds = dry_run(tmp_path, PAPER, *TABLES)
    # dvc_track: a .dvc record for each archive, prepared dataset and checkpoint, and for the CUBV2
    # tar and its four metadata files
    # download_fullsup_*: wsol2020's CUB train-fullsup, the CUBV2 tar and the reference's four metadata files
    assert counts == {
        "download_archive": 2, "download_fullsup_archive": 1, "download_fullsup_metadata": 4, "prepare_dataset": 2,
        "decode_images": 2, "train": 8, "evaluate": 8, "table": 4, "dvc_track": 17, "total": 48,
    }
    assert seconds < 10


def test_paper_config_downloads_cubv2_and_its_metadata_for_cub_alone(tmp_path):
    counts, stdout, _ = dry_run(tmp_path, PAPER, "data/prepared/cub", "data/prepared/tiny")
    assert counts["download_fullsup_archive"] == 1 and counts["download_fullsup_metadata"] == 4
    cubv2 = "https://onedrive.live.com/download?cid=B7111B95B80CCC66&resid=B7111B95B80CCC66%2130812&authkey=AFMzb4akufUiWU0"
    assert f"infocam download --url '{cubv2}' --no-md5 --out data/raw/cub/CUBV2.tar" in stdout
    metadata = "https://raw.githubusercontent.com/clovaai/wsolevaluation/96f4b88679af41f005824661f47e6fe3628af2aa/metadata/CUB/val"
    md5s = {"image_ids": "6f38783732b000695dba95dd004a2196", "image_sizes": "46e54dc4f3939907cf99b6c82a90d627",
            "localization": "4d8cd4975ecdd3bccb8bfae1df01fddc", "class_labels": "7454d9034450daac17bcd01ab4398792"}
    for name, md5 in md5s.items():
        assert (f"infocam download --url {metadata}/{name}.txt --md5 {md5} "
                f"--out data/raw/cub/CUBV2.tar.metadata/{name}.txt") in stdout
        assert f"--fullsup-metadata-md5 {name}={md5}" in stdout
    assert "--fullsup data/raw/cub/CUBV2.tar --fullsup-metadata data/raw/cub/CUBV2.tar.metadata" in stdout
    assert stdout.count("--fullsup ") == 1  # Tiny-ImageNet has no fullsup key


def test_an_extracted_copy_replaces_the_download(tmp_path):
    shared = tmp_path / "shared" / "CUB_200_2011"
    shared.mkdir(parents=True)
    config = paper_config()
    cub = config["datasets"]["cub"]
    cub.update(source="local", path=str(shared.parent))
    del cub["url"], cub["md5"]
    configfile = tmp_path / "copy.yaml"
    configfile.write_text(yaml.safe_dump(config))
    counts, stdout, _ = dry_run(tmp_path / "work", configfile, *TABLES)
    assert counts["download_archive"] == 1 and counts["prepare_dataset"] == 2 and counts["train"] == 8
    assert f"infocam prepare --format cub --extracted {shared.parent} --expect" in stdout
    assert "infocam download --url http://cs231n.stanford.edu/tiny-imagenet-200.zip" in stdout
    assert "CUB_200_2011.tgz" not in stdout


def test_an_archive_on_disk_replaces_the_download_and_keeps_its_checksum(tmp_path):
    archive = tmp_path / "CUB_200_2011.tgz"
    archive.write_bytes(b"stand-in; a dry run does not read it")
    config = paper_config()
    config["datasets"]["cub"].update(source="local", path=str(archive))
    configfile = tmp_path / "archive.yaml"
    configfile.write_text(yaml.safe_dump(config))
    counts, stdout, _ = dry_run(tmp_path / "work", configfile, "data/prepared/cub")
    # only train-fullsup (datasets.cub.fullsup, still source url) is downloaded
    assert counts == {"download_fullsup_archive": 1, "download_fullsup_metadata": 4, "prepare_dataset": 1, "total": 6}
    assert f"--archive {archive} --md5 97eceeb196236b17998738112f37df78" in stdout


def test_a_local_cubv2_folder_and_metadata_replace_their_downloads(tmp_path):
    images, metadata = tmp_path / "CUBV2", tmp_path / "metadata" / "CUB" / "val"
    images.mkdir()
    metadata.mkdir(parents=True)
    for name in ("image_ids", "image_sizes", "localization", "class_labels"):
        (metadata / f"{name}.txt").write_text("stand-in; a dry run does not read it")
    config = paper_config()
    config["datasets"]["cub"]["fullsup"] = {"source": "local", "archive": "CUBV2.tar", "md5": None,
                                            "path": str(images), "metadata": str(metadata)}
    configfile = tmp_path / "local.yaml"
    configfile.write_text(yaml.safe_dump(config))
    counts, stdout, _ = dry_run(tmp_path / "work", configfile, "data/prepared/cub")
    assert counts == {"download_archive": 1, "prepare_dataset": 1, "total": 2}
    assert f"--fullsup {images} --fullsup-metadata {metadata} --out data/prepared/cub" in stdout


def test_mnist_download_rule_is_planned_as_one_job(tmp_path):
    counts, stdout, _ = dry_run(tmp_path, PAPER, "data/raw/mnist/t10k-labels-idx1-ubyte.gz")
    assert counts == {"download_mnist": 1, "total": 1}
    assert "infocam download-mnist --out data/raw/mnist" in stdout


def test_md5_is_required_for_an_archive_but_not_for_a_folder(tmp_path):
    config = paper_config()
    cub = config["datasets"]["cub"]
    cub.update(source="local", path=str(tmp_path), md5=None)
    validate_config(copy.deepcopy(config))

    cub["path"] = str(tmp_path / "CUB_200_2011.tgz")
    (tmp_path / "CUB_200_2011.tgz").write_bytes(b"an archive on disk")  # it exists: only the md5 is missing
    with pytest.raises(ConfigError) as caught:
        validate_config(copy.deepcopy(config))
    assert str(caught.value) == (
        "config key 'datasets.cub.md5': required when path is an archive (a folder holding an extracted copy needs none)"
    )
    config = paper_config()
    config["datasets"]["tiny"]["md5"] = None
    with pytest.raises(ConfigError, match=r"^config key 'datasets.tiny.md5': required when source is 'url'$"):
        validate_config(config)
