"""Snakemake adapter: repeated rarefaction, alpha/beta diversity and PCoA (rule ``diversity``)."""

from pathlib import Path

import numba

from gutskin._adapter import run_step
from gutskin._atomic import write_json
from gutskin.diversity.pipeline import run_diversity
from gutskin.importer import load_imported
from gutskin.io.newick import load_tree


def main(smk):
    numba.set_num_threads(max(1, min(smk.threads, numba.config.NUMBA_NUM_THREADS)))
    # load_imported reads the table with the dataset's declared ``values`` (counts / relative /
    # signal): only counts are rarefied
    import_dir = Path(smk.input.table).parent
    table, _, _ = load_imported(import_dir)
    summary = run_diversity(
        table,
        depth=int(smk.params.depth),
        iterations=int(smk.params.iterations),
        beta_iterations=int(smk.params.beta_iterations),
        seed=int(smk.params.seed),
        alpha_metrics=list(smk.params.alpha_metrics),
        beta_metrics=list(smk.params.beta_metrics),
        pcoa_dimensions=int(smk.params.pcoa_dimensions),
        out_dir=Path(smk.output.summary).parent,
        tree=load_tree(import_dir),
        sensitivity_depth=float(smk.params.sensitivity_depth),
    )
    write_json(smk.output.summary, summary)


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
