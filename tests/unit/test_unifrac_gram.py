"""gutskin's compiled Faith PD / UniFrac (gutskin.diversity.unifrac_gram) against scikit-bio.

scikit-bio is the reference: ``beta_diversity("unweighted_unifrac")``,
``beta_diversity("weighted_unifrac", normalized=True)`` and ``alpha_diversity("faith_pd")`` on the
same tree and table, to 1e-9 (measured: about 1e-15). The trees are random (tests/support/trees.py):
binary and with polytomies, with zero-length branches, with a length on the root's branch, with tips
that no feature uses; the tables have features absent from every sample, duplicate samples, and
samples that share no branch.
"""

from __future__ import annotations

import io
from typing import Any

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from skbio import TreeNode
from skbio.diversity import alpha_diversity as skbio_alpha
from skbio.diversity import beta_diversity as skbio_beta

from gutskin.diversity import phylogeny
from gutskin.diversity import unifrac_gram as ug
from gutskin.diversity.beta import condensed_index
from gutskin.errors import InputError
from gutskin.io.table import FeatureTable
from tests.support.trees import random_tree

TOL = 1e-9


def _tree(text: str) -> Any:
    return TreeNode.read(io.StringIO(text), format="newick")


def _table(rng: np.random.Generator, n: int, m: int, density: float) -> np.ndarray:
    """Poisson counts on a random pattern; column 1 is absent everywhere, rows 1 and 3 are equal."""
    present = rng.random((n, m)) < density
    x = np.where(present, rng.poisson(4.0, size=(n, m)) + 1, 0).astype(np.int64)
    x[:, 0] += 1  # a feature that every sample has
    x[:, 1] = 0  # a feature no sample has
    x[3] = x[1]
    return x


def _skbio(metric: str, x: np.ndarray, tree: Any, taxa: list[str]) -> np.ndarray:
    if metric == "faith_pd":
        return np.asarray(skbio_alpha("faith_pd", x, taxa=taxa, tree=tree).to_numpy(), float)
    kw = {"normalized": True} if metric == "weighted_unifrac" else {}
    return skbio_beta(metric, x, taxa=taxa, tree=tree, **kw).condensed_form()


def _ours(metric: str, x: Any, tree: Any, taxa: list[str], **kw: Any) -> np.ndarray:
    func = {
        "faith_pd": ug.faith_pd,
        "unweighted_unifrac": ug.unweighted_unifrac,
        "weighted_unifrac": ug.weighted_normalized_unifrac,
    }[metric]
    return func(sp.csr_array(x), tree, taxa, **kw)


METRICS = ("unweighted_unifrac", "weighted_unifrac", "faith_pd")

# (tips, features used, samples, density, max children, zero-length fraction, root length, seed)
CASES = [
    (60, 60, 25, 0.15, 2, 0.0, None, 1),  # binary
    (80, 50, 30, 0.10, 5, 0.0, None, 2),  # polytomies; tree has more tips than the table features
    (70, 70, 20, 0.20, 2, 0.3, None, 3),  # many zero-length branches
    (50, 50, 18, 0.30, 4, 0.2, 0.7, 4),  # polytomies, zero lengths and a root with a length
    (300, 250, 120, 0.04, 3, 0.1, None, 5),  # sparse: most branches in posting lists
    (200, 200, 90, 0.35, 2, 0.05, 0.25, 6),  # dense: most branches through BLAS
]


@pytest.mark.parametrize(("tips", "m", "n", "density", "kids", "zero", "root", "seed"), CASES)
@pytest.mark.parametrize("metric", METRICS)
def test_equals_scikit_bio(
    metric: str,
    tips: int,
    m: int,
    n: int,
    density: float,
    kids: int,
    zero: float,
    root: float | None,
    seed: int,
) -> None:
    tree, names = random_tree(
        tips, seed=seed, max_children=kids, zero_fraction=zero, root_length=root
    )
    rng = np.random.default_rng(seed)
    taxa = [names[k] for k in rng.permutation(tips)[:m]]  # any order, any subset of the tips
    x = _table(rng, n, m, density)
    got = _ours(metric, x, tree, taxa)
    np.testing.assert_allclose(got, _skbio(metric, x, tree, taxa), rtol=0, atol=TOL)
    if metric != "faith_pd":
        assert got[condensed_index(1, 3, n)] == pytest.approx(0.0, abs=1e-12)  # duplicate rows


