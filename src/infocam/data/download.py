"""Downloading a dataset file: md5-checked, atomic, retried with backoff, with a progress bar.

pooch does the transfer (its HTTPDownloader, over requests, with a tqdm bar on stderr)
and the hashing (pooch.file_hash). The retry loop is ours: pooch.retrieve does not retry,
and Pooch.fetch's retry waits 1 s, 2 s, 3 s, ... whatever went wrong, including a wrong
checksum, where downloading 1 GB again only wastes time; its checksum error also leaves
no actual md5 to put in a one-line message.

The transfer goes to a hidden `.<name>.part` file beside the target and is renamed to the
target only once its md5 matches, so a file at the target path is always complete.
"""

import os
import re
import time
from pathlib import Path

import pooch
import requests

from infocam.data.errors import ChecksumError

CHUNK_BYTES = 1 << 20
RETRIED_HTTP_STATUS = {408, 429, 500, 502, 503, 504}


class DownloadError(ValueError):
    """A transfer that failed for good (after its retries); the message says what to fetch by hand.

    A ValueError, like the other bad-input errors, so the command line reports it in one line.
    """

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class _TransferFailed(Exception):
    def __init__(self, reason: str, attempts: int):
        super().__init__(reason)
        self.reason, self.attempts = reason, attempts


def download_file(
    url: str,
    md5: str | None,
    out: Path,
    *,
    dataset: str | None = None,
    attempts: int = 4,
    first_wait: float = 2.0,
    timeout: float = 60.0,
) -> Path:
    """Fetch `url` to `out` unless a file with this md5 is already there; return `out`.

    A failed transfer (connection refused, host unknown, timeout, transfer cut short,
    HTTP 408/429/5xx) is retried up to `attempts` times in all, waiting `first_wait`
    seconds and doubling the wait each time. A wrong md5 or another HTTP error is final.
    Raises ChecksumError (expected and actual md5) or DownloadError (what to fetch by hand,
    and, given `dataset`, which config key points at a copy instead; its own message when the
    server answered with an HTML page); either way nothing is left at `out` or beside it.

    `md5` None is for a file whose md5 nobody has recorded (train-fullsup's CUBV2.tar): it is
    fetched every time, kept unchecked, and a line says so and gives the md5 it has.
    """
    out = Path(out)
    md5 = None if md5 is None else md5.strip().lower()
    if md5 is not None and not re.fullmatch(r"[0-9a-f]{32}", md5):
        raise ValueError(f"md5 '{md5}' is not 32 hex digits")
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    if md5 is not None and out.is_file() and pooch.file_hash(str(out), alg="md5") == md5:
        print(f"{out} is already there (md5 {md5})")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    try:
        _transfer_with_retries(url, part, attempts, first_wait, timeout)
        if _is_html_page(part):
            raise DownloadError(f"the server sent an HTML page, not the archive: {url}; open it in a browser, "
                                f"fetch the file yourself and put it at {out}{_md5_note(md5)}", "HTML page")
        actual = pooch.file_hash(str(part), alg="md5")
        if md5 is None:
            print(f"{url}: no md5 given, so no checksum was checked; the file's md5 is {actual}")
            md5 = actual
        elif actual != md5:
            raise ChecksumError(f"{url}: downloaded file has md5 {actual}, expected {md5}; nothing was kept at {out}")
        os.replace(part, out)
    except _TransferFailed as failed:
        hint = f", or set datasets.{dataset}.source: local and datasets.{dataset}.path to a copy" if dataset else ""
        raise DownloadError(
            f"cannot download {url} ({failed.reason}; {_attempts(failed.attempts)}); "
            f"fetch it yourself and put it at {out}{_md5_note(md5)}{hint}",
            failed.reason,
        ) from None
    finally:
        part.unlink(missing_ok=True)
    print(f"saved {out} (md5 {md5})")
    return out


def _md5_note(md5: str | None) -> str:
    return f" (md5 {md5})" if md5 else ""


HTML_STARTS = (b"<!doctype html", b"<html")


def _is_html_page(path: Path) -> bool:
    """Whether a downloaded file is a web page (a login, landing or error page) rather than data."""
    with open(path, "rb") as stream:
        start = stream.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(HTML_STARTS)


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _transfer_with_retries(url: str, part: Path, attempts: int, first_wait: float, timeout: float) -> None:
    for attempt in range(1, attempts + 1):
        try:
            _transfer(url, part, timeout)
            return
        except requests.RequestException as error:
            reason = _short_reason(error)
            if attempt == attempts or not _worth_retrying(error):
                raise _TransferFailed(reason, attempt) from None
            wait = first_wait * 2 ** (attempt - 1)
            print(f"attempt {attempt} of {attempts} failed ({reason}); retrying in {wait:g} s", flush=True)
            time.sleep(wait)


def _transfer(url: str, part: Path, timeout: float) -> None:
    print(f"downloading {url}", flush=True)
    downloader = pooch.HTTPDownloader(progressbar=True, chunk_size=CHUNK_BYTES, timeout=timeout)
    downloader(url, str(part), None)


def _worth_retrying(error: requests.RequestException) -> bool:
    if isinstance(error, requests.HTTPError):
        return error.response is not None and error.response.status_code in RETRIED_HTTP_STATUS
    return isinstance(error, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))


def _short_reason(error: requests.RequestException) -> str:
    """A few words for a requests error, whose own message is a long nested repr."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}".strip()
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "transfer cut short"
    if isinstance(error, requests.Timeout):
        return "timed out"
    system_error = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    if system_error:
        return system_error.group(1).strip()
    return type(error).__name__
