"""Offline stand-ins for CUB-200-2011 and Tiny-ImageNet, written in their real native formats.

Every image shows one "bird": a large textured elliptical body with a small round head
at one end, on a cluttered background. The head identifies the class for certain: an
outer disc in one of eight saturated colours and an inner dot (the eye) in one of four
neutral tones, the pair fixed per class. Classes 0-7 differ in the disc colour alone, so
no two of them share a saturated colour; classes 8-31 (a pretraining corpus, for example)
wear the other eyes. The body is drawn from one palette shared by all classes; with probability
`body_cue` it wears its class's own stripes, otherwise a random texture, so the body is
at best a weak cue (like plumage) and the head stays the most discriminative part.
The ground-truth box covers body and head: a class map that fires on the head alone
covers a small part of it (head-box IoU with the box is about 0.1), which is the
situation weakly supervised localisation methods address. With body_cue = 0 the body
carries no class information at all and a CAM hardly ever reaches IoU 0.5; the weak
cue gives the partial coverage seen on real data.
Background distractors (lines, thin bars, striped or checked patches) use muted colours
and are never round, so they do not imitate a head.

With `quirks`, the first images of an archive carry what the real files hold and made-up data
usually lack (docs/datasets.md): CUB boxes that end past the image by 1 and by 32 pixels and
one that ends exactly on its edge (x + w = W), Tiny-ImageNet one-pixel-wide boxes at the right
edge, a grayscale and a CMYK JPEG, and a PNG saved under a JPEG name.

`write_fullsup_archive` writes a synthetic CUB dataset's train-fullsup set (the wsol2020
protocol's CUBV2): a tar of class folders and the reference evaluator's four metadata files.

The archives are byte-identical for a given seed: fixed member order, fixed timestamps,
gzip header time 0.
"""

import colorsys
import csv
import gzip
import io
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from infocam.io import atomic_folder, file_md5, write_text_atomic

HEAD_COLOURS = {
    "red": (225, 20, 30),
    "orange": (255, 135, 0),
    "yellow": (250, 230, 0),
    "green": (10, 175, 40),
    "cyan": (0, 205, 215),
    "blue": (25, 50, 230),
    "purple": (135, 30, 190),
    "magenta": (235, 40, 175),
}
BODY_COLOURS = [
    (112, 92, 70), (146, 124, 96), (88, 80, 68), (168, 156, 134),
    (96, 88, 84), (128, 118, 92), (150, 140, 128), (76, 66, 56),
]
EYE_COLOURS = {
    "white": (245, 245, 245),
    "silver": (185, 185, 185),
    "slate": (105, 105, 105),
    "black": (20, 20, 20),
}
MAX_CLASSES = len(HEAD_COLOURS) * len(EYE_COLOURS)
ARCHIVE_TIME = 1262304000  # 2010-01-01 00:00 UTC, for every archive member
ZIP_TIME = (2010, 1, 1, 0, 0, 0)
CLASS_STYLE_SEED = 7919  # seeds each class's own body stripes, independent of the archive seed
JPEG_QUALITY = 92


@dataclass(frozen=True)
class Specimen:
    image: Image.Image
    box: tuple[int, int, int, int]  # body and head: x0, y0, x1, y1, last pixel included
    head_box: tuple[int, int, int, int]  # the head alone, same convention


