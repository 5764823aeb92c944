"""PCoA (gutskin.diversity.ordination) and the diversity step's files (gutskin.diversity.pipeline).

PCoA references: scikit-bio's exact ``pcoa(method="eigh")`` and classical geometry (PCoA of Euclidean
distances between points recovers those distances exactly). Pipeline expectations come from hand
arithmetic, scipy and scikit-bio.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import pdist
from skbio import DistanceMatrix
from skbio.diversity import alpha_diversity as skbio_alpha
from skbio.stats.ordination import pcoa as skbio_pcoa

from gutskin.diversity import pcoa, repeated_rarefaction_alpha, run_diversity
from gutskin.errors import InputError
from gutskin.io.table import FeatureTable

# ------------------------------------------------------------------------------------------- PCoA


def _points(seed: int, n: int, dim: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)) * np.array([5.0, 2.0, 1.0, 0.5])[:dim]


def _max_axis_error(coords: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per axis: max |coordinate difference| after matching the sign, relative to the axis scale."""
    errs = []
    for k in range(coords.shape[1]):
        a, b = coords[:, k], ref[:, k]
        sign = 1.0 if np.dot(a, b) >= 0 else -1.0
        errs.append(np.abs(a - sign * b).max() / np.abs(b).max())
    return np.array(errs)


def _bray_curtis_of_random_counts(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.poisson(2.0, size=(n, 60)) + 1) * rng.gamma(0.5, size=(1, 60))
    return pdist(x, "braycurtis")


def test_fsvd_matches_exact_eigh_up_to_axis_sign() -> None:
    cond = _bray_curtis_of_random_counts(1, 12)
    ids = [f"s{i}" for i in range(12)]
    coords, prop = pcoa(cond, ids, 3, seed=5)
    ref = skbio_pcoa(DistanceMatrix(cond, ids), method="eigh", dimensions=3)
    ref_coords = ref.samples.iloc[:, :3].to_numpy()
    assert (_max_axis_error(coords.to_numpy(), ref_coords) < 1e-8).all()
    np.testing.assert_allclose(prop.to_numpy(), ref.proportion_explained.to_numpy()[:3], atol=1e-10)


def test_fsvd_is_accurate_on_a_flat_spectrum() -> None:
    # 150 samples: FSVD is approximate here. With oversampling the first three axes must agree
    # with the exact decomposition to 0.5 % of the axis scale (skbio's FSVD asked for exactly 3
    # axes is off by several per cent on this kind of matrix).
    cond = _bray_curtis_of_random_counts(2, 150)
    ids = [f"s{i}" for i in range(150)]
    coords, _ = pcoa(cond, ids, 3, seed=0)
    ref = skbio_pcoa(DistanceMatrix(cond, ids), method="eigh", dimensions=3)
    errs = _max_axis_error(coords.to_numpy(), ref.samples.iloc[:, :3].to_numpy())
    assert (errs < 5e-3).all(), errs


def test_pcoa_recovers_euclidean_configuration() -> None:
    # Points in the plane: PCoA on their Euclidean distances must reproduce every distance with
    # two axes, and those two axes explain all the variance.
    pts = _points(2, 15, 2)
    cond = pdist(pts)
    coords, prop = pcoa(cond, [f"p{i}" for i in range(15)], 2)
    np.testing.assert_allclose(pdist(coords.to_numpy()), cond, rtol=0, atol=1e-9)
    assert prop.sum() == pytest.approx(1.0, abs=1e-9)
    # the first axis is the direction of largest spread (x scaled by 5 vs 2)
    assert prop.iloc[0] > prop.iloc[1]


def test_output_shape_names_and_determinism() -> None:
    pts = _points(3, 20, 4)
    cond = pdist(pts)
    ids = [f"s{i}" for i in range(20)]
    coords, prop = pcoa(cond, ids, 3, seed=11)
    assert list(coords.columns) == ["PC1", "PC2", "PC3"]
    assert list(coords.index) == ids and coords.index.name == "sample_id"
    assert list(prop.index) == ["PC1", "PC2", "PC3"]
    assert (np.diff(prop.to_numpy()) <= 1e-12).all()
    again, _ = pcoa(cond, ids, 3, seed=11)
    pd.testing.assert_frame_equal(coords, again)
    # axis orientation: the largest-magnitude coordinate of each axis is positive
    for col in coords.columns:
        v = coords[col].to_numpy()
        assert v[np.argmax(np.abs(v))] > 0


