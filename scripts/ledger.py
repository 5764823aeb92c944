"""Snakemake adapter: Holm across primary tests and the verdict rubric (rule ``ledger``)."""

import json
from pathlib import Path

from gutskin._adapter import run_step
from gutskin.claims.ledger import build_ledger, write_json, write_tsv
from gutskin.runinfo import unanalysed_results


def main(smk):
    results = {}
    for path in smk.input.results:
        with open(path, encoding="utf-8") as fh:
            r = json.load(fh)
        results[r["id"]] = r
    # Claims none of whose datasets could be fetched have no pool_claim job: their "data unavailable"
    # results, from the fetch manifests (input.manifests), as that job would have written them.
    results.update(
        unanalysed_results(
            smk.params.claims, results, smk.params.claim_datasets, smk.params.selection
        )
    )
    calibration = None
    if "calibration" in smk.input.keys():  # C9's power is simulated there (no analytic formula)
        with open(smk.input.calibration, encoding="utf-8") as fh:
            calibration = json.load(fh)
    ledger = build_ledger(list(smk.params.claims), results, smk.config, calibration)
    write_json(ledger, Path(smk.output.claims))
    write_tsv(ledger, Path(smk.output.table))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
