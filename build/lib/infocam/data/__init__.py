"""Datasets: archives in their native formats -> checked, split, prepared folders.

prepare.prepare_dataset is the entry point (checksum, extraction, parsing, validation,
split); synthetic writes offline stand-in archives in the real formats; images reads
a prepared folder for torch.
"""

from infocam.data.errors import ChecksumError, DataFormatError
from infocam.data.prepare import prepare_dataset
from infocam.data.synthetic import write_cub_archive, write_tiny_archive

__all__ = ["ChecksumError", "DataFormatError", "prepare_dataset", "write_cub_archive", "write_tiny_archive"]
