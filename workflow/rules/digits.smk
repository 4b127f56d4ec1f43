# The softmax paper's digit experiments: imbalanced classification (softmax, PC-softmax, DropMax)
# on MNIST and CUB, double-digit MNIST (Table 2, CAM vs infoCAM), and the info-masking figure.


rule digits_offline_mnist:
    output:
        expand("data/raw/mnist-offline/{name}", name=MNIST_FILES),
    log:
        "logs/digits/offline_mnist.log",
    benchmark:
        "results/benchmarks/digits/offline_mnist.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        folder=lambda wildcards, output: os.path.dirname(output[0]),
        train_count=DIGITS["mnist"]["offline_train_count"],
    shell:
        "infocam digits-offline-mnist --out {params.folder} --train-count {params.train_count} > {log} 2>&1"


rule pc_softmax_run:
    input:
        pc_softmax_input,
    output:
        "results/pc_softmax/{imbalanced}.csv",
    log:
        "logs/pc_softmax/{imbalanced}.log",
    benchmark:
        "results/benchmarks/pc_softmax/{imbalanced}.tsv"
    wildcard_constraints:
        imbalanced="mnist|cub",
    conda:
        CONDA_ENV
    threads: DIGITS["threads"]
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        data=lambda wildcards, input: os.path.dirname(input[0]) if wildcards.imbalanced == "mnist" else input[0],
        settings=pc_softmax_settings,
    shell:
        "infocam pc-softmax-run --dataset {wildcards.imbalanced} --data {params.data} --settings {params.settings:q}"
        " --threads {threads}"
        " --out {output} > {log} 2>&1"


rule pc_softmax_table:
    input:
        results=PC_SOFTMAX_RESULTS,
        published=PUBLISHED,
        dvc=DIGITS_DVC_RECORDS,
    output:
        csv=report("results/pc_softmax.csv", caption="../report/pc_softmax.rst", category="softmax paper"),
        md="results/pc_softmax.md",
        provenance="results/pc_softmax.provenance.json",
    log:
        "logs/pc_softmax/table.log",
    benchmark:
        "results/benchmarks/pc_softmax/table.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        upstream=upstream_options(PC_SOFTMAX_UPSTREAM),
    shell:
        "infocam pc-softmax-table --published {input.published} --csv {output.csv} --md {output.md}"
        " --provenance {output.provenance}"
        " {params.upstream} {input.results} > {log} 2>&1"


rule double_digit_run:
    input:
        MNIST_INPUT,
    output:
        csv="results/double_digit/{digit_loss}-s{seed}.csv",
        checkpoint="results/double_digit/{digit_loss}-s{seed}.pt",
    log:
        "logs/double_digit/{digit_loss}-s{seed}.log",
    benchmark:
        "results/benchmarks/double_digit/{digit_loss}-s{seed}.tsv"
    wildcard_constraints:
        digit_loss="sigmoid|pc_sigmoid",
    conda:
        CONDA_ENV
    threads: DIGITS["threads"]
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        folder=lambda wildcards, input: os.path.dirname(input[0]),
        settings=double_digit_settings,
    shell:
        "infocam double-digit-run --mnist {params.folder} --loss {wildcards.digit_loss} --seed {wildcards.seed}"
        " --settings {params.settings:q} --threads {threads} --checkpoint {output.checkpoint} --out {output.csv} > {log} 2>&1"


rule double_digit_table:
    input:
        results=DOUBLE_DIGIT_RESULTS,
        published=PUBLISHED,
        dvc=DIGITS_DVC_RECORDS,
    output:
        csv=report("results/table2.csv", caption="../report/table2.rst", category="infoCAM paper"),
        loc="results/double_digit_localisation.csv",
        md="results/table2.md",
        provenance="results/table2.provenance.json",
    log:
        "logs/double_digit/table.log",
    benchmark:
        "results/benchmarks/double_digit/table.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        region=DOUBLE["region"],
        tau=DOUBLE["tau"],
        upstream=upstream_options(MNIST_INPUT + DOUBLE_DIGIT_CHECKPOINTS),
    shell:
        "infocam double-digit-table --published {input.published} --csv {output.csv} --loc-csv {output.loc}"
        " --md {output.md}"
        " --region {params.region} --tau {params.tau} --provenance {output.provenance}"
        " {params.upstream} {input.results} > {log} 2>&1"


rule digits_figures:
    input:
        MNIST_INPUT,
        cam_model=f"results/double_digit/sigmoid-s{DOUBLE['seeds'][0]}.pt",
        masking_model=f"results/double_digit/pc_sigmoid-s{DOUBLE['seeds'][0]}.pt",
    output:
        cam=report(
            "results/figures/double_digit_cam_vs_infocam.png",
            caption="../report/double_digit_figure.rst",
            category="infoCAM paper",
        ),
        masking=report(
            "results/figures/info_masking.png", caption="../report/info_masking_figure.rst", category="softmax paper"
        ),
    log:
        "logs/double_digit/figures.log",
    benchmark:
        "results/benchmarks/double_digit/figures.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        folder=lambda wildcards, input: os.path.dirname(input[0]),
        settings=digits_figure_settings,
    shell:
        "infocam digits-figures --mnist {params.folder} --settings {params.settings:q} --cam-model {input.cam_model}"
        " --masking-model {input.masking_model} --cam-out {output.cam} --masking-out {output.masking} > {log} 2>&1"
