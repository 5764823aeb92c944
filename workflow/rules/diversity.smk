# Stage 3: repeated rarefaction, alpha and beta diversity, PCoA (all sparse).
from gutskin.layout import (
    benchmark_file,
    ALPHA_TSV,
    DEPTH_TSV,
    DIVERSITY_JSON,
    IMPORT_JSON,
    TABLE_BIOM,
    TREE_NWK,
    beta_npz,
    diversity_file,
    import_file,
    log_file,
    pcoa_tsv,
)


rule diversity:
    input:
        table=import_file(TABLE_BIOM),
        info=import_file(IMPORT_JSON),
        tree=import_file(TREE_NWK),
    output:
        alpha=diversity_file(ALPHA_TSV),
        depth=diversity_file(DEPTH_TSV),
        summary=diversity_file(DIVERSITY_JSON),
        beta=[diversity_file(beta_npz(m)) for m in config["beta_metrics"]],
        pcoa=[diversity_file(pcoa_tsv(m)) for m in config["beta_metrics"]],
    log:
        log_file("diversity"),
    benchmark:
        benchmark_file("diversity")
    conda:
        "../envs/gutskin.yaml"
    threads: diversity_threads
    resources:
        mem_mb=diversity_mem_mb,
        runtime=diversity_runtime,
    params:
        depth=rarefaction_depth,
        iterations=config["rarefaction"]["iterations"],
        beta_iterations=config["rarefaction"]["beta_iterations"],
        sensitivity_depth=config["rarefaction"]["sensitivity_depth"],
        seed=config["seed"],
        alpha_metrics=config["alpha_metrics"],
        beta_metrics=config["beta_metrics"],
        pcoa_dimensions=config["pcoa_dimensions"],
    script:
        "../../scripts/diversity.py"
