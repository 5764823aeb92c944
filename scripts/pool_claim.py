"""Snakemake adapter: pool a claim's per-cohort results (rule ``pool_claim``)."""

from pathlib import Path

from gutskin._adapter import run_step
from gutskin.runinfo import cohorts_of, pooled_without_data, write_json


def main(smk):
    # input.cohorts: the cohorts whose dataset could be had (the workflow plans no claim_cohort job
    # for the others); the unavailable ones' results are made from their fetch manifests
    done = {Path(p).stem: p for p in smk.input.cohorts}
    cohorts = cohorts_of(smk.params.claim, smk.params.datasets, done)
    out_dir = Path(smk.output.outdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # No cohort's data could be had: the k = 0 result without importing the statistics stack.
    result = pooled_without_data(smk.params.claim, cohorts, smk.params.selection)
    if result is None:
        from gutskin.claims.pooling import pool

        result = pool(smk.params.claim, cohorts, smk.config, out_dir, smk.params.selection)
    write_json(result, Path(smk.output.result))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
