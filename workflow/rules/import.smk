# Stage 2: read each dataset into the canonical sparse table + harmonised sample table.


rule import_dataset:
    input:
        manifest="results/fetch/{dataset}.json",
    output:
        table="results/import/{dataset}/table.biom",
        samples="results/import/{dataset}/samples.tsv",
        info="results/import/{dataset}/import.json",
        tree="results/import/{dataset}/tree.nwk",
    log:
        "logs/import/{dataset}.log",
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=import_mem_mb,
        runtime=import_runtime,
    params:
        dataset=lambda wc: DATASETS[wc.dataset],
    script:
        "../../scripts/import_dataset.py"