def test_small_inputs() -> None:
    c1, p1 = pcoa(np.array([0.7]), ["a", "b"], 10)
    assert p1.iloc[0] == pytest.approx(1.0, abs=1e-12)
    assert list(c1.columns) == ["PC1"]  # capped at n - 1
    # two points at distance 0.7 sit at ±0.35
    np.testing.assert_allclose(np.sort(c1["PC1"].to_numpy()), [-0.35, 0.35], atol=1e-12)
    c0, p0 = pcoa(np.zeros(0), ["a"], 10)
    assert c0.shape == (1, 0) and p0.empty
    ce, pe = pcoa(np.zeros(0), [], 10)
    assert ce.shape == (0, 0) and pe.empty


def test_bad_pcoa_input() -> None:
    with pytest.raises(InputError, match="3 ids need 3"):
        pcoa(np.array([0.1, 0.2]), ["a", "b", "c"], 2)
    with pytest.raises(InputError, match="finite and non-negative"):
        pcoa(np.array([0.1, np.nan, 0.3]), ["a", "b", "c"], 2)
    with pytest.raises(InputError, match="dimensions"):
        pcoa(np.array([0.1, 0.2, 0.3]), ["a", "b", "c"], 0)


# --------------------------------------------------------------------------------------- pipeline

ALPHA = ["observed", "shannon", "simpson"]
BETA = ["braycurtis", "jaccard", "robust_aitchison"]


def _count_table() -> FeatureTable:
    rng = np.random.default_rng(4)
    x = rng.poisson(0.8, size=(14, 30)) * rng.integers(1, 20, size=(14, 30))
    x[0] = 0
    x[0, :3] = [2, 2, 1]  # 5 reads: dropped at depth 40
    x[1] = 0  # empty: dropped
    x[2] = 0
    x[2, :4] = [10, 10, 10, 10]  # exactly 40 reads: kept
    return FeatureTable(
        sp.csr_array(x.astype(float)), [f"s{i}" for i in range(14)], [f"f{j}" for j in range(30)]
    )


def _no_temp_files(out: Path) -> bool:
    return not any(p.name.startswith(".") or p.suffix == ".tmp" for p in out.iterdir())


