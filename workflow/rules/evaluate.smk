rule evaluate:
    input:
        data="data/prepared/{dataset}",
        checkpoint=f"results/checkpoints/{{dataset}}/{CELL}.pt",
    output:
        per_image=f"results/eval/{{dataset}}/{CELL}/per_image.csv.gz",
        summary=f"results/eval/{{dataset}}/{CELL}/summary.json",
    params:
        settings=evaluate_settings,
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
    shell:
        "infocam evaluate --data {input.data} --checkpoint {input.checkpoint} --settings {params.settings:q}"
        " --threads {threads} --per-image {output.per_image} --summary {output.summary} > {log} 2>&1"
