"""Snakemake adapter: fetch one dataset's files into the verified cache (rule ``fetch``)."""

from pathlib import Path

from gutskin import fetch
from gutskin._adapter import run_step


def main(smk):
    # params.mirrors: the configured mirrors already resolved to absolute paths (rules/common.smk)
    settings = fetch.settings_from_config({**smk.config, "mirrors": list(smk.params.mirrors)})
    manifest = fetch.fetch_dataset(smk.wildcards.dataset, smk.params.dataset, settings)
    fetch.write_manifest(manifest, Path(smk.output.manifest))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
