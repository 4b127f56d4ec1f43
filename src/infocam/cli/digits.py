"""Digit-experiment verbs (workflow/rules/digits.smk): offline MNIST, imbalanced classification
(softmax, PC-softmax, DropMax), double-digit MNIST (Table 2, CAM vs infoCAM) and the figures."""

from pathlib import Path

from infocam.cli.common import add_provenance_args, add_settings_args, now, print_line, record_table


def _digits_offline_mnist(args):
    from infocam.digits.common import write_offline_mnist

    for path in write_offline_mnist(args.out, args.train_count):
        print(path)


def _add_digits_offline_mnist(sub):
    p = sub.add_parser("digits-offline-mnist", help="write sklearn's bundled digits as the four MNIST IDX files")
    p.add_argument("--out", type=Path, required=True, help="folder for the four .gz files")
    p.add_argument("--train-count", type=int, required=True, help="digits in the training file; the rest go to t10k")
    p.set_defaults(func=_digits_offline_mnist)


def _pc_softmax_run(args):
    import torch

    from infocam.digits.imbalanced import ImbalancedSettings, run_job
    from infocam.settings import parse_settings

    torch.set_num_threads(args.threads)
    settings = parse_settings(ImbalancedSettings, args.settings)
    run_job(args.dataset, args.data, settings, args.out, log=print_line)


def _add_pc_softmax_run(sub):
    p = sub.add_parser("pc-softmax-run", help="imbalanced classification: every loss and seed, two test sets")
    p.add_argument("--dataset", choices=["mnist", "cub"], required=True)
    p.add_argument("--data", type=Path, required=True, help="MNIST IDX folder, or a prepared CUB folder")
    add_settings_args(p, "ImbalancedSettings (infocam.digits.imbalanced)")
    p.add_argument("--out", type=Path, required=True, help="result csv")
    p.set_defaults(func=_pc_softmax_run)


def _pc_softmax_table(args):
    from infocam.digits.imbalanced import write_pc_softmax_table

    started = now()
    write_pc_softmax_table(args.results, args.csv, args.md, args.published)
    record_table(args, started, "pc_softmax", [args.csv, args.md], [*args.results, args.published],
                 published=str(args.published))
    print(args.md.read_text())


def _add_pc_softmax_table(sub):
    p = sub.add_parser("pc-softmax-table", help="pc_softmax.csv and .md from the per-dataset results")
    p.add_argument("--published", type=Path, required=True, help="workflow/resources/published.yaml")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    add_provenance_args(p)
    p.add_argument("results", type=Path, nargs="+", help="csv files written by pc-softmax-run")
    p.set_defaults(func=_pc_softmax_table)


def _double_digit_run(args):
    import torch

    from infocam.digits.double_digit import DoubleDigitSettings, run_job
    from infocam.settings import parse_settings

    torch.set_num_threads(args.threads)
    settings = parse_settings(DoubleDigitSettings, args.settings)
    run_job(args.mnist, args.loss, args.seed, settings, args.checkpoint, args.out, log=print_line)


def _add_double_digit_run(sub):
    p = sub.add_parser("double-digit-run", help="train the multi-label GAP net on double-digit MNIST; "
                                                "per-digit accuracy and CAM/infoCAM localisation")
    p.add_argument("--mnist", type=Path, required=True, help="folder with the four MNIST IDX files")
    p.add_argument("--loss", choices=["sigmoid", "pc_sigmoid"], required=True)
    p.add_argument("--seed", type=int, required=True)
    add_settings_args(p, "DoubleDigitSettings (infocam.digits.double_digit)")
    p.add_argument("--checkpoint", type=Path, required=True, help="where the trained model goes (.pt)")
    p.add_argument("--out", type=Path, required=True, help="result csv")
    p.set_defaults(func=_double_digit_run)


def _double_digit_table(args):
    from infocam.digits.double_digit import write_table2

    started = now()
    write_table2(args.results, args.csv, args.loc_csv, args.md, args.region, args.tau, args.published)
    record_table(args, started, "table2", [args.csv, args.loc_csv, args.md], [*args.results, args.published],
                 region=args.region, tau=args.tau, published=str(args.published))
    print(args.md.read_text())


def _add_double_digit_table(sub):
    p = sub.add_parser("double-digit-table", help="table2.csv/.md and the localisation csv from double-digit runs")
    p.add_argument("--published", type=Path, required=True, help="workflow/resources/published.yaml")
    p.add_argument("--csv", type=Path, required=True, help="table2.csv")
    p.add_argument("--loc-csv", type=Path, required=True, help="localisation csv")
    p.add_argument("--md", type=Path, required=True)
    p.add_argument("--region", type=int, required=True, help="R used (named in the md)")
    p.add_argument("--tau", type=float, required=True, help="tau used (named in the md)")
    add_provenance_args(p)
    p.add_argument("results", type=Path, nargs="+", help="csv files written by double-digit-run")
    p.set_defaults(func=_double_digit_table)


def _digits_figures(args):
    from infocam.digits.figures import FigureSettings, plot_double_digit_cams, plot_info_masking
    from infocam.settings import parse_settings

    s = parse_settings(FigureSettings, args.settings)
    plot_double_digit_cams(args.mnist, s.data_seed, s.p_present, args.cam_model, s.label, s.region, s.tau,
                           args.cam_out)
    plot_info_masking(args.mnist, s.data_seed, s.p_present, args.masking_model, s.label, s.keep_fraction, s.patch,
                      args.masking_out)


def _add_digits_figures(sub):
    p = sub.add_parser("digits-figures", help="double-digit CAM vs infoCAM figure and the info-masking figure")
    p.add_argument("--mnist", type=Path, required=True, help="folder with the four MNIST IDX files")
    p.add_argument("--cam-model", type=Path, required=True, help="checkpoint for the CAM vs infoCAM figure")
    p.add_argument("--masking-model", type=Path, required=True, help="checkpoint for the info-masking figure")
    p.add_argument("--settings", required=True, metavar="JSON", help="FigureSettings (infocam.digits.figures)")
    p.add_argument("--cam-out", type=Path, required=True)
    p.add_argument("--masking-out", type=Path, required=True)
    p.set_defaults(func=_digits_figures)


def register(sub):
    verbs = (_add_digits_offline_mnist, _add_pc_softmax_run, _add_pc_softmax_table, _add_double_digit_run,
             _add_double_digit_table, _add_digits_figures)
    for add_verb in verbs:
        add_verb(sub)
