"""The `infocam` command line: one verb per pipeline step, each a thin call into a module."""

import argparse
import sys
import time
from pathlib import Path

from infocam.dvc_tracking import DvcError
from infocam.preemption import PREEMPTED_EXIT_CODE, Preempted


class UserError(Exception):
    """Bad input from the user: reported as one line, exit status 1."""


def _synthesize(args):
    from infocam.data.synthetic import write_cub_archive, write_tiny_archive

    args.out.parent.mkdir(parents=True, exist_ok=True)
    common = dict(n_classes=args.n_classes, train_per_class=args.train_per_class, seed=args.seed)
    if args.format == "cub":
        md5 = write_cub_archive(args.out, test_per_class=args.heldout_per_class, **common)
    else:
        md5 = write_tiny_archive(args.out, val_per_class=args.heldout_per_class, **common)
    print(f"wrote {args.out} (md5 {md5})")


def _add_synthesize(sub):
    p = sub.add_parser("synthesize", help="write an offline dataset archive in a native format")
    p.add_argument("--format", choices=["cub", "tiny"], required=True)
    p.add_argument("--out", type=Path, required=True, help="archive path (.tgz for cub, .zip for tiny)")
    p.add_argument("--n-classes", type=int, required=True)
    p.add_argument("--train-per-class", type=int, required=True)
    p.add_argument("--heldout-per-class", type=int, required=True, help="CUB test list / Tiny val images per class")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_synthesize)


def _parse_expected(pairs):
    expected = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        if not value.isdigit():
            raise UserError(f"--expect {pair!r}: expected KEY=COUNT")
        expected[key] = int(value)
    return expected or None


def _prepare(args):
    from infocam.data.prepare import prepare_dataset, prepare_extracted

    expected = _parse_expected(args.expect)
    if args.extracted:
        if args.md5 or args.md5_file:
            raise UserError("--md5/--md5-file check an archive; --extracted reads a folder as it is")
        prepare_extracted(args.extracted, args.format, args.out, expected=expected)
    else:
        if not (args.md5 or args.md5_file):
            raise UserError("--archive needs --md5 or --md5-file")
        md5 = args.md5 or args.md5_file.read_text().split()[0]
        prepare_dataset(args.archive, args.format, md5, args.out, expected=expected)
    print(f"prepared {args.out}")


def _add_prepare(sub):
    p = sub.add_parser("prepare", help="checksum, extract, parse, validate and split an archive")
    p.add_argument("--format", choices=["cub", "tiny"], required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--archive", type=Path, help="the dataset's archive (.tgz, .zip)")
    source.add_argument(
        "--extracted", type=Path, help="an extracted copy, read in place (its top folder or the folder holding it)"
    )
    checksum = p.add_mutually_exclusive_group()
    checksum.add_argument("--md5", help="expected md5 of the archive")
    checksum.add_argument("--md5-file", type=Path, help="file whose first word is the expected md5")
    p.add_argument("--expect", action="append", metavar="KEY=COUNT", help="expected count, e.g. images=11788")
    p.add_argument("--out", type=Path, required=True, help="prepared dataset directory")
    p.set_defaults(func=_prepare)


# --- downloads ---------------------------------------------------------------


def _download(args):
    from infocam.data.download import download_file

    download_file(args.url, args.md5, args.out, dataset=args.dataset, attempts=args.attempts)


def _add_download(sub):
    p = sub.add_parser("download", help="fetch a dataset archive: md5-checked, atomic, retried with backoff")
    p.add_argument("--url", required=True)
    p.add_argument("--md5", required=True, help="expected md5; a mismatch keeps nothing")
    p.add_argument("--out", type=Path, required=True, help="where the archive goes")
    p.add_argument("--dataset", help="config name of the dataset, named in the message when the download fails")
    p.add_argument("--attempts", type=int, default=4, help="transfers tried in all, waits doubling from 2 s")
    p.set_defaults(func=_download)


def _download_mnist(args):
    from infocam.data.mnist import download_mnist

    for path in download_mnist(args.out):
        print(path)


def _add_download_mnist(sub):
    p = sub.add_parser("download-mnist", help="fetch the four MNIST files from torchvision's mirrors, md5-checked")
    p.add_argument("--out", type=Path, required=True, help="folder for the four .gz files")
    p.set_defaults(func=_download_mnist)


def _train(args):
    from infocam.train import TrainSettings, train_cell

    fields = TrainSettings.__dataclass_fields__
    settings = TrainSettings(**{name: getattr(args, name) for name in fields})
    train_cell(args.data, args.checkpoint, args.history, settings, resume_path=args.resume)


def _add_train(sub):
    p = sub.add_parser("train", help="train one grid cell, keeping the best-by-val checkpoint")
    p.add_argument("--data", type=Path, required=True, help="prepared dataset directory")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--history", type=Path, required=True)
    p.add_argument("--resume", type=Path, help="resumable state, written every epoch, removed at the end")
    p.add_argument("--backbone", choices=["vgg16", "resnet50"], required=True)
    p.add_argument("--adl", action="store_true")
    p.add_argument("--loss", choices=["softmax", "pc_softmax"], default="softmax")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--pretrained", action="store_true")
    p.add_argument("--adl-drop-rate", type=float, default=0.75)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--lr-step", type=int, required=True)
    p.add_argument("--lr-gamma", type=float, default=0.1)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--classifier-lr-mult", type=float, default=10.0)
    p.add_argument("--resize", type=int, required=True)
    p.add_argument("--crop", type=int, required=True)
    _add_device_args(p)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--amp", action="store_true", help="mixed precision (float16 on CUDA, bfloat16 on CPU)")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--cache-images", action="store_true")
    p.set_defaults(func=_train)


