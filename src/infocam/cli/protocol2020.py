"""Verbs of the 2020 protocol (infocam.wsol.protocol2020; workflow/rules/protocol2020.smk)."""

from pathlib import Path

from infocam.cli.common import add_provenance_args, add_settings_args, now, record_table


def _select(args):
    from infocam.settings import parse_settings
    from infocam.wsol.protocol2020 import ProtocolSettings, select_cell

    import json

    snapshots = [entry["path"] for entry in json.loads(Path(args.snapshots).read_text()).values()]
    if not snapshots:
        raise ValueError(f"{args.snapshots}: lists no checkpoint (infocam train --snapshots)")
    select_cell(args.data, snapshots, args.out, parse_settings(ProtocolSettings, args.settings), threads=args.threads)


def _test(args):
    from infocam.settings import parse_settings
    from infocam.wsol.protocol2020 import ProtocolSettings, score_test_split

    score_test_split(args.data, args.selection, args.out, args.hits, parse_settings(ProtocolSettings, args.settings),
              threads=args.threads)


def _table(args):
    from infocam.wsol.tables2020 import write_tables

    started = now()
    write_tables(args.results, args.table_csv, args.table_md, args.norm_csv, args.norm_md, args.comparison_csv,
                 args.paper_summaries)
    outputs = [args.table_csv, args.table_md, args.norm_csv, args.norm_md, args.comparison_csv]
    record_table(args, started, "wsol2020", outputs, [*args.results, *args.paper_summaries],
                 results=[str(path) for path in args.results],
                 paper_summaries=[str(path) for path in args.paper_summaries])
    if args.provenance is not None:  # one record for the job's three tables: each can be audited by name
        from infocam.io import write_text_atomic
        from infocam.provenance.audit import provenance_path

        for table in (args.norm_csv, args.comparison_csv):
            write_text_atomic(provenance_path(table), args.provenance.read_text())


def _tau_figure(args):
    from infocam.wsol.tables2020 import plot_tau_curves

    plot_tau_curves(args.results, args.out)


def register(sub):
    p = sub.add_parser("select-2020", help="2020 protocol: choose checkpoint, R, IVR percentile and tau per method "
                                           "on the selection split")
    p.add_argument("--data", type=Path, required=True, help="prepared dataset directory")
    p.add_argument("--snapshots", type=Path, required=True, help="the cell's kept checkpoints (train's manifest)")
    p.add_argument("--out", type=Path, required=True, help="the choices (json)")
    add_settings_args(p, "ProtocolSettings (infocam.wsol.protocol2020)")
    p.set_defaults(func=_select)

    p = sub.add_parser("test-2020", help="2020 protocol: every choice evaluated once on the test split")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--selection", type=Path, required=True, help="select-2020's json")
    p.add_argument("--out", type=Path, required=True, help="results (json)")
    p.add_argument("--hits", type=Path, required=True, help="per-image hits (npz)")
    add_settings_args(p, "ProtocolSettings (infocam.wsol.protocol2020)")
    p.set_defaults(func=_test)

    p = sub.add_parser("table-2020", help="the 2020-protocol table and the normalisation table")
    p.add_argument("results", type=Path, nargs="+", help="test-2020 result files")
    p.add_argument("--table-csv", type=Path, required=True)
    p.add_argument("--table-md", type=Path, required=True)
    p.add_argument("--norm-csv", type=Path, required=True)
    p.add_argument("--norm-md", type=Path, required=True)
    p.add_argument("--comparison-csv", type=Path, required=True, help="infoCAM and infoCAM+ against CAM")
    p.add_argument("--paper-summaries", type=Path, nargs="*", default=[],
                   help="the paper protocol's summary.json files, for its numbers beside")
    add_provenance_args(p)
    p.set_defaults(func=_table)

    p = sub.add_parser("tau-figure-2020", help="accuracy against tau per cell, the chosen tau marked")
    p.add_argument("results", type=Path, nargs="+", help="test-2020 result files")
    p.add_argument("--out", type=Path, required=True, help="png")
    p.set_defaults(func=_tau_figure)
