"""Checks of a parsed dataset against its images and against expected counts."""

from dataclasses import replace

from PIL import Image
from tqdm import tqdm

from infocam.data.errors import DataFormatError
from infocam.data.records import Box, NativeDataset


def check_expected_counts(dataset: NativeDataset, expected: dict | None, source: str) -> None:
    """Compare `expected` (e.g. {"images": 11788, "classes": 200}) with the dataset's counts."""
    if not expected:
        return
    counts = dataset.counts()
    for key, wanted in expected.items():
        if key not in counts:
            raise DataFormatError(f"{source}: unknown expected count '{key}' (known: {', '.join(counts)})")
        if counts[key] != wanted:
            raise DataFormatError(f"{source}: has {counts[key]} {key}, expected {wanted}")


def measure_images(dataset: NativeDataset) -> dict[str, tuple[int, int]]:
    """Decode every listed image; return its (width, height) by image id.

    Raises DataFormatError for a missing or undecodable image, or one whose size
    differs from the size its format records.
    """
    sizes = {}
    for record in tqdm(dataset.images, desc="decoding images", unit="img", disable=None):
        path = dataset.image_root / record.path
        if not path.is_file():
            raise DataFormatError(f"{record.where}: image '{record.path}' does not exist")
        try:
            with Image.open(path) as image:
                image.load()
                size = image.size
        except (OSError, SyntaxError, ValueError) as err:
            reason = " ".join(str(err).split())
            raise DataFormatError(f"{record.where}: image '{record.path}' cannot be decoded: {reason}") from None
        if record.size is not None and size != record.size:
            found, wanted = "x".join(map(str, size)), "x".join(map(str, record.size))
            raise DataFormatError(f"{record.where}: image '{record.path}' is {found}, expected {wanted}")
        sizes[record.image_id] = size
    return sizes


def fit_boxes(dataset: NativeDataset, sizes: dict[str, tuple[int, int]]) -> tuple[list[Box], dict]:
    """The boxes with their far corners kept inside the image, as the field's reference evaluator
    keeps them: x1 = min(x1, width - 1), y1 = min(y1, height - 1); and a count of what that changed.

    Corners count pixels inclusively (the evaluator adds 1), so the last pixel of an image is
    width - 1. Real CUB-200-2011 boxes (x + w, y + h) end past the image by up to 32 pixels;
    real Tiny-ImageNet has one-pixel-wide boxes such as `63 47 63 63` at the right edge.
    A box that is inverted or starts outside its image raises DataFormatError with its file:line.
    The count: `clipped` boxes changed, `past_edge` of them ending beyond the image's edge
    (x1 > width or y1 > height), `largest_overshoot_px` the most any box ends past that edge.
    """
    fitted, clipped, past_edge, largest_overshoot = [], 0, 0, 0.0
    for box in dataset.boxes:
        width, height = sizes[box.image_id]
        corners = f"({box.x0:g}, {box.y0:g}, {box.x1:g}, {box.y1:g})"
        if box.x0 > box.x1 or box.y0 > box.y1:
            raise DataFormatError(f"{box.where}: box {corners} is inverted (x0 > x1 or y0 > y1)")
        if not (0 <= box.x0 <= width - 1 and 0 <= box.y0 <= height - 1):
            raise DataFormatError(
                f"{box.where}: box {corners} starts outside image {box.image_id} of size {width}x{height}"
            )
        x1, y1 = min(box.x1, width - 1), min(box.y1, height - 1)
        overshoot = max(box.x1 - width, box.y1 - height)
        clipped += (x1, y1) != (box.x1, box.y1)
        past_edge += overshoot > 0
        largest_overshoot = max(largest_overshoot, overshoot)
        fitted.append(replace(box, x1=x1, y1=y1))
    counts = {"boxes": len(fitted), "clipped": clipped, "past_edge": past_edge,
              "largest_overshoot_px": largest_overshoot}
    return fitted, counts
