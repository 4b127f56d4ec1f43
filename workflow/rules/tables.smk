rule table:
    input:
        summaries=lambda wildcards: summaries(TABLE_DATASETS[wildcards.table]),
        per_image=lambda wildcards: per_image_records(TABLE_DATASETS[wildcards.table]),  # read beside each summary
        published=PUBLISHED,
        dvc=lambda wildcards: dataset_dvc_records(TABLE_DATASETS[wildcards.table]),
    output:
        csv=report("results/{table}.csv", caption="../report/wsol_table.rst", category="infoCAM paper"),
        md="results/{table}.md",
        provenance="results/{table}.provenance.json",
    log:
        "logs/tables/{table}.log",
    benchmark:
        "results/benchmarks/tables/{table}.tsv"
    wildcard_constraints:
        table="table1|table3|table4|table5|table6",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "infocam table --table {wildcards.table} --published {input.published} --csv {output.csv}"
        " --md {output.md} --provenance {output.provenance} {input.summaries} > {log} 2>&1"


rule infocam_vs_cam:
    input:
        summaries=summaries(TABLE_DATASETS["table1"]),
        per_image=per_image_records(TABLE_DATASETS["table1"]),  # read beside each summary
        dvc=dataset_dvc_records(TABLE_DATASETS["table1"]),
    output:
        csv=report("results/infocam_vs_cam.csv", caption="../report/infocam_vs_cam.rst", category="infoCAM paper"),
        provenance="results/infocam_vs_cam.provenance.json",
    log:
        "logs/tables/infocam_vs_cam.log",
    benchmark:
        "results/benchmarks/tables/infocam_vs_cam.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "infocam compare-cams --csv {output.csv} --provenance {output.provenance} {input.summaries} > {log} 2>&1"
