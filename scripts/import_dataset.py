"""Snakemake adapter: read and harmonise one dataset (rule ``import_dataset``)."""

import json
from pathlib import Path

from gutskin._adapter import run_step
from gutskin.importer import import_dataset
from gutskin.io import set_inflate_limit


def main(smk):
    # limits.max_inflated_bytes: the decompression-bomb cap of every reader (default filled by the schema)
    set_inflate_limit(int((smk.config.get("limits") or {}).get("max_inflated_bytes", 4 * 1024**3)))
    with open(smk.input.manifest, encoding="utf-8") as fh:
        manifest = json.load(fh)
    import_dataset(
        smk.wildcards.dataset,
        smk.params.dataset,
        manifest,
        Path(smk.output.info).parent,
        manifest_path=smk.input.manifest,
    )


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
