"""Threads, memory and run time of the workflow's jobs, from the size of their inputs.

``workflow/rules/common.smk`` wraps these for the rules' ``threads:`` and ``resources:`` (docs/PERFORMANCE.md,
"Resources"). The header readers look only at file headers and small JSON files (``import.json``, the BIOM
HDF5 index, the fetch manifest, the size of ``beta_*.npz``), never the data; before an input exists (a dry
run) they return ``None`` / 0 and the sizing functions return their floors. Memory and run time grow with
``attempt``, so ``--retries 1`` re-submits a job that ran out of memory or time with twice as much. The
diversity constants were measured by ``python -m bench.run``; the import and claim ones are estimates with
headroom (see the functions).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence

__all__ = [
    "BYTES_PER_NONZERO",
    "DIVERSITY_BASE_BYTES",
    "DIVERSITY_MAX_THREADS",
    "claim_mem_mb",
    "claim_runtime",
    "claim_samples",
    "diversity_cpu_seconds",
    "diversity_mem_mb",
    "diversity_runtime",
    "diversity_threads",
    "fetched_bytes",
    "import_mem_mb",
    "import_runtime",
    "largest_beta_bytes",
    "table_size",
]

#: Diversity step: bytes per stored table value (the table, its rarefied copy, CSC copies).
BYTES_PER_NONZERO = 60
#: Diversity step: fixed memory (interpreter, numba, BLAS, one dense block, PCoA basis) in bytes.
DIVERSITY_BASE_BYTES = 1.5e9
#: Diversity step: CPU seconds per pair of samples per rarefied beta metric and iteration, per
#: feature a sample holds (Bray–Curtis + Jaccard, measured at 1,000 features per sample).
PAIR_SECONDS_PER_FEATURE = 6e-11
#: Diversity step: CPU seconds per read drawn by a rarefaction (Floyd's sampling + alpha).
READ_SECONDS = 5e-9
#: PCoA: CPU seconds per pair of samples per Krylov sweep (30 columns), and sweeps per metric.
PCOA_PAIR_SECONDS = 2.5e-9
PCOA_SWEEPS = 30
#: Most threads a diversity job asks for (the kernels' scaling flattens beyond that).
DIVERSITY_MAX_THREADS = 8
#: Claim step: seconds per permutation per entry of an n x n distance matrix (an estimate with
#: headroom, not a measurement).
PERMUTATION_ENTRY_SECONDS = 1e-8


# -- header readers ---------------------------------------------------------------------------
def table_size(info: str | None, table: str | None) -> tuple[int | None, int | None]:
    """(samples, stored values) of an imported table, from ``import.json`` and the BIOM HDF5 index;
    ``(None, None)`` before they exist."""
    n = nnz = None
    if info and os.path.exists(info):
        try:
            with open(info, encoding="utf-8") as fh:
                n = int(json.load(fh)["n_samples"])
        except (OSError, ValueError, KeyError, TypeError):
            n = None
    if table and os.path.exists(table):
        try:
            import h5py

            with h5py.File(table, "r") as fh:
                nnz = int(fh["sample/matrix/data"].shape[0])
                n = int(fh["sample/ids"].shape[0]) if n is None else n
        except (OSError, KeyError, ValueError):
            nnz = int(os.path.getsize(table) / 4)  # not HDF5: a generous guess
    return n, nnz


def fetched_bytes(manifest: str | None) -> int:
    """Total size of the files a fetch manifest lists (0 before it exists or when it lists none)."""
    if not manifest or not os.path.exists(manifest):
        return 0
    try:
        with open(manifest, encoding="utf-8") as fh:
            files = json.load(fh).get("files", {})
        return sum(int(f.get("size") or 0) for f in files.values())
    except (OSError, ValueError, AttributeError, TypeError):
        return 0


def claim_samples(paths: Iterable[str]) -> int:
    """Largest ``n_samples`` among the ``import.json`` files in ``paths`` (0 when none exists yet)."""
    most = 0
    for path in map(str, paths):
        if path.endswith("import.json") and os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    most = max(most, int(json.load(fh).get("n_samples") or 0))
            except (OSError, ValueError, TypeError, AttributeError):
                continue
    return most


def largest_beta_bytes(paths: Iterable[str]) -> int:
    """Size of the largest ``beta_*.npz`` beside the ``diversity.json`` files in ``paths``."""
    need = 0
    for path in map(str, paths):
        if path.endswith("diversity.json") and os.path.exists(path):
            folder = os.path.dirname(path)
            for name in os.listdir(folder):
                if name.startswith("beta_") and name.endswith(".npz"):
                    need = max(need, os.path.getsize(os.path.join(folder, name)))
    return need


# -- sizing -----------------------------------------------------------------------------------
def diversity_mem_mb(n: int | None, nnz: int | None, attempt: int = 1) -> int:
    """Memory (MB): two condensed float64 distance vectors (one metric's is kept while the next is
    computed), 60 bytes per stored value and 1.5 GB fixed, plus 15 %; at least 2,000 MB."""
    if n is None:
        return 2000 * attempt
    pairs = n * (n - 1) / 2
    need = 2 * 8 * pairs + BYTES_PER_NONZERO * (nnz or 0) + DIVERSITY_BASE_BYTES
    return int(max(2000, 1.15 * need / 1e6) * attempt)


def diversity_cpu_seconds(
    n: int | None,
    nnz: int | None,
    depth: int,
    iterations: int,
    beta_iterations: int,
    beta_metrics: Sequence[str],
) -> float | None:
    """Predicted CPU seconds of the diversity step (``None`` before the table exists): rarefactions
    (5 ns per read drawn), all pairs (6e-11 s per pair per feature a sample holds, per rarefied
    metric and iteration) and PCoA (2.5e-9 s per pair per sweep, 30 sweeps per metric)."""
    if n is None or n == 0:
        return None
    per_sample = (nnz or 0) / n
    pairs = n * (n - 1) / 2
    rarefied = sum(1 for m in beta_metrics if m in ("braycurtis", "jaccard"))
    return (
        n * (iterations + beta_iterations) * depth * READ_SECONDS
        + pairs * per_sample * PAIR_SECONDS_PER_FEATURE * (rarefied * beta_iterations + 1)
        + pairs * PCOA_PAIR_SECONDS * PCOA_SWEEPS * len(beta_metrics)
    )


def diversity_threads(cpu_seconds: float | None) -> int:
    """Threads: 1 below a minute of CPU; else the smallest power of two (2, 4, 8) that brings the
    wall time under ten minutes per thread, at most :data:`DIVERSITY_MAX_THREADS`. It depends on the
    table only, never on the cores of the host that submits the job."""
    if cpu_seconds is None or cpu_seconds < 60:
        return 1
    threads = 2
    while threads < DIVERSITY_MAX_THREADS and cpu_seconds > 600 * threads:
        threads *= 2
    return threads


def diversity_runtime(cpu_seconds: float | None, threads: int = 1, attempt: int = 1) -> int:
    """Minutes: 10 + 3 x the predicted CPU seconds / threads / 60 (30 before the table exists)."""
    if cpu_seconds is None:
        return 30 * attempt
    return int(10 + 3 * cpu_seconds / max(1, threads) / 60) * attempt


def import_mem_mb(size_bytes: int, attempt: int = 1) -> int:
    """Memory (MB) of the import step: gzipped BIOM JSON expands to about 40 bytes of Python objects
    per byte of file; 1,000 MB base; at least 2,000 MB."""
    return int(max(2000, 1000 + 40 * size_bytes / 1e6) * attempt)


def import_runtime(size_bytes: int, attempt: int = 1) -> int:
    """Minutes of the import step: 10, plus 1 per 10 MB fetched (parsers read well over 1 MB/s)."""
    return int(10 + size_bytes / 1e7) * attempt


def claim_mem_mb(largest_beta: int, attempt: int = 1) -> int:
    """Memory (MB) of a claim job: 3 x its largest distance file (read whole, squared, permuted) plus
    1,000 MB; at least 4,000 MB."""
    return int(max(4000, 1000 + 3 * largest_beta / 1e6) * attempt)


def claim_runtime(n_samples: int, permutations: int, attempt: int = 1) -> int:
    """Minutes of a claim job: 30, plus 3 x the permutation tests on an n x n matrix
    (``permutations x n² x`` :data:`PERMUTATION_ENTRY_SECONDS`)."""
    extra = 3 * permutations * n_samples * n_samples * PERMUTATION_ENTRY_SECONDS / 60
    return int(30 + math.ceil(extra)) * attempt
