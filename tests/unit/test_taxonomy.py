"""gutskin.taxonomy: lineages in every convention met in public tables, and collapsing by rank.

Every lineage below is written by hand in the convention's documented form; the expected ranks are read
off the string by eye. Collapsed sums are added up by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutskin.io import FeatureTable
from gutskin.taxonomy import (
    RANKS,
    collapse,
    detect_convention,
    format_lineage,
    lineage_table,
    parse_lineage,
    parse_r_dotted,
)

STAPH_AUREUS = ("Bacteria", "Firmicutes", "Bacilli", "Bacillales", "Staphylococcaceae")


# ---------------------------------------------------------------------- conventions
def test_greengenes_full_and_empty_ranks() -> None:
    gg = (
        "k__Bacteria; p__Firmicutes; c__Bacilli; o__Bacillales; f__Staphylococcaceae; "
        "g__Staphylococcus; s__aureus"
    )
    assert parse_lineage(gg) == (*STAPH_AUREUS, "Staphylococcus", "aureus")
    assert parse_lineage("k__Bacteria; p__Proteobacteria; c__; o__; f__; g__; s__") == (
        "Bacteria",
        "Proteobacteria",
        None,
        None,
        None,
        None,
        None,
    )
    # Greengenes brackets (proposed taxa) are kept as written
    assert (
        parse_lineage(
            "k__Bacteria;p__Firmicutes;c__Clostridia;o__Clostridiales;f__[Mogibacteriaceae]"
        )[4]
        == "[Mogibacteriaceae]"
    )


def test_silva_d_n_prefixes() -> None:
    silva = (
        "D_0__Bacteria;D_1__Firmicutes;D_2__Bacilli;D_3__Bacillales;D_4__Staphylococcaceae;"
        "D_5__Staphylococcus"
    )
    # six ranks written: species absent
    assert parse_lineage(silva) == (*STAPH_AUREUS, "Staphylococcus", None)
    assert parse_lineage(silva, "silva") == parse_lineage(silva)
    # QIIME 2 collapse writes "__" for an empty rank
    assert parse_lineage("D_0__Bacteria;D_1__Firmicutes;__;__;__;__;__") == (
        "Bacteria",
        "Firmicutes",
        *([None] * 5),
    )


def test_silva_138_gtdb_style() -> None:
    lin = (
        "d__Bacteria; p__Actinobacteriota; c__Actinobacteria; o__Corynebacteriales; "
        "f__Corynebacteriaceae; g__Corynebacterium; s__"
    )
    assert parse_lineage(lin) == (
        "Bacteria",
        "Actinobacteriota",
        "Actinobacteria",
        "Corynebacteriales",
        "Corynebacteriaceae",
        "Corynebacterium",
        None,
    )


def test_metaphlan_with_and_without_strain() -> None:
    mp = (
        "k__Bacteria|p__Firmicutes|c__Bacilli|o__Bacillales|f__Staphylococcaceae|g__Staphylococcus|"
        "s__Staphylococcus_epidermidis"
    )
    expected = (*STAPH_AUREUS, "Staphylococcus", "Staphylococcus_epidermidis")
    assert parse_lineage(mp) == expected
    assert parse_lineage(mp + "|t__GCF_000007645", "metaphlan") == expected
    # a genus-level MetaPhlAn row
    assert parse_lineage("k__Bacteria|p__Firmicutes|c__Bacilli") == (
        "Bacteria",
        "Firmicutes",
        "Bacilli",
        None,
        None,
        None,
        None,
    )


def test_list_of_ranks_as_in_biom_metadata() -> None:
    ranks = [
        "k__Bacteria",
        "p__Bacteroidetes",
        "c__Bacteroidia",
        "o__Bacteroidales",
        "f__",
        "g__",
        "s__",
    ]
    assert parse_lineage(ranks) == (
        "Bacteria",
        "Bacteroidetes",
        "Bacteroidia",
        "Bacteroidales",
        None,
        None,
        None,
    )
    assert parse_lineage(["Unassigned"]) == (None,) * 7
    assert parse_lineage([]) == (None,) * 7


def test_plain_missing_and_unassigned() -> None:
    assert parse_lineage("Bacteria;Firmicutes;Bacilli") == (
        "Bacteria",
        "Firmicutes",
        "Bacilli",
        *([None] * 4),
    )
    for missing in (None, float("nan"), "", "Unassigned", "unclassified"):
        assert parse_lineage(missing) == (None,) * 7


def test_bad_lineages_raise() -> None:
    with pytest.raises(ValueError, match="x__"):
        parse_lineage("k__Bacteria;x__Foo")
    with pytest.raises(ValueError, match="more than seven"):
        parse_lineage("a;b;c;d;e;f;g;h", "plain")
    with pytest.raises(ValueError, match="convention"):
        parse_lineage("k__Bacteria", "qiime3")


def test_detect_convention() -> None:
    assert detect_convention(["k__Bacteria"]) == "ranks"
    assert detect_convention("k__Bacteria|p__Firmicutes") == "metaphlan"
    assert detect_convention("D_0__Bacteria;D_1__Firmicutes") == "silva"
    assert detect_convention("k__Bacteria; p__Firmicutes") == "greengenes"
    assert detect_convention("d__Bacteria;p__Firmicutes") == "greengenes"
    assert detect_convention("Bacteria;Firmicutes") == "plain"


def test_format_lineage_round_trip() -> None:
    ranks = ("Bacteria", "Firmicutes", None, None, None, None, None)
    text = format_lineage(ranks)
    assert text == "k__Bacteria;p__Firmicutes;c__;o__;f__;g__;s__"
    assert parse_lineage(text) == ranks
    assert format_lineage(["Bacteria"], 3) == "k__Bacteria;p__;c__"


def test_lineage_table_names_the_bad_feature() -> None:
    tab = lineage_table({"otu1": "k__Bacteria;p__Firmicutes", "otu2": None})
    assert list(tab.columns) == list(RANKS)
    assert tab.loc["otu1", "phylum"] == "Firmicutes"
    assert tab.loc["otu2"].isna().all()
    with pytest.raises(ValueError, match="otu9"):
        lineage_table({"otu9": "k__Bacteria;q__Oops"})


# ---------------------------------------------------------------------- R-mangled names
CORYNE = "Bacteria.Actinobacteria.Actinobacteria.Corynebacteriales.Corynebacteriaceae"
NAMES = [
    # exactly seven tokens: one reading each (they seed the vocabulary)
    "Bacteria.Firmicutes.Bacilli.Bacillales.Staphylococcaceae.Staphylococcus.__",
    f"{CORYNE}.Lawsonella.__",
    # "Corynebacterium 1" (a SILVA genus) with an empty species: splitting "Corynebacterium" | "1" would
    # make a rank start with a bare number, so genus = "Corynebacterium.1"
    f"{CORYNE}.Corynebacterium.1.__",
    # first round: "Corynebacterium.1 | Corynebacterium.xerosis" ties with
    # "Corynebacterium.1.Corynebacterium | xerosis"; once "Corynebacterium.1" is a known genus it wins
    f"{CORYNE}.Corynebacterium.1.Corynebacterium.xerosis",
    "Bacteria.Firmicutes.Bacilli.Bacillales.Staphylococcaceae.Staphylococcus.Staphylococcus.aureus",
    # "Deinococcus-Thermus" phylum, no known name below the kingdom: every split but the first ties
    "Bacteria.Deinococcus.Thermus.Deinococci.Deinococcales.Deinococcaceae.Deinococcus.__",
    # fewer tokens than ranks
    "Bacteria.Firmicutes",
]


def test_parse_r_dotted_resolves_from_the_whole_set() -> None:
    ranks, report = parse_r_dotted(NAMES)
    assert list(ranks.columns) == list(RANKS)
    assert tuple(ranks.loc[NAMES[0]]) == (*STAPH_AUREUS, "Staphylococcus", None)
    assert ranks.loc[NAMES[2], "genus"] == "Corynebacterium.1"
    assert ranks.loc[NAMES[2], "species"] is None
    assert ranks.loc[NAMES[3], "genus"] == "Corynebacterium.1"
    assert ranks.loc[NAMES[3], "species"] == "Corynebacterium.xerosis"
    assert ranks.loc[NAMES[4], "species"] == "Staphylococcus.aureus"
    # undecidable ranks are None, not a guess; the agreed ones are kept
    deino = ranks.loc[NAMES[5]]
    assert deino["kingdom"] == "Bacteria"
    assert deino[["phylum", "class", "order", "family", "genus", "species"]].isna().all()
    assert tuple(ranks.loc[NAMES[6]]) == ("Bacteria", *([None] * 6))
    assert report["n_names"] == 7
    assert report["n_single_reading"] == 2
    assert report["n_resolved"] == 5
    assert report["n_ambiguous"] == 1
    # species of the Deinococcus name is "__" in every split: empty, not ambiguous
    assert report["ambiguous_ranks"] == {
        r: 1 for r in ("phylum", "class", "order", "family", "genus")
    }
    assert report["n_unsplittable"] == 1
    assert report["examples"] == [NAMES[5]]


def test_parse_r_dotted_parenthesised_names() -> None:
    # "Acidobacteriaceae (Subgroup 1)" became "Acidobacteriaceae..Subgroup.1." (one rank)
    names = [
        "Bacteria.Acidobacteria.Acidobacteriia.Acidobacteriales.Acidobacteriaceae..Subgroup.1..Granulicella.__",
        "Bacteria.Acidobacteria.Acidobacteriia.Acidobacteriales.Koribacteraceae.Candidatus.__",
        "Bacteria.Acidobacteria.Acidobacteriia.Acidobacteriales.Koribacteraceae.Bryocella.__",
        "Bacteria.Firmicutes.Bacilli.Bacillales.Listeriaceae.Granulicella.__",
    ]
    ranks, _ = parse_r_dotted(names)
    assert ranks.loc[names[0], "order"] == "Acidobacteriales"
    assert ranks.loc[names[0], "family"] == "Acidobacteriaceae..Subgroup.1."
    assert ranks.loc[names[0], "genus"] == "Granulicella"


# ---------------------------------------------------------------------- collapse
def _table() -> FeatureTable:
    gg = "k__Bacteria; p__Firmicutes; c__Bacilli; o__Bacillales; f__Staphylococcaceae"
    taxonomy = {
        "f1": f"{gg}; g__Staphylococcus; s__aureus",
        "f2": f"{gg}; g__Staphylococcus; s__epidermidis",
        "f3": "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Actinomycetales; "
        "f__Propionibacteriaceae; g__Propionibacterium; s__acnes",
        "f4": f"{gg}; g__; s__",
        "f5": None,
    }
    #                    f1 f2 f3 f4 f5
    return _lineage_table(taxonomy, [[3, 1, 0, 2, 5], [0, 4, 7, 0, 1]])


def _lineage_table(
    taxonomy: dict[str, str | None], counts: list[list[float]], values: str = "counts"
) -> FeatureTable:
    """A table whose features are the keys of ``taxonomy`` (with those lineages), samples S1, S2, …"""
    return FeatureTable(
        counts=sp.csr_array(np.array(counts, dtype=float)),
        sample_ids=[f"S{i + 1}" for i in range(len(counts))],
        feature_ids=list(taxonomy),
        taxonomy=pd.Series(taxonomy, dtype=object),
        values=values,
    )


def _as_dict(table: FeatureTable) -> dict[str, list[float]]:
    dense = table.counts.toarray()
    return {str(f): dense[:, j].tolist() for j, f in enumerate(table.feature_ids)}


def test_collapse_genus_by_lineage() -> None:
    out = collapse(_table(), "genus")
    staph = "k__Bacteria;p__Firmicutes;c__Bacilli;o__Bacillales;f__Staphylococcaceae"
    prop = (
        "k__Bacteria;p__Actinobacteria;c__Actinobacteria;o__Actinomycetales;f__Propionibacteriaceae"
    )
    expected = {
        "Unassigned": [5.0, 1.0],  # f5
        f"{prop};g__Propionibacterium": [0.0, 7.0],  # f3
        f"{staph};g__": [2.0, 0.0],  # f4: family known, genus empty
        f"{staph};g__Staphylococcus": [4.0, 4.0],  # f1 + f2 = 3+1, 0+4
    }
    assert _as_dict(out) == expected
    assert list(out.feature_ids) == sorted(expected)
    assert out.taxonomy is not None
    assert out.taxonomy["Unassigned"] is None
    assert out.taxonomy[f"{staph};g__Staphylococcus"] == f"{staph};g__Staphylococcus"
    # no reads are lost
    assert np.allclose(out.depths(), _table().depths())
    assert list(out.sample_ids) == ["S1", "S2"]


def test_collapse_phylum_and_by_name() -> None:
    out = collapse(_table(), "phylum", by="name")
    # Firmicutes: f1+f2+f4 = 3+1+2, 4+0+0; Actinobacteria: f3
    assert _as_dict(out) == {
        "Actinobacteria": [0.0, 7.0],
        "Firmicutes": [6.0, 4.0],
        "Unassigned": [5.0, 1.0],
    }


def test_collapse_keeps_homonyms_apart_by_lineage() -> None:
    tax = {
        "a": "D_0__Bacteria;D_1__Proteobacteria;D_2__Alphaproteobacteria;D_3__Rhizobiales;D_4__Beijerinckiaceae;D_5__uncultured",
        "b": "D_0__Bacteria;D_1__Bacteroidetes;D_2__Bacteroidia;D_3__Chitinophagales;D_4__Chitinophagaceae;D_5__uncultured",
    }
    table = _lineage_table(tax, [[2.0, 3.0]])
    assert collapse(table, "genus").n_features == 2
    assert _as_dict(collapse(table, "genus", by="name")) == {"uncultured": [5.0]}


def test_collapse_needs_taxonomy_and_a_rank() -> None:
    table = FeatureTable(
        counts=sp.csr_array(np.ones((1, 2))), sample_ids=["S"], feature_ids=["a", "b"]
    )
    with pytest.raises(ValueError, match="no taxonomy"):
        collapse(table, "genus")
    with pytest.raises(ValueError, match="rank"):
        collapse(_table(), "tribe")


def test_collapse_metaphlan_relative_values() -> None:
    tax = {
        "s1": "k__Bacteria|p__Firmicutes|c__Bacilli|o__Lactobacillales|f__Streptococcaceae|g__Streptococcus|s__Streptococcus_mitis",
        "s2": "k__Bacteria|p__Firmicutes|c__Bacilli|o__Lactobacillales|f__Streptococcaceae|g__Streptococcus|s__Streptococcus_salivarius",
    }
    table = _lineage_table(tax, [[0.25, 0.5]], values="relative")
    out = collapse(table, "genus")
    assert out.values == "relative"
    assert out.n_features == 1
    assert math.isclose(out.counts.toarray()[0, 0], 0.75)


def test_overlapping_taxa_error_survives_pickling():
    """Raised inside a worker process, the error must reach the parent whole (not as a pickling error)."""
    import pickle

    from gutskin.taxonomy import OverlappingTaxaError

    err = pickle.loads(pickle.dumps(OverlappingTaxaError("Faecalibacterium", "Ruminococcaceae", 3)))
    assert (err.first, err.second, err.n_features) == ("Faecalibacterium", "Ruminococcaceae", 3)
    assert "share 3 feature(s)" in str(err)
