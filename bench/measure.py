"""One measurement in a fresh interpreter: ``python -m bench.measure '<json spec>'``.

The parent (:mod:`bench.run`) starts one child per (case, implementation, size) so that peak memory
belongs to that measurement alone. The child builds the input (untimed), calls the function once to
warm up (numba loads its compiled kernels, skbio its modules), resets the kernel's peak-RSS
counter (``/proc/self/clear_refs``), then times ``repeats`` calls and prints one JSON line:

``times`` / ``cpu_times``
    wall and CPU seconds of each call (CPU summed over threads; spinning BLAS threads count);
``peak_rss_mb``, ``rss_before_mb``
    the process' peak resident memory during the timed calls (``VmHWM``) and its resident memory
    before them (input data, interpreter); the difference is the working memory of the call;
``tracemalloc_peak_mb``
    for ``impl == "ours"`` only: peak of the memory traced by ``tracemalloc`` (Python objects and
    numpy arrays; not numba's own allocations or BLAS buffers) in one extra, untimed call.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np


def _status_mb(key: str) -> float:
    text = Path("/proc/self/status").read_text()
    m = re.search(rf"{key}:\s+(\d+)\s+kB", text)
    return int(m.group(1)) / 1024 if m else float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement described by ``spec`` (see :func:`bench.run.measure`)."""
    import numba

    from .cases import CASES

    numba.set_num_threads(max(1, min(int(spec["threads"]), numba.config.NUMBA_NUM_THREADS)))
    # import what the baselines use up front, so that no timed call pays for an import
    import pandas  # noqa: F401
    import scipy.spatial.distance  # noqa: F401
    import skbio.diversity
    import skbio.stats
    import skbio.stats.ordination  # noqa: F401

    case = CASES[spec["case"]]
    fn = case.ours if spec["impl"] == "ours" else case.baseline
    if fn is None:
        raise SystemExit(f"case {case.name} has no baseline")
    t0 = time.perf_counter()
    data = case.prepare(dict(spec))
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    if spec.get("warmup", True):
        result = fn(data)
        del result
    warmup = time.perf_counter() - t0
    rss_before = _status_mb("VmRSS")
    reset = _reset_peak()
    times: list[float] = []
    cpus: list[float] = []
    result = None
    for _ in range(int(spec["repeats"])):
        result = None
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn(data)
        times.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    peak = _status_mb("VmHWM")
    traced = None
    if spec["impl"] == "ours" and spec.get("tracemalloc", True):
        tracemalloc.start()
        extra = fn(data)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        del extra
    if spec.get("save"):
        arrays = case.arrays(result)
        tmp = Path(str(spec["save"]) + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, spec["save"])
    return {
        "case": case.name,
        "impl": spec["impl"],
        "n": int(spec["n"]),
        "features": int(spec["features"]),
        "threads": int(spec["threads"]),
        "times": times,
        "cpu_times": cpus,
        "median": float(np.median(times)),
        "setup_s": setup,
        "warmup_s": warmup,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak if reset else float("nan"),
        "tracemalloc_peak_mb": traced,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
