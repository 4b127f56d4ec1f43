"""What the verbs of every experiment share: the user-error type, settings and provenance options."""

import time
from pathlib import Path


class UserError(Exception):
    """Bad input from the user: reported as one line, exit status 1."""


def add_settings_args(p, what):
    p.add_argument("--settings", required=True, metavar="JSON",
                   help=f"{what} as one JSON object (the workflow passes its config section)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")


def add_provenance_args(p):
    p.add_argument("--provenance", type=Path,
                   help="write the table's provenance record (results/<table>.provenance.json)")
    p.add_argument("--upstream", type=Path, action="append", default=[],
                   help="a data file the inputs were made from, md5 recorded (repeatable)")


def record_table(args, started, kind, outputs, inputs, **extra):
    if args.provenance is None:
        return
    from infocam.provenance.records import files_md5, write_table_provenance

    extra = {"kind": kind, **extra, "upstream": files_md5(args.upstream)}
    write_table_provenance(args.provenance, started, outputs, inputs, extra)


def now():
    return time.time()


def print_line(line):
    print(line, flush=True)
