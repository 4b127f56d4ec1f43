rule train:
    input:
        data="data/prepared/{dataset}",
    output:
        checkpoint=f"results/checkpoints/{{dataset}}/{CELL}.pt",
        history=f"results/train/{{dataset}}/{CELL}/history.csv",
    params:
        resume=f"results/train/{{dataset}}/{CELL}/resume.pt",
        settings=train_settings,
    log:
        f"logs/train/{{dataset}}/{CELL}.log",
    benchmark:
        f"results/benchmarks/train/{{dataset}}/{CELL}.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60 * 24,
        gpu=USES_GPU,
    shell:
        "infocam train --data {input.data} --checkpoint {output.checkpoint}"
        " --history {output.history} --resume {params.resume} --settings {params.settings:q}"
        " --threads {threads} > {log} 2>&1"
