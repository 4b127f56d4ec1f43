"""The audit's config link: the recorded resolved config against the config files and --config overrides."""

import copy

import yaml

from conftest import TINY as TINY_PATH
from infocam.config import resolved
from infocam.provenance.audit import Report, check_config, merged_config
from infocam.provenance.records import config_sha256

TINY = str(TINY_PATH)


def record(overrides):
    config = merged_config([TINY])
    for section, values in overrides.items():
        config[section].update(values)
    config = resolved(config)
    return {"files": [TINY], "overrides": overrides, "sha256": config_sha256(config), "config": config}


def test_a_command_line_override_is_reported_as_such_not_as_a_broken_link():
    report = Report()
    check_config(record({"training": {"optimizer": "sgd"}}), report)
    assert not report.broken
    assert "with --config overrides of training" in report.lines[0]


def test_an_override_that_was_not_recorded_is_a_broken_link():
    report = Report()
    run = record({"training": {"optimizer": "sgd"}})
    check_config(dict(run, overrides={}), report)
    assert report.broken and "first difference: training.optimizer" in report.broken[0]


def test_a_config_file_edited_after_the_run_is_a_broken_link(tmp_path):
    edited = tmp_path / "tiny.yaml"
    config = yaml.safe_load(open(TINY))
    edited.write_text(yaml.safe_dump(config))
    run = record({})
    run = dict(run, files=[str(edited)])
    config = copy.deepcopy(config)
    config["training"]["epochs"] = 5
    edited.write_text(yaml.safe_dump(config))
    report = Report()
    check_config(run, report)
    assert report.broken and "training.epochs" in report.broken[0]