def test_duplicate_rows_are_exactly_zero_and_disjoint_rows_one() -> None:
    # the root has no length and two children: samples on different sides share no branch
    left, _ = random_tree(20, seed=8, prefix="L")
    right, _ = random_tree(20, seed=9, prefix="R")
    left.length, right.length = 0.4, 0.2
    tree = TreeNode(children=[left, right])
    taxa = [f"L{j}" for j in range(20)] + [f"R{j}" for j in range(20)]
    rng = np.random.default_rng(10)
    x = np.zeros((4, 40), dtype=np.int64)
    x[0, rng.choice(20, 6, replace=False)] = 3
    x[1] = x[0]
    x[2, 20 + rng.choice(20, 5, replace=False)] = 2
    x[3, :] = 1
    u = _ours("unweighted_unifrac", x, tree, taxa)
    w = _ours("weighted_unifrac", x, tree, taxa)
    assert u[condensed_index(0, 1, 4)] == 0.0  # exact: recomputed from the coverage rows
    assert u[condensed_index(0, 2, 4)] == 1.0
    assert w[condensed_index(0, 2, 4)] == pytest.approx(1.0, abs=1e-15)
    assert w[condensed_index(0, 1, 4)] == pytest.approx(0.0, abs=1e-15)
    for metric, got in (("unweighted_unifrac", u), ("weighted_unifrac", w)):
        np.testing.assert_allclose(got, _skbio(metric, x, tree, taxa), rtol=0, atol=TOL)


def test_non_integer_values_are_proportions() -> None:
    tree, taxa = random_tree(40, seed=11, max_children=3)
    x = _table(np.random.default_rng(11), 15, 40, 0.3)
    scaled = x * np.random.default_rng(12).uniform(1e-3, 5.0, size=(15, 1))
    np.testing.assert_allclose(
        _ours("weighted_unifrac", scaled, tree, taxa),
        _ours("weighted_unifrac", x, tree, taxa),
        rtol=0,
        atol=1e-12,
    )
    np.testing.assert_array_equal(
        _ours("unweighted_unifrac", scaled, tree, taxa),
        _ours("unweighted_unifrac", x, tree, taxa),
    )


def test_empty_samples_follow_scikit_bio() -> None:
    # an empty sample: Faith PD 0, distance 1 to a non-empty sample and 0 to another empty one
    tree, taxa = random_tree(30, seed=13, max_children=3, root_length=0.5)
    x = _table(np.random.default_rng(13), 6, 30, 0.3)
    x[2] = 0
    x[4] = 0
    for metric in METRICS:
        got = _ours(metric, x, tree, taxa)
        np.testing.assert_allclose(got, _skbio(metric, x, tree, taxa), rtol=0, atol=TOL)
    u = _ours("unweighted_unifrac", x, tree, taxa)
    assert u[condensed_index(2, 4, 6)] == 0.0 and u[condensed_index(0, 2, 6)] == 1.0


