# Stage 4: one job per (claim, dataset), one light pooling job per claim, then the ledger (Holm across
# primary tests, verdict rubric). Adding a dataset to a claim reruns only its own job and the pooling.
from gutskin.layout import (
    benchmark_file,
    CALIBRATION_JSON,
    CLAIMS_JSON,
    CLAIMS_TSV,
    claim_cohort_dir,
    claim_cohort_result,
    claim_pooled_dir,
    claim_result,
    fetch_manifest,
    log_file,
)


rule claim_cohort:
    input:
        unpack(cohort_inputs),
    output:
        result=claim_cohort_result(),
        outdir=directory(claim_cohort_dir()),
    log:
        log_file("claims", "{claim}/{dataset}"),
    benchmark:
        benchmark_file("claims", "{claim}/{dataset}")
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=claim_mem_mb,
        runtime=claim_runtime,
    params:
        # the claim restricted to this dataset: adding a dataset to the claim does not change it
        claim=lambda wc: cohort_claim(CLAIM_BY_ID[wc.claim], wc.dataset),
        seed=config["seed"],
    script:
        "../../scripts/run_claim.py"


rule pool_claim:
    input:
        # the cohorts whose dataset could be had; the others' results are read from their fetch manifests
        cohorts=lambda wc: [
            claim_cohort_result(wc.claim, ds)
            for ds in available_datasets(CLAIM_DATASETS[wc.claim])
        ],
    output:
        result=claim_result(),
        outdir=report(
            directory(claim_pooled_dir()),
            patterns=["{name}.svg"],
            caption="../report/claim_figure.rst",
            category="Claims",
            subcategory="{claim}",
            labels={"claim": "{claim}", "figure": "{name}"},
        ),
    log:
        log_file("claims", "{claim}"),
    benchmark:
        benchmark_file("claims", "{claim}")
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
        # simulated power for designs without an analytic one (C9's Mantel test), when a rule makes it
        unpack(
            lambda wc: {
                "calibration": CALIBRATION_JSON
                for _ in [0]
                if rules.has("calibration") or os.path.exists(CALIBRATION_JSON)
            }
        ),
        # claims none of whose datasets could be had have no pool_claim job: their "data unavailable"
        # results are made here from the fetch manifests
        results=lambda wc: [claim_result(c) for c in available_claims()],
        manifests=[fetch_manifest(ds) for ds in USED_DATASETS],
    output:
        claims=CLAIMS_JSON,
        table=report(
            CLAIMS_TSV,
            caption="../report/claims.rst",
            category="Claims ledger",
        ),
    log:
        log_file("ledger", None),
    benchmark:
        benchmark_file("ledger", None)
    conda:
        "../envs/gutskin.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        claims=CLAIMS,
        claim_datasets=CLAIM_DATASETS,
        selection=DATASET_SELECTION,
    script:
        "../../scripts/ledger.py"
