"""Distance matrices for claims (``DatasetBundle.beta``): blockwise, float32 above FLOAT32_ABOVE samples.

The reference is the former implementation (one pass over ``np.triu_indices`` of the whole result,
several int64 arrays of the size of the square matrix), copied here verbatim.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist

from gutskin.claims import bundle as bundle_mod
from gutskin.claims.bundle import DatasetBundle, read_condensed, subset_condensed


def _former_subset(condensed: np.ndarray, all_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    pos = {sid: i for i, sid in enumerate(all_ids)}
    idx = np.array([pos[s] for s in ids], dtype=np.int64)
    n = len(all_ids)
    m = len(idx)
    out = np.zeros((m, m), dtype=np.float64)
    if m < 2:
        return out
    iu, ju = np.triu_indices(m, k=1)
    a = np.minimum(idx[iu], idx[ju])
    b = np.maximum(idx[iu], idx[ju])
    k = n * a - a * (a + 1) // 2 + (b - a - 1)
    vals = condensed[k]
    out[iu, ju] = vals
    out[ju, iu] = vals
    return out


def _data(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, size=(n, 5))
    return np.array([f"s{i}" for i in range(n)]), pdist(x, "braycurtis")


def _bundle(tmp_path: Path, ids: np.ndarray, cond: np.ndarray) -> DatasetBundle:
    path = tmp_path / "beta_braycurtis.npz"
    np.savez(path, ids=ids, condensed=cond)
    empty = pd.DataFrame()
    return DatasetBundle(
        name="d",
        available=True,
        reason=None,
        samples=empty,
        alpha=empty,
        depth=empty,
        beta_files={"braycurtis": path},
    )


@pytest.mark.parametrize("chunk", [1 << 22, 500])  # one block, and blocks of a few rows
def test_float64_path_equals_the_former_implementation(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(bundle_mod, "_CHUNK", chunk)
    ids, cond = _data(300)
    rng = np.random.default_rng(9)
    for want in (ids, rng.permutation(ids)[:177], ids[::-1][:2]):
        got = subset_condensed(cond, ids, want)
        ref = _former_subset(cond, ids, want)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
        assert np.array_equal(got, ref)  # the same stored values, not merely close


def test_float32_above_the_threshold_read_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, cond = _data(400)
    want = np.random.default_rng(1).permutation(ids)[:350]
    ref = _former_subset(cond, ids, want)
    b64 = _bundle(tmp_path, ids, cond)
    assert b64.beta("braycurtis", want).dtype == np.float64  # 400 ≤ FLOAT32_ABOVE
    monkeypatch.setattr(bundle_mod, "FLOAT32_ABOVE", 100)
    monkeypatch.setattr(bundle_mod, "_CHUNK", 1000)  # many chunks, the last one partial
    _, streamed = read_condensed(tmp_path / "beta_braycurtis.npz")
    assert streamed.dtype == np.float32 and np.array_equal(streamed, cond.astype(np.float32))
    got = _bundle(tmp_path, ids, cond).beta("braycurtis", want)
    assert got.dtype == np.float32
    assert np.array_equal(got, ref.astype(np.float32))
    assert np.max(np.abs(got - ref)) < 1e-7  # float32 rounding of values in [0, 1]


def _peak(fn, *args) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_no_second_square_matrix_is_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak memory of the extraction: the result plus one block of index arithmetic, not the former
    int64 index arrays of the size of the matrix (at 30,000 samples each was 3.6 GB)."""
    ids, cond = _data(1500)
    monkeypatch.setattr(bundle_mod, "_CHUNK", 15_000)  # 10 rows per block
    m = len(ids)
    result32 = m * m * 4
    bound = result32 + 8 * 8 * 15_000 + 1_000_000  # result, a block's arrays, the id map
    assert _peak(subset_condensed, cond.astype(np.float32), ids, ids) < bound
    # the former code, on the same input, does not fit (so the bound can fail)
    assert _peak(_former_subset, cond, ids, ids) > 3 * bound
