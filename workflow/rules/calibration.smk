# Calibration of the primary tests and of the verdicts: false-positive rate, power and the rate of each verdict
# on simulated null and planted-effect cohorts, through the claims' own runners (gutskin.calibration). Needs no
# data. Replicates are cached by design key under <cache_dir>/calibration/, so a rerun with the same design
# and code only reads them.


rule calibration:
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
        seed=config["seed"],
        alpha=config["alpha"],
        claims=CLAIMS,
        datasets=DATASETS,
        cache_dir=os.path.join(config["cache_dir"], "calibration"),
    script:
        "../../scripts/calibration.py"
