# Stage 1: fetch each dataset's files (cache -> mirrors -> network), sha256-verified.
# Runs on the submit host under a cluster executor: compute nodes often have no internet access.
# A manifest that says `available: false` (a transient 500, a timeout) is not final: common.smk removes it
# at the start of the next run, so the dataset is fetched again.
# A checkpoint: once its manifest is written, the input functions of common.smk (available_datasets) plan
# the dataset's import, diversity and claim jobs only if it could be had.
from gutskin.layout import benchmark_file


localrules:
    fetch,


checkpoint fetch:
    output:
        manifest="results/fetch/{dataset}.json",
    log:
        "logs/fetch/{dataset}.log",
    benchmark:
        benchmark_file("fetch")
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        # what the files depend on: the dataset's entry and the mirrors (absolute), never the config
        # file's path, so an overlay (--configfile) that changes neither does not refetch
        dataset=lambda wc: DATASETS[wc.dataset],
        mirrors=FETCH_MIRRORS,
    script:
        "../../scripts/fetch.py"
