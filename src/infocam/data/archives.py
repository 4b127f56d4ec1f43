"""Archive handling: md5 checksums and extraction that refuses unsafe members.

Both tar (optionally gzip-compressed) and zip archives are recognised by content,
so an archive works whatever it was named when downloaded.
"""

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from infocam.data.errors import ChecksumError, DataFormatError
from infocam.io import CHUNK_BYTES, file_md5


def verify_md5(path: Path, expected: str) -> None:
    """Raise ChecksumError unless the file's md5 equals `expected` (hex, any case)."""
    actual = file_md5(path)
    if actual != expected.strip().lower():
        raise ChecksumError(f"{path}: md5 is {actual}, expected {expected.strip().lower()}")


def extract_archive(archive: Path, dest: Path) -> None:
    """Extract a tar or zip archive into `dest`, refusing links, devices and paths that leave `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, dest)
    elif tarfile.is_tarfile(archive):
        _extract_tar(archive, dest)
    else:
        raise DataFormatError(f"{archive}: not a tar or zip archive")


def _safe_target(archive: Path, name: str, dest: Path) -> Path:
    """Where member `name` goes inside `dest`; raises if the name is absolute or climbs out."""
    member = PurePosixPath(name.replace("\\", "/"))
    if member.is_absolute() or ".." in member.parts:
        raise DataFormatError(f"{archive}: member '{name}' has an absolute path or '..'; refusing to extract")
    return dest.joinpath(*member.parts)


def _extract_tar(archive: Path, dest: Path) -> None:
    # "r:*" streams members in order, so a .tgz is read once, front to back.
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            target = _safe_target(archive, member.name, dest)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK_BYTES)
            else:
                raise DataFormatError(
                    f"{archive}: member '{member.name}' is a link or special file; refusing to extract"
                )


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = _safe_target(archive, info.filename, dest)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise DataFormatError(f"{archive}: member '{info.filename}' is a symbolic link; refusing to extract")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK_BYTES)
