# DVC records of the raw archives, prepared datasets and checkpoints (infocam.provenance.dvc).
# A localrule: it writes in the project's git and DVC folders, on the machine snakemake runs on.


localrules:
    dvc_track,


rule dvc_track:
    input:
        "{tracked}",
    output:
        "{tracked}.dvc",
    wildcard_constraints:
        tracked=r"(data/raw|data/prepared|results/checkpoints|results/double_digit)/.+",
    params:
        remote=f"--remote {DVC['remote']}" if DVC.get("remote") else "",
    log:
        "logs/dvc/{tracked}.log",
    benchmark:
        "results/benchmarks/dvc/{tracked}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "infocam dvc-track {params.remote} {input} > {log} 2>&1"
