"""The `infocam` command line: one verb per pipeline step, one module per experiment.

Each verb is a thin call into the library; the workflow's rules call these verbs with explicit
paths and, for the jobs that train or evaluate, their settings as one JSON object.
"""

import argparse
import multiprocessing
import os
import sys

import infocam

from infocam.cli import config, data, digits, mi, protocol2020, provenance, wsol
from infocam.cli.common import UserError
from infocam.preemption import PREEMPTED_EXIT_CODE, Preempted
from infocam.provenance.dvc import DvcError


def build_parser():
    parser = argparse.ArgumentParser(prog="infocam", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {infocam.__version__}")
    sub = parser.add_subparsers(dest="verb", required=True)
    for module in (config, data, wsol, protocol2020, mi, digits, provenance):
        module.register(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except Preempted as stopped:
        print(f"infocam {args.verb}: preempted: {stopped}", file=sys.stderr)
        return PREEMPTED_EXIT_CODE
    except (UserError, FileNotFoundError, ValueError, DvcError) as err:
        print(f"infocam {args.verb}: error: {err}", file=sys.stderr)
        return 1
    return 0


def run():
    """The `infocam` command: `main`, then an exit that skips the interpreter's teardown of the
    thousands of modules torch loads, about 1 CPU-second per job (benchmarks/README.md). Every
    file a verb writes is closed when it returns; loader workers still up get the normal exit."""
    status = main()
    if multiprocessing.active_children():
        return status
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
