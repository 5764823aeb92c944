"""Alpha diversity (gutskin.diversity.alpha) against hand arithmetic, scikit-bio and R vegan.

vegan reference values: tests/fixtures/vegan_diversity.json, made by
tests/fixtures/make_vegan_diversity.R (vegan 2.6-4): ``diversity(x, "shannon")``,
``diversity(x, "simpson")``, ``specnumber(x)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from skbio.diversity import alpha_diversity as skbio_alpha
from skbio.diversity.alpha import shannon as skbio_shannon

from gutskin.diversity import alpha_diversity, alpha_table, observed, shannon, simpson
from gutskin.errors import InputError
from gutskin.io.table import FeatureTable

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vegan_diversity.json"


def test_hand_computed_values() -> None:
    x = sp.csr_array(np.array([[1, 1, 2, 0], [5, 0, 5, 0], [0, 0, 0, 7]]))
    # [1, 1, 2]: p = (1/4, 1/4, 1/2)
    #   Shannon = -(2 * (1/4) ln(1/4) + (1/2) ln(1/2)) = 1.5 ln 2 = 1.0397207708...
    #   Simpson = 1 - (1/16 + 1/16 + 1/4) = 0.625
    # [5, 5]: Shannon = ln 2, Simpson = 1/2.   [7]: Shannon 0, Simpson 0.
    h1 = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    assert h1 == pytest.approx(1.0397207708399179, abs=1e-15)
    np.testing.assert_allclose(shannon(x), [h1, math.log(2), 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(simpson(x), [0.625, 0.5, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(observed(x), [3, 2, 1])


def test_shannon_is_natural_log_and_converts_to_bits() -> None:
    x = sp.csr_array(np.array([[3, 1, 4, 1, 5, 9, 2, 6]]))
    h_nats = shannon(x)[0]
    h_bits = skbio_shannon(np.array([3, 1, 4, 1, 5, 9, 2, 6]), base=2)
    assert h_nats / math.log(2) == pytest.approx(h_bits, abs=1e-12)
    # 8 equal counts: ln 8 nats = 3 bits
    assert shannon(sp.csr_array(np.ones((1, 8))))[0] == pytest.approx(math.log(8), abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_scikit_bio(seed: int) -> None:
    rng = np.random.default_rng(seed)
    dense = rng.poisson(0.6, size=(40, 70)) * rng.integers(1, 500, size=(40, 70))
    dense[dense.sum(axis=1) == 0, 0] = 1
    # CSR with unsorted indices and explicit stored zeros must give the same answer
    coo = sp.coo_array(dense)
    perm = rng.permutation(coo.nnz)
    rows = np.concatenate([coo.row[perm], [0, 3]])
    cols = np.concatenate([coo.col[perm], [69, 68]])
    vals = np.concatenate([coo.data[perm], [0, 0]])
    x = sp.csr_array((vals, (rows, cols)), shape=dense.shape)
    got = alpha_diversity(x)
    np.testing.assert_allclose(
        got["shannon"], skbio_alpha("shannon", dense).to_numpy(), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        got["simpson"], skbio_alpha("simpson", dense).to_numpy(), rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(
        got["observed"], skbio_alpha("observed_features", dense).to_numpy()
    )


def test_equal_to_vegan() -> None:
    ref = json.loads(FIXTURE.read_text())
    x = sp.csr_array(np.array(ref["matrix"], dtype=np.float64))
    got = alpha_diversity(x)
    np.testing.assert_allclose(got["shannon"], ref["shannon"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["simpson"], ref["simpson"], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(got["observed"], ref["specnumber"])


def test_proportions_give_the_same_shannon_and_simpson() -> None:
    counts = np.array([[10, 0, 30, 60], [1, 1, 1, 0]], dtype=float)
    props = counts / counts.sum(axis=1, keepdims=True)
    a = alpha_diversity(sp.csr_array(counts))
    b = alpha_diversity(sp.csr_array(props))
    for m in ("observed", "shannon", "simpson"):
        np.testing.assert_allclose(a[m], b[m], rtol=0, atol=1e-14)


def test_empty_sample_gives_zero_observed_and_nan() -> None:
    x = sp.csr_array(np.array([[0, 0, 0], [1, 0, 1]]))
    got = alpha_diversity(x)
    assert got["observed"][0] == 0
    assert np.isnan(got["shannon"][0]) and np.isnan(got["simpson"][0])
    # scikit-bio agrees that these are undefined
    assert np.isnan(skbio_alpha("shannon", np.array([[0, 0, 0]])).iloc[0])
    assert got["shannon"][1] == pytest.approx(math.log(2), abs=1e-15)


def test_metric_selection_and_errors() -> None:
    x = sp.csr_array(np.array([[1, 2]]))
    assert set(alpha_diversity(x, ("simpson",))) == {"simpson"}
    with pytest.raises(InputError, match="unknown alpha metric"):
        alpha_diversity(x, ("faith_pd",))
    with pytest.raises(InputError, match="negative"):
        alpha_diversity(sp.csr_array(np.array([[1.0, -0.5]])))
    with pytest.raises(InputError, match="NaN"):
        alpha_diversity(sp.csr_array(np.array([[1.0, np.nan]])))


def test_alpha_table_from_feature_table() -> None:
    t = FeatureTable(sp.csr_array(np.array([[1.0, 1, 2], [0, 4, 0]])), ["a", "b"], ["f", "g", "h"])
    df = alpha_table(t)
    assert df.index.name == "sample_id"
    assert list(df.index) == ["a", "b"]
    assert list(df.columns) == ["observed", "shannon", "simpson"]
    assert df.loc["a", "simpson"] == pytest.approx(0.625, abs=1e-15)
    assert df.loc["b", "observed"] == 1
