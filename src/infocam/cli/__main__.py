"""`python -m infocam.cli`: the same as the `infocam` command."""

import sys

from infocam.cli import run

sys.exit(run())
