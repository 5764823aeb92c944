# Stage 1: fetch each dataset's files (cache -> mirrors -> network), sha256-verified.
# Runs on the submit host under a cluster executor: compute nodes often have no internet access.
localrules:
    fetch,


rule fetch:
    output:
        manifest="results/fetch/{dataset}.json",
    log:
        "logs/fetch/{dataset}.log",
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        dataset=lambda wc: DATASETS[wc.dataset],
    script:
        "../../scripts/fetch.py"
