# The softmax paper's MI experiment: one job per (setting, dim) trains every estimator and seed.


rule mi_estimate:
    output:
        "results/mi/{setting}-d{dim}.csv",
    log:
        "logs/mi/{setting}-d{dim}.log",
    benchmark:
        "results/benchmarks/mi/{setting}-d{dim}.tsv"
    wildcard_constraints:
        setting=_alternatives(MI["settings"]),
        dim=r"\d+",
    conda:
        CONDA_ENV
    threads: MI["threads"]
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        settings=mi_settings,
    shell:
        "infocam mi-estimate --setting {wildcards.setting} --dim {wildcards.dim} --settings {params.settings:q}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule mi_table:
    input:
        results=MI_RESULTS,
        published=PUBLISHED,
    output:
        csv=report("results/mi_estimation.csv", caption="../report/mi_estimation.rst", category="softmax paper"),
        md="results/mi_estimation.md",
        provenance="results/mi_estimation.provenance.json",
    log:
        "logs/mi/table.log",
    benchmark:
        "results/benchmarks/mi/table.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "infocam mi-table --published {input.published} --csv {output.csv} --md {output.md}"
        " --provenance {output.provenance} {input.results} > {log} 2>&1"


rule mi_figure:
    input:
        "results/mi_estimation.csv",
    output:
        report("results/figures/mi_estimation.png", caption="../report/mi_figure.rst", category="softmax paper"),
    log:
        "logs/mi/figure.log",
    benchmark:
        "results/benchmarks/mi/figure.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "infocam mi-figure --results {input} --out {output} > {log} 2>&1"
