"""MI-experiment verbs: mi-estimate, mi-table, mi-figure (workflow/rules/mi.smk)."""

from pathlib import Path

from infocam.cli.common import add_provenance_args, add_settings_args, now, print_line, record_table


def _mi_estimate(args):
    import torch

    from infocam.mi.experiment import MiSettings, run_job
    from infocam.settings import parse_settings

    torch.set_num_threads(args.threads)
    settings = parse_settings(MiSettings, args.settings)
    run_job(args.setting, args.dim, settings, args.out, log=print_line)


def _add_mi_estimate(sub):
    p = sub.add_parser("mi-estimate", help="true MI and every estimator's test-set estimate for one setting and d")
    p.add_argument("--setting", required=True, help="name written in the setting column, e.g. balanced")
    p.add_argument("--dim", type=int, required=True)
    add_settings_args(p, "MiSettings (infocam.mi.experiment): counts, offsets, estimators, seeds, training")
    p.add_argument("--out", type=Path, required=True, help="result csv")
    p.set_defaults(func=_mi_estimate)


def _mi_table(args):
    from infocam.mi.experiment import write_mi_table

    started = now()
    write_mi_table(args.results, args.csv, args.md, args.published)
    record_table(args, started, "mi", [args.csv, args.md], [*args.results, args.published],
                 published=str(args.published))
    print(args.md.read_text())


def _add_mi_table(sub):
    p = sub.add_parser("mi-table", help="mi_estimation.csv and .md from the per-setting results")
    p.add_argument("--published", type=Path, required=True, help="workflow/resources/published.yaml")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    add_provenance_args(p)
    p.add_argument("results", type=Path, nargs="+", help="csv files written by mi-estimate")
    p.set_defaults(func=_mi_table)


def _mi_figure(args):
    from infocam.mi.figures import plot_mi_estimation

    plot_mi_estimation(args.results, args.out)


def _add_mi_figure(sub):
    p = sub.add_parser("mi-figure", help="plot of the MI estimates against d, true MI drawn")
    p.add_argument("--results", type=Path, required=True, help="mi_estimation.csv")
    p.add_argument("--out", type=Path, required=True, help="png")
    p.set_defaults(func=_mi_figure)


def register(sub):
    for add_verb in (_add_mi_estimate, _add_mi_table, _add_mi_figure):
        add_verb(sub)
