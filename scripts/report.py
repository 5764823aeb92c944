"""Snakemake adapter: render the self-contained HTML report (rule ``report``)."""

from pathlib import Path

from gutskin._adapter import run_step
from gutskin.report.html import ReportInputs, build_report, write_report
from gutskin.report.provenance import collect_provenance
from gutskin.report.qc import load_depth, read_json


def _optional(smk, name):
    """The parsed JSON of an optional input (coverage, calibration), or None when the rule has none."""
    path = getattr(smk.input, name, None)
    if not path:
        return None, None
    path = path if isinstance(path, str) else path[0]
    return read_json(path), path


def main(smk):
    claims = read_json(smk.input.claims)
    names = list(smk.params.datasets)
    fetches = {n: read_json(p) for n, p in zip(names, smk.input.fetch, strict=True)}
    # import and diversity outputs exist for the datasets that could be fetched (results/<step>/<name>/);
    # the others are shown from their fetch manifest alone
    imports = {Path(p).parent.name: read_json(p) for p in smk.input.imports}
    diversity = {Path(p).parent.name: read_json(p) for p in smk.input.diversity}
    depths = {
        Path(d).parent.name: load_depth(d, s)
        for d, s in zip(smk.input.depth, smk.input.samples, strict=True)
    }
    coverage, coverage_path = _optional(smk, "coverage")
    calibration, calibration_path = _optional(smk, "calibration")
    previous = None
    prev_path = smk.config["report"].get("previous_claims")
    if prev_path:
        previous = read_json(prev_path)
    config_files = [
        Path("config/config.yaml"),
        Path(smk.config["datasets_file"]),
        Path(smk.config["claims_file"]),
    ]
    provenance = collect_provenance(smk.config, config_files, Path(smk.scriptdir).parent)
    inputs = ReportInputs(
        claims=claims,
        datasets=dict(smk.params.datasets),
        imports=imports,
        fetches=fetches,
        diversity=diversity,
        config=smk.config,
        provenance=provenance,
        figure_root=Path("."),
        previous_claims=previous,
        claims_source=smk.input.claims,
        depths=depths,
        coverage=coverage,
        calibration=calibration,
        coverage_source=coverage_path or "results/coverage.json",
        calibration_source=calibration_path or "results/calibration.json",
        report_dir=Path(smk.output.html).parent,
    )
    write_report(build_report(inputs), Path(smk.output.html))


# Guarded: worker processes started by forkserver/spawn re-run this file as ``__mp_main__``.
if __name__ == "__main__":
    run_step(snakemake, main)
