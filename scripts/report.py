"""Snakemake adapter: render the self-contained HTML report (rule ``report``)."""

import json
from pathlib import Path

from gutskin._adapter import run_step
from gutskin.report.html import build_report, write_report
from gutskin.report.provenance import collect_provenance


def _load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(smk):
    claims = _load(smk.input.claims)
    names = list(smk.params.datasets)
    fetches = {n: _load(p) for n, p in zip(names, smk.input.fetch, strict=True)}
    imports = {n: _load(p) for n, p in zip(names, smk.input.imports, strict=True)}
    diversity = {n: _load(p) for n, p in zip(names, smk.input.diversity, strict=True)}
    previous = None
    prev_path = smk.config["report"].get("previous_claims")
    if prev_path:
        previous = _load(prev_path)
    config_files = [
        Path("config/config.yaml"),
        Path(smk.config["datasets_file"]),
        Path(smk.config["claims_file"]),
    ]
    provenance = collect_provenance(smk.config, config_files, Path(smk.scriptdir).parent)
    html = build_report(
        claims=claims,
        datasets=dict(smk.params.datasets),
        imports=imports,
        fetches=fetches,
        diversity=diversity,
        config=smk.config,
        provenance=provenance,
        figure_root=Path("."),
        previous_claims=previous,
    )
    write_report(html, Path(smk.output.html))


run_step(snakemake, main)
