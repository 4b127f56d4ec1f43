# DVC records of the raw archives, prepared datasets and checkpoints (infocam.provenance.dvc).
# A localrule: it writes in the project's git and DVC folders, on the machine snakemake runs on.


localrules:
    dvc_track,


rule dvc_track:
    input:
        "{tracked}",
    output:
        "{tracked}.dvc",
    log:
        "logs/dvc/{tracked}.log",
    benchmark:
        "results/benchmarks/dvc/{tracked}.tsv"
    wildcard_constraints:
        tracked=r"(data/raw|data/prepared|results/pretrain|results/checkpoints|results/double_digit)/.+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        remote=f"--remote {DVC['remote']}" if DVC.get("remote") else "",
    shell:
        "infocam dvc-track {params.remote} {input} > {log} 2>&1"


# The claims ledger (infocam.claims): every quantitative claim of the two papers against this run.
rule claims:
    input:
        mi="results/mi_estimation.csv",
        pc_softmax="results/pc_softmax.csv",
        comparison="results/infocam_vs_cam.csv",
        published=PUBLISHED,
        double_digit=DOUBLE_DIGIT_RESULTS,
        wsol2020=["results/infocam_vs_cam_wsol2020.csv"] if WSOL2020_DATASETS else [],
    output:
        csv=report("results/claims.csv", caption="../report/claims.rst", category="claims"),
        md="results/claims.md",
        provenance="results/claims.provenance.json",
    log:
        "logs/tables/claims.log",
    benchmark:
        "results/benchmarks/tables/claims.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        synthetic=" ".join(SYNTHETIC_DATASETS),
        stand_in="--mnist-stand-in" if DIGITS["mnist"]["source"] == "offline" else "",
        wsol2020=lambda wildcards, input: f"--wsol2020 {input.wsol2020}" if input.wsol2020 else "",
    shell:
        "infocam claims --mi {input.mi} --pc-softmax {input.pc_softmax} --comparison {input.comparison}"
        " --published {input.published} --double-digit {input.double_digit} --synthetic {params.synthetic}"
        " {params.stand_in} {params.wsol2020} --csv {output.csv} --md {output.md}"
        " --provenance {output.provenance} > {log} 2>&1"


# Every .dvc file of the config (rule all); here, once every rule file that names a tracked path is read.
DVC_TARGETS = sorted(set(dataset_dvc_records(DATASETS) + DIGITS_DVC_RECORDS))
