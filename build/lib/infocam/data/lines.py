"""Reading annotation text files line by line, with errors that point at the file and line."""

from collections.abc import Iterator
from pathlib import Path

from infocam.data.errors import DataFormatError


def annotation_lines(path: Path, name: str, n_fields: int, sep: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """Yield ("name:line", fields) for each non-blank line of an annotation file.

    `name` is how the file is called in messages. Lines are split on `sep` (None: any
    whitespace) into at most `n_fields` fields; a line with fewer raises DataFormatError.
    """
    if not path.is_file():
        raise DataFormatError(f"{name}: missing from the archive")
    with open(path, encoding="utf-8") as stream:
        number = 0
        try:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                fields = line.rstrip("\r\n").split(sep, n_fields - 1) if sep else line.split()
                if len(fields) != n_fields:
                    raise DataFormatError(f"{name}:{number}: expected {n_fields} fields, found {len(fields)}")
                yield f"{name}:{number}", fields
        except UnicodeDecodeError:
            raise DataFormatError(f"{name}:{number + 1}: not UTF-8 text") from None


def parse_int(text: str, where: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataFormatError(f"{where}: {what} must be an integer, got '{text}'") from None


def parse_float(text: str, where: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(f"{where}: {what} must be a number, got '{text}'") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise DataFormatError(f"{where}: {what} must be a finite number, got '{text}'")
    return value
