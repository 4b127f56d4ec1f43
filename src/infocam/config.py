"""Loading and validating the workflow configuration against its JSON schema.

Validation also fills in the schema's `default` values, so a setting with a default need not
be written in every config file: a new hyperparameter is a schema entry and a dataclass field.
"""

import copy
import os
from pathlib import Path

import jsonschema
import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration that breaks the schema; the message names the key."""


def _key_path(error):
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _fill_defaults(properties_check):
    def check(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from properties_check(validator, properties, instance, schema)

    return check


DefaultFillingValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {"properties": _fill_defaults(jsonschema.Draft7Validator.VALIDATORS["properties"])}
)


def with_defaults(config, schema_path=SCHEMA):
    """A copy of `config` with the schema's defaults filled in (no other check)."""
    config = copy.deepcopy(config)
    for _ in DefaultFillingValidator(yaml.safe_load(Path(schema_path).read_text())).iter_errors(config):
        pass
    return config


def validate_config(config, schema_path=SCHEMA):
    """Raise ConfigError naming the first offending key; otherwise fill in defaults and return the config."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = DefaultFillingValidator(schema)
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
