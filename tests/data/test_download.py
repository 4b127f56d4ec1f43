"""Downloads against a local HTTP server, existing copies on disk, and real-format validation.

The server runs on 127.0.0.1 in a thread and serves archives the tests build in the real
CUB-200-2011 and Tiny-ImageNet layouts; nothing here touches the network.
"""

import hashlib
import json
import os
import socket
import subprocess
import tarfile
import threading
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SNAKEFILE, SNAKEMAKE
from infocam import cli
from infocam.data import DataFormatError, download, prepare_dataset
from infocam.data.archives import extract_archive
from infocam.data.download import DownloadError, download_file
from infocam.data.prepare import prepare_extracted
from infocam.data.synthetic import (FullsupSettings, SyntheticSettings, fullsup_metadata_folder, write_cub_archive,
                                    write_fullsup_archive, write_tiny_archive)

SPLITS = ("train", "val", "test")
TABLES = ("train.csv", "val.csv", "test.csv", "boxes.csv", "classes.csv")


class Server:
    """Files served by path; some paths answer with error statuses first or cut the transfer short."""

    def __init__(self):
        self.files = {}
        self.statuses = {}  # path -> statuses to answer, in order, before serving the file
        self.cut_short = set()  # paths whose body stops half-way through the announced length
        self.requests = Counter()
        self.base = ""

    def url(self, path):
        return f"{self.base}{path}"


def handler_for(server):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            server.requests[self.path] += 1
            if server.statuses.get(self.path):
                self.send_error(server.statuses[self.path].pop(0))
                return
            if self.path not in server.files:
                self.send_error(404)
                return
            data = server.files[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if self.path in server.cut_short else data)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def server():
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def waits(monkeypatch):
    """The backoff waits, recorded instead of slept."""
    recorded = []
    monkeypatch.setattr(download.time, "sleep", recorded.append)
    return recorded


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def md5_of(data):
    return hashlib.md5(data).hexdigest()


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*") if not path.is_dir())


def write_archive(fmt, path):
    """A small synthetic archive in the real layout; returns its md5."""
    if fmt == "cub":
        return write_cub_archive(
            path, n_classes=2, train_per_class=2, test_per_class=4, seed=0, min_size=40, max_size=56
        )
    return write_tiny_archive(path, n_classes=2, train_per_class=2, val_per_class=4, seed=0, test_images=1)


ARCHIVES = {"cub": "CUB_200_2011.tgz", "tiny": "tiny-imagenet-200.zip"}
COUNTS = {"cub": {"images": 12, "classes": 2, "train": 4, "test": 8}, "tiny": {"train": 4, "val": 8, "classes": 2}}


def serve_archive(server, tmp_path, fmt):
    """Build the archive for `fmt`, serve it; return (url, md5, bytes)."""
    built = tmp_path / "built" / ARCHIVES[fmt]
    md5 = write_archive(fmt, built)
    server.files[f"/files/{built.name}"] = built.read_bytes()
    return server.url(f"/files/{built.name}"), md5, built.read_bytes()


FULLSUP_NAMES = ("image_ids", "image_sizes", "localization", "class_labels")


def serve_fullsup(server, tmp_path):
    """A synthetic CUBV2 tar (2 images per class of write_archive's CUB) and its four metadata files,
    served as the real ones are; return the config's datasets.cub.fullsup for them."""
    tar = tmp_path / "built" / "CUBV2.tar"
    cub = SyntheticSettings(n_classes=2, train_per_class=2, heldout_per_class=4, seed=0, min_size=40, max_size=56)
    write_fullsup_archive(tar, cub, FullsupSettings(per_class=2, seed=0))
    server.files["/onedrive/CUBV2.tar"] = tar.read_bytes()
    md5s = {}
    for name in FULLSUP_NAMES:
        data = (fullsup_metadata_folder(tar) / f"{name}.txt").read_bytes()
        server.files[f"/metadata/CUB/val/{name}.txt"] = data
        md5s[name] = md5_of(data)
    return {"source": "url", "url": server.url("/onedrive/CUBV2.tar"), "archive": "CUBV2.tar", "md5": None,
            "metadata": server.url("/metadata/CUB/val"), "metadata_md5": md5s}


