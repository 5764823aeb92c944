"""The SLURM profile on a real single-node SLURM cluster (Debian's slurm-wlm + munge, started as root).

It runs the README's cluster command ("Running on a cluster") on synthetic data served from a local
mirror: fetch (a local rule, on the submit host) → import → diversity → claim C8 as SLURM jobs. It checks
the outputs, that fetch never went to SLURM, and that what each sbatch asked for (``scontrol show job``:
CPUs per task, memory, time limit, partition) is what the rule's sizing in gutskin.resources gives for the
files the run made. Skips, saying why, without root or without slurm-wlm / munge (CI installs them).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gutskin import resources
from gutskin.config import validate
from gutskin.synthetic import Scenario, write_synthetic_mirror
from tests.integration.workdir import REPO, SNAKEFILE, make_workdir

from .slurm import PARTITION, SingleNodeSlurm, missing_reason

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

TARGET = "results/claims/C8.json"
#: The README's cluster section (between these markers) holds exactly the command this test runs,
#: with PARTITION standing for the site's partition.
README_START = "<!-- cluster-commands: tests/cluster/test_slurm.py runs these -->"
README_END = "<!-- /cluster-commands -->"


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_START in text and README_END in text, "README lost its cluster-command markers"
    block = text.split(README_START, 1)[1].split(README_END, 1)[0]
    lines = [ln.strip() for ln in block.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith(("```", "#"))]


def _mem_mb(value: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)", value)
    assert m, value
    scale = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[m.group(2)]
    return round(float(m.group(1)) * scale)


def _minutes(limit: str) -> int:
    days, _, hms = limit.rpartition("-")
    h, mi, s = (int(x) for x in hms.split(":"))
    return (int(days or 0) * 24 + h) * 60 + mi + (1 if s else 0)


def test_readme_cluster_section_is_the_tested_command() -> None:
    cmds = readme_commands()
    assert cmds == [
        "snakemake --workflow-profile profiles/slurm --default-resources slurm_partition=PARTITION"
    ], cmds


def test_workflow_on_single_node_slurm(tmp_path: Path) -> None:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    t0 = time.monotonic()
    files = write_synthetic_mirror(
        tmp_path / "mirror", Scenario(n_agp_subjects=200, n_hmp_subjects=20)
    )
    work = make_workdir(tmp_path / "work", files, mirrors=[str(tmp_path / "mirror")])
    (cmd_line,) = readme_commands()
    cmd = [
        str(REPO / "profiles" / "slurm") if a == "profiles/slurm" else a
        for a in shlex.split(cmd_line.replace("PARTITION", PARTITION))
    ]
    cmd[0] = str(Path(sys.executable).parent / "snakemake")
    cmd += ["--snakefile", str(SNAKEFILE), "--directory", str(work), TARGET]
    with SingleNodeSlurm(tmp_path / "slurm") as cluster:
        env = dict(cluster.env)
        env.pop("GUTSKIN_MIRROR", None)
        # Jobs inherit the environment (sbatch --export=ALL): the package under test comes first.
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        run_seconds = time.monotonic() - started
        jobs = cluster.jobs()
        logs = cluster.logs()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:] + "\n" + logs
    print(f"\nSLURM run: {run_seconds:.0f} s (whole test {time.monotonic() - t0:.0f} s)")

    result = json.loads((work / TARGET).read_text())
    assert result["id"] == "C8" and result["tests"] and result["n"] > 0
    assert (work / "results" / "diversity" / "agp_like" / "diversity.json").exists()

    by_rule: dict[str, dict[str, str]] = {}
    for job in jobs:
        m = re.fullmatch(r"rule_([A-Za-z_]+?)(?:_wildcards_.*)?", job.get("Comment", ""))
        assert m, job
        by_rule[m.group(1)] = job
    # fetch is local; a claim is one `claim` job, or per-dataset `claim_cohort` jobs and a `pool_claim`
    claim_rule = "claim_cohort" if "claim_cohort" in by_rule else "claim"
    assert (
        {"import_dataset", "diversity", claim_rule}
        <= set(by_rule)
        <= {
            "import_dataset",
            "diversity",
            "claim",
            "claim_cohort",
            "pool_claim",
        }
    ), sorted(by_rule)
    assert all(j["JobState"] == "COMPLETED" for j in by_rule.values()), by_rule

    cfg = validate(yaml.safe_load((work / "config" / "config.yaml").read_text()), "config")
    res = work / "results"
    fetched = resources.fetched_bytes(str(res / "fetch" / "agp_like.json"))
    n, nnz = resources.table_size(
        str(res / "import" / "agp_like" / "import.json"),
        str(res / "import" / "agp_like" / "table.biom"),
    )
    datasets = yaml.safe_load((work / "config" / "datasets.yaml").read_text())["datasets"]
    cpu = resources.diversity_cpu_seconds(
        n,
        nnz,
        datasets["agp_like"]["rarefaction_depth"],
        cfg["rarefaction"]["iterations"],
        cfg["rarefaction"]["beta_iterations"],
        cfg["beta_metrics"],
    )
    div_threads = resources.diversity_threads(cpu)
    claim_paths = [
        str(res / "import" / "agp_like" / "import.json"),
        str(res / "diversity" / "agp_like" / "diversity.json"),
    ]
    expected = {
        "import_dataset": (
            1,
            resources.import_mem_mb(fetched),
            resources.import_runtime(fetched),
        ),
        "diversity": (
            div_threads,
            resources.diversity_mem_mb(n, nnz),
            resources.diversity_runtime(cpu, div_threads),
        ),
        claim_rule: (
            1,
            resources.claim_mem_mb(resources.largest_beta_bytes(claim_paths)),
            resources.claim_runtime(resources.claim_samples(claim_paths), cfg["permutations"]),
        ),
    }
    for rule, (threads, mem_mb, runtime) in expected.items():
        job = by_rule[rule]
        got = (int(job["CPUs/Task"]), _mem_mb(job["MinMemoryNode"]), _minutes(job["TimeLimit"]))
        assert got == (threads, mem_mb, runtime), (rule, job)
        assert job["Partition"] == PARTITION
    # Nothing asks for more than the node has, and no job was sized from the submit host's cores
    # beyond what its table needs.
    assert int(by_rule["diversity"]["CPUs/Task"]) <= resources.DIVERSITY_MAX_THREADS
    # About 2-3 minutes on an idle 2-core machine; the bound only catches a run that waits on finished
    # jobs (a status check that cannot see them) or a job stuck pending.
    assert run_seconds < 480, f"the SLURM run took {run_seconds:.0f} s"
