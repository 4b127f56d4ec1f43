"""Provenance verbs: audit, dvc-track (workflow/rules/provenance.smk)."""

from pathlib import Path

from infocam.cli.common import UserError, add_provenance_args, now, record_table


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


def _claims(args):
    from infocam.claims import write_claims

    started = now()
    roles = {"mi": str(args.mi), "pc_softmax": str(args.pc_softmax), "comparison": str(args.comparison),
             "published": str(args.published), "double_digit": [str(path) for path in args.double_digit]}
    if args.wsol2020:
        roles["wsol2020"] = str(args.wsol2020)
    write_claims(roles, args.csv, args.md, args.synthetic, args.mnist_stand_in)
    inputs = [args.mi, args.pc_softmax, args.comparison, args.published, *args.double_digit,
              *([args.wsol2020] if args.wsol2020 else [])]
    record_table(args, started, "claims", [args.csv, args.md], inputs, roles=roles, synthetic=args.synthetic,
                 mnist_stand_in=args.mnist_stand_in)
    print(args.md.read_text())


def _add_claims(sub):
    p = sub.add_parser("claims", help="the claims ledger: each claim, published, ours with its interval, verdict")
    p.add_argument("--mi", type=Path, required=True, help="results/mi_estimation.csv")
    p.add_argument("--pc-softmax", type=Path, required=True, help="results/pc_softmax.csv")
    p.add_argument("--comparison", type=Path, required=True, help="results/infocam_vs_cam.csv")
    p.add_argument("--published", type=Path, required=True, help="workflow/resources/published.yaml")
    p.add_argument("--double-digit", type=Path, nargs="+", required=True, help="double-digit per-seed results")
    p.add_argument("--wsol2020", type=Path, help="results/infocam_vs_cam_wsol2020.csv, where the 2020 protocol ran")
    p.add_argument("--synthetic", nargs="*", default=[], help="datasets this run's config makes synthetic")
    p.add_argument("--mnist-stand-in", action="store_true", help="the MNIST files are sklearn's digits")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    add_provenance_args(p)
    p.set_defaults(func=_claims)


def register(sub):
    _add_audit(sub)
    _add_dvc_track(sub)
    _add_claims(sub)
