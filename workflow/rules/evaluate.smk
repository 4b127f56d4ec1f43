rule evaluate:
    input:
        data="data/prepared/{dataset}",
        checkpoint=f"results/checkpoints/{{dataset}}/{CELL}.pt",
    output:
        per_image=f"results/eval/{{dataset}}/{CELL}/per_image.csv.gz",
        summary=f"results/eval/{{dataset}}/{CELL}/summary.json",
    log:
        f"logs/evaluate/{{dataset}}/{CELL}.log",
    benchmark:
        f"results/benchmarks/evaluate/{{dataset}}/{CELL}.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=USES_GPU,
    params:
        settings=evaluate_settings,
    shell:
        "infocam evaluate --data {input.data} --checkpoint {input.checkpoint} --settings {params.settings:q}"
        " --threads {threads} --per-image {output.per_image} --summary {output.summary} > {log} 2>&1"


rule wsol_figure:
    input:
        data="data/prepared/{dataset}",
        checkpoint=figure_checkpoint,
    output:
        report("results/figures/{kind}_{dataset}.png", caption="../report/wsol_figure.rst", category="infoCAM paper"),
    log:
        "logs/figures/{kind}_{dataset}.log",
    benchmark:
        "results/benchmarks/figures/{kind}_{dataset}.tsv"
    wildcard_constraints:
        kind="wsol|family",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        settings=figure_settings,
        family=lambda wildcards: "--family" if wildcards.kind == "family" else "",
    shell:
        "infocam wsol-figure --data {input.data} --checkpoint {input.checkpoint} --settings {params.settings:q}"
        " {params.family} --out {output} > {log} 2>&1"
