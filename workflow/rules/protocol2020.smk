# The 2020 evaluation protocol (infocam.wsol.protocol2020) for the datasets whose protocols list
# wsol2020: per cell, every choice made on the selection split, then the test split scored once.


rule select_2020:
    input:
        data="data/prepared/{dataset}",
        snapshots=f"results/train/{{dataset}}/{CELL}/snapshots.json",
    output:
        f"results/wsol2020/select/{{dataset}}/{CELL}.json",
    log:
        f"logs/wsol2020/select/{{dataset}}/{CELL}.log",
    benchmark:
        f"results/benchmarks/wsol2020/select/{{dataset}}/{CELL}.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=USES_GPU,
    params:
        settings=protocol_settings,
    shell:
        "infocam select-2020 --data {input.data} --snapshots {input.snapshots} --settings {params.settings:q}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule test_2020:
    input:
        data="data/prepared/{dataset}",
        selection=f"results/wsol2020/select/{{dataset}}/{CELL}.json",
    output:
        result=f"results/wsol2020/test/{{dataset}}/{CELL}.json",
        hits=f"results/wsol2020/test/{{dataset}}/{CELL}.npz",
    log:
        f"logs/wsol2020/test/{{dataset}}/{CELL}.log",
    benchmark:
        f"results/benchmarks/wsol2020/test/{{dataset}}/{CELL}.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=USES_GPU,
    params:
        settings=protocol_settings,
    shell:
        "infocam test-2020 --data {input.data} --selection {input.selection} --settings {params.settings:q}"
        " --threads {threads} --out {output.result} --hits {output.hits} > {log} 2>&1"


rule table_2020:
    input:
        results=WSOL2020_RESULTS,
        hits=[path.replace(".json", ".npz") for path in WSOL2020_RESULTS],  # read beside each result
        paper_summaries=summaries(WSOL2020_DATASETS),
    output:
        table_csv=report("results/table1_wsol2020.csv", caption="../report/wsol2020.rst", category="2020 protocol"),
        table_md="results/table1_wsol2020.md",
        norm_csv="results/normalisation_wsol2020.csv",
        norm_md="results/normalisation_wsol2020.md",
        comparison_csv="results/infocam_vs_cam_wsol2020.csv",
        provenance="results/table1_wsol2020.provenance.json",
        norm_provenance="results/normalisation_wsol2020.provenance.json",
        comparison_provenance="results/infocam_vs_cam_wsol2020.provenance.json",
    log:
        "logs/tables/table1_wsol2020.log",
    benchmark:
        "results/benchmarks/tables/table1_wsol2020.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "infocam table-2020 {input.results} --paper-summaries {input.paper_summaries}"
        " --table-csv {output.table_csv} --table-md {output.table_md} --norm-csv {output.norm_csv}"
        " --norm-md {output.norm_md} --comparison-csv {output.comparison_csv} --provenance {output.provenance}"
        " > {log} 2>&1"


rule tau_figure_2020:
    input:
        results=WSOL2020_RESULTS,
        hits=[path.replace(".json", ".npz") for path in WSOL2020_RESULTS],
    output:
        report("results/figures/tau_wsol2020.png", caption="../report/wsol2020.rst", category="2020 protocol"),
    log:
        "logs/figures/tau_wsol2020.log",
    benchmark:
        "results/benchmarks/figures/tau_wsol2020.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "infocam tau-figure-2020 {input.results} --out {output} > {log} 2>&1"
