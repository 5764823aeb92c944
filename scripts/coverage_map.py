"""Snakemake adapter: the covariate coverage map of the used datasets (rule ``coverage``).

Named coverage_map.py, not coverage.py: Snakemake puts the scripts directory on sys.path, and a module
named ``coverage`` there shadows the coverage package that numba imports in every other script.
"""

from gutskin._adapter import run_step
from gutskin.coverage import build_coverage, write_coverage


def main(smk):
    imports = {
        name: (samples, info)
        for name, samples, info in zip(
            smk.params.datasets, smk.input.samples, smk.input.imports, strict=True
        )
    }
    coverage = build_coverage(imports, smk.params.claims)
    write_coverage(coverage, smk.output.json, smk.output.tsv)


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
