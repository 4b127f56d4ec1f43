# infocam: rebuilds the tables of Qin, Kim & Gedeon's softmax/infoCAM papers from raw data.
# Usage: snakemake --cores 2 results/table1.csv     (offline default, config/config.yaml)
#        snakemake --cores 2 wsol_tables | mi | digits | all
#        snakemake --cores 8 --configfile config/paper.yaml [overlay.yaml ...]

import os

from snakemake.utils import min_version

min_version("9.0")


# A --configfile given on the command line replaces the default instead of being merged
# into it, so a config never inherits datasets or keys it does not list.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/protocol2020.smk"
include: "workflow/rules/mi.smk"
include: "workflow/rules/digits.smk"
include: "workflow/rules/provenance.smk"


# Named targets (snakemake --list-target-rules): one per experiment, and everything.
rule wsol_tables:
    input:
        WSOL_TARGETS,
        WSOL2020_TARGETS,


rule mi:
    input:
        MI_TARGETS,


rule digits:
    input:
        DIGITS_TARGETS,


rule all:
    input:
        rules.wsol_tables.input,
        rules.mi.input,
        rules.digits.input,
        CLAIMS_TARGETS,
        DVC_TARGETS,
    default_target: True
