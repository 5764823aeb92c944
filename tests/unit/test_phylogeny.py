"""Faith PD and UniFrac (gutskin.diversity.phylogeny), checked against hand computation.

The reference tree of most tests (branch lengths after the colons)::

              root
           3 /    \\ 6
            X      Y
         1 / \\ 2 4/ \\ 5
          A   B  C   D

Root-to-tip distances: A = 1 + 3 = 4, B = 2 + 3 = 5, C = 4 + 6 = 10, D = 5 + 6 = 11.
Samples (counts of A, B, C, D): S1 = (1, 1, 0, 0), S2 = (0, 1, 1, 0), S3 = (2, 0, 0, 2).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutskin.diversity import mean_rarefied_beta, repeated_rarefaction_alpha
from gutskin.diversity.phylogeny import (
    TREE_FILE,
    backend_name,
    faith_pd,
    import_tree,
    load_tree,
    mean_rarefied_unifrac,
    prepare_tree,
    read_newick,
    repeated_rarefaction_faith_pd,
    unifrac,
    unifrac_available,
    write_newick,
)
from gutskin.diversity.pipeline import run_diversity
from gutskin.errors import InputError
from gutskin.io.table import FeatureTable

NEWICK = "((A:1,B:2)X:3,(C:4,D:5)Y:6)root;"
TAXA = ["A", "B", "C", "D"]
COUNTS = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [2, 0, 0, 2]], dtype=float)
IDS = ["S1", "S2", "S3"]

# Faith PD = total length of the branches from the root to every feature present:
#   S1: A 1 + B 2 + X 3 = 6;  S2: B 2 + X 3 + C 4 + Y 6 = 15;  S3: A 1 + X 3 + D 5 + Y 6 = 15
FAITH = [6.0, 15.0, 15.0]
# Unweighted UniFrac = (length of branches under one sample only) / (length under either):
#   S1-S2: union A1 B2 X3 C4 Y6 = 16, unique A1 C4 Y6 = 11            -> 11/16
#   S1-S3: union A1 B2 X3 D5 Y6 = 17, unique B2 D5 Y6 = 13            -> 13/17
#   S2-S3: union A1 B2 X3 C4 D5 Y6 = 21, shared X3 Y6 = 9, unique 12  -> 12/21
UNWEIGHTED = [11 / 16, 13 / 17, 12 / 21]
# Normalised weighted UniFrac = sum_b l_b |pA_b - pB_b| / sum_i d_i (pA_i + pB_i); proportions below
# each branch: S1 A .5 B .5 X 1; S2 B .5 C .5 X .5 Y .5; S3 A .5 D .5 X .5 Y .5.
#   S1-S2: A 1·.5 + X 3·.5 + C 4·.5 + Y 6·.5 = 7;   D = 4·.5 + 5·(.5+.5) + 10·.5 = 12  -> 7/12
#   S1-S3: B 2·.5 + X 3·.5 + D 5·.5 + Y 6·.5 = 8;   D = 4·(.5+.5) + 5·.5 + 11·.5 = 12 -> 8/12
#   S2-S3: A 1·.5 + B 2·.5 + C 4·.5 + D 5·.5 = 6;   D = 4·.5 + 5·.5 + 10·.5 + 11·.5 = 15 -> 6/15
WEIGHTED = [7 / 12, 8 / 12, 6 / 15]


def _tree(text: str = NEWICK):
    from skbio import TreeNode

    return TreeNode.read(io.StringIO(text), format="newick")


def _star(taxa: list[str]):
    """A star tree: every feature hangs by a branch of length 1 from one node, 0 below the root."""
    return _tree("((" + ",".join(f"{t}:1" for t in taxa) + "):0);")


def _table(counts: np.ndarray = COUNTS, values: str = "counts") -> FeatureTable:
    return FeatureTable(
        counts=sp.csr_array(counts), sample_ids=IDS[: len(counts)], feature_ids=TAXA, values=values
    )


# ---------------------------------------------------------------------- hand-computed values
@pytest.mark.parametrize("backend", ["skbio", "gutskin"])
def test_faith_pd_matches_hand_computation(backend: str) -> None:
    got = faith_pd(_table(), _tree(), backend=backend)
    np.testing.assert_allclose(got, FAITH, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["skbio", "gutskin"])
@pytest.mark.parametrize(
    ("metric", "expected"),
    [("unweighted_unifrac", UNWEIGHTED), ("weighted_unifrac", WEIGHTED)],
)
def test_unifrac_matches_hand_computation(metric: str, expected: list[float], backend: str) -> None:
    got = unifrac(_table(), _tree(), metric, backend=backend)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_unifrac_backend_agrees_with_skbio() -> None:
    if not unifrac_available():
        pytest.skip(
            "the Striped UniFrac package (`unifrac`, conda/bioconda only) is not installed; "
            "gutskin's compiled route is compared with scikit-bio's instead (test_unifrac_gram.py)"
        )
    rng = np.random.default_rng(7)
    taxa = [f"t{i}" for i in range(12)]
    tree = _tree(
        "((((t0:0.1,t1:0.2):0.3,(t2:0.4,t3:0.1):0.2):0.5,((t4:0.3,t5:0.2):0.1,t6:0.7):0.2):0.1,"
        "(((t7:0.2,t8:0.5):0.3,t9:0.4):0.6,(t10:0.1,t11:0.9):0.3):0.4);"
    )
    counts = rng.poisson(3.0, size=(8, 12)).astype(float)
    counts[:, 0] += 1  # no empty sample
    table = FeatureTable(
        counts=sp.csr_array(counts), sample_ids=[f"s{i}" for i in range(8)], feature_ids=taxa
    )
    np.testing.assert_allclose(
        faith_pd(table, tree, backend="unifrac"), faith_pd(table, tree, backend="skbio"), atol=1e-6
    )
    for metric in ("unweighted_unifrac", "weighted_unifrac"):
        np.testing.assert_allclose(
            unifrac(table, tree, metric, backend="unifrac"),
            unifrac(table, tree, metric, backend="skbio"),
            atol=1e-6,
        )
        np.testing.assert_allclose(
            unifrac(table, tree, metric, backend="unifrac"),
            unifrac(table, tree, metric, backend="gutskin"),
            atol=1e-6,
        )


def test_backend_name() -> None:
    assert backend_name("skbio") == "skbio"
    assert backend_name("gutskin", metric="weighted_unifrac") == "gutskin"
    assert backend_name() == ("unifrac" if unifrac_available() else "gutskin")
    with pytest.raises(InputError, match="unknown phylogenetic back end"):
        backend_name("fastunifrac")
    with pytest.raises(InputError, match="unknown phylogenetic metric"):
        backend_name(metric="generalized_unifrac")
    if not unifrac_available():
        with pytest.raises(InputError, match="not installed"):
            backend_name("unifrac")


def test_values_that_are_not_counts() -> None:
    # weighted UniFrac uses proportions, so scaling a sample does not change it; presence is what
    # unweighted UniFrac and Faith PD see, even for a tiny value
    scaled = COUNTS * np.array([[0.1234567], [3.5], [1e-3]])
    table = _table(scaled, values="relative")
    np.testing.assert_allclose(unifrac(table, _tree(), "weighted_unifrac"), WEIGHTED, atol=1e-10)
    np.testing.assert_allclose(unifrac(table, _tree(), "unweighted_unifrac"), UNWEIGHTED, atol=0)
    tiny = COUNTS.copy()
    tiny[0, 2] = 1e-15  # S1 now also has C: A1 + B2 + X3 + C4 + Y6 = 16
    np.testing.assert_allclose(faith_pd(_table(tiny, "relative"), _tree()), [16, 15, 15])


# ---------------------------------------------------------------------- same draws as the other metrics
def test_rarefied_faith_pd_uses_the_draws_of_the_other_alpha_metrics() -> None:
    # On a star tree with unit branches, Faith PD = number of features present = observed richness,
    # so with the same seed the two must agree exactly in every iteration (hence mean and SD).
    rng = np.random.default_rng(3)
    dense = rng.poisson(2.0, size=(10, 30)).astype(float)  # about 60 reads per sample
    dense[0] = 0
    dense[0, :3] = 1  # 3 reads: below the depth
    counts = sp.csr_array(dense)
    taxa = [f"f{i}" for i in range(30)]
    kept_a, means, sds = repeated_rarefaction_alpha(counts, 25, 7, 123, ["observed"])
    kept_f, mean_f, sd_f = repeated_rarefaction_faith_pd(
        counts, _star(taxa), 25, 7, 123, feature_ids=taxa
    )
    np.testing.assert_array_equal(kept_f, kept_a)
    assert 0 not in kept_a  # the small sample is dropped by both
    np.testing.assert_allclose(mean_f, means["observed"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(sd_f, sds["observed"], rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("metric", "same_as"),
    [("unweighted_unifrac", "jaccard"), ("weighted_unifrac", "braycurtis")],
)
def test_rarefied_unifrac_uses_the_draws_of_bray_curtis(metric: str, same_as: str) -> None:
    # On a star tree with unit branches, unweighted UniFrac = Jaccard (unique / union of features),
    # and normalised weighted UniFrac = sum|pA - pB| / 2 = Bray–Curtis at equal depth.
    rng = np.random.default_rng(5)
    counts = sp.csr_array(rng.poisson(3.0, size=(9, 25)).astype(float))
    taxa = [f"f{i}" for i in range(25)]
    ids = [f"s{i}" for i in range(9)]
    ref, ref_ids = mean_rarefied_beta(counts, same_as, 40, 4, 99, ids=ids)
    got, got_ids = mean_rarefied_unifrac(
        counts, _star(taxa), metric, 40, 4, 99, feature_ids=taxa, ids=ids
    )
    np.testing.assert_array_equal(got_ids, ref_ids)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- trees
def test_prepare_tree_prunes_without_changing_the_metrics() -> None:
    pruned = prepare_tree(_tree(), ["A", "B", "C"])
    assert sorted(t.name for t in pruned.tips()) == ["A", "B", "C"]
    # D is gone and Y (one child left) merged into C's branch: C is still 10 from the root
    c = pruned.find("C")
    assert c.accumulate_to_ancestor(pruned) == pytest.approx(10.0)
    three = FeatureTable(
        counts=sp.csr_array(np.array([[1, 1, 0], [0, 1, 1]], dtype=float)),
        sample_ids=["S1", "S2"],
        feature_ids=["A", "B", "C"],
    )
    np.testing.assert_allclose(faith_pd(three, pruned), [6, 15])
    np.testing.assert_allclose(faith_pd(three, _tree()), [6, 15])


def test_pruning_to_one_clade_keeps_the_path_to_the_root() -> None:
    # Only A and B: the branch X (3) above them still counts (Faith PD of {A} = 1 + 3 = 4)
    pruned = prepare_tree(_tree(), ["A", "B"])
    buf = io.StringIO()
    pruned.write(buf, format="newick")
    assert buf.getvalue().strip() == "((A:1.0,B:2.0)X:3.0);"
    table = FeatureTable(
        counts=sp.csr_array(np.array([[1, 0], [0, 1]], dtype=float)),
        sample_ids=["a", "b"],
        feature_ids=["A", "B"],
    )
    np.testing.assert_allclose(faith_pd(table, pruned), [4, 5])
    # unweighted: union A1 B2 X3 = 6, unique A1 B2 = 3 -> 0.5
    np.testing.assert_allclose(unifrac(table, pruned, "unweighted_unifrac"), [0.5])


def test_prepare_tree_errors() -> None:
    with pytest.raises(InputError, match=r"1 of the table's 2 features are not tips.*'E'"):
        prepare_tree(_tree(), ["A", "E"])
    with pytest.raises(InputError, match="branch above 'B' has length None"):
        prepare_tree(_tree("((A:1,B)X:3,(C:4,D:5)Y:6);"), TAXA)
    with pytest.raises(InputError, match="occur more than once"):
        prepare_tree(_tree("((A:1,A:2)X:3,(C:4,D:5)Y:6);"), ["A", "C"])
    with pytest.raises(InputError, match="single feature"):
        prepare_tree(_tree(), ["A"])
    with pytest.raises(InputError, match="root has 3 children, so the tree is unrooted"):
        prepare_tree(_tree("(A:1,B:2,(C:4,D:5)Y:6);"), TAXA)


def test_newick_round_trip_keeps_names(tmp_path: Path) -> None:
    tree = _tree("(('GGB2998_SGB3988':1,'a b':2)'0.95':3,(C:4,D:5):6);")
    path = tmp_path / "t.nwk"
    write_newick(tree, path)
    back = read_newick(path)
    assert sorted(t.name for t in back.tips()) == sorted(["GGB2998_SGB3988", "a b", "C", "D"])
    assert back.find("GGB2998_SGB3988").accumulate_to_ancestor(back) == pytest.approx(4.0)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("((A:1,B:2):3", "does not end with ';'"),
        ("((A:1,B:2):3,(A:4,C:5):6);", "occur more than once"),
        ("((A:1,B:2):3,(C:4,D:x):6);", "cannot parse|length"),
    ],
)
def test_read_newick_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.nwk"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_newick(path)
    assert str(path) in str(err.value)


def test_load_tree_and_import_tree(tmp_path: Path) -> None:
    assert load_tree(tmp_path) is None  # no tree.nwk: the dataset has no tree
    (tmp_path / TREE_FILE).write_text("((A:1,B:2):3,C:4);\n")  # e.g. left by an earlier run
    assert import_tree(None, ["A", "B"], tmp_path / TREE_FILE) is None
    assert (tmp_path / TREE_FILE).stat().st_size == 0  # replaced by an empty file: "no tree"
    assert load_tree(tmp_path) is None
    info = import_tree(_tree(), ["A", "B", "C"], tmp_path / TREE_FILE)
    # removed D; kept lengths A1 B2 X3 + C merged with Y: 4 + 6 = 10 -> total 16
    assert info == {
        "file": TREE_FILE,
        "n_tips": 3,
        "n_tips_source": 4,
        "n_tips_removed": 1,
        "total_branch_length": pytest.approx(16.0),
    }
    tree = load_tree(tmp_path)
    assert sorted(t.name for t in tree.tips()) == ["A", "B", "C"]


def test_tree_readers_registry(tmp_path: Path) -> None:
    import gutskin.io as gio

    path = tmp_path / "t.nwk"
    path.write_text(NEWICK)
    tree = gio.read_tree(path, "newick")
    assert sorted(t.name for t in tree.tips()) == TAXA
    with pytest.raises(InputError, match="do not apply to format 'newick'"):
        gio.read_tree(path, "newick", object="x")


def test_empty_sample_is_an_error() -> None:
    counts = COUNTS.copy()
    counts[1] = 0
    with pytest.raises(InputError, match=r"no non-zero feature \(e.g. 'S2'\)"):
        faith_pd(_table(counts), _tree())
    with pytest.raises(InputError, match="unknown phylogenetic beta metric"):
        unifrac(_table(), _tree(), "generalized_unifrac")


# ---------------------------------------------------------------------- the diversity step
def _run(tmp_path: Path, table: FeatureTable, tree, depth: int = 2) -> dict:
    return run_diversity(
        table,
        depth=depth,
        iterations=3,
        beta_iterations=2,
        seed=1,
        alpha_metrics=["observed", "faith_pd"],
        beta_metrics=["braycurtis", "unweighted_unifrac", "weighted_unifrac"],
        pcoa_dimensions=2,
        out_dir=tmp_path,
        tree=tree,
    )


def test_run_diversity_with_a_tree(tmp_path: Path) -> None:
    # every sample has exactly 2 reads except S3 (4): rarefying S1, S2 to 2 reads keeps them as they
    # are, so their values are the hand-computed ones in every iteration (SD 0)
    summary = _run(tmp_path, _table(), _tree(), depth=2)
    alpha = pd.read_csv(tmp_path / "alpha.tsv", sep="\t").set_index("sample_id")
    np.testing.assert_allclose(alpha.loc[["S1", "S2"], "faith_pd_mean"], FAITH[:2])
    np.testing.assert_allclose(alpha.loc[["S1", "S2"], "faith_pd_sd"], [0, 0])
    # S3 keeps 2 of its 4 reads: {A, A} (PD 1 + 3 = 4), {A, D} (1 + 3 + 5 + 6 = 15) or {D, D}
    # (5 + 6 = 11); its mean over 3 iterations is a third of a sum of three of these
    sums = {a + b + c for a in (4, 11, 15) for b in (4, 11, 15) for c in (4, 11, 15)}
    assert round(3 * alpha.loc["S3", "faith_pd_mean"], 9) in sums
    with np.load(tmp_path / "beta_unweighted_unifrac.npz") as npz:
        assert list(npz["ids"]) == IDS
        assert npz["condensed"][0] == pytest.approx(UNWEIGHTED[0])  # S1-S2: no randomness
    with np.load(tmp_path / "beta_weighted_unifrac.npz") as npz:
        assert npz["condensed"][0] == pytest.approx(WEIGHTED[0])
    assert (tmp_path / "pcoa_weighted_unifrac.tsv").is_file()
    assert summary["phylogeny"]["tree"] is True
    assert summary["phylogeny"]["skipped"] == []
    assert summary["phylogeny"]["n_tips"] == 4
    backend = backend_name()  # the same for every tree metric: unifrac if installed, else gutskin
    assert summary["phylogeny"]["backend"] == backend
    assert summary["phylogeny"]["backends"] == {
        m: backend for m in ("faith_pd", "unweighted_unifrac", "weighted_unifrac")
    }


def test_run_diversity_without_a_tree_skips_tree_metrics(tmp_path: Path) -> None:
    summary = _run(tmp_path, _table(), None)
    assert summary["phylogeny"]["skipped"] == [
        "faith_pd",
        "unweighted_unifrac",
        "weighted_unifrac",
    ]
    assert any("no phylogenetic tree" in n for n in summary["notes"])
    alpha = pd.read_csv(tmp_path / "alpha.tsv", sep="\t")
    assert alpha["faith_pd_mean"].isna().all() and alpha["observed_mean"].notna().all()
    with np.load(tmp_path / "beta_unweighted_unifrac.npz") as npz:
        assert npz["ids"].size == 0 and npz["condensed"].size == 0
    with np.load(tmp_path / "beta_braycurtis.npz") as npz:
        assert npz["ids"].size == 3


def test_run_diversity_with_a_tree_on_relative_values(tmp_path: Path) -> None:
    table = _table(COUNTS / COUNTS.sum(axis=1, keepdims=True), values="relative")
    _run(tmp_path, table, _tree())
    alpha = pd.read_csv(tmp_path / "alpha.tsv", sep="\t")
    np.testing.assert_allclose(alpha["faith_pd_mean"], FAITH)
    with np.load(tmp_path / "beta_weighted_unifrac.npz") as npz:
        np.testing.assert_allclose(npz["condensed"], WEIGHTED, atol=1e-10)
    with np.load(tmp_path / "beta_unweighted_unifrac.npz") as npz:
        np.testing.assert_allclose(npz["condensed"], UNWEIGHTED)


def test_run_diversity_rejects_a_tree_that_lacks_features(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not tips of the tree"):
        _run(tmp_path, _table(), _tree("((A:1,B:2)X:3,(C:4,E:5)Y:6);"))