def test_samples_on_zero_length_branches_only() -> None:
    # A and B hang from the root by zero-length branches: a sample with only A and B covers no
    # length. Unweighted (as scikit-bio): 0 to another such sample, 1 to a sample covering length.
    # Weighted: scikit-bio divides 0 by 0 (NaN) when one of the two is empty; gutskin says 0.
    tree = _tree("((A:0,B:0)X:0,(C:4,D:5)Y:6)root;")
    taxa = ["A", "B", "C", "D"]
    x = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [2, 0, 0, 2], [0, 0, 0, 0], [0, 3, 0, 0]])
    u = _ours("unweighted_unifrac", x, tree, taxa)
    np.testing.assert_allclose(u, _skbio("unweighted_unifrac", x, tree, taxa), rtol=0, atol=TOL)
    w = _ours("weighted_unifrac", x, tree, taxa)
    with np.errstate(invalid="ignore"):
        ref = _skbio("weighted_unifrac", x, tree, taxa)
    nan = np.isnan(ref)
    assert nan.any()
    np.testing.assert_allclose(w[~nan], ref[~nan], rtol=0, atol=TOL)
    assert (w[nan] == 0.0).all()
    assert w[condensed_index(0, 4, 5)] == 0.0  # both only on zero-length branches


def test_thread_count_does_not_change_a_bit() -> None:
    tree, taxa = random_tree(400, seed=14, max_children=3, zero_fraction=0.05)
    x = sp.csr_array(_table(np.random.default_rng(14), 150, 400, 0.08))
    old = numba.get_num_threads()
    results = []
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            results.append(
                [
                    ug.unweighted_unifrac(x, tree, taxa, block_entries=150 * 40),
                    ug.weighted_normalized_unifrac(x, tree, taxa),
                    ug.faith_pd(x, tree, taxa),
                ]
            )
    finally:
        numba.set_num_threads(old)
    for one, many in zip(*results, strict=True):
        np.testing.assert_array_equal(one.view(np.uint64), many.view(np.uint64))


def test_row_blocks_do_not_change_the_result() -> None:
    tree, taxa = random_tree(200, seed=15)
    x = sp.csr_array(_table(np.random.default_rng(15), 70, 200, 0.2))
    whole = ug.unweighted_unifrac(x, tree, taxa)
    blocked = ug.unweighted_unifrac(x, tree, taxa, block_entries=70 * 3)
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-14)


def test_postorder_tree_is_reusable() -> None:
    tree, taxa = random_tree(50, seed=16, max_children=4)
    arrays = ug.PostorderTree.from_tree(tree)
    assert ug.PostorderTree.from_tree(arrays) is arrays
    x = _table(np.random.default_rng(16), 12, 50, 0.3)
    np.testing.assert_array_equal(
        _ours("unweighted_unifrac", x, arrays, taxa), _ours("unweighted_unifrac", x, tree, taxa)
    )
    assert (
        arrays.parent[-1] == -1 and (arrays.parent[:-1] > np.arange(arrays.parent.size - 1)).all()
    )


def test_fewer_than_two_samples() -> None:
    tree, taxa = random_tree(10, seed=17)
    one = np.ones((1, 10), dtype=np.int64)
    assert _ours("unweighted_unifrac", one, tree, taxa).size == 0
    assert _ours("weighted_unifrac", one, tree, taxa).size == 0
    assert _ours("faith_pd", one, tree, taxa).shape == (1,)


def test_errors_name_the_problem() -> None:
    tree = _tree("((A:1,B:2)X:3,(C:4,D:5)Y:6)root;")
    x = sp.csr_array(np.ones((2, 3)))
    with pytest.raises(InputError, match=r"2 of the table's 3 features are not tips.*'E', 'F'"):
        ug.unweighted_unifrac(x, tree, ["A", "E", "F"])
    with pytest.raises(InputError, match=r"occur more than once \(e.g. 'A'\)"):
        ug.unweighted_unifrac(x, tree, ["A", "B", "A"])
    with pytest.raises(InputError, match="2 feature ids given for a table of 3 features"):
        ug.faith_pd(x, tree, ["A", "B"])
    with pytest.raises(InputError, match="root has 3 children, so the tree is unrooted"):
        ug.faith_pd(x, _tree("(A:1,B:2,(C:4,D:5)Y:6);"), ["A", "B", "C"])
    with pytest.raises(InputError, match="branch above 'B' has length None"):
        ug.weighted_normalized_unifrac(x, _tree("((A:1,B)X:3,(C:4,D:5)Y:6);"), ["A", "B", "C"])
    with pytest.raises(InputError, match="negative values"):
        ug.faith_pd(sp.csr_array(-np.ones((2, 3))), tree, ["A", "B", "C"])


