"""The check-config verb: read and validate config files before Snakemake does."""

from pathlib import Path


def _check_config(args):
    from infocam.config import load_config_files

    load_config_files(args.configfiles)
    print(f"{' + '.join(map(str, args.configfiles))}: valid")


def register(sub):
    p = sub.add_parser("check-config", help="check config files as `snakemake --configfile FILE ...` would read "
                                            "them: YAML errors with file and line, then every key")
    p.add_argument("configfiles", nargs="+", type=Path, metavar="CONFIGFILE")
    p.set_defaults(func=_check_config)