def head_colours(label: int) -> tuple[str, str]:
    """(disc, eye) colour names of a class: the disc cycles through the eight saturated
    colours, the eye changes every eight classes."""
    if not 0 <= label < MAX_CLASSES:
        raise ValueError(f"class {label} outside 0..{MAX_CLASSES - 1}: at most {MAX_CLASSES} classes are supported")
    return list(HEAD_COLOURS)[label % len(HEAD_COLOURS)], list(EYE_COLOURS)[label // len(HEAD_COLOURS)]


def class_name(label: int) -> str:
    outer, inner = head_colours(label)
    return f"{outer.capitalize()}_headed_{inner.capitalize()}_eyed_Bird"


CUB_BODY_SPAN = (0.45, 0.75)
CUB_MIN_SIZE, CUB_MAX_SIZE = 96, 144  # image sides in pixels; the real CUB's are about 500 x 375
# Tiny-ImageNet objects fill most of their 64x64 frame, which its 4x4 class maps need.
TINY_BODY_SPAN = (0.65, 0.9)


def draw_specimen(rng: np.random.Generator, width: int, height: int, label: int, body_cue: float = 0.5,
                  body_span: tuple[float, float] = CUB_BODY_SPAN) -> Specimen:
    """One RGB image of class `label` with its object box and head box.

    The body's length is a uniform share of the image side drawn from `body_span`.
    """
    image = Image.fromarray(_gradient(rng, width, height))
    _draw_distractors(rng, image, min(width, height))
    body, head = _object_masks(rng, width, height, body_span)
    pixels = np.array(image)
    pixels[body] = _body_texture(rng, width, height, label, body_cue)[body]
    image = Image.fromarray(pixels)
    _draw_head(rng, image, head, label)
    noisy = np.asarray(image).astype(np.float32) + rng.normal(0.0, 5.0, (height, width, 3))
    head_mask = _disc_mask(width, height, head)
    return Specimen(
        image=Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)),
        box=_mask_box(body | head_mask),
        head_box=_mask_box(head_mask),
    )


@dataclass(frozen=True)
class SyntheticSettings:
    """A synthetic dataset's size and seed (the config's datasets.<name>.synthetic)."""

    n_classes: int
    train_per_class: int
    heldout_per_class: int  # CUB: test-list images per class; Tiny-ImageNet: val images per class
    seed: int = 0
    first_class: int = 0  # the dataset's classes are first_class .. first_class + n_classes - 1
    body_cue: float = 0.5  # probability that a body wears its class's stripes
    min_size: int = CUB_MIN_SIZE  # CUB format: each image side is drawn from min_size..max_size pixels
    max_size: int = CUB_MAX_SIZE
    quirks: bool = False  # the first images carry the real files' quirks (module docstring)


def write_synthetic_archive(fmt, path, settings):
    """The archive of `settings` in format `fmt` ('cub' .tgz or 'tiny' .zip); return its md5."""
    common = dict(n_classes=settings.n_classes, train_per_class=settings.train_per_class, seed=settings.seed,
                  first_class=settings.first_class, body_cue=settings.body_cue, quirks=settings.quirks)
    if fmt == "cub":
        return write_cub_archive(path, test_per_class=settings.heldout_per_class, min_size=settings.min_size,
                                 max_size=settings.max_size, **common)
    if (settings.min_size, settings.max_size) != (CUB_MIN_SIZE, CUB_MAX_SIZE):
        raise ValueError("min_size, max_size: Tiny-ImageNet-format images are always 64 x 64")
    return write_tiny_archive(path, val_per_class=settings.heldout_per_class, **common)


def write_cub_archive(
    path: Path,
    *,
    n_classes: int,
    train_per_class: int,
    test_per_class: int,
    seed: int,
    min_size: int = CUB_MIN_SIZE,
    max_size: int = CUB_MAX_SIZE,
    body_cue: float = 0.5,
    first_class: int = 0,
    quirks: bool = False,
) -> str:
    """Write a CUB-200-2011-format .tgz (plus `<path>.md5` and `<path>.parts.csv`); return its md5."""
    _check_options(n_classes, first_class, body_cue)
    rng = np.random.default_rng(seed)
    top = "CUB_200_2011"
    images, labels, flags, boxes, heads = [], [], [], [], []
    drawn = range(first_class, first_class + n_classes)  # the generator's classes, archive labels 1..n
    classes = [f"{label + 1:03d}.{class_name(drawn[label])}" for label in range(n_classes)]
    with _TgzWriter(Path(path)) as archive:
        archive.add_folder(f"{top}/")
        archive.add_folder(f"{top}/images/")
        for label, folder in enumerate(classes):
            archive.add_folder(f"{top}/images/{folder}/")
            per_class = train_per_class + test_per_class
            is_test = np.zeros(per_class, dtype=bool)
            is_test[rng.permutation(per_class)[:test_per_class]] = True
            for k in range(per_class):
                image_id = len(images) + 1
                width, height = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
                specimen = draw_specimen(rng, width, height, drawn[label], body_cue)
                relative = f"{folder}/{class_name(drawn[label])}_{k + 1:04d}.jpg"
                quirk = CUB_QUIRKS[image_id - 1] if quirks and image_id <= len(CUB_QUIRKS) else None
                archive.add_file(f"{top}/images/{relative}", _image_file(specimen.image, quirk))
                x, y, w, h = _cub_box(specimen.box, width, height, quirk)
                images.append(f"{image_id} {relative}")
                labels.append(f"{image_id} {label + 1}")
                flags.append(f"{image_id} {0 if is_test[k] else 1}")
                boxes.append(f"{image_id} {x:.1f} {y:.1f} {w:.1f} {h:.1f}")
                heads.append((relative, specimen.head_box))
        archive.add_text(f"{top}/classes.txt", [f"{label + 1} {folder}" for label, folder in enumerate(classes)])
        archive.add_text(f"{top}/images.txt", images)
        archive.add_text(f"{top}/image_class_labels.txt", labels)
        archive.add_text(f"{top}/train_test_split.txt", flags)
        archive.add_text(f"{top}/bounding_boxes.txt", boxes)
    _write_parts(Path(path), heads)
    return _write_md5(Path(path))


