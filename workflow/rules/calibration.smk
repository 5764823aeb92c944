from gutskin.layout import benchmark_file


# Calibration of the primary tests and of the verdicts: false-positive rate, power and the rate of each verdict
# on simulated null and planted-effect cohorts, through the claims' own runners (gutskin.calibration). Needs no
# data, but a claim whose datasets could not be fetched (or that the claims register does not analyse) is not
# simulated: its calibration is listed as skipped, so an offline run without data ends in seconds. Results are
# cached by design key under <cache_dir>/calibration/, so a rerun with the same design and code only reads them.
rule calibration:
    input:
        manifests=calibration_manifests,
    output:
        calibration="results/calibration.json",
    log:
        "logs/calibration.log",
    benchmark:
        benchmark_file("calibration", None)
    conda:
        "../envs/gutskin.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        calibration=config["calibration"],
        calibrated=CALIBRATED_CLAIMS,
        claims={
            cid: CLAIM_BY_ID[cid] for cid in CALIBRATED_CLAIMS if cid in CLAIM_BY_ID
        },
        seed=config["seed"],
        alpha=config["alpha"],
        claims_list=CLAIMS,
        datasets=DATASETS,
        cache_dir=os.path.join(config["cache_dir"], "calibration"),
    script:
        "../../scripts/calibration.py"
