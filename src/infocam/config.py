"""Loading and validating the workflow configuration against its JSON schema.

Validation also fills in the schema's `default` values, so a setting with a default need not
be written in every config file: a new hyperparameter is a schema entry and a dataclass field.
Values that arrive as strings where the schema wants a number, a boolean, a list or a mapping
(Snakemake's `--config 'training={epochs: 3}'` passes nested values as strings) are read as
YAML first. Everything the config alone can tell (paths, md5s, pretrained weights that need
full width) is checked here, before any job runs.
"""

import copy
import os
from importlib.resources import files
from pathlib import Path

import jsonschema
import yaml

SCHEMA = files("infocam") / "resources" / "config.schema.yaml"  # workflow/schemas/, shipped as package data


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


def _resolve(schema, root):
    while "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def coerce_strings(instance, schema, root):
    """In place: strings where `schema` wants another type (a number, a boolean, null, a list, a
    mapping) replaced by their YAML reading; a string that reads as a string is left alone."""
    schema = _resolve(schema, root)
    if isinstance(instance, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, value in instance.items():
            subschema = properties.get(key, extra if isinstance(extra, dict) else None)
            if subschema is not None:
                instance[key] = _coerced(value, subschema, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        instance[:] = [_coerced(value, schema["items"], root) for value in instance]
    return instance


def _coerced(value, schema, root):
    schema = _resolve(schema, root)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if isinstance(value, str) and types and "string" not in types:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        value = value if isinstance(parsed, str) else parsed
    return coerce_strings(value, schema, root) if isinstance(value, (dict, list)) else value


def _schema(schema_path):
    return yaml.safe_load(Path(schema_path).read_text())


def resolved(config, schema_path=SCHEMA):
    """A copy of `config` as validation leaves it: strings read as YAML where due, defaults filled in."""
    schema = _schema(schema_path)
    config = coerce_strings(copy.deepcopy(config), schema, schema)
    for _ in DefaultFillingValidator(schema).iter_errors(config):
        pass
    return config


def validate_config(config, schema_path=SCHEMA):
    """Raise ConfigError naming the first offending key; otherwise resolve the config in place and return it."""
    schema = _schema(schema_path)
    coerce_strings(config, schema, schema)
    error = jsonschema.exceptions.best_match(DefaultFillingValidator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"config key '{_key_path(error)}': {error.message}")
    for name, dataset in config["datasets"].items():
        _check_dataset(name, dataset)
    if "softmax" not in config["grid"]["losses"]:
        raise ConfigError("config key 'grid.losses': the tables are built from the softmax cells; list softmax "
                          "(pc_softmax cells are extra)")
    _check_mi(config["mi"])
    _check_model(config["model"])
    _check_pretraining(config["pretraining"], config["model"], config["datasets"])
    return config


def _check_model(model):
    if model["pretrained"] and model["width"] != 1:
        raise ConfigError(f"config key 'model.pretrained': ImageNet weights exist for width 1 only, "
                          f"model.width is {model['width']}")


PRETRAINING_KEYS = ("synthetic", "resize", "crop", "epochs", "lr_step", "hyper")


def _check_pretraining(pretraining, model, datasets):
    if not pretraining["enabled"]:
        return
    if "pretrain" in datasets:
        raise ConfigError("config key 'datasets.pretrain': the name is taken by the pretraining corpus "
                          "(pretraining.enabled is true); rename the dataset")
    if model["pretrained"]:
        raise ConfigError("config key 'pretraining.enabled': the cells start from ImageNet weights "
                          "(model.pretrained is true); turn one of the two off")
    for key in PRETRAINING_KEYS:
        if key not in pretraining:
            raise ConfigError(f"config key 'pretraining.{key}': required when pretraining.enabled is true")
    _check_synthetic("pretraining.synthetic", pretraining["synthetic"], pretraining["format"])
    if pretraining["crop"] > pretraining["resize"]:
        raise ConfigError(f"config key 'pretraining.crop': {pretraining['crop']} is larger than "
                          f"resize {pretraining['resize']}")


def _check_dataset(name, dataset):
    key = f"datasets.{name}"
    if dataset["crop"] > dataset["resize"]:
        raise ConfigError(f"config key '{key}.crop': {dataset['crop']} is larger than resize {dataset['resize']}")
    _check_regions(key, dataset)
    needs = {"synthetic": "synthetic", "url": "url", "local": "path"}[dataset["source"]]
    if needs not in dataset:
        raise ConfigError(f"config key '{key}.{needs}': required when source is '{dataset['source']}'")
    if "synthetic" in dataset:
        _check_synthetic(f"{key}.synthetic", dataset["synthetic"], dataset["format"])
    if dataset["source"] == "local" and not os.path.exists(dataset["path"]):
        raise ConfigError(f"config key '{key}.path': {dataset['path']} does not exist (source is 'local')")
    # An extracted copy (source local, path a folder) is read as it is: there is no archive to checksum.
    extracted_copy = dataset["source"] == "local" and os.path.isdir(dataset["path"])
    if dataset["source"] != "synthetic" and not extracted_copy and not dataset.get("md5"):
        local = "path is an archive (a folder holding an extracted copy needs none)"
        when = "source is 'url'" if dataset["source"] == "url" else local
        raise ConfigError(f"config key '{key}.md5': required when {when}")
    _check_fullsup(key, dataset)


FULLSUP_NEEDS = {"synthetic": ["synthetic"], "url": ["url", "metadata", "metadata_md5"], "local": ["path", "metadata"]}
METADATA_NAMES = ("image_ids", "image_sizes", "localization", "class_labels")


def _check_fullsup(key, dataset):
    """CUB's train-fullsup (the wsol2020 protocol): present exactly where it is used, with what its source needs."""
    fullsup = dataset.get("fullsup")
    if dataset["format"] != "cub":
        if fullsup is not None:
            raise ConfigError(f"config key '{key}.fullsup': only a CUB-format dataset has train-fullsup "
                              f"(under wsol2020 Tiny-ImageNet's val half plays its part); remove the key")
        return
    if fullsup is None:
        if "wsol2020" in dataset["protocols"]:
            raise ConfigError(f"config key '{key}.fullsup': required when protocols list wsol2020 "
                              f"(CUB's train-fullsup images and metadata, config/README.md)")
        return
    key = f"{key}.fullsup"
    for needed in FULLSUP_NEEDS[fullsup["source"]]:
        if needed not in fullsup:
            raise ConfigError(f"config key '{key}.{needed}': required when source is '{fullsup['source']}'")
    if fullsup["archive"] == dataset["archive"]:
        raise ConfigError(f"config key '{key}.archive': {fullsup['archive']} is the dataset's own archive's name")
    if (fullsup["source"] == "synthetic") != (dataset["source"] == "synthetic") and fullsup["source"] != "local":
        raise ConfigError(f"config key '{key}.source': '{fullsup['source']}' train-fullsup images do not match "
                          f"the dataset's '{dataset['source']}' ones (a synthetic dataset's fullsup is synthetic)")
    if fullsup["source"] == "url":
        missing = [name for name in METADATA_NAMES if name not in fullsup["metadata_md5"]]
        if missing:
            raise ConfigError(f"config key '{key}.metadata_md5.{missing[0]}': required when source is 'url'")
    if fullsup["source"] == "local":
        for needed in ("path", "metadata"):
            if not os.path.exists(fullsup[needed]):
                raise ConfigError(f"config key '{key}.{needed}': {fullsup[needed]} does not exist (source is 'local')")


def _check_regions(key, dataset):
    """infoCAM's region R must fit on the class map: a larger square sums the same cells
    everywhere on a `same`-size map, which is then flat."""
    from infocam.wsol.geometry import class_map_side

    for backbone, region in dataset["region"].items():
        stride = dataset["output_stride"][backbone]
        side = class_map_side(backbone, dataset["crop"], stride)
        if region > side:
            raise ConfigError(f"config key '{key}.region.{backbone}': R = {region} is larger than the {side} x {side} "
                              f"class maps of {backbone} at crop {dataset['crop']} and output stride {stride}")


def _check_synthetic(key, synthetic, fmt):
    from infocam.data.synthetic import CUB_MAX_SIZE, CUB_MIN_SIZE, MAX_CLASSES

    last = synthetic["first_class"] + synthetic["n_classes"]
    if last > MAX_CLASSES:
        raise ConfigError(f"config key '{key}': classes {synthetic['first_class']}..{last - 1} asked for, "
                          f"the generator draws classes 0..{MAX_CLASSES - 1}")
    if fmt == "tiny" and (synthetic["min_size"], synthetic["max_size"]) != (CUB_MIN_SIZE, CUB_MAX_SIZE):
        raise ConfigError(f"config key '{key}.min_size': Tiny-ImageNet-format images are always 64 x 64")
    if synthetic["min_size"] > synthetic["max_size"]:
        raise ConfigError(f"config key '{key}.min_size': {synthetic['min_size']} is above max_size "
                          f"{synthetic['max_size']}")


def _check_mi(mi):
    for setting, counts in mi["settings"].items():
        if len(counts) != len(mi["offsets"]):
            raise ConfigError(
                f"config key 'mi.settings.{setting}': {len(counts)} class counts,"
                f" expected one per entry of mi.offsets ({len(mi['offsets'])})"
            )


def read_config_file(path):
    """The mapping a YAML config file holds; a syntax error names the file, line and column.

    Snakemake reads a `--configfile` before the workflow's own code runs and reports a broken
    one without naming it: `infocam check-config` (and `make ... CONFIGFILES=...`) read the files
    here first.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join(filter(None, (err.context, err.problem)))
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected config keys at the top level, found {type(content).__name__}")
    return content


def merged(base, overlay):
    """`overlay` merged into a copy of `base`, mappings key by key, as Snakemake merges config files."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def load_config_files(paths):
    """The validated config of several files, each laid over the ones before it (`--configfile a b`)."""
    config = {}
    for path in paths:
        config = merged(config, read_config_file(path))
    return validate_config(config)


def load_config(path):
    return load_config_files([path])
