"""MNIST in its native IDX format: reading, writing, and downloading the four official files.

IDX: two zero bytes, an element-type code, the number of dimensions, each dimension as a
big-endian uint32, then the elements in C order, big-endian. The MNIST files are gzipped
IDX (uint8 images N x 28 x 28, uint8 labels N). The writer lets an offline source (digits
drawn from scikit-learn's copy) produce files the reader treats exactly like MNIST's.
"""

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from infocam.data.download import DownloadError, download_file
from infocam.data.errors import ChecksumError, DataFormatError
from infocam.io import write_bytes_atomic

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"

# The mirrors and md5s torchvision's MNIST dataset uses, tried in this order.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not), in native byte order."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[:2] != b"\0\0":
        raise DataFormatError(f"{path}: not an IDX file (starts with {data[:4].hex() or 'nothing'})")
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        raise DataFormatError(f"{path}: unknown IDX element type 0x{code:02x}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataFormatError(f"{path}: IDX header for {ndim} dimensions is incomplete")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataFormatError(
            f"{path}: {len(data)} bytes, expected {expected} for shape {'x'.join(map(str, shape))} of {dtype.name}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(array: np.ndarray, path: Path) -> None:
    """Write `array` as IDX, gzipped when `path` ends in .gz (byte-identical for equal arrays)."""
    array, path = np.asarray(array), Path(path)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        supported = ", ".join(dtype.newbyteorder("=").name for dtype in IDX_TYPES.values())
        raise ValueError(f"{path}: cannot store {array.dtype.name} as IDX (supported: {supported})")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"{path}: IDX holds 1 to 255 dimensions, the array has {array.ndim}")
    header = bytes([0, 0, codes[native], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=IDX_TYPES[codes[native]]).tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(path, data)


def download_mnist(
    out_dir: Path,
    *,
    mirrors: tuple[str, ...] | None = None,
    files: dict[str, str] | None = None,
    attempts: int = 3,
    first_wait: float = 2.0,
) -> list[Path]:
    """Fetch each of `files` (name -> md5; MNIST_FILES) into `out_dir`, trying `mirrors`
    (MNIST_MIRRORS) in order; return the paths.

    A file already there with the right md5 is kept. When every mirror fails for a file,
    raises DownloadError naming the files to fetch by hand and the folder to put them in.
    """
    out_dir = Path(out_dir)
    mirrors, files = mirrors or MNIST_MIRRORS, files or MNIST_FILES
    paths = []
    for name, md5 in files.items():
        reasons = []
        for mirror in mirrors:
            try:
                download_file(f"{mirror}{name}", md5, out_dir / name, attempts=attempts, first_wait=first_wait)
                paths.append(out_dir / name)
                break
            except DownloadError as error:
                reasons.append(f"{mirror}: {error.reason}")
            except ChecksumError as error:
                reasons.append(f"{mirror}: {error}")
        else:
            wanted = ", ".join(files)
            raise DownloadError(
                f"cannot download {name} from any mirror ({'; '.join(reasons)}); "
                f"fetch {wanted} yourself (from {mirrors[0]}) and put them in {out_dir}",
                "; ".join(reasons),
            )
    return paths


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found")
    data = path.read_bytes()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataFormatError(f"{path}: broken gzip data ({error})") from None
