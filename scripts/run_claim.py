"""Snakemake adapter: run the analysis of one claim (rule ``claim``)."""

from pathlib import Path

from gutskin._adapter import run_step
from gutskin.layout import diversity_dir, import_dir
from gutskin.runinfo import claim_without_data, write_json


def main(smk):
    claim = smk.params.claim
    out_dir = Path(smk.output.outdir)
    # Every dataset unavailable (e.g. offline without a mirror): say so without loading the statistics
    # stack, which costs seconds per job.
    empty = claim_without_data(claim)
    if empty is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(empty, Path(smk.output.result))
        return
    from gutskin.claims import load_bundle, run_claim

    bundles = {
        ds: load_bundle(ds, Path(import_dir(ds)), Path(diversity_dir(ds)))
        for ds in claim.get("datasets", [])
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run_claim(claim, bundles, smk.config, out_dir)
    write_json(result.to_dict(), Path(smk.output.result))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
