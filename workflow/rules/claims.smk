# Stage 4: one job per testable claim, then the ledger (Holm across primary tests, verdict rubric).


rule claim:
    input:
        unpack(claim_inputs),
    output:
        result="results/claims/{claim}.json",
        outdir=report(
            directory("results/claims/{claim}"),
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
        mem_mb=claim_mem_mb,
        runtime=claim_runtime,
    params:
        claim=lambda wc: CLAIM_BY_ID[wc.claim],
        seed=config["seed"],
    script:
        "../../scripts/run_claim.py"


rule ledger:
    input:
        # simulated power for designs without an analytic one (C9's Mantel test), when a rule makes it
        unpack(
            lambda wc: {
                "calibration": "results/calibration.json"
                for _ in [0]
                if rules.has("calibration")
                or os.path.exists("results/calibration.json")
            }
        ),
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
