"""The workflow as others deploy it: the catalog's files, a snakedeploy deployment, and the package
installed (not editable) in a fresh venv. The one whole run of a deployed folder is
test_workflow.py's test_tiny_config_builds_every_table."""

import tomllib

import pytest
import yaml

from conftest import ROOT, TINY
from deployment import deploy
from test_workflow import job_counts, snakemake

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    return deploy(tmp_path_factory.mktemp("deploy"))


def test_the_catalog_file_names_the_flags_conda_and_the_report():
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert "--cores" in usage["mandatory-flags"]["flags"]
    assert usage["software-stack-deployment"]["conda"] is True and usage["report"] is True


def test_the_installed_package_tells_its_version_from_its_own_files(deployment):
    result = deployment.run("infocam", "--version")
    assert result.stdout.strip() == f"infocam {VERSION}", result.stderr
    where = deployment.run("python", "-c", "import infocam; print(infocam.__file__)")
    assert where.stdout.startswith(str(deployment.venv / "lib")), where.stdout + where.stderr


def test_the_installed_package_validates_a_config_outside_any_clone(deployment, tmp_path):
    (tmp_path / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    result = deployment.run("infocam", "check-config", "config.yaml", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "config.yaml: valid", result.stdout + result.stderr


def test_an_installed_packages_provenance_names_its_release_and_its_files(deployment, tmp_path):
    code = "import json; from infocam.provenance.records import code_version; print(json.dumps(code_version()))"
    record = yaml.safe_load(deployment.run("python", "-c", code, cwd=tmp_path).stdout)
    assert record["version"] == VERSION and record["commit"] is None
    assert {"infocam/resources/config.schema.yaml", "infocam/resources/published.yaml",
            "infocam/provenance/records.py"} <= set(record["files_md5"])


def test_the_deployed_folder_plans_what_the_clone_plans(deployment, tmp_path):
    assert (deployment.folder / "workflow" / "Snakefile").read_text().count("use rule * from infocam") == 1
    deployed = deployment.snakemake("-n", "--cores", "2", "--quiet", "rules")
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
    clone = snakemake("-n", "--cores", "2", "--quiet", "rules", "--configfile", str(TINY), workdir=tmp_path)
    assert job_counts(deployed.stdout) == job_counts(clone.stdout)
    assert job_counts(deployed.stdout)["train"] == 8


def test_the_test_folder_runs_the_tiny_config(tmp_path):
    """The catalog's CI runs `snakemake --directory .test`: .test/config/config.yaml is its config."""
    in_test_folder = snakemake("-n", "--cores", "2", "--quiet", "rules", workdir=ROOT / ".test")
    given = snakemake("-n", "--cores", "2", "--quiet", "rules", "--configfile", str(TINY), workdir=tmp_path)
    assert in_test_folder.returncode == 0, in_test_folder.stderr[-2000:]
    assert job_counts(in_test_folder.stdout) == job_counts(given.stdout)
