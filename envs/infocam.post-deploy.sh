#!/usr/bin/env bash
# Run by Snakemake inside the new conda environment: installs infocam from the workflow's own
# repository, which workflow/rules/common.smk puts in INFOCAM_PROJECT: a folder (a clone, or the
# local repository a module points at) is installed editable, so the jobs' provenance records hash
# the repository's code; a git+https URL (a module read from GitHub) at the workflow's ref.
set -euo pipefail
source="${INFOCAM_PROJECT:?set by workflow/rules/common.smk}"
if [ -d "$source" ]; then
    pip install --no-deps -e "$source"
else
    pip install --no-deps "$source"
fi
