# Calibration of the primary tests: false-positive rate and power on simulated null and planted-effect
# cohorts, with the same code the claim runners use (gutskin.calibration). Needs no data.


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
    script:
        "../../scripts/calibration.py"
