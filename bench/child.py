"""What the benchmark parents share: a child interpreter's environment, running one, the scaling exponent.

:mod:`bench.run`, :mod:`bench.dag` and :mod:`bench.workflow` each measure in a child interpreter (so that
peak memory is the child's own); they import these helpers from here, so none of them imports another.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def child_env(args: argparse.Namespace) -> dict[str, str]:
    """Environment of a measuring child: numba threads and BLAS threads as asked."""
    env = dict(os.environ)
    env["NUMBA_NUM_THREADS"] = str(args.threads)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.blas_threads)
    return env


def run_child(
    module: str,
    spec: dict[str, Any],
    what: str,
    *,
    env: dict[str, str] | None = None,
    tail: int = 20,
) -> dict[str, Any]:
    """Run ``python -m <module> <spec as JSON>`` in the repository; its last stdout line as JSON.

    A failing child raises :class:`RuntimeError` naming ``what`` with the last ``tail`` lines of its
    stderr.
    """
    proc = subprocess.run(
        [sys.executable, "-m", module, json.dumps(spec)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        lines = "\n".join(proc.stderr.strip().splitlines()[-tail:])
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{lines}")
    record: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return record


def exponent(sizes: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) on log(N)."""
    if len(sizes) < 2:
        return float("nan")
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.maximum(np.asarray(times, dtype=float), 1e-9))
    return float(np.polyfit(x, y, 1)[0])
