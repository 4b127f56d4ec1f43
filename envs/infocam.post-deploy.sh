#!/usr/bin/env bash
# Run by Snakemake inside the new conda environment: installs this project (editable, so the
# jobs' provenance records hash the repository's code). INFOCAM_PROJECT is set by
# workflow/rules/common.smk to the directory of the Snakefile.
set -euo pipefail
pip install --no-deps -e "${INFOCAM_PROJECT:?set by workflow/rules/common.smk}"
