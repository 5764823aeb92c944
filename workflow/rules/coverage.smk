# Covariate coverage map: which used dataset has which variable, for how many samples.
from gutskin.layout import (
    benchmark_file,
    COVERAGE_JSON,
    COVERAGE_TSV,
    IMPORT_JSON,
    SAMPLES_TSV,
    import_file,
    log_file,
)


rule coverage:
    input:
        # the datasets that could be had; the others are listed as unavailable (coverage_map.py)
        samples=lambda wc: [
            import_file(SAMPLES_TSV, ds) for ds in available_datasets(USED_DATASETS)
        ],
        imports=lambda wc: [
            import_file(IMPORT_JSON, ds) for ds in available_datasets(USED_DATASETS)
        ],
    output:
        json=COVERAGE_JSON,
        tsv=COVERAGE_TSV,
    log:
        log_file("coverage", None),
    benchmark:
        benchmark_file("coverage", None)
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
