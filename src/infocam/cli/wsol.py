"""WSOL verbs: train, evaluate, table, localize-eval, export-maps (workflow/rules/train, evaluate and tables.smk)."""

from pathlib import Path

from infocam.cli.common import add_provenance_args, add_settings_args, now, record_table


def _train(args):
    from infocam.settings import parse_settings
    from infocam.wsol.train import TrainSettings, train_cell

    settings = parse_settings(TrainSettings, args.settings, threads=args.threads)
    snapshots = (args.snapshots, args.snapshot_epochs) if args.snapshots else None
    train_cell(args.data, args.checkpoint, args.history, settings, resume_path=args.resume,
               decoded_dir=args.decoded, snapshots=snapshots)


def _add_train(sub):
    p = sub.add_parser("train", help="train one grid cell, keeping the best-by-val checkpoint")
    p.add_argument("--data", type=Path, required=True, help="prepared dataset directory")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--history", type=Path, required=True)
    p.add_argument("--resume", type=Path, help="resumable state, written every epoch, removed at the end")
    p.add_argument("--decoded", type=Path, help="the prepared folder's decoded-image cache (infocam decode)")
    p.add_argument("--snapshots", type=Path, help="a manifest (json) of the checkpoints kept after "
                                                  "--snapshot-epochs, which go to the folder 'epochs' beside it")
    p.add_argument("--snapshot-epochs", type=int, nargs="+", default=[], metavar="EPOCH")
    add_settings_args(p, "the cell's TrainSettings (infocam.wsol.train)")
    p.set_defaults(func=_train)


def _evaluate(args):
    from infocam.settings import parse_settings
    from infocam.wsol.evaluate import EvaluateSettings, evaluate_cell

    settings = parse_settings(EvaluateSettings, args.settings)
    evaluate_cell(args.data, args.checkpoint, args.per_image, args.summary, settings, threads=args.threads)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="CAM variants, boxes and accuracies of one checkpoint on the test split")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, required=True)
    add_settings_args(p, "EvaluateSettings (infocam.wsol.evaluate)")
    p.add_argument("--per-image", type=Path, required=True)
    p.add_argument("--summary", type=Path, required=True)
    p.set_defaults(func=_evaluate)


def _table(args):
    from infocam.wsol.tables import write_table

    started = now()
    table = write_table(args.table, args.summaries, args.published, args.csv, args.md)
    record_table(args, started, "localisation", [args.csv, args.md], [*args.summaries, args.published],
                 table=args.table, published=str(args.published))
    print(table.to_string(index=False))


def _add_table(sub):
    p = sub.add_parser("table", help="a paper table (tidy csv + markdown) from evaluation summaries")
    p.add_argument("--table", choices=["table1", "table3", "table4", "table5", "table6"], required=True)
    p.add_argument("--published", type=Path, required=True)
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    add_provenance_args(p)
    p.add_argument("summaries", type=Path, nargs="+")
    p.set_defaults(func=_table)


def _compare_cams(args):
    from infocam.wsol.compare import write_comparison

    started = now()
    write_comparison(args.summaries, args.csv)
    record_table(args, started, "comparison", [args.csv], args.summaries)


def _add_compare_cams(sub):
    p = sub.add_parser("compare-cams", help="paired comparisons of every CAM variant against CAM, same test images")
    p.add_argument("--csv", type=Path, required=True, help="results/infocam_vs_cam.csv")
    add_provenance_args(p)
    p.add_argument("summaries", type=Path, nargs="+")
    p.set_defaults(func=_compare_cams)


def _wsol_figure(args):
    from infocam.settings import parse_settings
    from infocam.wsol.evaluate import EvaluateSettings
    from infocam.wsol.figures import plot_wsol_examples

    plot_wsol_examples(args.data, args.checkpoint, parse_settings(EvaluateSettings, args.settings), args.out,
                       family=args.family)


def _add_wsol_figure(sub):
    p = sub.add_parser("wsol-figure", help="CAM, infoCAM and infoCAM+ with GT and predicted boxes on test images")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--settings", required=True, metavar="JSON", help="EvaluateSettings (infocam.wsol.evaluate)")
    p.add_argument("--out", type=Path, required=True, help="png")
    p.add_argument("--family", action="store_true", help="also the CAM family members of the settings (Table 6)")
    p.set_defaults(func=_wsol_figure)


NPZ_FORM = ("cams", "images", "boxes")
REFERENCE_FORM = ("scoremaps", "metadata")


def _localize_eval(args):
    from infocam.wsol.localize import localize_eval_files
    from infocam.wsol.reference_format import localize_eval_reference

    npz_given = [name for name in NPZ_FORM if getattr(args, name) is not None]
    reference_given = [name for name in REFERENCE_FORM if getattr(args, name) is not None]
    if npz_given and reference_given or not (npz_given or reference_given):
        args.localize_parser.error("give either --cams, --images and --boxes, or --scoremaps and --metadata")
    form, given = (NPZ_FORM, npz_given) if npz_given else (REFERENCE_FORM, reference_given)
    if len(given) != len(form):
        missing = ", ".join(f"--{name}" for name in form if name not in given)
        args.localize_parser.error(f"the --{form[0]} form also needs {missing}")
    if npz_given:
        localize_eval_files(args.cams, args.images, args.boxes, args.out)
    else:
        localize_eval_reference(args.scoremaps, args.metadata, args.out)


def _add_localize_eval(sub):
    p = sub.add_parser("localize-eval", help="score maps -> boxes -> MaxBoxAcc (fixture or reference layout)",
                       description="Give either --cams, --images and --boxes (npz + csv, the fixture format) "
                                   "or --scoremaps and --metadata (the reference evaluator's layout).")
    p.add_argument("--cams", type=Path, help="npz of raw score maps keyed by image_id")
    p.add_argument("--images", type=Path, help="csv: image_id,width,height")
    p.add_argument("--boxes", type=Path, help="csv: image_id,x0,y0,x1,y1")
    p.add_argument("--scoremaps", type=Path, help="folder of <image_id>.npy score maps (reference layout)")
    p.add_argument("--metadata", type=Path,
                   help="one split's metadata folder: image_ids.txt, image_sizes.txt, localization.txt")
    p.add_argument("--out", type=Path, required=True, help="result json")
    p.set_defaults(func=_localize_eval, localize_parser=p)


def _export_maps(args):
    from infocam.wsol.reference_format import export_reference_layout

    export_reference_layout(args.cams, args.images, args.boxes, args.out, raw=args.raw)


def _add_export_maps(sub):
    p = sub.add_parser("export-maps", help="npz + csv score maps -> the reference evaluator's folder layout")
    p.add_argument("--cams", type=Path, required=True, help="npz of raw score maps keyed by image_id")
    p.add_argument("--images", type=Path, required=True,
                   help="csv: image_id,width,height[,label or class] (no label column: class 0 for every image)")
    p.add_argument("--boxes", type=Path, required=True, help="csv: image_id,x0,y0,x1,y1 in whole pixels")
    p.add_argument("--out", type=Path, required=True,
                   help="new or empty folder: scoremaps/<image_id>.npy and metadata/*.txt are written there")
    p.add_argument("--raw", action="store_true",
                   help="write the maps as given instead of 224x224 min-max normalised float64 maps "
                        "(the reference's evaluation.py accepts only the latter)")
    p.set_defaults(func=_export_maps)


def register(sub):
    for add_verb in (_add_train, _add_evaluate, _add_table, _add_compare_cams, _add_wsol_figure, _add_localize_eval,
                     _add_export_maps):
        add_verb(sub)