@dataclass(frozen=True)
class FullsupSettings:
    """The synthetic train-fullsup set of a synthetic CUB dataset (datasets.<name>.fullsup.synthetic)."""

    per_class: int
    seed: int = 0


FULLSUP_STREAM = 2  # the train-fullsup images come from rng [seed, 2]: a stream no CUB archive draws


def write_fullsup_archive(path, settings: SyntheticSettings, fullsup: FullsupSettings) -> str:
    """Write a CUBV2-style tar of class folders for the CUB dataset of `settings` (its classes, image
    sizes and drawing, new images) with `<path>.metadata/` and `<path>.md5`; return the tar's md5.

    The metadata folder holds the reference evaluator's four files (infocam.data.fullsup): ids
    `<class folder>/<name>.jpg`, names 11-digit numbers like the real Flickr ids, class index the
    CUB label (0-based). With `settings.quirks`, the first image's box ends past the image (x1 = W + 1)
    and the second image is a grayscale JPEG.
    """
    if fullsup.per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {fullsup.per_class}")
    _check_options(settings.n_classes, settings.first_class, settings.body_cue)
    path = Path(path)
    rng = np.random.default_rng([fullsup.seed, FULLSUP_STREAM])
    drawn = range(settings.first_class, settings.first_class + settings.n_classes)
    entries, names = [], set()
    with _TarWriter(path) as archive:
        for label, generator_class in enumerate(drawn):
            folder = f"{label + 1:03d}.{class_name(generator_class)}"  # as in the CUB archive
            archive.add_folder(f"{folder}/")
            for _ in range(fullsup.per_class):
                name = _flickr_like_name(rng, names)
                width, height = (int(v) for v in rng.integers(settings.min_size, settings.max_size + 1, size=2))
                specimen = draw_specimen(rng, width, height, generator_class, settings.body_cue)
                quirk = FULLSUP_QUIRKS[len(entries)] if settings.quirks and len(entries) < len(FULLSUP_QUIRKS) else None
                archive.add_file(f"{folder}/{name}", _image_file(specimen.image, quirk))
                x0, y0, x1, y1 = specimen.box
                box = (x0, y0, width + 1, y1) if quirk == "past_1" else (x0, y0, x1, y1)
                entries.append((f"{folder}/{name}", width, height, box, label))
    _write_fullsup_metadata(fullsup_metadata_folder(path), entries)
    return _write_md5(path)


FULLSUP_QUIRKS = ("past_1", "grayscale")  # past_1: x1 = width + 1, past the image by 1 as CUB's "past_1"


def fullsup_metadata_folder(archive: Path) -> Path:
    """Where the synthetic train-fullsup archive's metadata files go: `<archive>.metadata/`."""
    archive = Path(archive)
    return archive.with_name(f"{archive.name}.metadata")


