# Stage 5: the self-contained HTML report.


rule report:
    input:
        # The coverage map and calibration, when a rule of this workflow makes them (or the file exists).
        unpack(
            lambda wc: {
                name: f"results/{name}.json"
                for name in ("coverage", "calibration")
                if rules.has(name) or os.path.exists(f"results/{name}.json")
            }
        ),
        claims="results/claims.json",
        ledger="results/claims.tsv",
        fetch=expand("results/fetch/{dataset}.json", dataset=USED_DATASETS),
        imports=expand("results/import/{dataset}/import.json", dataset=USED_DATASETS),
        samples=expand("results/import/{dataset}/samples.tsv", dataset=USED_DATASETS),
        diversity=expand(
            "results/diversity/{dataset}/diversity.json", dataset=USED_DATASETS
        ),
        depth=expand("results/diversity/{dataset}/depth.tsv", dataset=USED_DATASETS),
        figures=expand("results/claims/{claim}/pooled", claim=TESTABLE_CLAIMS),
    output:
        html=report(
            "results/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        "logs/report.log",
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets={ds: DATASETS[ds] for ds in USED_DATASETS},
    script:
        "../../scripts/report.py"
