"""Snakemake adapter: false-positive rate and power of the primary tests (rule ``calibration``)."""

import os

# One BLAS thread per process: the simulations fit thousands of small models, for which multithreaded BLAS
# only adds contention. Set before numpy is imported (Snakemake's script preamble does not import it).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import logging  # noqa: E402
from pathlib import Path  # noqa: E402

from gutskin._adapter import run_step  # noqa: E402
from gutskin.runinfo import calibration_skips, dataset_status, write_json  # noqa: E402


def main(smk):
    log = logging.getLogger("gutskin.calibration")
    manifests = [Path(p) for p in smk.input.manifests]
    status = dataset_status(
        manifests[0].parent.parent if manifests else Path("results"),
        [p.stem for p in manifests],
    )
    skip = calibration_skips(smk.params.calibrated, smk.params.claims, status)
    if set(skip) >= set(smk.params.calibrated):
        # Nothing to simulate (e.g. offline without data): no need to load the statistics stack.
        for cid in smk.params.calibrated:
            log.info("calibration of %s skipped: %s", cid, skip[cid])
        seed = int(smk.params.seed) + int(smk.params.calibration.get("seed_offset", 1))
        write_json(
            {
                "alpha": float(smk.params.alpha),
                "seed": seed,
                "tests": [],
                "skipped": [{"claim": c, "reason": skip[c]} for c in smk.params.calibrated],
            },
            Path(smk.output.calibration),
        )
        return
    from gutskin.calibration import run_calibration, write_calibration

    result = run_calibration(
        smk.params.calibration,
        seed=int(smk.params.seed),
        alpha=float(smk.params.alpha),
        workers=int(smk.threads),
        skip=skip,
        claims=list(smk.params.claims_list),
        datasets=dict(smk.params.datasets),
        workflow_config=dict(smk.config),
        cache_dir=smk.params.cache_dir,
    )
    for t in result["tests"]:
        log.info(
            "%s: FPR %.3f (%d/%d), %s; %.0f s",
            t["claim"],
            t["fpr"],
            t["null_rejections"],
            t["replicates"],
            ", ".join(f"power at {p['effect']} {p['power']:.2f}" for p in t["planted"]),
            t["seconds"],
        )
    for v in result["verdicts"]:
        log.info(
            "%s verdicts (%d replicates per scenario, design %s): %s",
            v["claim"],
            v["replicates"],
            v["design_key"],
            "; ".join(f"{c['what']} {c['rate']:.3f}" for c in v["checks"]),
        )
    write_calibration(result, Path(smk.output.calibration))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
