"""R data files on the real public copies, checked against R's own export and DATASETS.md.

The readers of :mod:`gutskin.io.rdata` are run on the mirror copies of the R files of DATASETS.md §4
(psoriasis, phyloseq ``.rds``), §6 (HITChip ``.rda``) and §7 (GlobalPatterns ``.RData`` with a tree) and
compared with ``../shared/reference/conversions/*/`` — the same objects exported to TSV / Newick by R
and phyloseq (see each PROVENANCE.md): every non-zero count, every sample-metadata cell, every taxonomy
cell and, for GlobalPatterns, every clade and branch length of the tree. Then the facts DATASETS.md
states are asserted on the imported canonical tables.

Skipped, with the reason, when the mirror or the shared reference directory (``GUTSKIN_SHARED`` or
``<repo>/../shared``) is absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gutskin.importer import load_imported
from gutskin.io import rdata as R

pytestmark = pytest.mark.realdata

REPO = Path(__file__).resolve().parents[2]

# dataset key -> (reference directory, counts file, metadata file, taxonomy file)
REFERENCE = {
    "psoriasis_gut_qqwxp1987": (
        "psoriasis_gut_metaphlan_qqwxp1987",
        "species_counts_long.tsv.gz",
        "sample_metadata_from_phyloseq.tsv",
        "species_taxonomy.tsv",
    ),
    "hitchip_peerj32": (
        "hitchip_lahti_microbiome_pkg",
        "peerj32.counts_long.tsv.gz",
        "peerj32.sample_metadata.tsv",
        "peerj32.taxonomy.tsv",
    ),
    "hitchip_dietswap": (
        "hitchip_lahti_microbiome_pkg",
        "dietswap.counts_long.tsv.gz",
        "dietswap.sample_metadata.tsv",
        "dietswap.taxonomy.tsv",
    ),
    "hitchip_atlas1006": (
        "hitchip_lahti_microbiome_pkg",
        "atlas1006.counts_long.tsv.gz",
        "atlas1006.sample_metadata.tsv",
        "atlas1006.taxonomy.tsv",
    ),
    "global_patterns": (
        "global_patterns_phyloseq",
        "GlobalPatterns.counts_long.tsv.gz",
        "GlobalPatterns.sample_metadata.tsv",
        "GlobalPatterns.taxonomy.tsv",
    ),
}
NAMES = list(REFERENCE)


@pytest.fixture(scope="module")
def conversions() -> Path:
    """``<shared>/reference/conversions``; skips when absent."""
    env = os.environ.get("GUTSKIN_SHARED")
    shared = Path(env) if env else REPO.parent / "shared"
    path = shared / "reference" / "conversions"
    if not path.is_dir():
        pytest.skip(
            f"shared reference directory not found ({path}); set GUTSKIN_SHARED to the directory "
            "holding reference/conversions to compare the R readers with R's own export"
        )
    return path


def _reference(conversions: Path, name: str, which: int) -> Path:
    path = conversions / REFERENCE[name][0] / REFERENCE[name][which]
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def r_file(datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]):
    """``r_file(name) -> (path, format, values)`` of a dataset's table file in the mirror."""

    def get(name: str) -> tuple[Path, str, str]:
        spec = datasets_config[name]["files"]["table"]
        return mirror_file(spec["url"]), spec["format"], datasets_config[name]["values"]

    return get


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _cell_equal(mine: object, ref: str) -> bool:
    """Same text, or both missing, or numbers equal to 1e-12 (R prints 15 significant digits)."""
    a = None if mine is None or (isinstance(mine, float) and np.isnan(mine)) else str(mine)
    b = None if ref in ("", "NA") else ref.strip()  # export: NA as ""; spaces kept, we strip
    if a == b:
        return True
    x, y = _number(a), _number(b)
    return x is not None and y is not None and bool(np.isclose(x, y, rtol=1e-12, atol=0))


