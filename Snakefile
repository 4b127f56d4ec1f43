# infocam: rebuilds the tables of Qin, Kim & Gedeon's softmax/infoCAM papers from raw data.
# Usage: snakemake results/table1.csv          (offline default, config/config.yaml)
#        snakemake results/table1.csv --configfile config/paper.yaml

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
include: "workflow/rules/mi.smk"
include: "workflow/rules/digits.smk"
include: "workflow/rules/provenance.smk"


rule all:
    input:
        ALL_TABLES,
        MI_TARGETS,
        DIGITS_TARGETS,
        DVC_TARGETS,
    default_target: True
