"""The whole workflow on an American-Gut-shaped cohort: ``python -m bench.run --workflow`` (issue 14 item 1).

A seeded synthetic American Gut look-alike (:mod:`gutskin.synthetic`: stool samples with age, sex, BMI,
antibiotics, skin conditions at American Gut shares, plant variety, sleep, IBD and other diagnoses, a few skin
samples; gzipped BIOM JSON and a QIIME mapping, the real file formats) is written as a local mirror, and the real
Snakemake workflow runs on it with the real ``config/datasets.yaml`` block and every claim of
``config/claims.yaml`` that American Gut serves alone: fetch → import → diversity → each claim → ledger →
report (calibration switched to a token run: it does not depend on the data and is cached in real runs).

Each step is its own Snakemake invocation on that step's target(s), run from a fresh intermediate interpreter
(:func:`step_child`), so its wall time and its peak resident memory (the largest of the Snakemake process and
the script it runs, ``RUSAGE_CHILDREN``) are its own, and so is its CPU time (user + system of Snakemake and
its jobs). Three sizes give each step's scaling exponent ``b`` of ``CPU time ∝ N^b`` (CPU rather than wall
time: on a shared machine the wall time mostly measures the other work).

The issue's target is N = 30,000 stool samples × 100,000 features (``--workflow-sizes 7500,15000,30000
--workflow-features 100000``); that is hours of CPU and was not run on the shared development machine. The
default sizes are a smoke run that proves the path end to end.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .child import exponent, run_child

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
#: Real dataset name -> the look-alike's name.
SWAP = {"agp_2014": "agp_like"}
DATASET = "agp_like"


def _agp_claims() -> list[dict[str, Any]]:
    import yaml

    with (REPO / "config" / "claims.yaml").open(encoding="utf-8") as fh:
        claims = yaml.safe_load(fh)["claims"]
    out = []
    for c in claims:
        ds = c.get("datasets", [])
        if c.get("analysis") and not all(d in SWAP for d in ds):
            continue  # needs a dataset American Gut cannot stand in for
        if "datasets" in c:
            c["datasets"] = [SWAP[d] for d in ds]
        out.append(c)
    return out


def make_workdir(root: Path, n: int, features: int, seed: int) -> dict[str, Any]:
    """Write the synthetic mirror and ``root/config/*.yaml``; return the claims that will run."""
    import yaml

    from gutskin import synthetic

    t0 = time.perf_counter()
    scenario = synthetic.Scenario(
        seed=seed, n_agp_subjects=int(n), n_features=int(features), n_hmp_subjects=10
    )
    files = synthetic.write_synthetic_mirror(root / "mirror", scenario)
    with (REPO / "config" / "datasets.yaml").open(encoding="utf-8") as fh:
        block = dict(yaml.safe_load(fh)["datasets"]["agp_2014"])
    block["title"] = "Synthetic American Gut look-alike (gutskin.synthetic)"
    block["files"] = files[DATASET]
    block["rarefaction_depth"] = 2000  # look-alike samples carry 2,500-6,000 reads
    claims = _agp_claims()
    config = {
        "cache_dir": str(root / "cache"),
        "mirrors": [str(root / "mirror")],
        "network": {"enabled": False},
        "datasets": [],
        "seed": 7,
        "calibration": {
            "alpha_ols": {"replicates": 10},
            "mantel": {"replicates": 10, "permutations": 19},
            "log_ratio": {"replicates": 10},
            "verdicts": {"replicates": 0},
        },
    }
    cfg = root / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "datasets.yaml").write_text(yaml.safe_dump({"datasets": {DATASET: block}}))
    (cfg / "claims.yaml").write_text(yaml.safe_dump({"claims": claims}, allow_unicode=True))
    (cfg / "config.yaml").write_text(yaml.safe_dump(config))
    return {
        "claims": [c["id"] for c in claims if c.get("analysis")],
        "write_s": time.perf_counter() - t0,
    }


def steps(claim_ids: list[str]) -> list[tuple[str, list[str]]]:
    """(step name, Snakemake targets) in DAG order."""
    return [
        ("fetch", [f"results/fetch/{DATASET}.json"]),
        ("import", [f"results/import/{DATASET}/import.json"]),
        ("diversity", [f"results/diversity/{DATASET}/diversity.json"]),
        *[(f"claim {c}", [f"results/claims/{c}.json"]) for c in claim_ids],
        ("ledger", ["results/claims.json"]),
        ("report", ["results/report.html"]),
    ]


def step_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one Snakemake invocation and report its wall time and its children's peak RSS."""
    env = dict(os.environ)
    env.pop("GUTSKIN_MIRROR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        spec["workdir"],
        "--cores",
        str(spec["cores"]),
        *spec["targets"],
    ]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": wall,
        # CPU of Snakemake and every job it ran (user + system): unlike the wall time, not inflated by
        # other work on a shared machine; the load average at the start says how shared it was
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "load_start": load,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "returncode": proc.returncode,
        "stderr_tail": "\n".join(proc.stderr.strip().splitlines()[-15:]),
    }


def run_size(work: Path, n: int, features: int, seed: int, cores: int) -> dict[str, Any]:
    """The whole workflow at one size: per-step wall time and peak memory."""
    root = work / f"workflow_{n}_{features}_{seed}"
    made = make_workdir(root, n, features, seed)
    rows = []
    for name, targets in steps(made["claims"]):
        spec = {"workdir": str(root), "targets": targets, "cores": cores}
        rec = run_child("bench.workflow", spec, f"measuring step {name}")
        if rec["returncode"] != 0:
            raise RuntimeError(f"step {name} failed at n = {n}:\n{rec['stderr_tail']}")
        rec.pop("stderr_tail")
        rows.append({"step": name, **rec})
        print(
            f"  workflow n={n}: {name} {rec['wall_s']:.1f} s wall, {rec['cpu_s']:.1f} s CPU, "
            f"{rec['peak_rss_mb']:.0f} MB (load {rec['load_start']:.1f})",
            file=sys.stderr,
            flush=True,
        )
    ledger = json.loads((root / "results" / "claims.json").read_text())
    entries = ledger if isinstance(ledger, list) else ledger.get("claims", [])
    return {
        "n_subjects": n,
        "features": features,
        "write_s": made["write_s"],
        "claims": made["claims"],
        "verdicts": {
            e.get("id"): e.get("verdict")
            for e in entries
            if isinstance(e, dict) and e.get("id") in made["claims"]
        },
        "steps": rows,
        "total_s": sum(r["wall_s"] for r in rows),
        "total_cpu_s": sum(r["cpu_s"] for r in rows),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
    }


def run_workflow(
    work: Path, sizes: list[int], features: int, seed: int, cores: int
) -> dict[str, Any]:
    """All sizes, and each step's scaling exponent over them."""
    runs = [run_size(work, n, features, seed, cores) for n in sizes]
    names = [r["step"] for r in runs[0]["steps"]]
    exps: dict[str, float | None] = {}
    for i, name in enumerate(names):
        # exponents from CPU time: on a shared machine the wall time mostly measures the others' load
        times = [r["steps"][i]["cpu_s"] for r in runs]
        exps[name] = exponent(list(sizes), times) if len(sizes) >= 2 else None
    return {"sizes": list(sizes), "features": features, "runs": runs, "exponents": exps}


def markdown(rec: dict[str, Any]) -> str:
    """Per-step table: time and peak memory at each size, and the exponent."""
    sizes = rec["sizes"]
    head = " | ".join(f"N = {n:,}: wall s / CPU s / MB" for n in sizes)
    lines = [
        f"| step | {head} | b |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for i, row in enumerate(rec["runs"][0]["steps"]):
        cells = " | ".join(
            f"{r['steps'][i]['wall_s']:.1f} / {r['steps'][i]['cpu_s']:.1f} / "
            f"{r['steps'][i]['peak_rss_mb']:.0f}"
            for r in rec["runs"]
        )
        b = rec["exponents"].get(row["step"])
        lines.append(f"| {row['step']} | {cells} | {'–' if b is None else f'{b:.2f}'} |")
    totals = " | ".join(
        f"{r['total_s']:.1f} / {r['total_cpu_s']:.1f} / {r['peak_rss_mb']:.0f}" for r in rec["runs"]
    )
    lines.append(f"| **total** | {totals} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(step_child(json.loads(sys.argv[1])), default=float))