def split_sizes(prepared):
    return {split: len((prepared / f"{split}.csv").read_text().splitlines()) - 1 for split in SPLITS}


# --- download -> verify -> extract -> parse -> split -------------------------


@pytest.mark.parametrize("fmt", ["cub", "tiny"])
def test_served_archive_is_downloaded_verified_and_prepared(tmp_path, server, fmt):
    url, md5, data = serve_archive(server, tmp_path, fmt)
    raw = tmp_path / "data" / "raw" / fmt / ARCHIVES[fmt]
    download_file(url, md5, raw, dataset=fmt, first_wait=0)
    assert raw.read_bytes() == data and files_under(raw.parent) == [raw.name]
    prepared = tmp_path / "data" / "prepared" / fmt
    prepare_dataset(raw, fmt, md5, prepared, expected=COUNTS[fmt])
    assert split_sizes(prepared) == {"train": 4, "val": 4, "test": 4}  # 4 held out per class: 2 val, 2 test
    assert server.requests == {f"/files/{raw.name}": 1}


def test_a_file_already_there_is_kept_and_a_stale_one_replaced(tmp_path, server):
    url, md5, data = serve_archive(server, tmp_path, "tiny")
    out = tmp_path / "raw" / "tiny-imagenet-200.zip"
    out.parent.mkdir()
    out.write_bytes(b"an older, different file")
    download_file(url, md5, out, first_wait=0)
    assert out.read_bytes() == data
    download_file(url, md5, out, first_wait=0)
    assert sum(server.requests.values()) == 1