def _add_device_args(p):
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    p.add_argument("--threads", type=int, default=1)


def _evaluate(args):
    from infocam.evaluate import evaluate_cell

    evaluate_cell(
        args.data, args.checkpoint, args.per_image, args.summary, dataset=args.dataset, region=args.region,
        resize=args.resize, crop=args.crop, batch_size=args.batch_size, device=args.device, threads=args.threads,
        max_box_acc=args.max_box_acc,
    )


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="CAM variants, boxes and accuracies of one checkpoint on the test split")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--dataset", required=True, help="dataset name recorded in the summary")
    p.add_argument("--region", type=int, required=True, help="infoCAM region size R")
    p.add_argument("--resize", type=int, required=True)
    p.add_argument("--crop", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-box-acc", action="store_true", help="also MaxBoxAcc and MaxBoxAccV2")
    _add_device_args(p)
    p.add_argument("--per-image", type=Path, required=True)
    p.add_argument("--summary", type=Path, required=True)
    p.set_defaults(func=_evaluate)


def _add_provenance_args(p):
    p.add_argument("--provenance", type=Path,
                   help="write the table's provenance record (results/<table>.provenance.json)")
    p.add_argument("--upstream", type=Path, action="append", default=[],
                   help="a data file the inputs were made from, md5 recorded (repeatable)")


def _record_table(args, started, kind, outputs, inputs, **extra):
    if args.provenance is None:
        return
    from infocam.provenance import files_md5, write_table_provenance

    extra = {"kind": kind, **extra, "upstream": files_md5(args.upstream)}
    write_table_provenance(args.provenance, started, outputs, inputs, extra)


def _table(args):
    from infocam.tables import write_table

    started = time.time()
    table = write_table(args.table, args.summaries, args.published, args.csv, args.md)
    _record_table(args, started, "localisation", [args.csv, args.md], [*args.summaries, args.published],
                  table=args.table, published=str(args.published))
    print(table.to_string(index=False))


def _add_table(sub):
    p = sub.add_parser("table", help="a paper table (tidy csv + markdown) from evaluation summaries")
    p.add_argument("--table", choices=["table1", "table3", "table4", "table5"], required=True)
    p.add_argument("--published", type=Path, required=True)
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    _add_provenance_args(p)
    p.add_argument("summaries", type=Path, nargs="+")
    p.set_defaults(func=_table)


def _localize_eval(args):
    from infocam.localize import localize_eval_files

    localize_eval_files(args.cams, args.images, args.boxes, args.out)


def _add_localize_eval(sub):
    p = sub.add_parser("localize-eval", help="score maps -> boxes -> MaxBoxAcc (fixture format)")
    p.add_argument("--cams", type=Path, required=True, help="npz of raw score maps keyed by image_id")
    p.add_argument("--images", type=Path, required=True, help="csv: image_id,width,height")
    p.add_argument("--boxes", type=Path, required=True, help="csv: image_id,x0,y0,x1,y1")
    p.add_argument("--out", type=Path, required=True, help="result json")
    p.set_defaults(func=_localize_eval)


# --- MI estimation (the softmax paper's experiment) ---


def _mi_estimate(args):
    import torch

    from infocam.atomic import write_text_atomic
    from infocam.mi import MiTraining, estimate_setting

    torch.set_num_threads(args.threads)
    training = MiTraining(hidden=tuple(args.hidden), epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          mine_rate=args.mine_rate)
    results = estimate_setting(
        args.setting, args.counts, args.offsets, args.dim, args.estimators, args.seeds, training,
        test_fraction=args.test_fraction, mc_samples=args.mc_samples, mc_seed=args.mc_seed,
        log=lambda line: print(line, flush=True),
    )
    write_text_atomic(args.out, results.to_csv(index=False))


def _add_mi_estimate(sub):
    p = sub.add_parser("mi-estimate", help="true MI and every estimator's test-set estimate for one setting and d")
    p.add_argument("--setting", required=True, help="name written in the setting column, e.g. balanced")
    p.add_argument("--counts", type=int, nargs="+", required=True, help="training samples per class")
    p.add_argument("--offsets", type=float, nargs="+", required=True, help="class k's mean is offset_k * (1,...,1)")
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--estimators", nargs="+", required=True, help="softmax pc_softmax mine nwj infonce jsd")
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 100, 100], help="hidden layer widths")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--lr", type=float, required=True, help="Adam learning rate")
    p.add_argument("--mine-rate", type=float, default=0.01, help="MINE moving-average rate")
    p.add_argument("--test-fraction", type=float, default=0.2, help="test samples per class / training samples")
    p.add_argument("--mc-samples", type=int, default=1_000_000, help="Monte Carlo samples for the true MI")
    p.add_argument("--mc-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="result csv")
    p.set_defaults(func=_mi_estimate)


def _mi_table(args):
    from infocam.mi import write_mi_table

    started = time.time()
    write_mi_table(args.results, args.csv, args.md)
    _record_table(args, started, "mi", [args.csv, args.md], args.results)
    print(args.md.read_text())


def _add_mi_table(sub):
    p = sub.add_parser("mi-table", help="mi_estimation.csv and .md from the per-setting results")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    _add_provenance_args(p)
    p.add_argument("results", type=Path, nargs="+", help="csv files written by mi-estimate")
    p.set_defaults(func=_mi_table)


def _mi_figure(args):
    from infocam.figures import plot_mi_estimation

    plot_mi_estimation(args.results, args.out)


def _add_mi_figure(sub):
    p = sub.add_parser("mi-figure", help="plot of the MI estimates against d, true MI drawn")
    p.add_argument("--results", type=Path, required=True, help="mi_estimation.csv")
    p.add_argument("--out", type=Path, required=True, help="png")
    p.set_defaults(func=_mi_figure)


# --- PC-softmax and digits (the softmax paper's imbalanced and double-digit experiments) ---


def _caps(values, name):
    """Two caps (even classes, odd classes), each a count or 'all'."""
    if len(values) != 2:
        raise UserError(f"{name}: expected two values (even cap, odd cap), got {len(values)}")
    try:
        return [None if value == "all" else int(value) for value in values]
    except ValueError:
        raise UserError(f"{name}: expected counts or 'all', got {' '.join(values)}") from None


def _digits_offline_mnist(args):
    from infocam.digits import write_offline_mnist

    for path in write_offline_mnist(args.out, args.train_count):
        print(path)


def _add_digits_offline_mnist(sub):
    p = sub.add_parser("digits-offline-mnist", help="write sklearn's bundled digits as the four MNIST IDX files")
    p.add_argument("--out", type=Path, required=True, help="folder for the four .gz files")
    p.add_argument("--train-count", type=int, required=True, help="digits in the training file; the rest go to t10k")
    p.set_defaults(func=_digits_offline_mnist)


def _pc_softmax_run(args):
    import torch

    from infocam.digits import parity_caps
    from infocam.atomic import write_text_atomic
    from infocam.pc_softmax import Training, cub_splits, mnist_splits, run_experiment

    torch.set_num_threads(args.threads)
    train_caps = parity_caps(*_caps(args.train_caps, "--train-caps"), num_classes=1000)
    test_caps = parity_caps(*_caps(args.test_caps, "--test-caps"), num_classes=1000)
    if args.dataset == "mnist":
        if not (args.train_range and args.test_range):
            raise UserError("--dataset mnist needs --train-range and --test-range")
        splits = mnist_splits(args.data, args.train_range, args.test_range, train_caps, test_caps)
    else:
        splits = cub_splits(args.data, args.image_size, train_caps, test_caps)
    training = Training(args.epochs, args.batch_size, args.lr, args.momentum, args.dropmax_tau)
    results = run_experiment(args.dataset, splits, args.losses, args.seeds, training,
                             log=lambda line: print(line, flush=True))
    write_text_atomic(args.out, results.to_csv(index=False, float_format="%.4f"))


def _add_pc_softmax_run(sub):
    p = sub.add_parser("pc-softmax-run", help="imbalanced classification: every loss and seed, two test sets")
    p.add_argument("--dataset", choices=["mnist", "cub"], required=True)
    p.add_argument("--data", type=Path, required=True, help="MNIST IDX folder, or a prepared CUB folder")
    p.add_argument("--train-range", type=int, nargs=2, help="MNIST: [start, stop) of the training file for training")
    p.add_argument("--test-range", type=int, nargs=2, help="MNIST: [start, stop) of the training file for testing")
    p.add_argument("--train-caps", nargs=2, required=True, help="per-class caps: even odd (a count or 'all')")
    p.add_argument("--test-caps", nargs=2, required=True, help="per-class caps on the imbalanced test set")
    p.add_argument("--image-size", type=int, default=32, help="CUB: images resized to this square")
    p.add_argument("--losses", nargs="+", required=True, help="softmax pc_softmax dropmax")
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--lr", type=float, required=True, help="SGD learning rate")
    p.add_argument("--momentum", type=float, required=True)
    p.add_argument("--dropmax-tau", type=float, default=0.1, help="temperature of DropMax's relaxed mask")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="result csv")
    p.set_defaults(func=_pc_softmax_run)