# ---------------------------------------------------------------------- the route in phylogeny
def _feature_table() -> tuple[FeatureTable, Any]:
    tree, taxa = random_tree(30, seed=18, max_children=3)
    x = _table(np.random.default_rng(18), 10, 30, 0.3)
    table = FeatureTable(
        counts=sp.csr_array(x.astype(float)),
        sample_ids=[f"s{i}" for i in range(10)],
        feature_ids=taxa,
    )
    return table, tree


def test_route_without_the_unifrac_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phylogeny, "unifrac_available", lambda: False)
    assert phylogeny.backend_name() == "gutskin"
    for metric in METRICS:
        assert phylogeny.backend_name(metric=metric) == "gutskin"
    assert phylogeny.backend_name("skbio", metric="unweighted_unifrac") == "skbio"
    calls: list[str] = []
    for name in ("faith_pd", "unweighted_unifrac", "weighted_normalized_unifrac"):
        real = getattr(ug, name)

        def spy(*a: Any, _real: Any = real, _name: str = name, **k: Any) -> np.ndarray:
            calls.append(_name)
            return _real(*a, **k)

        monkeypatch.setattr(ug, name, spy)
    table, tree = _feature_table()
    for metric in ("unweighted_unifrac", "weighted_unifrac"):
        got = phylogeny.unifrac(table, tree, metric)
        ref = phylogeny.unifrac(table, tree, metric, backend="skbio")
        np.testing.assert_allclose(got, ref, rtol=0, atol=TOL)
    got = phylogeny.faith_pd(table, tree)
    np.testing.assert_allclose(got, phylogeny.faith_pd(table, tree, backend="skbio"), atol=TOL)
    assert calls == ["unweighted_unifrac", "weighted_normalized_unifrac", "faith_pd"]


def test_route_with_the_unifrac_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phylogeny, "unifrac_available", lambda: True)
    assert phylogeny.backend_name() == "unifrac"
    assert phylogeny.backend_name(metric="unweighted_unifrac") == "unifrac"
    assert phylogeny.backend_name("gutskin") == "gutskin"
    monkeypatch.setattr(phylogeny, "unifrac_available", lambda: False)
    with pytest.raises(InputError, match="not installed"):
        phylogeny.backend_name("unifrac")


def test_rarefied_unifrac_with_the_gutskin_back_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phylogeny, "unifrac_available", lambda: False)
    table, tree = _feature_table()
    for metric in ("unweighted_unifrac", "weighted_unifrac"):
        ours, ids = phylogeny.mean_rarefied_unifrac(table, tree, metric, 20, 3, 5)
        ref, ref_ids = phylogeny.mean_rarefied_unifrac(
            table, tree, metric, 20, 3, 5, backend="skbio"
        )
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=TOL)


def test_backend_summary_per_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phylogeny, "unifrac_available", lambda: False)
    assert phylogeny.backend_summary(["faith_pd", "unweighted_unifrac"]) == (
        "gutskin",
        {"faith_pd": "gutskin", "unweighted_unifrac": "gutskin"},
    )
    assert phylogeny.backend_summary([]) == (None, {})
    # a metric gutskin's kernels did not cover would go to scikit-bio, and the summary says so
    monkeypatch.setattr(phylogeny, "GUTSKIN_METRICS", ("unweighted_unifrac",))
    assert phylogeny.backend_summary(["faith_pd", "unweighted_unifrac"]) == (
        "faith_pd: skbio; unweighted_unifrac: gutskin",
        {"faith_pd": "skbio", "unweighted_unifrac": "gutskin"},
    )
    with pytest.raises(InputError, match="gutskin's kernels do not compute faith_pd"):
        phylogeny.backend_name("gutskin", metric="faith_pd")