# ---------------------------------------------------------------------- against R's export
@pytest.mark.parametrize("name", NAMES, scope="module")  # one dataset after the other
def test_counts_match_r_export(name: str, r_file, conversions: Path) -> None:
    path, _, values = r_file(name)
    table = R.read_phyloseq_table(path, values=values)
    ref = pd.read_csv(
        _reference(conversions, name, 1),
        sep="\t",
        dtype={"feature_id": str, "sample_id": str},
        keep_default_na=False,
    )
    coo = table.counts.tocoo()
    mine = pd.DataFrame(
        {
            "feature_id": table.feature_ids[coo.col].astype(str),
            "sample_id": table.sample_ids[coo.row].astype(str),
            "count": coo.data,
        }
    )
    ref = ref[ref["count"] != 0]
    merged = mine.merge(ref, on=["feature_id", "sample_id"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    np.testing.assert_allclose(merged["count_x"], merged["count_y"], rtol=1e-12, atol=0)
    assert len(mine) == len(ref)


@pytest.mark.parametrize("name", NAMES, scope="module")  # one dataset after the other
def test_sample_metadata_matches_r_export(name: str, r_file, conversions: Path) -> None:
    path, _, _ = r_file(name)
    raw = R.read_phyloseq_samples(path).set_index("row.names")
    ref = pd.read_csv(
        _reference(conversions, name, 2), sep="\t", dtype=str, keep_default_na=False
    ).set_index("sample_id")
    # R's export mangles names with check.names (IL-17 -> IL.17)
    raw.columns = [c.replace("-", ".") for c in raw.columns]
    assert sorted(raw.index) == sorted(ref.index)
    assert sorted(raw.columns) == sorted(ref.columns)
    raw = raw.loc[ref.index]
    for column in ref.columns:
        pairs = list(zip(raw[column].tolist(), ref[column].tolist(), strict=True))
        bad = [p for p in pairs if not _cell_equal(*p)]
        assert not bad, (column, bad[:3])


@pytest.mark.parametrize("name", NAMES, scope="module")  # one dataset after the other
def test_taxonomy_matches_r_export(name: str, r_file, conversions: Path) -> None:
    path, _, _ = r_file(name)
    ranks = R.read_phyloseq_taxonomy(path)
    ref = pd.read_csv(
        _reference(conversions, name, 3), sep="\t", dtype=str, keep_default_na=False
    ).set_index("feature_id")
    assert list(ranks.columns) == list(ref.columns)
    assert sorted(ranks.index) == sorted(ref.index)
    mine = ranks.loc[ref.index].map(lambda v: "NA" if v is None else v)
    assert (mine.to_numpy() == ref.to_numpy()).all()


# ---------------------------------------------------------------------- GlobalPatterns (§7), while parsed
def _clades(tree) -> dict[frozenset, float | None]:
    out: dict[frozenset, float | None] = {}
    below: dict[int, frozenset] = {}
    for node in tree.postorder(include_self=True):
        if node.is_tip():
            tips = frozenset([node.name])
        else:
            tips = frozenset().union(*(below[id(c)] for c in node.children))
        below[id(node)] = tips
        out[tips] = node.length
    return out


def test_global_patterns_tree_matches_r_export(r_file, conversions: Path) -> None:
    from skbio import TreeNode

    path, _, _ = r_file("global_patterns")
    tree = R.read_phyloseq_tree(path)
    ref = TreeNode.read(str(conversions / "global_patterns_phyloseq" / "GlobalPatterns.tree.nwk"))
    tips = sorted(t.name for t in tree.tips())
    assert len(tips) == 19216  # DATASETS.md §7: 19,216 OTUs, tree included
    assert tips == sorted(t.name for t in ref.tips())
    total = sum(n.length or 0.0 for n in tree.traverse())
    assert total == pytest.approx(sum(n.length or 0.0 for n in ref.traverse()), rel=1e-12)
    # every clade (the set of tips below a node) with the length of the branch above it
    mine, theirs = _clades(tree), _clades(ref)
    assert mine.keys() == theirs.keys()
    for clade, length in theirs.items():
        assert mine[clade] == pytest.approx(length, abs=1e-12)
    assert tree.count() == 19216 + 19215


def test_global_patterns_imported(imported: Callable[[str], Path]) -> None:
    table, samples, info = load_imported(imported("global_patterns"))
    # "26 samples, 19,216 OTUs, 4 feces, 3 palm-skin samples"
    assert info["n_samples"] == 26
    assert info["n_features_table"] == 19216
    counts = samples["body_site"].value_counts().to_dict()
    assert counts["gut"] == 4 and counts["skin"] == 3 and counts["oral"] == 2
    feces = set(samples.loc[samples["body_site"] == "gut", "sample_id"])
    assert feces == {"M31Fcsw", "M11Fcsw", "TS28", "TS29"}
    skin = samples.loc[samples["body_site"] == "skin"]
    assert set(skin["sample_id"]) == {"M31Plmr", "M11Plmr", "F21Plmr"}
    # persons M3 and M1 gave both a feces and a palm sample (2 paired people)
    both = samples.dropna(subset=["subject_id"]).groupby("subject_id")["body_site"].agg(set)
    assert sorted(s for s, sites in both.items() if {"gut", "skin"} <= sites) == ["M1", "M3"]
    assert table.depths().min() >= 50000  # rarefaction_depth 50,000 keeps all 26
    # the tree travels with the import (tree.nwk, pruned to the table's features) to the diversity step
    from gutskin.diversity.phylogeny import load_tree

    assert info["tree"]["n_tips_source"] == 19216
    assert info["tree"]["n_tips"] == info["n_features"]
    tree = load_tree(imported("global_patterns"))
    assert tree is not None and sum(1 for _ in tree.tips()) == info["n_features"]


def test_global_patterns_tree_metrics(r_file, tmp_path: Path) -> None:
    """Smoke test of Faith PD and UniFrac on a real tree (few rarefactions)."""
    from gutskin.diversity.phylogeny import import_tree, load_tree
    from gutskin.diversity.pipeline import run_diversity

    path, _, _ = r_file("global_patterns")
    table = R.read_phyloseq_table(path).filter_empty_features()
    info = import_tree(R.read_phyloseq_tree(path), table.feature_ids, tmp_path / "tree.nwk")
    assert info["n_tips"] == table.n_features and info["n_tips_source"] == 19216
    summary = run_diversity(
        table,
        depth=50000,
        iterations=2,
        beta_iterations=1,
        seed=20261126,
        alpha_metrics=["observed", "faith_pd"],
        beta_metrics=["unweighted_unifrac", "weighted_unifrac"],
        pcoa_dimensions=3,
        out_dir=tmp_path / "div",
        tree=load_tree(tmp_path),
    )
    assert summary["n_retained"] == 26 and summary["phylogeny"]["skipped"] == []
    alpha = pd.read_csv(tmp_path / "div" / "alpha.tsv", sep="\t").set_index("sample_id")
    assert (alpha["faith_pd_mean"] > 0).all()
    # more features present can only add branch length: Faith PD ranks follow richness closely
    rho = alpha["faith_pd_mean"].rank().corr(alpha["observed_mean"].rank())
    assert rho > 0.8
    for metric in ("unweighted_unifrac", "weighted_unifrac"):
        with np.load(tmp_path / "div" / f"beta_{metric}.npz") as npz:
            assert npz["ids"].size == 26
            d = npz["condensed"]
            assert d.size == 26 * 25 // 2 and np.all((d >= 0) & (d <= 1))


# ---------------------------------------------------------------------- DATASETS.md facts (raw)
def test_psoriasis_microbiome_list_has_the_same_counts(
    datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]
) -> None:
    # MicrobiomeData.rds (feature.tab / meta.dat / feature.ann) holds the same counts as the phyloseq
    # copy used by the pipeline
    url = datasets_config["psoriasis_gut_qqwxp1987"]["files"]["table"]["url"]
    lst = mirror_file(url.replace("phyloseq_taxa.rds", "MicrobiomeData.rds"))
    ps = R.read_phyloseq_table(mirror_file(url))
    ml = R.read_microbiome_list_table(lst)
    assert (ml.n_samples, ml.n_features) == (143, 1382)  # DATASETS.md §4
    ml = ml.subset_samples(ps.sample_ids)
    # the list names features by species (s__…); the phyloseq copy by the whole lineage, which is the
    # list's feature.ann lineage
    assert ml.taxonomy is not None
    order = pd.Index(ml.taxonomy.to_numpy()).get_indexer(ps.feature_ids)
    assert (order >= 0).all()
    assert (ml.counts[:, order] != ps.counts).nnz == 0
    meta = R.read_microbiome_list_samples(lst)
    assert meta["Disease"].value_counts().to_dict() == {"Psoriasis": 98, "Healthy": 45}


# ---------------------------------------------------------------------- DATASETS.md facts (imported)
def test_psoriasis_imported(imported: Callable[[str], Path]) -> None:
    table, samples, info = load_imported(imported("psoriasis_gut_qqwxp1987"))
    # "143 stool samples (Psoriasis 98, Healthy 45; 42 patient–relative families), 1,382 species"
    assert info["n_samples"] == 143
    assert info["n_features"] == 1382
    assert samples["condition"].value_counts().to_dict() == {"psoriasis": 98, "none": 45}
    assert (samples["body_site"] == "gut").all()
    families = samples.groupby("family_id")["condition"].agg(lambda s: tuple(sorted(s)))
    pairs = families[families.map(len) == 2]
    assert len(pairs) == 42
    assert set(pairs) == {("none", "psoriasis")}  # each family: one patient, one relative
    assert samples["subject_id"].is_unique
    # estimated read counts: whole numbers, 25-70 million per sample
    depths = table.depths()
    assert np.all(depths == np.floor(depths))
    assert 24e6 < depths.min() and depths.max() < 71e6
    assert info["values"] == "counts" and info["data_type"] == "shotgun"


def test_peerj32_imported(imported: Callable[[str], Path]) -> None:
    table, samples, info = load_imported(imported("hitchip_peerj32"))
    # "peerj32: 22 subjects × 2 time points, group LGG/Placebo"; 130 genus-like groups
    assert info["n_samples"] == 44
    assert table.n_features == 130
    assert samples["subject_id"].nunique() == 22
    per_subject = samples.groupby("subject_id")["visit"].agg(lambda v: tuple(sorted(v)))
    assert set(per_subject) == {(1.0, 2.0)}
    groups = samples.groupby("subject_id")["treatment_group"].first().value_counts().to_dict()
    assert groups == {"placebo": 14, "lgg": 8}  # PROVENANCE: LGG 8 subjects / Placebo 14
    assert info["values"] == "signal" and info["data_type"] == "microarray"


def test_dietswap_imported(imported: Callable[[str], Path]) -> None:
    _, samples, info = load_imported(imported("hitchip_dietswap"))
    # "dietswap: 38 subjects, nationality AAM/AFR, group HE/DI/ED, timepoint"; 222 samples
    assert info["n_samples"] == 222
    assert samples["subject_id"].nunique() == 38
    assert set(samples["nationality"]) == {"african_american", "rural_african"}
    assert set(samples["diet_group"]) == {"HE", "DI", "ED"}
    assert samples["visit"].between(1, 6).all()
    assert info["values"] == "signal"


def test_atlas1006_imported(imported: Callable[[str], Path]) -> None:
    _, samples, info = load_imported(imported("hitchip_atlas1006"))
    # PROVENANCE: 1,151 samples of 1,006 subjects, 130 groups
    assert info["n_samples"] == 1151
    assert samples["subject_id"].nunique() == 1006
    assert info["n_features"] == 130
    assert list(samples["bmi_group"].cat.categories) == [
        "underweight",
        "lean",
        "overweight",
        "obese",
        "severeobese",
        "morbidobese",
    ]