def test_workflow_downloads_and_prepares_both_datasets(tmp_path, server):
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    config["device"] = "cpu"  # this machine has no GPU, and a local run checks for one up front
    for fmt in ("cub", "tiny"):
        url, md5, _ = serve_archive(server, tmp_path, fmt)
        config["datasets"][fmt].update(url=url, md5=md5, expected=COUNTS[fmt])
    config["datasets"]["cub"]["fullsup"] = serve_fullsup(server, tmp_path)
    configfile = tmp_path / "served.yaml"
    configfile.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    result = subprocess.run(
        [*SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(work), "--cores", "1",
         "data/prepared/cub", "data/prepared/tiny", "--configfile", str(configfile)],
        capture_output=True, text=True, env=os.environ,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for fmt in ("cub", "tiny"):
        assert split_sizes(work / "data" / "prepared" / fmt) == {"train": 4, "val": 4, "test": 4}
        log = work / "logs" / "download" / fmt / f"{ARCHIVES[fmt]}.log"
        assert f"saved data/raw/{fmt}/{ARCHIVES[fmt]}" in log.read_text()
    assert files_under(work / "data" / "raw" / "tiny") == [ARCHIVES["tiny"]]
    assert files_under(work / "data" / "raw" / "cub") == sorted(
        [ARCHIVES["cub"], "CUBV2.tar"] + [f"CUBV2.tar.metadata/{name}.txt" for name in FULLSUP_NAMES])
    # train-fullsup: the CUBV2 tar has no known md5, which the download and preparation say
    assert "no md5 given, so no checksum was checked" in (work / "logs/download/cub/CUBV2.tar.log").read_text()
    assert "no checksum was checked" in (work / "logs/prepare/cub.log").read_text()
    fullsup = (work / "data/prepared/cub/fullsup.csv").read_text().splitlines()
    assert len(fullsup) == 1 + 4 and fullsup[1].startswith("1000001,images/fullsup/001.")
    record = json.loads((work / "data/prepared/cub/source.json").read_text())["fullsup"]
    assert record["md5_checked"] is False and record["md5"] == md5_of(server.files["/onedrive/CUBV2.tar"])
    assert sum(server.requests.values()) == 2 + 1 + 4


def test_served_fullsup_is_downloaded_and_prepared_and_a_wrong_metadata_md5_keeps_nothing(tmp_path, server, capsys):
    url, md5, _ = serve_archive(server, tmp_path, "cub")
    fullsup = serve_fullsup(server, tmp_path)
    raw = tmp_path / "data" / "raw" / "cub"
    assert cli.main(["download", "--url", url, "--md5", md5, "--out", str(raw / "CUB_200_2011.tgz")]) == 0
    assert cli.main(["download", "--url", fullsup["url"], "--no-md5", "--out", str(raw / "CUBV2.tar")]) == 0
    assert "no md5 given, so no checksum was checked; the file's md5 is" in capsys.readouterr().out
    metadata = raw / "CUBV2.tar.metadata"
    for name in FULLSUP_NAMES:
        argv = ["download", "--url", f"{fullsup['metadata']}/{name}.txt", "--md5", fullsup["metadata_md5"][name],
                "--out", str(metadata / f"{name}.txt")]
        assert cli.main(argv) == 0
    out = tmp_path / "data" / "prepared" / "cub"
    checks = [f"--fullsup-metadata-md5={name}={value}" for name, value in fullsup["metadata_md5"].items()]
    argv = ["prepare", "--format", "cub", "--archive", str(raw / "CUB_200_2011.tgz"), "--md5", md5,
            "--fullsup", str(raw / "CUBV2.tar"), "--fullsup-metadata", str(metadata), *checks, "--out", str(out)]
    assert cli.main(argv) == 0
    assert len((out / "fullsup.csv").read_text().splitlines()) == 1 + 4
    assert json.loads((out / "source.json").read_text())["fullsup"]["metadata_md5"] == fullsup["metadata_md5"]

    # a metadata file whose md5 is not the recorded one: one line, no file kept, and prepare refuses it too
    wrong = "0" * 32
    target = tmp_path / "again" / "localization.txt"
    argv = ["download", "--url", f"{fullsup['metadata']}/localization.txt", "--md5", wrong, "--out", str(target)]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert error == (f"infocam download: error: {fullsup['metadata']}/localization.txt: downloaded file has md5 "
                     f"{fullsup['metadata_md5']['localization']}, expected {wrong}; nothing was kept at {target}")
    assert files_under(tmp_path / "again") == []
    again = tmp_path / "prepared_again"
    bad = ["prepare", "--format", "cub", "--archive", str(raw / "CUB_200_2011.tgz"), "--md5", md5,
           "--fullsup", str(raw / "CUBV2.tar"), "--fullsup-metadata", str(metadata),
           f"--fullsup-metadata-md5=localization={wrong}", "--out", str(again)]
    assert cli.main(bad) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"infocam prepare: error: {metadata / 'localization.txt'}: md5 is {fullsup['metadata_md5']['localization']}, "
        f"expected {wrong}"]
    assert not again.exists() and not list(tmp_path.glob(".prepared_again*"))


# --- bad downloads -----------------------------------------------------------


def test_corrupted_archive_names_both_checksums_and_keeps_nothing(tmp_path, server, capsys):
    url, md5, data = serve_archive(server, tmp_path, "cub")
    corrupted = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    server.files["/files/CUB_200_2011.tgz"] = corrupted
    out = tmp_path / "raw" / "CUB_200_2011.tgz"

    assert cli.main(["download", "--url", url, "--md5", md5, "--out", str(out), "--dataset", "cub"]) == 1
    message = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert message == (
        f"infocam download: error: {url}: downloaded file has md5 {md5_of(corrupted)}, expected {md5}; "
        f"nothing was kept at {out}"
    )
    assert files_under(out.parent) == []
    assert server.requests["/files/CUB_200_2011.tgz"] == 1  # a wrong checksum is not a transfer error: no retry


