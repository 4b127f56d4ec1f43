"""Checks of a parsed dataset against its images and against expected counts."""

from PIL import Image
from tqdm import tqdm

from infocam.data.errors import DataFormatError
from infocam.data.records import NativeDataset


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


def check_boxes(dataset: NativeDataset, sizes: dict[str, tuple[int, int]]) -> None:
    """Every box must have x0 <= x1 and y0 <= y1 and lie inside its image: 0 <= x0, x1 <= width, same for y.

    x0 == x1 is allowed: corners count pixels inclusively (the evaluator adds 1), and real
    Tiny-ImageNet has one-pixel-wide boxes such as `63 47 63 63` at the right edge.
    """
    for box in dataset.boxes:
        width, height = sizes[box.image_id]
        corners = f"({box.x0:g}, {box.y0:g}, {box.x1:g}, {box.y1:g})"
        if box.x0 > box.x1 or box.y0 > box.y1:
            raise DataFormatError(f"{box.where}: box {corners} is inverted (x0 > x1 or y0 > y1)")
        if not (0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height):
            raise DataFormatError(
                f"{box.where}: box {corners} lies outside image {box.image_id} of size {width}x{height}"
            )
