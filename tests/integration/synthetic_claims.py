"""Run the whole workflow on the synthetic look-alikes and print the sha256 of ``results/claims.json``.

A refactoring that is meant to change no result is checked with it: run it before and after the change
in the same directory and compare the two lines it prints (``docs/ARCHITECTURE.md``, "Checking that a move
changes no result")::

    PYTHONPATH=src python -m tests.integration.synthetic_claims /tmp/syn-run

The run is the one of ``tests/integration/test_workflow.py`` (``Scenario()``, the real claims and dataset
blocks with the synthetic files, seed 7), stopped at the ledger so that the report is not built.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from gutskin.synthetic import Scenario, write_synthetic_mirror

from .workdir import make_workdir, run_snakemake


def claims_sha256(root: Path) -> str:
    """Build a fresh synthetic run under ``root`` (emptied first) and return sha256 of its claims.json."""
    if root.exists():
        shutil.rmtree(root)
    files = write_synthetic_mirror(root / "mirror", Scenario())
    work = make_workdir(root / "work", files, mirrors=[str(root / "mirror")])
    proc = run_snakemake(work, "--until", "ledger")
    if proc.returncode != 0:
        raise SystemExit(f"the synthetic run failed:\n{proc.stderr[-6000:]}")
    return hashlib.sha256((work / "results" / "claims.json").read_bytes()).hexdigest()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.integration.synthetic_claims <empty directory>")
    print(claims_sha256(Path(sys.argv[1]).resolve()))