def _pc_softmax_table(args):
    from infocam.pc_softmax import write_pc_softmax_table

    started = time.time()
    write_pc_softmax_table(args.results, args.csv, args.md)
    _record_table(args, started, "pc_softmax", [args.csv, args.md], args.results)
    print(args.md.read_text())


def _add_pc_softmax_table(sub):
    p = sub.add_parser("pc-softmax-table", help="pc_softmax.csv and .md from the per-dataset results")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    _add_provenance_args(p)
    p.add_argument("results", type=Path, nargs="+", help="csv files written by pc-softmax-run")
    p.set_defaults(func=_pc_softmax_table)


def _double_digit_settings(args):
    from infocam.double_digit import DoubleDigitSettings

    return DoubleDigitSettings(args.train_count, args.test_count, args.p_present, args.data_seed, args.width,
                               args.epochs, args.batch_size, args.lr, args.region, args.tau)


def _double_digit_run(args):
    import torch

    from infocam.double_digit import evaluate, make_datasets, save_model, train_multilabel
    from infocam.atomic import write_text_atomic

    torch.set_num_threads(args.threads)
    settings = _double_digit_settings(args)
    train, test = make_datasets(args.mnist, settings)
    model = train_multilabel(args.loss, train, settings, args.seed)
    results = evaluate(model, args.loss, args.seed, test, settings)
    print(results.to_string(index=False))
    save_model(model, args.loss, settings, args.checkpoint)
    write_text_atomic(args.out, results.to_csv(index=False, float_format="%.4f"))


