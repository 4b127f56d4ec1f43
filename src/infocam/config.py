"""Loading and validating the workflow configuration against its JSON schema."""

import os
from pathlib import Path

import jsonschema
import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration that breaks the schema; the message names the key."""


def _key_path(error):
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def validate_config(config, schema_path=SCHEMA):
    """Raise ConfigError naming the first offending key, or return the config unchanged."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft7Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"config key '{_key_path(error)}': {error.message}")
    for name, dataset in config["datasets"].items():
        _check_dataset(name, dataset)
    _check_mi(config["mi"])
    return config


def _check_dataset(name, dataset):
    key = f"datasets.{name}"
    if dataset["crop"] > dataset["resize"]:
        raise ConfigError(f"config key '{key}.crop': {dataset['crop']} is larger than resize {dataset['resize']}")
    needs = {"synthetic": "synthetic", "url": "url", "local": "path"}[dataset["source"]]
    if needs not in dataset:
        raise ConfigError(f"config key '{key}.{needs}': required when source is '{dataset['source']}'")
    # An extracted copy (source local, path a folder) is read as it is: there is no archive to checksum.
    extracted_copy = dataset["source"] == "local" and os.path.isdir(dataset["path"])
    if dataset["source"] != "synthetic" and not extracted_copy and not dataset.get("md5"):
        local = "path is an archive (a folder holding an extracted copy needs none)"
        when = "source is 'url'" if dataset["source"] == "url" else local
        raise ConfigError(f"config key '{key}.md5': required when {when}")


def _check_mi(mi):
    for setting, counts in mi["settings"].items():
        if len(counts) != len(mi["offsets"]):
            raise ConfigError(
                f"config key 'mi.settings.{setting}': {len(counts)} class counts,"
                f" expected one per entry of mi.offsets ({len(mi['offsets'])})"
            )


def load_config(path):
    with open(path) as handle:
        return validate_config(yaml.safe_load(handle))
