"""The train / val / test split (docs/reference.md).

train is the official training part. The official held-out part (CUB's test list,
Tiny-ImageNet's val/) is split per class in id order, alternating: the 1st, 3rd, ...
image of each class go to val (checkpoint selection), the 2nd, 4th, ... to test.
"""

from collections import defaultdict

from infocam.data.records import ImageRecord


def split_images(images: list[ImageRecord]) -> dict[str, list[ImageRecord]]:
    """{"train", "val", "test"} -> records; val and test are sorted by id."""
    held_out_by_class = defaultdict(list)
    for record in images:
        if record.held_out:
            held_out_by_class[record.label].append(record)
    val, test = [], []
    for records in held_out_by_class.values():
        in_id_order = sorted(records, key=lambda record: record.order)
        val.extend(in_id_order[0::2])
        test.extend(in_id_order[1::2])
    return {
        "train": [record for record in images if not record.held_out],
        "val": sorted(val, key=lambda record: record.order),
        "test": sorted(test, key=lambda record: record.order),
    }
