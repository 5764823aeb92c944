"""Snakemake adapter: the covariate coverage map of the used datasets (rule ``coverage``).

Named coverage_map.py, not coverage.py: Snakemake puts the scripts directory on sys.path, and a module
named ``coverage`` there shadows the coverage package that numba imports in every other script.
"""

from pathlib import Path

from gutskin._adapter import run_step
from gutskin.coverage import build_coverage, write_coverage


def main(smk):
    # inputs: the datasets that could be fetched (results/import/<dataset>/...); the others have no
    # import job and are listed as unavailable
    done = {
        Path(info).parent.name: (samples, info)
        for samples, info in zip(smk.input.samples, smk.input.imports, strict=True)
    }
    imports = {name: done.get(name) for name in smk.params.datasets}
    coverage = build_coverage(imports, smk.params.claims)
    write_coverage(coverage, smk.output.json, smk.output.tsv)


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
