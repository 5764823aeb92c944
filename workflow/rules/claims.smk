# Stage 4: one job per (claim, dataset), one light pooling job per claim, then the ledger (Holm across
# primary tests, verdict rubric). Adding a dataset to a claim reruns only its own job and the pooling.


rule claim_cohort:
    input:
        unpack(cohort_inputs),
    output:
        result="results/claims/{claim}/cohorts/{dataset}.json",
        outdir=directory("results/claims/{claim}/cohorts/{dataset}"),
    log:
        "logs/claims/{claim}/{dataset}.log",
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=claim_mem_mb,
        runtime=60,
    params:
        # the claim restricted to this dataset: adding a dataset to the claim does not change it
        claim=lambda wc: cohort_claim(CLAIM_BY_ID[wc.claim], wc.dataset),
        seed=config["seed"],
    script:
        "../../scripts/run_claim.py"


rule pool_claim:
    input:
        cohorts=lambda wc: expand(
            "results/claims/{claim}/cohorts/{dataset}.json",
            claim=wc.claim,
            dataset=CLAIM_DATASETS[wc.claim],
        ),
    output:
        result="results/claims/{claim}.json",
        outdir=report(
            directory("results/claims/{claim}/pooled"),
            patterns=["{name}.svg"],
            caption="../report/claim_figure.rst",
            category="Claims",
            subcategory="{claim}",
            labels={"claim": "{claim}", "figure": "{name}"},
        ),
    log:
        "logs/claims/{claim}.log",
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        claim=lambda wc: CLAIM_BY_ID[wc.claim],
        datasets=lambda wc: CLAIM_DATASETS[wc.claim],
        selection=lambda wc: DATASET_SELECTION[wc.claim],
    script:
        "../../scripts/pool_claim.py"


rule ledger:
    input:
        results=expand("results/claims/{claim}.json", claim=TESTABLE_CLAIMS),
    output:
        claims="results/claims.json",
        table=report(
            "results/claims.tsv",
            caption="../report/claims.rst",
            category="Claims ledger",
        ),
    log:
        "logs/ledger.log",
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        claims=CLAIMS,
    script:
        "../../scripts/ledger.py"
