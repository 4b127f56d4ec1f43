"""Shared test set-up: the venv's commands (snakemake, infocam) come first on PATH."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
TINY = ROOT / ".test" / "config" / "config.yaml"  # the tiny config the suite and the catalog's checks run
VENV_BIN = Path(sys.executable).parent
os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
