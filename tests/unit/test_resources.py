"""Job sizing from input sizes (gutskin.resources, used by the rules' threads/resources in common.smk).

Expected numbers are worked by hand from the formulas documented in docs/PERFORMANCE.md ("Resources")."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from gutskin import resources as r


def test_diversity_memory_at_30000_samples() -> None:
    # pairs = 30000*29999/2 = 449,985,000; 2*8*pairs = 7.19976e9; 60 * 3e7 nnz = 1.8e9; + 1.5e9
    # = 1.049976e10 B; x 1.15 = 12,074.7 MB
    assert r.diversity_mem_mb(30000, 30_000_000) == 12074
    assert r.diversity_mem_mb(30000, 30_000_000, attempt=2) == 24149
    assert r.diversity_mem_mb(100, 1000) == 2000  # the floor
    assert r.diversity_mem_mb(None, None) == 2000  # before the table exists


def test_diversity_cpu_threads_and_runtime() -> None:
    # n=2000, nnz=200,000 (100 per sample), depth 1000, 10 + 3 iterations, metrics bc, jaccard, rclr:
    # reads 2000*13*1000*5e-9 = 0.13 s; pairs 1,999,000 * 100 * 6e-11 * (2*3+1) = 0.083958 s;
    # PCoA 1,999,000 * 2.5e-9 * 30 * 3 = 0.449775 s -> 0.663733 s
    cpu = r.diversity_cpu_seconds(
        2000, 200_000, 1000, 10, 3, ["braycurtis", "jaccard", "robust_aitchison"]
    )
    assert cpu is not None and abs(cpu - 0.663733) < 1e-6
    assert r.diversity_threads(cpu) == 1
    assert r.diversity_runtime(cpu, 1) == 10
    # Threads come from the predicted CPU time only: 1 / 2 / 4 / 8, capped at 8.
    assert [r.diversity_threads(s) for s in (59, 60, 1200, 1201, 2400, 2401, 1e9)] == [
        1, 2, 2, 4, 4, 8, 8,
    ]  # fmt: skip
    # 6,000 CPU s on 8 threads: 10 + 3*6000/8/60 = 47.5 -> 47 minutes; doubled on a retry.
    assert r.diversity_runtime(6000, 8) == 47
    assert r.diversity_runtime(6000, 8, attempt=2) == 94
    assert r.diversity_runtime(None) == 30
    assert r.diversity_threads(None) == 1


def test_import_and_claim_sizing() -> None:
    assert r.import_mem_mb(0) == 2000
    assert r.import_mem_mb(100_000_000) == 5000  # 1000 + 40 * 100
    assert r.import_runtime(0) == 10
    assert r.import_runtime(250_000_000) == 35  # 10 + 25
    assert r.claim_mem_mb(0) == 4000
    assert r.claim_mem_mb(2_000_000_000) == 7000  # 1000 + 3 * 2000
    assert r.claim_runtime(0, 9999) == 30
    # 3 * 9999 * 1962^2 * 1e-8 / 60 = 19.247... -> ceil 20 -> 50 minutes
    assert r.claim_runtime(1962, 9999) == 50
    assert r.claim_runtime(1962, 9999, attempt=2) == 100


def test_header_readers(tmp_path: Path) -> None:
    info = tmp_path / "import.json"
    info.write_text(json.dumps({"n_samples": 7}))
    table = tmp_path / "table.biom"
    with h5py.File(table, "w") as fh:
        fh["sample/matrix/data"] = np.ones(23)
        fh["sample/ids"] = np.array([b"s"] * 9)
    # n from import.json wins over the table's id list; nnz from the HDF5 index
    assert r.table_size(str(info), str(table)) == (7, 23)
    assert r.table_size(None, str(table)) == (9, 23)
    assert r.table_size(str(tmp_path / "missing.json"), None) == (None, None)

    manifest = tmp_path / "fetch.json"
    manifest.write_text(json.dumps({"files": {"table": {"size": 1000}, "samples": {"size": 24}}}))
    assert r.fetched_bytes(str(manifest)) == 1024
    assert r.fetched_bytes(str(tmp_path / "nope.json")) == 0
    assert r.claim_samples([str(info), str(tmp_path / "x" / "import.json")]) == 7

    div = tmp_path / "div"
    div.mkdir()
    (div / "diversity.json").write_text("{}")
    (div / "beta_braycurtis.npz").write_bytes(b"x" * 300)
    (div / "beta_jaccard.npz").write_bytes(b"x" * 500)
    (div / "pcoa_jaccard.tsv").write_bytes(b"x" * 900)
    assert r.largest_beta_bytes([str(div / "diversity.json"), str(info)]) == 500