def test_an_html_page_instead_of_the_archive_gets_its_own_line(tmp_path, server, capsys):
    """A repository that answers a file link with its landing page: named as such, not as an md5 mismatch."""
    page = b"\n  <!DOCTYPE html>\n<html><head><title>CaltechDATA</title></head><body>Files</body></html>\n"
    server.files["/records/65de6-vp158/files/CUB_200_2011.tgz?download=1"] = page
    url = server.url("/records/65de6-vp158/files/CUB_200_2011.tgz?download=1")
    out = tmp_path / "raw" / "CUB_200_2011.tgz"

    assert cli.main(["download", "--url", url, "--md5", "97eceeb196236b17998738112f37df78", "--out", str(out)]) == 1
    message = capsys.readouterr().err.splitlines()[-1]
    assert message.startswith(f"infocam download: error: the server sent an HTML page, not the archive: {url};")
    assert files_under(out.parent) == []


def test_transfer_cut_short_is_retried_then_fails_cleanly(tmp_path, server, waits):
    url, md5, _ = serve_archive(server, tmp_path, "tiny")
    server.cut_short.add("/files/tiny-imagenet-200.zip")
    out = tmp_path / "raw" / "tiny-imagenet-200.zip"
    with pytest.raises(DownloadError) as caught:
        download_file(url, md5, out, dataset="tiny", attempts=3, first_wait=1.5)
    assert str(caught.value) == (
        f"cannot download {url} (transfer cut short; 3 attempts); fetch it yourself and put it at {out} "
        f"(md5 {md5}), or set datasets.tiny.source: local and datasets.tiny.path to a copy"
    )
    assert server.requests["/files/tiny-imagenet-200.zip"] == 3
    assert waits == [1.5, 3.0]  # doubling backoff between attempts
    assert files_under(out.parent) == []


def test_server_errors_are_retried_until_the_file_comes(tmp_path, server, waits):
    url, md5, data = serve_archive(server, tmp_path, "cub")
    server.statuses["/files/CUB_200_2011.tgz"] = [503, 502]
    out = tmp_path / "CUB_200_2011.tgz"
    download_file(url, md5, out, first_wait=2)
    assert out.read_bytes() == data
    assert server.requests["/files/CUB_200_2011.tgz"] == 3 and waits == [2, 4]


def test_missing_file_is_not_retried(tmp_path, server, waits):
    out = tmp_path / "CUB_200_2011.tgz"
    url = server.url("/nowhere/CUB_200_2011.tgz")
    with pytest.raises(DownloadError, match=r"\(HTTP 404 Not Found; 1 attempt\); fetch it yourself") as caught:
        download_file(url, "0" * 32, out)
    assert caught.value.reason == "HTTP 404 Not Found"
    assert server.requests["/nowhere/CUB_200_2011.tgz"] == 1 and waits == []


def test_offline_download_prints_one_line_saying_what_to_fetch_and_where(tmp_path, waits, capsys):
    url = f"http://127.0.0.1:{closed_port()}/tiny-imagenet-200.zip"
    out = tmp_path / "data" / "raw" / "tiny" / "tiny-imagenet-200.zip"
    md5 = "90528d7ca1a48142e341f4ef8d21d0de"
    argv = ["download", "--url", url, "--md5", md5, "--out", str(out), "--dataset", "tiny", "--attempts", "2"]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"infocam download: error: cannot download {url} (Connection refused; 2 attempts); "
        f"fetch it yourself and put it at {out} (md5 {md5}), or set datasets.tiny.source: local and datasets.tiny.path to a copy\n"
    )
    assert "attempt 1 of 2 failed (Connection refused); retrying in 2 s" in captured.out
    assert waits == [2.0] and files_under(tmp_path) == []


