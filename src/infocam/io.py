"""File helpers every stage shares: the one atomic write, md5 checksums, per-job result CSVs.

An output is written to a hidden temporary name beside its final path and renamed into
place only when complete, so a failed or interrupted step never leaves a half-written file.
"""

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

CHUNK_BYTES = 1 << 20


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it into place on success, remove it on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_folder(out_dir):
    """A fresh hidden folder beside `out_dir`; it replaces `out_dir` on success and is removed on error."""
    out_dir = Path(out_dir)
    partial = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        _replace_folder(partial, out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _replace_folder(new, target):
    """Put `new` at `target`, replacing an existing folder there."""
    old = target.parent / f".{target.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes_atomic(path, data):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def file_md5(path):
    """Hex md5 of a file, read in chunks so large archives need little memory."""
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


class CorruptFileError(ValueError):
    """A file that exists but cannot be read as what it should be; the message names it."""


def load_torch_file(path, what="checkpoint"):
    """torch.load of a file written by this pipeline; a truncated or foreign file raises CorruptFileError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for a damaged file
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CorruptFileError(f"{path}: cannot read this {what} ({reason})") from None


def read_result_csvs(paths, columns, what, dtype=None):
    """Concatenate result CSVs, each checked for `columns` (kept in that order); `what` names them in errors."""
    import pandas as pd

    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype=dtype)
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
        frames.append(frame[columns])
    if not frames:
        raise ValueError(f"no {what} result files given")
    return pd.concat(frames, ignore_index=True)


def save_png_atomic(figure, path, dpi=120):
    """Save a matplotlib figure as a PNG, atomically."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, format="png")
