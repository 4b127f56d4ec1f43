"""A job's settings: one section of the validated config, handed over as JSON, read into a dataclass.

The workflow passes each job its settings as one JSON object (a rule parameter, so Snakemake
reruns exactly the jobs whose settings changed); the job reads it straight into the settings
dataclass of its step. A new hyperparameter is a schema entry (with its default) and a field.
"""

import json
from dataclasses import MISSING, fields


def settings_from(cls, section):
    """`cls(**section)`, refusing unknown and missing keys by name; JSON lists become tuples."""
    names = [field.name for field in fields(cls)]
    unknown = sorted(set(section) - set(names))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(names)})")
    missing = [field.name for field in fields(cls)
               if field.name not in section and field.default is MISSING and field.default_factory is MISSING]
    if missing:
        raise ValueError(f"{cls.__name__}: missing setting(s) {', '.join(missing)}")
    return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in section.items()})


def parse_settings(cls, text, **extra):
    """The dataclass `cls` from a JSON object (the `--settings` option), `extra` keys added."""
    try:
        section = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--settings: not a JSON object ({err})") from None
    if not isinstance(section, dict):
        raise ValueError(f"--settings: expected a JSON object, got {type(section).__name__}")
    return settings_from(cls, {**section, **extra})