def _flickr_like_name(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        name = f"{int(rng.integers(10**10, 10**11))}.jpg"
        if name not in taken:
            taken.add(name)
            return name


def _write_fullsup_metadata(folder: Path, entries: list) -> None:
    """The four metadata files, comma-separated, without a final newline (as the reference's are)."""
    texts = {
        "image_ids": [image_id for image_id, *_ in entries],
        "image_sizes": [f"{image_id},{width},{height}" for image_id, width, height, *_ in entries],
        "localization": [f"{image_id},{','.join(map(str, box))}" for image_id, _, _, box, _ in entries],
        "class_labels": [f"{image_id},{label}" for image_id, *_, label in entries],
    }
    with atomic_folder(folder) as partial:
        for name, lines in texts.items():
            (partial / f"{name}.txt").write_text("\n".join(lines), encoding="utf-8")


def write_tiny_archive(
    path: Path,
    *,
    n_classes: int,
    train_per_class: int,
    val_per_class: int,
    seed: int,
    size: int = 64,
    test_images: int = 10,
    body_cue: float = 0.5,
    first_class: int = 0,
    quirks: bool = False,
) -> str:
    """Write a Tiny-ImageNet-200-format .zip (plus `<path>.md5` and `<path>.parts.csv`); return its md5.

    The real format is 64x64; prepare_dataset rejects archives made with another `size`.
    """
    _check_options(n_classes, first_class, body_cue)
    rng = np.random.default_rng(seed)
    top = "tiny-imagenet-200"
    drawn = range(first_class, first_class + n_classes)
    wnids = [f"n{90000000 + label:08d}" for label in drawn]
    heads = []
    with _ZipWriter(Path(path)) as archive:
        archive.add_folder(f"{top}/")
        archive.add_text(f"{top}/wnids.txt", wnids)
        # words.txt covers more synsets than the dataset uses, as the real one does
        words = [f"{wnid}\t{class_name(label).replace('_', ' ').lower()}" for label, wnid in zip(drawn, wnids)]
        archive.add_text(f"{top}/words.txt", ["n00001740\tentity", *words, "n99999999\tunused synset"])
        archive.add_folder(f"{top}/train/")
        for label, wnid in enumerate(wnids):
            folder = f"{top}/train/{wnid}"
            archive.add_folder(f"{folder}/")
            archive.add_folder(f"{folder}/images/")
            lines = []
            for k in range(train_per_class):
                specimen = draw_specimen(rng, size, size, drawn[label], body_cue, TINY_BODY_SPAN)
                quirk = TINY_QUIRKS[k] if quirks and label == 0 and k < len(TINY_QUIRKS) else None
                archive.add_file(f"{folder}/images/{wnid}_{k}.JPEG", _image_file(specimen.image, quirk))
                heads.append((f"train/{wnid}/images/{wnid}_{k}.JPEG", specimen.head_box))
                box = _tiny_box(specimen.box, size, quirk)
                lines.append(f"{wnid}_{k}.JPEG\t" + "\t".join(str(v) for v in box))
            archive.add_text(f"{folder}/{wnid}_boxes.txt", lines)
        archive.add_folder(f"{top}/val/")
        archive.add_folder(f"{top}/val/images/")
        lines = []
        for k, label in enumerate(rng.permutation(np.repeat(np.arange(n_classes), val_per_class))):
            specimen = draw_specimen(rng, size, size, drawn[label], body_cue, TINY_BODY_SPAN)
            quirk = TINY_QUIRKS[k] if quirks and k < len(TINY_QUIRKS) else None
            archive.add_file(f"{top}/val/images/val_{k}.JPEG", _image_file(specimen.image, quirk))
            heads.append((f"val/images/val_{k}.JPEG", specimen.head_box))
            box = _tiny_box(specimen.box, size, quirk)
            lines.append(f"val_{k}.JPEG\t{wnids[label]}\t" + "\t".join(str(v) for v in box))
        archive.add_text(f"{top}/val/val_annotations.txt", lines)
        archive.add_folder(f"{top}/test/")
        archive.add_folder(f"{top}/test/images/")
        for k in range(test_images):
            specimen = draw_specimen(rng, size, size, drawn[int(rng.integers(n_classes))], body_cue, TINY_BODY_SPAN)
            archive.add_file(f"{top}/test/images/test_{k}.JPEG", _jpeg(specimen.image))
    _write_parts(Path(path), heads)  # test/ is unlabelled and not prepared: no rows
    return _write_md5(Path(path))


def parts_path(archive: Path) -> Path:
    """The part-box sidecar written beside a synthetic archive."""
    archive = Path(archive)
    return archive.with_name(f"{archive.name}.parts.csv")


def _write_parts(archive: Path, heads: list[tuple[str, tuple[int, int, int, int]]]) -> None:
    """Write `<archive>.parts.csv`: path (as the prepared image list has it, relative to the
    image root), part, x0, y0, x1, y1 (inclusive corners, original pixels)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "part", "x0", "y0", "x1", "y1"])
    writer.writerows([relative, "head", *box] for relative, box in heads)
    write_text_atomic(parts_path(archive), text.getvalue())


def _check_options(n_classes: int, first_class: int, body_cue: float) -> None:
    if not 1 <= n_classes <= MAX_CLASSES:
        raise ValueError(f"n_classes must be in 1..{MAX_CLASSES}, got {n_classes}")
    if not 0 <= first_class <= MAX_CLASSES - n_classes:
        raise ValueError(f"first_class must be in 0..{MAX_CLASSES - n_classes} for {n_classes} classes "
                         f"(the generator has {MAX_CLASSES}), got {first_class}")
    if not 0.0 <= body_cue <= 1.0:
        raise ValueError(f"body_cue must be a probability in [0, 1], got {body_cue}")


# --- drawing -----------------------------------------------------------------


def _muted_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A random colour of low to middling saturation: never one of the vivid head colours."""
    hue, saturation, value = rng.uniform(0, 1), rng.uniform(0, 0.45), rng.uniform(0.25, 0.9)
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(hue, saturation, value))


