"""Errors raised while checking and preparing datasets; each message is one line."""


class DataFormatError(ValueError):
    """An archive or annotation file does not match its dataset's format.

    The message reads "<file>:<line>: <what is wrong>" when a line is to blame,
    else "<file>: <what is wrong>".
    """


class ChecksumError(ValueError):
    """An archive's md5 differs from the expected one."""
