"""Snakemake adapter: run the analysis of one claim on one dataset (rule ``claim_cohort``)."""

from pathlib import Path

from gutskin._adapter import run_step
from gutskin.layout import diversity_dir, import_dir
from gutskin.runinfo import cohort_without_data, write_json


def main(smk):
    ds = smk.wildcards.dataset
    out_dir = Path(smk.output.outdir)
    # The dataset unavailable (e.g. offline without a mirror): say so without importing the claims
    # package and the statistics stack (seconds per job). params.claim is already restricted to ds.
    empty = cohort_without_data(smk.params.claim, ds)
    if empty is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(empty, Path(smk.output.result))
        return
    from gutskin.claims import load_bundle, run_claim
    from gutskin.claims.pooling import cohort_claim, cohort_result

    claim = cohort_claim(smk.params.claim, ds)
    bundles = {ds: load_bundle(ds, Path(import_dir(ds)), Path(diversity_dir(ds)))}
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run_claim(claim, bundles, smk.config, out_dir)
    write_json(cohort_result(result.to_dict(), ds, claim, smk.config), Path(smk.output.result))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
