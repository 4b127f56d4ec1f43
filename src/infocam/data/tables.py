"""Writing the prepared folder's CSV tables (prepare.py, fullsup.py)."""

import csv
from pathlib import Path

BOX_COLUMNS = ["image_id", "x0", "y0", "x1", "y1"]


def write_csv(path: Path, header: list[str], rows: list, append: bool = False) -> None:
    """Write `rows` under `header`; with `append`, add them to an existing table (no header)."""
    with open(path, "a" if append else "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        if not append:
            writer.writerow(header)
        writer.writerows(rows)


def box_rows(boxes: list) -> list[list]:
    """boxes.csv rows of records.Box values: the id and the corners as floats."""
    return [[box.image_id, *(repr(float(v)) for v in (box.x0, box.y0, box.x1, box.y1))] for box in boxes]
