# Stage 3: repeated rarefaction, alpha and beta diversity, PCoA (all sparse).


rule diversity:
    input:
        table="results/import/{dataset}/table.biom",
        info="results/import/{dataset}/import.json",
        tree="results/import/{dataset}/tree.nwk",
    output:
        alpha="results/diversity/{dataset}/alpha.tsv",
        depth="results/diversity/{dataset}/depth.tsv",
        summary="results/diversity/{dataset}/diversity.json",
        beta=expand(
            "results/diversity/{{dataset}}/beta_{metric}.npz",
            metric=config["beta_metrics"],
        ),
        pcoa=expand(
            "results/diversity/{{dataset}}/pcoa_{metric}.tsv",
            metric=config["beta_metrics"],
        ),
    log:
        "logs/diversity/{dataset}.log",
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
