"""MNIST's IDX format (read, write) and the mirror-by-mirror download against a local server."""

import gzip
import struct

import numpy as np
import pytest

from infocam import cli
from infocam.data import mnist
from infocam.data.errors import DataFormatError
from infocam.data.mnist import download_mnist, read_idx, write_idx
from test_download import md5_of, no_proxy, server, waits  # noqa: F401  (fixtures)


def test_reads_a_hand_built_mnist_style_file(tmp_path):
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 3, 4) + pixels.tobytes()
    (tmp_path / "images-idx3-ubyte").write_bytes(raw)
    (tmp_path / "images-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    for name in ("images-idx3-ubyte", "images-idx3-ubyte.gz"):
        images = read_idx(tmp_path / name)
        assert images.dtype == np.uint8 and images.shape == (2, 3, 4)
        assert np.array_equal(images, pixels)


def test_reads_big_endian_elements(tmp_path):
    raw = b"\x00\x00\x0c\x01" + struct.pack(">I", 3) + struct.pack(">3i", 1, -2, 70000)
    (tmp_path / "values.idx").write_bytes(raw)
    values = read_idx(tmp_path / "values.idx")
    assert values.tolist() == [1, -2, 70000] and values.dtype == np.int32 and values.dtype.isnative


def test_writes_the_documented_header(tmp_path):
    write_idx(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8), tmp_path / "a.idx")
    header = b"\x00\x00\x08\x02" + struct.pack(">2I", 2, 3)
    assert (tmp_path / "a.idx").read_bytes() == header + bytes([1, 2, 3, 4, 5, 6])
    write_idx(np.array([1.5], dtype=np.float32), tmp_path / "b.idx")
    assert (tmp_path / "b.idx").read_bytes() == b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + struct.pack(">f", 1.5)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", ">i2", "int32", "float32", "float64"])
def test_write_then_read_gives_the_array_back(tmp_path, dtype):
    array = (np.arange(60).reshape(3, 4, 5) - 20).astype(dtype)
    write_idx(array, tmp_path / "x.idx.gz")
    back = read_idx(tmp_path / "x.idx.gz")
    assert back.shape == array.shape and back.dtype == array.dtype.newbyteorder("=")
    assert np.array_equal(back, array)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.idx.gz"]


def test_gzipped_output_is_byte_identical_for_equal_arrays(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    write_idx(array, tmp_path / "a.gz")
    write_idx(array.copy(), tmp_path / "b.gz")
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc", "11 bytes, expected 13 for shape 5 of uint8"),
        (b"\x00\x00\x08\x02\x00\x00", "IDX header for 2 dimensions is incomplete"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"a", "unknown IDX element type 0x07"),
        (b"PK\x03\x04rest", "not an IDX file (starts with 504b0304)"),
        (b"\x1f\x8b\x08\x00broken", "broken gzip data"),
    ],
)
def test_broken_files_are_named_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as caught:
        read_idx(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_unsupported_arrays_are_refused_and_nothing_written(tmp_path):
    with pytest.raises(ValueError, match=r"cannot store int64 as IDX \(supported: uint8, int8, int16"):
        write_idx(np.zeros(3, dtype=np.int64), tmp_path / "a.idx")
    with pytest.raises(ValueError, match="IDX holds 1 to 255 dimensions, the array has 0"):
        write_idx(np.uint8(3), tmp_path / "b.idx")
    assert list(tmp_path.iterdir()) == []


# --- download ------------------------------------------------------------------


def serve_mnist_like(server, tmp_path, mirror="/good/"):
    """Four small IDX files under the MNIST names, served under `mirror`; returns {name: md5}, {name: array}."""
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    md5s = {}
    (tmp_path / "built").mkdir(exist_ok=True)
    for name, array in arrays.items():
        write_idx(array, tmp_path / "built" / name)
        data = (tmp_path / "built" / name).read_bytes()
        server.files[f"{mirror}{name}"] = data
        md5s[name] = md5_of(data)
    return md5s, arrays


def test_the_table_names_the_four_files_with_md5s():
    assert set(mnist.MNIST_FILES) == {
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    }
    assert all(len(md5) == 32 and int(md5, 16) >= 0 for md5 in mnist.MNIST_FILES.values())
    assert mnist.MNIST_MIRRORS[0].startswith("https://")


def test_mirrors_are_tried_in_order(tmp_path, server, waits):
    md5s, arrays = serve_mnist_like(server, tmp_path)
    mirrors = (server.url("/gone/"), server.url("/good/"))
    paths = download_mnist(tmp_path / "mnist", mirrors=mirrors, files=md5s, first_wait=0)
    assert [p.name for p in paths] == list(md5s)
    for name, array in arrays.items():
        assert np.array_equal(read_idx(tmp_path / "mnist" / name), array)
        assert server.requests[f"/gone/{name}"] == 1 and server.requests[f"/good/{name}"] == 1
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(md5s)


def test_a_mirror_with_a_wrong_file_is_passed_over(tmp_path, server, waits):
    md5s, arrays = serve_mnist_like(server, tmp_path)
    name = "t10k-labels-idx1-ubyte.gz"
    server.files[f"/stale/{name}"] = b"not the file"
    mirrors = (server.url("/stale/"), server.url("/good/"))
    paths = download_mnist(tmp_path / "mnist", mirrors=mirrors, files={name: md5s[name]})
    assert paths == [tmp_path / "mnist" / name]
    assert np.array_equal(read_idx(paths[0]), arrays[name])


def test_cli_fails_in_one_line_when_no_mirror_has_the_files(tmp_path, server, waits, monkeypatch, capsys):
    md5s, _ = serve_mnist_like(server, tmp_path)
    monkeypatch.setattr(mnist, "MNIST_FILES", md5s)
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (server.url("/a/"), server.url("/b/")))
    out = tmp_path / "data" / "raw" / "mnist"
    assert cli.main(["download-mnist", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error == (
        f"infocam download-mnist: error: cannot download train-images-idx3-ubyte.gz from any mirror "
        f"({server.url('/a/')}: HTTP 404 Not Found; {server.url('/b/')}: HTTP 404 Not Found); "
        f"fetch {', '.join(md5s)} yourself (from {server.url('/a/')}) and put them in {out}\n"
    )
    assert not any(path.is_file() for path in tmp_path.joinpath("data").rglob("*"))


def test_cli_downloads_the_four_files(tmp_path, server, waits, monkeypatch, capsys):
    md5s, _ = serve_mnist_like(server, tmp_path)
    monkeypatch.setattr(mnist, "MNIST_FILES", md5s)
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (server.url("/good/"),))
    out = tmp_path / "mnist"
    assert cli.main(["download-mnist", "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-4:] == [str(out / name) for name in md5s]
    assert read_idx(out / "train-images-idx3-ubyte.gz").shape == (6, 28, 28)
