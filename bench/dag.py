"""The workflow's diversity step at American-Gut scale: ``python -m bench.run --dag``.

Generates a seeded 30,000 x 100,000 table (about 1 % non-zero, totals around 1.8 x the depth), writes
it as BIOM 2.1 HDF5 in the work directory (never in the repository), then runs in a child
interpreter exactly what the ``diversity`` rule runs (``scripts/diversity.py``): :func:`read_biom`
and :func:`gutskin.diversity.run_diversity` with the configuration of ``config/config.yaml``
(100 rarefactions for alpha, 10 for Bray–Curtis and Jaccard, robust Aitchison, PCoA with 10 axes),
the rarefaction depth 10,000 and ``--threads`` numba/BLAS threads. It reports wall time, the wall
time of each step, and the child's peak resident memory (``VmHWM``, reading the table included).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from . import synth
from .child import child_env, run_child

REPO = Path(__file__).resolve().parents[1]
DEPTH = 10_000
ITERATIONS = 100
BETA_ITERATIONS = 10
BETA_METRICS = ("braycurtis", "jaccard", "robust_aitchison")
ALPHA_METRICS = ("observed", "shannon", "simpson")
PCOA_DIMENSIONS = 10


def make_table(work: Path, n: int, features: int, share: float, seed: int) -> tuple[Path, int]:
    """Write (once) the synthetic table as BIOM HDF5; return its path and number of non-zeros."""
    path = work / f"dag_{n}_{features}_{share}_{seed}.biom"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, int(json.loads(meta.read_text())["nnz"])
    t0 = time.perf_counter()
    x = synth.synthetic_counts(n, features, density=0.01, share=share, depth=DEPTH, seed=seed)
    tmp = path.with_suffix(".tmp.biom")
    synth.write_table(x, tmp, fmt="hdf5")
    tmp.replace(path)
    meta.write_text(json.dumps({"nnz": int(x.nnz), "seconds": time.perf_counter() - t0}))
    return path, int(x.nnz)


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the diversity step like ``scripts/diversity.py`` and time it (in the child)."""
    import numba

    from gutskin.diversity.pipeline import run_diversity
    from gutskin.io.table import read_biom

    numba.set_num_threads(max(1, min(int(spec["threads"]), numba.config.NUMBA_NUM_THREADS)))
    t0 = time.perf_counter()
    table = read_biom(spec["table"])
    read_s = time.perf_counter() - t0
    summary = run_diversity(
        table,
        depth=DEPTH,
        iterations=int(spec["iterations"]),
        beta_iterations=int(spec["beta_iterations"]),
        seed=20261126,
        alpha_metrics=list(ALPHA_METRICS),
        beta_metrics=list(spec["beta_metrics"]),
        pcoa_dimensions=PCOA_DIMENSIONS,
        out_dir=Path(spec["out"]),
    )
    wall = time.perf_counter() - t0
    status = Path("/proc/self/status").read_text()
    m = re.search(r"VmHWM:\s+(\d+)\s+kB", status)
    return {
        "wall_s": wall,
        "read_s": read_s,
        "peak_rss_mb": int(m.group(1)) / 1024 if m else float("nan"),
        "seconds": summary["seconds"],
        "n_retained": summary["n_retained"],
    }


def run_dag(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the table (untimed) and measure the diversity step in a child interpreter."""
    work = Path(args.work)
    n, features = int(args.dag_n), int(args.dag_features)
    t0 = time.perf_counter()
    path, nnz = make_table(work, n, features, float(args.share), int(args.seed))
    print(
        f"  dag table {n} x {features}: {nnz} non-zero, {path.stat().st_size / 1e6:.0f} MB "
        f"({time.perf_counter() - t0:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    spec = {
        "table": str(path),
        "out": str(work / "dag_out"),
        "threads": int(args.threads),
        "iterations": ITERATIONS,
        "beta_iterations": BETA_ITERATIONS,
        "beta_metrics": list(BETA_METRICS),
    }
    rec = run_child("bench.dag", spec, "diversity step", env=child_env(args))
    rec.update(
        {
            "n": n,
            "features": features,
            "nnz": nnz,
            "density": nnz / (n * features),
            "depth": DEPTH,
            "iterations": ITERATIONS,
            "beta_iterations": BETA_ITERATIONS,
            "beta_metrics": list(BETA_METRICS),
            "pcoa_dimensions": PCOA_DIMENSIONS,
            "threads": int(args.threads),
            "blas_threads": int(args.blas_threads),
            "share": float(args.share),
        }
    )
    print(
        f"  dag: {rec['wall_s']:.0f} s, peak RSS {rec['peak_rss_mb'] / 1024:.2f} GiB, "
        f"steps {json.dumps(rec['seconds'])}",
        file=sys.stderr,
        flush=True,
    )
    return rec


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.argv[1])), default=float))