def test_run_diversity_writes_all_files(tmp_path: Path) -> None:
    table = _count_table()
    summary = run_diversity(table, 40, 8, 3, 21, ALPHA, BETA, 4, tmp_path)
    assert summary["n_samples_in"] == 14
    assert summary["n_retained"] == 12 and summary["n_dropped"] == 2
    assert summary["depth"] == 40 and summary["rarefied"] is True
    assert summary["metrics"] == {"alpha": ALPHA, "beta": BETA}
    assert set(summary["seconds"]) >= {"alpha", "beta_braycurtis", "pcoa_jaccard"}
    assert _no_temp_files(tmp_path)

    depth = pd.read_csv(tmp_path / "depth.tsv", sep="\t", dtype={"sample_id": str})
    assert list(depth.columns) == ["sample_id", "reads", "retained"]
    assert depth["reads"].tolist()[:3] == [5, 0, 40]
    assert depth["retained"].tolist()[:3] == [False, False, True]
    assert depth["retained"].sum() == 12

    alpha = pd.read_csv(tmp_path / "alpha.tsv", sep="\t", dtype={"sample_id": str})
    expected_cols = ["sample_id"]
    for m in ALPHA:
        expected_cols += [f"{m}_mean", f"{m}_sd"]
    assert list(alpha.columns) == [*expected_cols, "depth", "iterations"]
    assert alpha["sample_id"].tolist() == [f"s{i}" for i in range(2, 14)]
    assert (alpha["depth"] == 40).all() and (alpha["iterations"] == 8).all()
    # s2 has exactly 40 reads, 10 in each of 4 features: every rarefaction keeps all of them
    s2 = alpha.set_index("sample_id").loc["s2"]
    assert s2["observed_mean"] == 4 and s2["observed_sd"] == 0
    assert s2["shannon_mean"] == pytest.approx(math.log(4), abs=1e-12)
    assert s2["simpson_mean"] == pytest.approx(0.75, abs=1e-12)
    # the file holds what repeated_rarefaction_alpha returns for the same seed
    _, means, sds = repeated_rarefaction_alpha(table, 40, 8, 21)
    np.testing.assert_allclose(alpha["shannon_mean"], means["shannon"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(alpha["simpson_sd"], sds["simpson"], rtol=0, atol=1e-12)

    for metric in BETA:
        with np.load(tmp_path / f"beta_{metric}.npz", allow_pickle=False) as npz:
            ids = npz["ids"]
            cond = npz["condensed"]
        assert ids.tolist() == alpha["sample_id"].tolist()
        assert cond.dtype == np.float64 and cond.size == 12 * 11 // 2
        assert np.isfinite(cond).all() and (cond >= 0).all()
        coords = pd.read_csv(tmp_path / f"pcoa_{metric}.tsv", sep="\t", dtype={"sample_id": str})
        assert list(coords.columns) == ["sample_id", "PC1", "PC2", "PC3", "PC4"]
        assert coords["sample_id"].tolist() == ids.tolist()
    # robust Aitchison is on the unrarefied counts of the retained samples
    with np.load(tmp_path / "beta_robust_aitchison.npz") as npz:
        ra = npz["condensed"]
    x = table.counts.toarray()[2:]
    r = np.zeros_like(x)
    for i, row in enumerate(x):
        nz = row > 0
        r[i, nz] = np.log(row[nz]) - np.log(row[nz]).mean()
    np.testing.assert_allclose(ra, pdist(r), rtol=0, atol=1e-12)


def test_run_diversity_is_reproducible(tmp_path: Path) -> None:
    table = _count_table()
    run_diversity(table, 40, 4, 2, 3, ALPHA, ["braycurtis"], 2, tmp_path / "a")
    run_diversity(table, 40, 4, 2, 3, ALPHA, ["braycurtis"], 2, tmp_path / "b")
    for name in ("alpha.tsv", "depth.tsv", "pcoa_braycurtis.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_run_diversity_empty_table_writes_valid_empty_files(tmp_path: Path) -> None:
    table = FeatureTable(sp.csr_array((0, 5)), [], [f"f{j}" for j in range(5)])
    summary = run_diversity(table, 100, 5, 2, 1, ALPHA, BETA, 3, tmp_path)
    assert summary["n_samples_in"] == 0 and summary["n_retained"] == 0
    alpha = pd.read_csv(tmp_path / "alpha.tsv", sep="\t")
    assert alpha.empty and "shannon_mean" in alpha.columns
    depth = pd.read_csv(tmp_path / "depth.tsv", sep="\t")
    assert depth.empty and list(depth.columns) == ["sample_id", "reads", "retained"]
    for metric in BETA:
        with np.load(tmp_path / f"beta_{metric}.npz", allow_pickle=False) as npz:
            assert npz["ids"].size == 0 and npz["condensed"].size == 0
        coords = pd.read_csv(tmp_path / f"pcoa_{metric}.tsv", sep="\t")
        assert coords.empty and list(coords.columns) == ["sample_id"]


def test_run_diversity_relative_values_are_not_rarefied(tmp_path: Path) -> None:
    counts = np.array([[2.0, 2, 0, 4], [0, 0, 0, 0], [1, 3, 1, 3], [5, 0, 5, 0]])
    props = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    table = FeatureTable(
        sp.csr_array(props), ["a", "b", "c", "d"], ["f1", "f2", "f3", "f4"], values="relative"
    )
    summary = run_diversity(table, 1000, 5, 2, 1, ALPHA, ["braycurtis"], 2, tmp_path)
    assert summary["rarefied"] is False and summary["depth"] is None
    assert any("no rarefaction" in n for n in summary["notes"])
    alpha = pd.read_csv(tmp_path / "alpha.tsv", sep="\t").set_index("sample_id")
    assert list(alpha.index) == ["a", "c", "d"]  # "b" has no signal
    # a: proportions (1/4, 1/4, 1/2): Shannon 1.5 ln 2, Simpson 0.625, 3 features with signal > 0
    assert alpha.loc["a", "shannon_mean"] == pytest.approx(1.5 * math.log(2), abs=1e-12)
    assert alpha.loc["a", "simpson_mean"] == pytest.approx(0.625, abs=1e-12)
    assert alpha.loc["a", "observed_mean"] == 3
    assert alpha["shannon_sd"].isna().all()
    with np.load(tmp_path / "beta_braycurtis.npz", allow_pickle=False) as npz:
        np.testing.assert_allclose(
            npz["condensed"], pdist(props[[0, 2, 3]], "braycurtis"), rtol=0, atol=1e-12
        )
    ref = skbio_alpha("shannon", props[[0, 2, 3]]).to_numpy()
    np.testing.assert_allclose(alpha["shannon_mean"], ref, rtol=0, atol=1e-12)


def test_run_diversity_bad_counts_write_nothing(tmp_path: Path) -> None:
    table = FeatureTable(sp.csr_array(np.array([[1.5, 2.0], [3.0, 1.0]])), ["a", "b"], ["f", "g"])
    with pytest.raises(InputError, match="non-integer"):
        run_diversity(table, 2, 3, 2, 1, ALPHA, BETA, 2, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_run_diversity_rejects_bad_config(tmp_path: Path) -> None:
    table = _count_table()
    with pytest.raises(InputError, match="unknown beta metric"):
        run_diversity(table, 40, 2, 2, 1, ALPHA, ["unifrac"], 2, tmp_path)
    with pytest.raises(InputError, match="beta_iterations"):
        run_diversity(table, 40, 2, 0, 1, ALPHA, BETA, 2, tmp_path)