def _gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    start, end = np.array(_muted_colour(rng), float), np.array(_muted_colour(rng), float)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    along = xs * np.cos(angle) + ys * np.sin(angle)
    t = (along - along.min()) / max(np.ptp(along), 1.0)
    return (start + t[..., None] * (end - start)).astype(np.uint8)


def _draw_distractors(rng: np.random.Generator, image: Image.Image, side: int) -> None:
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for _ in range(int(rng.integers(8, 14) * side / 64)):
        kind = rng.integers(3)
        centre = rng.uniform((0, 0), (width, height))
        if kind == 0:
            end = centre + rng.uniform(-0.4, 0.4, 2) * side
            line_width = int(rng.integers(1, max(2, side // 40) + 1))
            draw.line([tuple(centre), tuple(end)], fill=_muted_colour(rng), width=line_width)
        elif kind == 1:
            draw.polygon(_bar_corners(rng, centre, side), fill=_muted_colour(rng))
        else:
            patch = _patch(rng, int(rng.uniform(0.08, 0.16) * side) + 2)
            image.paste(Image.fromarray(patch), (int(centre[0]), int(centre[1])))


def _bar_corners(rng: np.random.Generator, centre: np.ndarray, side: int) -> list[tuple[float, float]]:
    """A thin rotated rectangle: length 15-40% of the side, thickness at most a tenth of that."""
    length = rng.uniform(0.15, 0.4) * side
    thickness = rng.uniform(2, max(2.5, length / 10))
    angle = rng.uniform(0, np.pi)
    along = np.array([np.cos(angle), np.sin(angle)]) * length / 2
    across = np.array([-np.sin(angle), np.cos(angle)]) * thickness / 2
    return [tuple(centre + sa * along + sc * across) for sa, sc in [(-1, -1), (1, -1), (1, 1), (-1, 1)]]


def _patch(rng: np.random.Generator, size: int) -> np.ndarray:
    """A small square of stripes or checks in two muted colours."""
    first, second = np.array(_muted_colour(rng)), np.array(_muted_colour(rng))
    period = int(rng.integers(2, 5))
    ys, xs = np.mgrid[0:size, 0:size]
    if rng.integers(2):
        pick = (xs // period + ys // period) % 2 == 0
    else:
        pick = ((xs if rng.integers(2) else ys) // period) % 2 == 0
    return np.where(pick[..., None], first, second).astype(np.uint8)


def _object_masks(rng: np.random.Generator, width: int, height: int,
                  span: tuple[float, float]) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Body mask and head disc (cx, cy, r): the body spans a share `span` of the image side
    along its axis, the head sits on one end, and the whole object lies inside the image."""
    radius = min(width, height) * rng.uniform(0.075, 0.095)
    protrusion = 1.6 * radius  # how far the head reaches past the end of the body
    horizontal = bool(rng.integers(2))
    along_size, across_size = (width, height) if horizontal else (height, width)
    length = min(rng.uniform(*span) * along_size, along_size - protrusion - 3)
    thickness = min(max(length * rng.uniform(0.45, 0.7), 2.6 * radius), across_size - 3)
    head_last = bool(rng.integers(2))
    lowest = 1 + (0 if head_last else protrusion)
    highest = along_size - 2 - length - (protrusion if head_last else 0)
    start = rng.uniform(lowest, max(lowest, highest))  # max: rounding when length is capped
    middle = rng.uniform(1 + thickness / 2, max(1 + thickness / 2, across_size - 2 - thickness / 2))
    head_along = start + length + 0.6 * radius if head_last else start - 0.6 * radius
    head_across = middle + rng.uniform(-0.1, 0.1) * thickness
    corners = (start, middle - thickness / 2, start + length, middle + thickness / 2)
    if not horizontal:
        corners = (corners[1], corners[0], corners[3], corners[2])
    head = (head_along, head_across, radius) if horizontal else (head_across, head_along, radius)
    body = Image.new("L", (width, height))
    ImageDraw.Draw(body).ellipse(corners, fill=255)
    return np.asarray(body) > 0, head


def _disc_mask(width: int, height: int, disc: tuple[float, float, float]) -> np.ndarray:
    cx, cy, r = disc
    mask = Image.new("L", (width, height))
    ImageDraw.Draw(mask).ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    return np.asarray(mask) > 0


def _body_texture(rng: np.random.Generator, width: int, height: int, label: int, body_cue: float) -> np.ndarray:
    """Stripes, spots or mottling in two colours of the shared body palette.

    With probability `body_cue` the body wears its class's own stripes (fixed colours,
    angle and period: a weak cue, like plumage); otherwise every choice is random.
    """
    side = min(width, height)
    if rng.uniform() < body_cue:
        style = np.random.default_rng(CLASS_STYLE_SEED + label)
        kind, picks = 0, style.choice(len(BODY_COLOURS), size=2, replace=False)
        angle, period = style.uniform(0, np.pi), style.uniform(0.05, 0.1) * side
    else:
        kind, picks = rng.integers(3), rng.choice(len(BODY_COLOURS), size=2, replace=False)
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.05, 0.1) * side
    first, second = (np.array(BODY_COLOURS[i], float) + rng.uniform(-12, 12, 3) for i in picks)
    ys, xs = np.mgrid[0:height, 0:width]
    if kind == 0:
        mix = ((xs * np.cos(angle) + ys * np.sin(angle)) / period) % 1.0 < 0.5
    elif kind == 1:
        spots = Image.new("L", (width, height))
        draw = ImageDraw.Draw(spots)
        for cx, cy in rng.uniform((0, 0), (width, height), size=(int(side * 0.6), 2)):
            r = rng.uniform(0.015, 0.03) * side
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        mix = np.asarray(spots) > 0
    else:
        coarse = rng.uniform(0, 1, (6, 6)).astype(np.float32)
        mix = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR)) > 0.5
    return np.where(mix[..., None], first, second).clip(0, 255).astype(np.uint8)


def _draw_head(rng: np.random.Generator, image: Image.Image, head: tuple[float, float, float], label: int) -> None:
    cx, cy, r = head
    disc, eye = head_colours(label)
    outer, inner = (np.array(colour) + rng.integers(-12, 13, 3) for colour in (HEAD_COLOURS[disc], EYE_COLOURS[eye]))
    draw = ImageDraw.Draw(image)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(int(v) for v in outer.clip(0, 255)))
    dot = 0.5 * r
    draw.ellipse((cx - dot, cy - dot, cx + dot, cy + dot), fill=tuple(int(v) for v in inner.clip(0, 255)))


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


# --- the real files' quirks ---------------------------------------------------

# What the first images of a `quirks` archive carry, in image order (CUB: ids 1, 2, ...;
# Tiny-ImageNet: the first class's first training images, and val_0, val_1, ...). Box quirks are CUB's "past_1",
# "past_32" (x + w or y + h past the image by that many pixels, as real boxes 47 and others),
# "on_edge" (x + w = W) and Tiny-ImageNet's "one_pixel_wide" (x0 = x1 = 63); file quirks are
# "grayscale" and "cmyk" JPEGs and "png" (a PNG under a JPEG name).
CUB_QUIRKS = ("past_1", "past_32", "on_edge", "grayscale", "cmyk", "png")
TINY_QUIRKS = ("one_pixel_wide", "grayscale", "cmyk", "png")


def _cub_box(box: tuple[int, int, int, int], width: int, height: int, quirk: str | None) -> tuple[int, ...]:
    """(x, y, w, h) as bounding_boxes.txt writes it, with a box quirk applied."""
    x0, y0, x1, y1 = box
    if quirk == "past_1":
        x1 = width + 1
    elif quirk == "past_32":
        y1 = height + 32
    elif quirk == "on_edge":
        x1 = width
    return x0, y0, x1 - x0, y1 - y0


def _tiny_box(box: tuple[int, int, int, int], size: int, quirk: str | None) -> tuple[int, ...]:
    x0, y0, x1, y1 = box
    return (size - 1, y0, size - 1, y1) if quirk == "one_pixel_wide" else box


def _image_file(image: Image.Image, quirk: str | None) -> bytes:
    if quirk == "grayscale":
        return _jpeg(image.convert("L"))
    if quirk == "cmyk":
        return _jpeg(image.convert("CMYK"))
    if quirk == "png":
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()
    return _jpeg(image)


# --- archives ----------------------------------------------------------------


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # 4:4:4 chroma keeps the few-pixel head colours from bleeding into each other
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buffer.getvalue()


class _ArchiveWriter:
    """Deterministic archive writer: written to a temporary name, renamed on success."""

    def __init__(self, path: Path):
        self._path = path
        self._temporary = path.with_name(f".{path.name}.tmp")

    def __enter__(self):
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open(self._temporary, "wb")
        self._open()
        return self

    def __exit__(self, error_type, error, traceback):
        self._close()
        self._stream.close()
        if error_type is None:
            os.replace(self._temporary, self._path)
        else:
            self._temporary.unlink(missing_ok=True)

    def add_text(self, name: str, lines: list[str]) -> None:
        self.add_file(name, "".join(f"{line}\n" for line in lines).encode("utf-8"), compress=True)


class _TgzWriter(_ArchiveWriter):
    def _open(self):
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._stream, mtime=0, compresslevel=6)
        self._tar = tarfile.open(fileobj=self._gzip, mode="w", format=tarfile.GNU_FORMAT)

    def _close(self):
        self._tar.close()
        self._gzip.close()

    def add_folder(self, name: str) -> None:
        self._tar.addfile(self._info(name.rstrip("/"), tarfile.DIRTYPE, 0o755))

    def add_file(self, name: str, data: bytes, compress: bool = False) -> None:
        info = self._info(name, tarfile.REGTYPE, 0o644)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    @staticmethod
    def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = kind, mode, ARCHIVE_TIME
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info


class _TarWriter(_TgzWriter):
    """An uncompressed tar, as the real CUBV2.tar is."""

    def _open(self):
        self._tar = tarfile.open(fileobj=self._stream, mode="w", format=tarfile.GNU_FORMAT)

    def _close(self):
        self._tar.close()


class _ZipWriter(_ArchiveWriter):
    def _open(self):
        self._zip = zipfile.ZipFile(self._stream, "w")

    def _close(self):
        self._zip.close()

    def add_folder(self, name: str) -> None:
        info = self._info(name)
        info.external_attr = (0o40755 << 16) | 0x10  # directory flag for unix and dos
        self._zip.writestr(info, b"")

    def add_file(self, name: str, data: bytes, compress: bool = False) -> None:
        info = self._info(name)
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self._zip.writestr(info, data)

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
        info.create_system = 3  # unix, whatever system writes the archive
        return info


def _write_md5(path: Path) -> str:
    digest = file_md5(path)
    sidecar = path.with_name(f"{path.name}.md5")
    write_text_atomic(sidecar, f"{digest}\n")
    return digest
