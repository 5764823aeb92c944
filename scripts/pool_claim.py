"""Snakemake adapter: pool a claim's per-cohort results (rule ``pool_claim``)."""

import json
from pathlib import Path

from gutskin._adapter import run_step
from gutskin.runinfo import pooled_without_data, write_json


def main(smk):
    cohorts = {}
    for ds, path in zip(smk.params.datasets, smk.input.cohorts, strict=True):
        with open(path, encoding="utf-8") as fh:
            cohorts[ds] = json.load(fh)
    out_dir = Path(smk.output.outdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # No cohort's data could be had (offline without a mirror): the k = 0 result without importing
    # the statistics stack.
    result = pooled_without_data(smk.params.claim, cohorts, smk.params.selection)
    if result is None:
        from gutskin.claims.pooling import pool

        result = pool(smk.params.claim, cohorts, smk.config, out_dir, smk.params.selection)
    write_json(result, Path(smk.output.result))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
