"""The second rarefaction depth of run_diversity (``rarefaction.sensitivity_depth``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutskin.diversity import repeated_rarefaction_alpha, run_diversity
from gutskin.diversity.pipeline import depth2_seed
from gutskin.errors import InputError
from gutskin.io.table import FeatureTable

ALPHA = ["observed", "shannon", "simpson"]


def _count_table() -> FeatureTable:
    rng = np.random.default_rng(4)
    x = rng.poisson(0.8, size=(14, 30)) * rng.integers(1, 20, size=(14, 30))
    x[0] = 0
    x[0, :3] = [2, 2, 1]  # 5 reads: dropped at both depths
    x[1] = 0
    x[1, :5] = [5, 5, 5, 5, 5]  # 25 reads: reaches depth2 = 20 but not depth 40, so dropped
    x[2] = 0
    x[2, :4] = [10, 10, 10, 10]  # exactly 40 reads: kept
    return FeatureTable(
        sp.csr_array(x.astype(float)), [f"s{i}" for i in range(14)], [f"f{j}" for j in range(30)]
    )


def _run(table: FeatureTable, out: Path, fraction: float = 0.5, seed: int = 21) -> dict:
    return run_diversity(
        table, 40, 8, 2, seed, ALPHA, ["braycurtis"], 2, out, sensitivity_depth=fraction
    )


def test_depth2_columns_match_repeated_rarefaction_alpha(tmp_path: Path) -> None:
    table = _count_table()
    summary = _run(table, tmp_path)
    assert summary["depth2"] == 20 and summary["depth2_fraction"] == 0.5
    alpha = pd.read_csv(tmp_path / "alpha.tsv", sep="\t", dtype={"sample_id": str})
    assert alpha["sample_id"].tolist() == [f"s{i}" for i in range(2, 14)]
    for m in ALPHA:
        assert f"{m}_depth2_mean" in alpha.columns
        assert alpha[f"{m}_depth2_mean"].notna().all()
    # the documented seed, on the whole table; the rows of the samples retained at depth 40
    kept2, means2, _ = repeated_rarefaction_alpha(
        table, 20, 8, np.random.SeedSequence([21, 2]), ALPHA
    )
    assert kept2.tolist() == list(range(1, 14))  # s1 reaches depth2 only
    for m in ALPHA:
        np.testing.assert_allclose(alpha[f"{m}_depth2_mean"], means2[m][1:], rtol=0, atol=1e-12)
    # depth2_seed is that SeedSequence
    _, again, _ = repeated_rarefaction_alpha(table, 20, 8, depth2_seed(21), ["shannon"])
    np.testing.assert_array_equal(again["shannon"], means2["shannon"])
    # s2: 10 reads of each of 4 features; at 20 reads richness is at most 4
    s2 = alpha.set_index("sample_id").loc["s2"]
    assert 1 <= s2["observed_depth2_mean"] <= 4
    # the main-depth columns are those of a run without the second depth
    plain = run_diversity(table, 40, 8, 2, 21, ALPHA, ["braycurtis"], 2, tmp_path / "plain")
    assert plain["depth2"] is None
    ref = pd.read_csv(tmp_path / "plain" / "alpha.tsv", sep="\t", dtype={"sample_id": str})
    pd.testing.assert_frame_equal(alpha[list(ref.columns)], ref)


def test_depth2_is_deterministic(tmp_path: Path) -> None:
    table = _count_table()
    _run(table, tmp_path / "a")
    _run(table, tmp_path / "b")
    assert (tmp_path / "a" / "alpha.tsv").read_bytes() == (
        tmp_path / "b" / "alpha.tsv"
    ).read_bytes()
    _run(table, tmp_path / "c", seed=22)
    assert (tmp_path / "a" / "alpha.tsv").read_bytes() != (
        tmp_path / "c" / "alpha.tsv"
    ).read_bytes()


def test_depth2_disabled_or_not_rarefied(tmp_path: Path) -> None:
    table = _count_table()
    summary = _run(table, tmp_path / "off", fraction=0)
    assert summary["depth2"] is None and summary["depth2_fraction"] is None
    alpha = pd.read_csv(tmp_path / "off" / "alpha.tsv", sep="\t")
    assert not any(c.endswith("_depth2_mean") for c in alpha.columns)
    # fraction x depth < 1 read: nothing to compute
    assert _run(table, tmp_path / "tiny", fraction=0.01)["depth2"] is None
    props = np.array([[0.5, 0.5, 0], [0.2, 0.3, 0.5]])
    rel = FeatureTable(sp.csr_array(props), ["a", "b"], ["f", "g", "h"], values="relative")
    summary = _run(rel, tmp_path / "rel")
    assert summary["depth2"] is None
    alpha = pd.read_csv(tmp_path / "rel" / "alpha.tsv", sep="\t")
    assert not any(c.endswith("_depth2_mean") for c in alpha.columns)


@pytest.mark.parametrize("bad", [1.0, -0.1, 2, True, "half"])
def test_bad_fraction_is_rejected(tmp_path: Path, bad: object) -> None:
    with pytest.raises(InputError, match="sensitivity_depth"):
        _run(_count_table(), tmp_path, fraction=bad)  # type: ignore[arg-type]
