# Stage 5: the self-contained HTML report.
from gutskin.layout import (
    benchmark_file,
    CLAIMS_JSON,
    CLAIMS_TSV,
    DEPTH_TSV,
    DIVERSITY_JSON,
    IMPORT_JSON,
    REPORT_HTML,
    SAMPLES_TSV,
    claim_pooled_dir,
    diversity_file,
    fetch_manifest,
    import_file,
    log_file,
    result_file,
)


rule report:
    input:
        # The coverage map and calibration, when a rule of this workflow makes them (or the file exists).
        unpack(
            lambda wc: {
                name: result_file(f"{name}.json")
                for name in ("coverage", "calibration")
                if rules.has(name) or os.path.exists(result_file(f"{name}.json"))
            }
        ),
        claims=CLAIMS_JSON,
        ledger=CLAIMS_TSV,
        fetch=[fetch_manifest(ds) for ds in USED_DATASETS],
        # import and diversity outputs of the datasets that could be had (the others have only their
        # fetch manifest), figures of the claims with a pool_claim job (common.smk)
        imports=lambda wc: [
            import_file(IMPORT_JSON, ds) for ds in available_datasets(USED_DATASETS)
        ],
        samples=lambda wc: [
            import_file(SAMPLES_TSV, ds) for ds in available_datasets(USED_DATASETS)
        ],
        diversity=lambda wc: [
            diversity_file(DIVERSITY_JSON, ds)
            for ds in available_datasets(USED_DATASETS)
        ],
        depth=lambda wc: [
            diversity_file(DEPTH_TSV, ds) for ds in available_datasets(USED_DATASETS)
        ],
        figures=lambda wc: [claim_pooled_dir(c) for c in available_claims()],
    output:
        html=report(
            REPORT_HTML,
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        log_file("report", None),
    benchmark:
        benchmark_file("report", None)
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
