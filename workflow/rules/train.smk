rule train:
    input:
        data="data/prepared/{dataset}",
        decoded=lambda wildcards: decoded_images(wildcards.dataset),
        init=lambda wildcards: pretrained_checkpoint(wildcards.backbone),
    output:
        checkpoint=f"results/checkpoints/{{dataset}}/{CELL}.pt",
        history=f"results/train/{{dataset}}/{CELL}/history.csv",
        # the checkpoints the 2020 protocol chooses among (wsol2020.kept_epochs), in epochs/ beside it
        snapshots=f"results/train/{{dataset}}/{CELL}/snapshots.json",
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
    params:
        resume=f"results/train/{{dataset}}/{CELL}/resume.pt",
        settings=train_settings,
        decoded=decoded_option,
        snapshot_epochs=lambda wildcards: " ".join(
            map(str, jobs.snapshot_epochs_of(config, wildcards.dataset, wildcards.backbone))
        ),
    shell:
        "infocam train --data {input.data} --checkpoint {output.checkpoint}"
        " --history {output.history} --resume {params.resume} --settings {params.settings:q}"
        " --snapshots {output.snapshots} --snapshot-epochs {params.snapshot_epochs}"
        " {params.decoded} --threads {threads} > {log} 2>&1"


# The synthetic stand-in for ImageNet pretraining (config key pretraining): one run per backbone on
# a corpus of other classes; every cell of that backbone starts from its weights (fc excepted).
rule pretrain:
    input:
        data=f"data/prepared/{PRETRAIN_DATASET}",
        decoded=decoded_images(PRETRAIN_DATASET),
    output:
        checkpoint="results/pretrain/{backbone}.pt",
        history="results/pretrain/{backbone}/history.csv",
    log:
        "logs/pretrain/{backbone}.log",
    benchmark:
        "results/benchmarks/pretrain/{backbone}.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60 * 24,
        gpu=USES_GPU,
    params:
        resume="results/pretrain/{backbone}/resume.pt",
        settings=pretrain_settings,
        decoded=decoded_option,
    shell:
        "infocam train --data {input.data} --checkpoint {output.checkpoint}"
        " --history {output.history} --resume {params.resume} --settings {params.settings:q}"
        " {params.decoded} --threads {threads} > {log} 2>&1"
