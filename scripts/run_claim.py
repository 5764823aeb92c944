"""Snakemake adapter: run the analysis of one claim on one dataset (rule ``claim_cohort``).

The workflow plans this job only for a dataset that could be fetched (``fetch`` is a checkpoint); a
claim's cohorts on unavailable datasets are made by ``pool_claim`` or the ledger from the fetch manifests.
"""

from pathlib import Path

from gutskin._adapter import run_step
from gutskin.claims import load_bundle, run_claim
from gutskin.claims.pooling import cohort_claim, cohort_result
from gutskin.layout import diversity_dir, import_dir
from gutskin.runinfo import write_json


def main(smk):
    ds = smk.wildcards.dataset
    out_dir = Path(smk.output.outdir)
    claim = cohort_claim(smk.params.claim, ds)
    bundles = {ds: load_bundle(ds, Path(import_dir(ds)), Path(diversity_dir(ds)))}
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run_claim(claim, bundles, smk.config, out_dir)
    write_json(cohort_result(result.to_dict(), ds, claim, smk.config), Path(smk.output.result))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
