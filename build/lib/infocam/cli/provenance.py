"""Provenance verbs: audit, dvc-track (workflow/rules/provenance.smk)."""

from pathlib import Path

from infocam.cli.common import UserError


def _audit(args):
    from infocam.provenance.audit import audit, format_report, short_report

    first_broken = None
    for table in args.tables:
        report = audit(table)
        print(format_report(table, report) if args.verbose or report.broken else short_report(table, report))
        if report.broken and first_broken is None:
            first_broken = f"{table}: {report.broken[0]}"
    if first_broken:
        raise UserError(first_broken)


def _add_audit(sub):
    p = sub.add_parser("audit", help="check that a table's numbers trace back to checkpoints, splits and archives")
    p.add_argument("tables", type=Path, nargs="+", help="results/<table>.csv")
    p.add_argument("-v", "--verbose", action="store_true", help="list every check, not only the broken ones")
    p.set_defaults(func=_audit)


def _dvc_track(args):
    from infocam.provenance.dvc import track

    track(args.paths, remote=args.remote)
    for path in args.paths:
        print(f"tracked {path} ({path}.dvc)")


def _add_dvc_track(sub):
    p = sub.add_parser("dvc-track", help="dvc add files or folders (waits for DVC's lock instead of failing)")
    p.add_argument("--remote", help="make this DVC remote (any DVC URL) the default, in .dvc/config.local")
    p.add_argument("paths", type=Path, nargs="+")
    p.set_defaults(func=_dvc_track)


def register(sub):
    _add_audit(sub)
    _add_dvc_track(sub)
