SYNTHETIC = [name for name, spec in DATASETS.items() if spec["source"] == "synthetic"]
DOWNLOADED = [name for name, spec in DATASETS.items() if spec["source"] == "url"]

localrules:
    download_archive,


rule synthesize_archive:
    output:
        archive="data/raw/{dataset}/{archive}",
        md5="data/raw/{dataset}/{archive}.md5",
    wildcard_constraints:
        dataset=_alternatives(SYNTHETIC) or "^$",
        archive=_alternatives(DATASETS[name]["archive"] for name in DATASETS),
    params:
        fmt=dataset_setting("format"),
        spec=lambda wildcards: DATASETS[wildcards.dataset]["synthetic"],
    log:
        "logs/synthesize/{dataset}/{archive}.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}/{archive}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "infocam synthesize --format {params.fmt} --out {output.archive}"
        " --n-classes {params.spec[n_classes]} --train-per-class {params.spec[train_per_class]}"
        " --heldout-per-class {params.spec[heldout_per_class]} --seed {params.spec[seed]}"
        " > {log} 2>&1"


rule download_archive:
    output:
        "data/raw/{dataset}/{archive}",
    wildcard_constraints:
        dataset=_alternatives(DOWNLOADED) or "^$",
        archive=_alternatives(DATASETS[name]["archive"] for name in DATASETS),
    params:
        url=dataset_setting("url"),
        md5=dataset_setting("md5"),
    log:
        "logs/download/{dataset}/{archive}.log",
    benchmark:
        "results/benchmarks/download/{dataset}/{archive}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    shell:
        "infocam download --url {params.url} --md5 {params.md5} --out {output} > {log} 2>&1"


rule prepare_dataset:
    input:
        archive=lambda wildcards: raw_archive(wildcards.dataset),
    output:
        directory("data/prepared/{dataset}"),
    params:
        fmt=dataset_setting("format"),
        checksum=checksum_options,
        expected=expected_options,
    log:
        "logs/prepare/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare/{dataset}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "infocam prepare --format {params.fmt} --archive {input.archive} {params.checksum}"
        " {params.expected} --out {output} > {log} 2>&1"
