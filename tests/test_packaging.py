"""Packaging: the dependency ranges, the pinned lock and the conda environment agree; what the
repository tracks and the package ships."""

import os
import subprocess
import sys
import tomllib
from collections import Counter

import yaml
from packaging.requirements import Requirement

from conftest import ROOT
from infocam.data.splits import authors_tiny_split


def pins(lines):
    return {Requirement(line).name.lower(): Requirement(line) for line in lines
            if line.strip() and not line.startswith("#")}


def test_every_top_level_pin_is_a_dependency_and_inside_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = pins(project["dependencies"] + project["optional-dependencies"]["test"])
    top_level = pins((ROOT / "envs" / "requirements.in").read_text().splitlines())
    assert set(ranges) == set(top_level)
    for name, pinned in top_level.items():
        version = next(iter(pinned.specifier)).version
        assert ranges[name].specifier.contains(version), f"{name} {version} outside {ranges[name].specifier}"


def test_the_lock_pins_every_top_level_requirement_at_the_same_version():
    lock = pins((ROOT / "envs" / "requirements.lock").read_text().splitlines())
    for name, pinned in pins((ROOT / "envs" / "requirements.in").read_text().splitlines()).items():
        assert str(lock[name].specifier) == str(pinned.specifier), name


def test_the_conda_environment_lists_the_same_pins_and_installs_the_project():
    env = yaml.safe_load((ROOT / "envs" / "infocam.yaml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    top_level = pins((ROOT / "envs" / "requirements.in").read_text().splitlines())
    test_tools = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    for test_tool in pins(test_tools):  # the rules' environment runs no tests
        del top_level[test_tool]
    assert {name: str(r.specifier) for name, r in pins(pip_section).items()} == \
        {name: str(r.specifier) for name, r in top_level.items()}
    assert "pip install --no-deps -e" in (ROOT / "envs" / "infocam.post-deploy.sh").read_text()


def test_the_repository_tracks_no_dvc_record():
    """DVC records describe one run's files (docs/provenance.md): committed, a fresh clone's
    `dvc status` and `dvc pull` would chase files that exist nowhere."""
    tracked = subprocess.run(["git", "ls-files", "*.dvc"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert tracked.stdout.split() == []


def test_the_authors_tiny_split_ships_with_the_package_and_holds_half_of_each_class():
    split = authors_tiny_split()  # checks the shipped file's md5
    assert len(split) == 10_000 and set(split) == {f"val_{n}.JPEG" for n in range(10_000)}
    per_class = Counter((wnid, part) for wnid, part in split.values())
    assert len({wnid for wnid, _ in per_class}) == 200
    assert set(per_class.values()) == {25}  # 25 val and 25 test images in each of the 200 classes
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "resources/*.csv" in project["tool"]["setuptools"]["package-data"]["infocam.data"]


def test_the_package_ships_the_schema_and_published_numbers_as_links_to_the_workflows_files():
    """One file each (workflow/), which an installed package must carry: a wheel holds the files themselves."""
    for name, owner in (("config.schema.yaml", "workflow/schemas"), ("published.yaml", "workflow/resources")):
        shipped = ROOT / "src" / "infocam" / "resources" / name
        assert shipped.is_symlink() and shipped.resolve() == (ROOT / owner / name).resolve()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "resources/*.yaml" in project["tool"]["setuptools"]["package-data"]["infocam"]


def test_uv_is_given_the_package_sources_pip_is_configured_with(tmp_path):
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nextra-index-url = file:///mirror/a/simple file:///mirror/b/simple\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=str(config), PIP_FIND_LINKS="/local/wheels")
    printed = subprocess.run([sys.executable, str(ROOT / "scripts" / "pip_sources.py")], env=env,
                             capture_output=True, text=True, check=True).stdout.splitlines()
    for line in ("--extra-index-url file:///mirror/a/simple", "--extra-index-url file:///mirror/b/simple",
                 "--find-links /local/wheels"):
        assert line in printed
    assert len(printed) == len(set(printed))
