# Stage 2: read each dataset into the canonical sparse table + harmonised sample table.
from gutskin.layout import (
    benchmark_file,
    IMPORT_JSON,
    SAMPLES_TSV,
    TABLE_BIOM,
    TREE_NWK,
    fetch_manifest,
    import_file,
    log_file,
)


rule import_dataset:
    input:
        manifest=fetch_manifest(),
    output:
        table=import_file(TABLE_BIOM),
        samples=import_file(SAMPLES_TSV),
        info=import_file(IMPORT_JSON),
        tree=import_file(TREE_NWK),
    log:
        log_file("import"),
    benchmark:
        benchmark_file("import")
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