def _add_double_digit_data_args(p):
    p.add_argument("--mnist", type=Path, required=True, help="folder with the four MNIST IDX files")
    p.add_argument("--train-count", type=int, required=True, help="double-digit training images")
    p.add_argument("--test-count", type=int, required=True, help="double-digit test images")
    p.add_argument("--p-present", type=float, default=0.7, help="chance that a slot holds a digit")
    p.add_argument("--data-seed", type=int, default=0)


def _add_double_digit_run(sub):
    p = sub.add_parser("double-digit-run", help="train the multi-label GAP net on double-digit MNIST; "
                                                "per-digit accuracy and CAM/infoCAM localisation")
    _add_double_digit_data_args(p)
    p.add_argument("--loss", choices=["sigmoid", "pc_sigmoid"], required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--width", type=int, default=16, help="channels of the first conv block")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--lr", type=float, required=True, help="Adam learning rate")
    p.add_argument("--region", type=int, required=True, help="infoCAM's region R on the 14x28 maps")
    p.add_argument("--tau", type=float, default=0.2, help="box threshold")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", type=Path, required=True, help="where the trained model goes (.pt)")
    p.add_argument("--out", type=Path, required=True, help="result csv")
    p.set_defaults(func=_double_digit_run)


def _double_digit_table(args):
    from infocam.double_digit import write_table2

    started = time.time()
    write_table2(args.results, args.csv, args.loc_csv, args.md, args.region, args.tau)
    _record_table(args, started, "table2", [args.csv, args.loc_csv, args.md], args.results,
                  region=args.region, tau=args.tau)
    print(args.md.read_text())


