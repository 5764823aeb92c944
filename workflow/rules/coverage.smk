# Covariate coverage map: which used dataset has which variable, for how many samples.


rule coverage:
    input:
        samples=expand("results/import/{dataset}/samples.tsv", dataset=USED_DATASETS),
        imports=expand("results/import/{dataset}/import.json", dataset=USED_DATASETS),
    output:
        json="results/coverage.json",
        tsv="results/coverage.tsv",
    log:
        "logs/coverage.log",
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        datasets=USED_DATASETS,
        # `datasets: auto` resolved to the datasets each claim uses
        claims=[
            {**c, "datasets": CLAIM_DATASETS.get(c["id"], c.get("datasets", []))}
            for c in CLAIMS
        ],
    script:
        "../../scripts/coverage_map.py"
