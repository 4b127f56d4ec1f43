from infocam.data.mnist import MNIST_FILES

SYNTHETIC = [name for name, spec in DATA_SOURCES.items() if spec["source"] == "synthetic"]
DOWNLOADED = [name for name, spec in DATA_SOURCES.items() if spec["source"] == "url"]


include: "fullsup.smk"  # helpers of the train-fullsup rules below (a functions-only file, as lint asks)


# Downloads run on the machine Snakemake runs on (a cluster's login node), not on compute nodes.
localrules:
    download_archive,
    download_mnist,
    download_fullsup_archive,
    download_fullsup_metadata,


rule synthesize_archive:
    output:
        archive="data/raw/{dataset}/{archive}",
        md5="data/raw/{dataset}/{archive}.md5",
        parts="data/raw/{dataset}/{archive}.parts.csv",
    log:
        "logs/synthesize/{dataset}/{archive}.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}/{archive}.tsv"
    wildcard_constraints:
        dataset=_alternatives(SYNTHETIC) or "^$",
        archive=_alternatives(spec["archive"] for spec in DATA_SOURCES.values()),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        fmt=dataset_setting("format"),
        settings=lambda wildcards: as_settings(DATA_SOURCES[wildcards.dataset]["synthetic"]),
    shell:
        "infocam synthesize --format {params.fmt} --out {output.archive} --settings {params.settings:q}" " > {log} 2>&1"


rule download_archive:
    output:
        "data/raw/{dataset}/{archive}",
    log:
        "logs/download/{dataset}/{archive}.log",
    benchmark:
        "results/benchmarks/download/{dataset}/{archive}.tsv"
    wildcard_constraints:
        dataset=_alternatives(DOWNLOADED) or "^$",
        archive=_alternatives(spec["archive"] for spec in DATA_SOURCES.values()),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        url=dataset_setting("url"),
        md5=dataset_setting("md5"),
    shell:
        "infocam download --url {params.url} --md5 {params.md5} --out {output} --dataset {wildcards.dataset}"
        " 2>&1 | tee {log}"


rule synthesize_fullsup:
    output:
        archive="data/raw/{dataset}/{archive}",
        md5="data/raw/{dataset}/{archive}.md5",
        metadata=expand("data/raw/{{dataset}}/{{archive}}.metadata/{name}.txt", name=FULLSUP_METADATA),
    log:
        "logs/synthesize/{dataset}/{archive}.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}/{archive}.tsv"
    wildcard_constraints:
        dataset=_alternatives(FULLSUP_SYNTHETIC) or "^$",
        archive=_alternatives(fullsup["archive"] for fullsup in FULLSUP.values()) or "^$",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda wildcards: as_settings(DATA_SOURCES[wildcards.dataset]["synthetic"]),
        fullsup=lambda wildcards: as_settings(FULLSUP[wildcards.dataset]["synthetic"]),
    shell:
        "infocam synthesize --format cub --out {output.archive} --settings {params.settings:q}"
        " --fullsup {params.fullsup:q} > {log} 2>&1"


rule download_fullsup_archive:
    output:
        "data/raw/{dataset}/{archive}",
    log:
        "logs/download/{dataset}/{archive}.log",
    benchmark:
        "results/benchmarks/download/{dataset}/{archive}.tsv"
    wildcard_constraints:
        dataset=_alternatives(FULLSUP_DOWNLOADED) or "^$",
        archive=_alternatives(fullsup["archive"] for fullsup in FULLSUP.values()) or "^$",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        url=lambda wildcards: FULLSUP[wildcards.dataset]["url"],
        md5=fullsup_download_md5,
    shell:
        "infocam download --url {params.url:q} {params.md5} --out {output} --dataset {wildcards.dataset}"
        " 2>&1 | tee {log}"


rule download_fullsup_metadata:
    output:
        "data/raw/{dataset}/{archive}.metadata/{name}.txt",
    log:
        "logs/download/{dataset}/{archive}.metadata/{name}.log",
    wildcard_constraints:
        dataset=_alternatives(FULLSUP_DOWNLOADED) or "^$",
        archive=_alternatives(fullsup["archive"] for fullsup in FULLSUP.values()) or "^$",
        name=_alternatives(FULLSUP_METADATA),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        url=lambda wildcards: f"{FULLSUP[wildcards.dataset]['metadata'].rstrip('/')}/{wildcards.name}.txt",
        md5=lambda wildcards: FULLSUP[wildcards.dataset]["metadata_md5"][wildcards.name],
    shell:
        "infocam download --url {params.url:q} --md5 {params.md5} --out {output} --dataset {wildcards.dataset}"
        " 2>&1 | tee {log}"


rule download_mnist:
    output:
        expand("data/raw/mnist/{name}", name=MNIST_FILES),
    log:
        "logs/download/mnist.log",
    benchmark:
        "results/benchmarks/download/mnist.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "infocam download-mnist --out {params.folder} 2>&1 | tee {log}"


rule prepare_dataset:
    input:
        archive=lambda wildcards: raw_archive(wildcards.dataset),  # or an extracted copy (a folder)
        parts=lambda wildcards: part_boxes(wildcards.dataset),
        fullsup=lambda wildcards: fullsup_images(wildcards.dataset),  # wsol2020's CUB train-fullsup
        fullsup_metadata=lambda wildcards: fullsup_metadata(wildcards.dataset),
    output:
        directory("data/prepared/{dataset}"),
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
    params:
        fmt=dataset_setting("format"),
        source=prepare_source_options,
        expected=expected_options,
        fullsup=fullsup_options,
    shell:
        "infocam prepare --format {params.fmt} {params.source}"
        " {params.expected} {params.fullsup} --out {output} > {log} 2>&1"


# The decoded-image cache (training.cache_images): a prepared dataset's train and val images,
# decoded once and resized to the dataset's Resize size, one uint8 .npy per split.
rule decode_images:
    input:
        data="data/prepared/{dataset}",
    output:
        directory("data/decoded/{dataset}"),
    log:
        "logs/decode/{dataset}.log",
    benchmark:
        "results/benchmarks/decode/{dataset}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        resize=dataset_setting("resize"),
    shell:
        "infocam decode --data {input.data} --resize {params.resize} --out {output} > {log} 2>&1"