def _add_double_digit_table(sub):
    p = sub.add_parser("double-digit-table", help="table2.csv/.md and the localisation csv from double-digit runs")
    p.add_argument("--csv", type=Path, required=True, help="table2.csv")
    p.add_argument("--loc-csv", type=Path, required=True, help="localisation csv")
    p.add_argument("--md", type=Path, required=True)
    p.add_argument("--region", type=int, required=True, help="R used (named in the md)")
    p.add_argument("--tau", type=float, required=True, help="tau used (named in the md)")
    _add_provenance_args(p)
    p.add_argument("results", type=Path, nargs="+", help="csv files written by double-digit-run")
    p.set_defaults(func=_double_digit_table)


def _digits_figures(args):
    from infocam.figures import plot_double_digit_cams, plot_info_masking

    plot_double_digit_cams(args.mnist, args.data_seed, args.p_present, args.cam_model, args.label, args.region,
                           args.tau, args.cam_out)
    plot_info_masking(args.mnist, args.data_seed, args.p_present, args.masking_model, args.label,
                      args.keep_fraction, args.patch, args.masking_out)


def _add_digits_figures(sub):
    p = sub.add_parser("digits-figures", help="double-digit CAM vs infoCAM figure and the info-masking figure")
    p.add_argument("--mnist", type=Path, required=True, help="folder with the four MNIST IDX files")
    p.add_argument("--p-present", type=float, default=0.7)
    p.add_argument("--data-seed", type=int, default=0, help="the test canvases are drawn with data_seed + 1")
    p.add_argument("--cam-model", type=Path, required=True, help="checkpoint for the CAM vs infoCAM figure")
    p.add_argument("--masking-model", type=Path, required=True, help="checkpoint for the info-masking figure")
    p.add_argument("--label", type=int, default=0, help="target digit")
    p.add_argument("--region", type=int, required=True)
    p.add_argument("--tau", type=float, default=0.2)
    p.add_argument("--keep-fraction", type=float, default=0.2, help="patches above this share of the max PMI stay")
    p.add_argument("--patch", type=int, default=4, help="info-masking patch side in pixels (tiles the 28x56 canvas)")
    p.add_argument("--cam-out", type=Path, required=True)
    p.add_argument("--masking-out", type=Path, required=True)
    p.set_defaults(func=_digits_figures)


def _audit(args):
    from infocam.audit import audit, format_report, short_report

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
    from infocam.dvc_tracking import track

    track(args.paths, remote=args.remote)
    for path in args.paths:
        print(f"tracked {path} ({path}.dvc)")


def _add_dvc_track(sub):
    p = sub.add_parser("dvc-track", help="dvc add files or folders (waits for DVC's lock instead of failing)")
    p.add_argument("--remote", help="make this DVC remote (any DVC URL) the default, in .dvc/config.local")
    p.add_argument("paths", type=Path, nargs="+")
    p.set_defaults(func=_dvc_track)


def build_parser():
    parser = argparse.ArgumentParser(prog="infocam", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    verbs = (
        _add_synthesize, _add_prepare, _add_download, _add_download_mnist,
        _add_train, _add_evaluate, _add_table, _add_localize_eval,
        _add_mi_estimate, _add_mi_table, _add_mi_figure,
        _add_digits_offline_mnist, _add_pc_softmax_run, _add_pc_softmax_table,
        _add_double_digit_run, _add_double_digit_table, _add_digits_figures,
        _add_audit, _add_dvc_track,
    )
    for add_verb in verbs:
        add_verb(sub)
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


if __name__ == "__main__":
    sys.exit(main())
