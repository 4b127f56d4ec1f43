"""Data verbs: synthesize, prepare, decode, download, download-mnist (workflow/rules/data.smk)."""

from pathlib import Path

from infocam.cli.common import UserError


def _synthesize(args):
    from infocam.data.synthetic import (FullsupSettings, SyntheticSettings, write_fullsup_archive,
                                        write_synthetic_archive)
    from infocam.settings import parse_settings

    settings = parse_settings(SyntheticSettings, args.settings)
    if args.fullsup:
        if args.format != "cub":
            raise UserError("--fullsup: train-fullsup (CUBV2) belongs to the CUB format")
        md5 = write_fullsup_archive(args.out, settings, parse_settings(FullsupSettings, args.fullsup))
    else:
        md5 = write_synthetic_archive(args.format, args.out, settings)
    print(f"wrote {args.out} (md5 {md5})")


def _add_synthesize(sub):
    p = sub.add_parser("synthesize", help="write an offline dataset archive in a native format")
    p.add_argument("--format", choices=["cub", "tiny"], required=True)
    p.add_argument("--out", type=Path, required=True, help="archive path (.tgz for cub, .zip for tiny)")
    p.add_argument("--settings", required=True, metavar="JSON",
                   help="SyntheticSettings (infocam.data.synthetic): n_classes, train_per_class, heldout_per_class, seed")
    p.add_argument("--fullsup", metavar="JSON",
                   help="instead: the train-fullsup tar (CUBV2 layout, with <out>.metadata/) of the CUB dataset of "
                        "--settings; FullsupSettings: per_class, seed")
    p.set_defaults(func=_synthesize)


def _parse_expected(pairs):
    expected = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        if not value.isdigit():
            raise UserError(f"--expect {pair!r}: expected KEY=COUNT")
        expected[key] = int(value)
    return expected or None


def _fullsup_source(args):
    """The train-fullsup options as a FullsupSource, or None without --fullsup."""
    from infocam.data.fullsup import FullsupSource

    given = [args.fullsup_md5, args.fullsup_md5_file, args.fullsup_metadata, args.fullsup_metadata_md5]
    if args.fullsup is None:
        if any(given):
            raise UserError("--fullsup-* options describe train-fullsup; give its images with --fullsup")
        return None
    if args.fullsup_metadata is None:
        raise UserError("--fullsup needs --fullsup-metadata (the folder of image_ids.txt, image_sizes.txt, "
                        "localization.txt, class_labels.txt)")
    md5 = args.fullsup_md5 or (args.fullsup_md5_file.read_text().split()[0] if args.fullsup_md5_file else None)
    metadata_md5 = {}
    for pair in args.fullsup_metadata_md5 or []:
        name, _, value = pair.partition("=")
        if not value:
            raise UserError(f"--fullsup-metadata-md5 {pair!r}: expected NAME=MD5")
        metadata_md5[name] = value
    return FullsupSource(args.fullsup, args.fullsup_metadata, md5, metadata_md5 or None)


def _prepare(args):
    from infocam.data.prepare import prepare_dataset, prepare_extracted

    expected = _parse_expected(args.expect)
    fullsup = _fullsup_source(args)
    if args.extracted:
        if args.md5 or args.md5_file:
            raise UserError("--md5/--md5-file check an archive; --extracted reads a folder as it is")
        prepare_extracted(args.extracted, args.format, args.out, expected=expected, parts=args.parts, fullsup=fullsup)
    else:
        if not (args.md5 or args.md5_file):
            raise UserError("--archive needs --md5 or --md5-file")
        md5 = args.md5 or args.md5_file.read_text().split()[0]
        prepare_dataset(args.archive, args.format, md5, args.out, expected=expected, parts=args.parts, fullsup=fullsup)
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
    p.add_argument("--parts", type=Path,
                   help="part-box sidecar (path,part,x0,y0,x1,y1; the synthetic archives' <archive>.parts.csv)")
    p.add_argument("--fullsup", type=Path,
                   help="CUB's train-fullsup images (wsol2020): a CUBV2-style tar of class folders, or a folder of them")
    fullsup_md5 = p.add_mutually_exclusive_group()
    fullsup_md5.add_argument("--fullsup-md5", help="expected md5 of the --fullsup tar (left out: not checked, said so)")
    fullsup_md5.add_argument("--fullsup-md5-file", type=Path, help="file whose first word is that md5")
    p.add_argument("--fullsup-metadata", type=Path,
                   help="folder of train-fullsup's image_ids.txt, image_sizes.txt, localization.txt, class_labels.txt")
    p.add_argument("--fullsup-metadata-md5", action="append", metavar="NAME=MD5",
                   help="expected md5 of one metadata file, e.g. image_ids=6f38...; repeat per file")
    p.add_argument("--out", type=Path, required=True, help="prepared dataset directory")
    p.set_defaults(func=_prepare)


def _decode(args):
    from infocam.data.decoded import write_decoded_cache

    write_decoded_cache(args.data, args.resize, args.out)
    print(f"decoded the train and val images of {args.data} at {args.resize}x{args.resize} into {args.out}")


def _add_decode(sub):
    p = sub.add_parser("decode", help="write the decoded-image cache of a prepared dataset (uint8, one .npy per split)")
    p.add_argument("--data", type=Path, required=True, help="prepared dataset directory")
    p.add_argument("--resize", type=int, required=True, help="side of the square images (the dataset's resize)")
    p.add_argument("--out", type=Path, required=True, help="cache directory")
    p.set_defaults(func=_decode)


def _download(args):
    from infocam.data.download import download_file

    if bool(args.md5) == args.no_md5:
        raise UserError("give either --md5 or --no-md5")
    download_file(args.url, args.md5, args.out, dataset=args.dataset, attempts=args.attempts)


def _add_download(sub):
    p = sub.add_parser("download", help="fetch a dataset archive: md5-checked, atomic, retried with backoff")
    p.add_argument("--url", required=True)
    p.add_argument("--md5", help="expected md5; a mismatch keeps nothing")
    p.add_argument("--no-md5", action="store_true",
                   help="no md5 is known (train-fullsup's CUBV2.tar): keep the file unchecked and print its md5")
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


def register(sub):
    for add_verb in (_add_synthesize, _add_prepare, _add_decode, _add_download, _add_download_mnist):
        add_verb(sub)
