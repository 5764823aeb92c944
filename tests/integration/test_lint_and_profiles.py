"""The project's own hygiene, checked by the suite so CI enforces it: ruff, mypy, snakefmt,
snakemake --lint, and a dry run of the whole DAG under the SLURM profile (the same DAG a cluster would
run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_clean() -> None:
    proc = _run(str(BIN / "ruff"), "check", "src", "scripts", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run(str(BIN / "ruff"), "format", "--check", "src", "scripts", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_clean() -> None:
    """``mypy src/gutskin`` (settings in pyproject's [tool.mypy]) reports nothing, as ``make lint`` needs."""
    proc = _run(sys.executable, "-m", "mypy", "src/gutskin")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean() -> None:
    proc = _run(str(BIN / "snakefmt"), "--check", "workflow")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_snakemake_lint_clean() -> None:
    proc = _run(str(BIN / "snakemake"), "--lint", "--workflow-profile", "profiles/default")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "good condition" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_slurm_profile_dry_run(tmp_path: Path) -> None:
    """The SLURM profile plans every job with declared threads and resources; fetch stays local."""
    proc = _run(
        str(BIN / "snakemake"),
        "--workflow-profile",
        "profiles/slurm",
        "--dry-run",
        "--forceall",
        "--directory",
        str(REPO),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for rule in (
        "fetch",
        "import_dataset",
        "diversity",
        "claim_cohort",
        "pool_claim",
        "ledger",
        "report",
    ):
        # fetch is a checkpoint (the DAG after it plans only the datasets that could be had)
        kind = "checkpoint" if rule == "fetch" else "rule"
        assert f"{kind} {rule}:" in out
    # fetch must run on the submit host (compute nodes often have no internet access).
    fetch_rules = (REPO / "workflow" / "rules" / "fetch.smk").read_text()
    assert "localrules:\n    fetch," in fetch_rules
    assert "mem_mb=" in out and "runtime=" in out
