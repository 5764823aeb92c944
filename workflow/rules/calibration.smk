# Calibration of the primary tests: false-positive rate and power on simulated null and planted-effect
# cohorts, with the same code the claim runners use (gutskin.calibration). Needs no data, but a claim
# whose datasets could not be fetched (or that the claims register does not analyse) is not simulated:
# its calibration is listed as skipped, so an offline run without data ends in seconds.
rule calibration:
    input:
        manifests=calibration_manifests,
    output:
        calibration="results/calibration.json",
    log:
        "logs/calibration.log",
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
    script:
        "../../scripts/calibration.py"