def test_bad_md5_argument_is_refused_before_any_transfer(tmp_path, server):
    with pytest.raises(ValueError, match="md5 'abc' is not 32 hex digits"):
        download_file(server.url("/x"), "abc", tmp_path / "x")
    assert sum(server.requests.values()) == 0


# --- an archive missing an annotation file -----------------------------------


def rewrite_without(archive, member, out):
    """Copy a tgz or zip archive without one member."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(out, "w") as target:
            for info in source.infolist():
                if info.filename != member:
                    target.writestr(info, source.read(info))
    else:
        with tarfile.open(archive) as source, tarfile.open(out, "w:gz") as target:
            for info in source:
                if info.name != member:
                    target.addfile(info, source.extractfile(info) if info.isfile() else None)
    return out


@pytest.mark.parametrize(
    "fmt, member",
    [("cub", "CUB_200_2011/image_class_labels.txt"), ("tiny", "tiny-imagenet-200/val/val_annotations.txt")],
)
def test_served_archive_missing_an_annotation_file_names_it(tmp_path, server, fmt, member):
    built = tmp_path / "built" / ARCHIVES[fmt]
    write_archive(fmt, built)
    broken = rewrite_without(built, member, tmp_path / ARCHIVES[fmt])
    server.files["/broken"] = broken.read_bytes()
    raw = tmp_path / "raw" / ARCHIVES[fmt]
    download_file(server.url("/broken"), md5_of(broken.read_bytes()), raw)
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    with pytest.raises(DataFormatError) as caught:
        prepare_dataset(raw, fmt, md5_of(broken.read_bytes()), prepared / fmt)
    assert str(caught.value) == f"{member}: missing from the archive"
    assert list(prepared.iterdir()) == []


# --- existing copies ---------------------------------------------------------


@pytest.mark.parametrize("fmt", ["cub", "tiny"])
def test_extracted_copy_gives_the_same_tables_and_links_its_images(tmp_path, fmt):
    archive = tmp_path / ARCHIVES[fmt]
    md5 = write_archive(fmt, archive)
    shared = tmp_path / "shared"
    extract_archive(archive, shared)
    before = files_under(shared)
    prepare_dataset(archive, fmt, md5, tmp_path / "from_archive")
    top = shared / ("CUB_200_2011" if fmt == "cub" else "tiny-imagenet-200")
    for name, folder in [("from_parent", shared), ("from_top", top)]:
        prepare_extracted(folder, fmt, tmp_path / name, expected=COUNTS[fmt])
        for table in TABLES:
            assert (tmp_path / name / table).read_bytes() == (tmp_path / "from_archive" / table).read_bytes()
        links = list((tmp_path / name / "images").iterdir())
        assert links and all(link.is_symlink() and link.resolve().is_relative_to(top.resolve()) for link in links)
        first = (tmp_path / name / "test.csv").read_text().splitlines()[1].split(",")[1]
        assert (tmp_path / name / first).is_file()
    assert files_under(shared) == before


def test_folder_without_the_dataset_is_refused_and_nothing_is_made(tmp_path):
    empty = tmp_path / "datasets"
    (empty / "something_else").mkdir(parents=True)
    out = tmp_path / "prepared" / "cub"
    with pytest.raises(DataFormatError) as caught:
        prepare_extracted(empty, "cub", out)
    assert str(caught.value) == f"{empty}: expected one images.txt at the top or in a top-level folder, found none"
    assert list(out.parent.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="no such folder"):
        prepare_extracted(tmp_path / "missing", "cub", out)


def test_cli_prepares_an_extracted_copy_and_checks_its_options(tmp_path, capsys):
    archive = tmp_path / "CUB_200_2011.tgz"
    md5 = write_archive("cub", archive)
    extract_archive(archive, tmp_path / "shared")
    out = tmp_path / "prepared"
    assert cli.main(["prepare", "--format", "cub", "--extracted", str(tmp_path / "shared"), "--out", str(out)]) == 0
    assert split_sizes(out) == {"train": 4, "val": 4, "test": 4}

    assert cli.main(["prepare", "--format", "cub", "--archive", str(archive), "--out", str(out)]) == 1
    assert capsys.readouterr().err == "infocam prepare: error: --archive needs --md5 or --md5-file\n"
    argv = ["prepare", "--format", "cub", "--extracted", str(tmp_path / "shared"), "--md5", md5, "--out", str(out)]
    assert cli.main(argv) == 1
    assert "--extracted reads a folder as it is" in capsys.readouterr().err


# --- validation details of the real formats ----------------------------------


def extracted_tiny(tmp_path):
    archive = tmp_path / "tiny.zip"
    write_tiny_archive(archive, n_classes=2, train_per_class=2, val_per_class=2, seed=3, test_images=0)
    extract_archive(archive, tmp_path / "copy")
    return tmp_path / "copy" / "tiny-imagenet-200"


def edit_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def boxes_of(prepared, image_id):
    rows = [line.split(",") for line in (prepared / "boxes.csv").read_text().splitlines()[1:]]
    return [tuple(float(v) for v in row[1:]) for row in rows if row[0] == image_id]


def test_one_pixel_wide_box_at_the_edge_is_kept(tmp_path):
    # real Tiny-ImageNet has lines such as `n04507155_399.JPEG 63 47 63 63`
    root = extracted_tiny(tmp_path)
    wnid = (root / "wnids.txt").read_text().split()[0]
    edit_line(root / "train" / wnid / f"{wnid}_boxes.txt", 1, f"{wnid}_0.JPEG\t63\t47\t63\t63")
    prepare_extracted(root, "tiny", tmp_path / "out")
    assert boxes_of(tmp_path / "out", f"{wnid}_0.JPEG") == [(63.0, 47.0, 63.0, 63.0)]


def test_inverted_box_names_file_and_line(tmp_path):
    root = extracted_tiny(tmp_path)
    wnid = (root / "wnids.txt").read_text().split()[0]
    edit_line(root / "train" / wnid / f"{wnid}_boxes.txt", 2, f"{wnid}_1.JPEG\t40\t5\t10\t20")
    with pytest.raises(DataFormatError) as caught:
        prepare_extracted(root, "tiny", tmp_path / "out")
    assert str(caught.value) == (
        f"tiny-imagenet-200/train/{wnid}/{wnid}_boxes.txt:2: box (40, 5, 10, 20) is inverted (x0 > x1 or y0 > y1)"
    )


def test_image_with_several_boxes_keeps_all_of_them(tmp_path):
    root = extracted_tiny(tmp_path)
    annotations = root / "val" / "val_annotations.txt"
    first = annotations.read_text().splitlines()[0].split("\t")
    with open(annotations, "a") as stream:
        stream.write("\t".join([first[0], first[1], "1", "2", "30", "40"]) + "\n")
    prepare_extracted(root, "tiny", tmp_path / "out")
    assert boxes_of(tmp_path / "out", first[0]) == [tuple(float(v) for v in first[2:]), (1.0, 2.0, 30.0, 40.0)]
    held_out = [(tmp_path / "out" / f"{split}.csv").read_text().splitlines() for split in ("val", "test")]
    assert [line.split(",")[0] for lines in held_out for line in lines].count(first[0]) == 1


def test_listed_image_that_is_missing_from_the_copy_names_the_line(tmp_path):
    root = extracted_tiny(tmp_path)
    name = (root / "val" / "val_annotations.txt").read_text().splitlines()[1].split("\t")[0]
    (root / "val" / "images" / name).unlink()
    with pytest.raises(DataFormatError) as caught:
        prepare_extracted(root, "tiny", tmp_path / "out")
    assert str(caught.value) == (
        f"tiny-imagenet-200/val/val_annotations.txt:2: image 'val/images/{name}' does not exist"
    )
