"""Offline without a mirror: the real configuration, the network disabled and no mirror, as a new user on
a machine without internet access would run it. The run must end fast (every dataset unavailable, so the
fetch checkpoint plans no import, diversity or claim job and no calibration is simulated), still write a
valid report and ledger, end its log with the summary and the mirror / network hint, and exit non-zero
(no claim analysed). The next run fetches every dataset again."""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from pathlib import Path

import pytest
import yaml

from .workdir import REPO, run_snakemake

pytestmark = pytest.mark.slow


def test_offline_without_mirror_ends_fast_nonzero_with_summary(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    for name in ("datasets.yaml", "claims.yaml"):
        shutil.copy(REPO / "config" / name, work / "config" / name)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["cache_dir"] = str(tmp_path / "cache")
    cfg["mirrors"] = []
    cfg["network"]["enabled"] = False
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))

    load = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = run_snakemake(work, "--workflow-profile", str(REPO / "profiles" / "default"))
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out = proc.stdout + proc.stderr
    print(f"\noffline run: {wall:.0f} s wall, {cpu:.0f} s CPU (load {load:.1f} at start)")

    assert proc.returncode == 1, out[-5000:]
    tail = out[out.rindex("gutskin: summary of this run") :]
    n_used = len(list((work / "results" / "fetch").glob("*.json")))
    assert f"datasets: 0 of {n_used} available" in tail
    assert "testable claims analysed" in tail and "data unavailable" in tail
    assert f"report: {work / 'results' / 'report.html'}" in tail
    assert "GUTSKIN_MIRROR=" in tail and "--forcerun fetch" in tail
    assert "no claim could be analysed" in tail
    assert "Shell command: None" not in out

    # The DAG after the fetch checkpoint: no import, diversity or claim job for an unavailable dataset.
    res = work / "results"
    assert not (res / "import").exists() and not (res / "diversity").exists()
    assert not list(res.glob("claims/*/cohorts")) and not list(res.glob("claims/*.json"))
    bench = res / "benchmarks"
    jobs = {p.relative_to(bench).parts[0].removesuffix(".tsv") for p in bench.rglob("*.tsv")}
    assert jobs == {"fetch", "calibration", "coverage", "ledger", "report"}, jobs

    # Results are valid: the report and the ledger exist; the calibration simulated nothing.
    assert (work / "results" / "report.html").stat().st_size > 0
    ledger = json.loads((work / "results" / "claims.json").read_text())
    analysed = [c for c in ledger if c.get("analysis") and not c.get("data_problem")]
    assert ledger and not analysed
    cal = json.loads((work / "results" / "calibration.json").read_text())
    assert cal["tests"] == [] and {s["claim"] for s in cal["skipped"]} == {"C8", "C9", "C10"}

    # Time (CPU of Snakemake and every job; the wall clock depends on the other work on the machine):
    # 219 s before the no-data fast paths; 80-93 s with 73 jobs (import and diversity writing empty
    # placeholders for the 14 unavailable datasets, 27 claim jobs; 111 s wall); 22 s with fetch as a
    # checkpoint (19 jobs: 14 fetch, calibration, coverage, ledger, report, all; 24 s wall at load 2.8,
    # 40 s at 3.3; issue 13).
    # The bound: under 45 s of CPU the run ends in under a minute even if it ran serially on one idle
    # core, with about twice the measured CPU as room for a loaded machine; a DAG that planned the
    # placeholder jobs again (80 s) fails it. The wall clock is held to a minute when the machine is idle.
    assert cpu < 45, f"{cpu:.0f} s of CPU"
    if load < 0.5:
        assert wall < 60, f"{wall:.0f} s"

    # The next run fetches every dataset again (the manifests that say available: false are removed,
    # with the ledger, so the finished run is not "done"), and ends as the first did.
    again = run_snakemake(work, "--workflow-profile", str(REPO / "profiles" / "default"))
    out2 = again.stdout + again.stderr
    assert again.returncode == 1, out2[-5000:]
    assert out2.count("the dataset was unavailable last time; fetching it again") == n_used
    assert (
        f"datasets: 0 of {n_used} available" in out2[out2.rindex("gutskin: summary of this run") :]
    )
