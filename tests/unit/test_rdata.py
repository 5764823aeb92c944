"""Readers of R data files (gutskin.io.rdata) on tiny files written by R.

The fixtures in ``tests/fixtures/rdata/`` were written by ``tests/fixtures/make_rdata_fixtures.R``
(R 4.2.2); the expected values below are the ones that script puts in, written out here. The phyloseq
classes are declared in that script with phyloseq's class and slot names (the package itself is not in
Debian); the S4 navigation on real phyloseq objects is checked in tests/realdata/test_real_rdata.py.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import gutskin.io as gio
from gutskin.errors import InputError
from gutskin.harmonise import harmonise
from gutskin.importer import import_dataset, load_imported
from gutskin.io import rdata as R

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "rdata"
PS = FIX / "phyloseq_counts.rds"
WORKSPACE = FIX / "workspace.rda"
MLIST = FIX / "microbiome_list.rds"

# counts in the R script: taxa A-D in rows, samples S1-S3 in columns
COUNTS = np.array([[5, 0, 3, 0], [0, 2, 0, 7], [1, 1, 1, 1]], dtype=float)  # samples × taxa


# ---------------------------------------------------------------------- phyloseq: table
@pytest.mark.parametrize(
    "name", ["phyloseq_counts.rds", "phyloseq_counts_plain.rds", "phyloseq_counts_xz.rds"]
)
def test_phyloseq_table_any_compression(name: str) -> None:
    table = R.read_phyloseq_table(FIX / name)
    assert list(table.sample_ids) == ["S1", "S2", "S3"]
    assert list(table.feature_ids) == ["A", "B", "C", "D"]
    np.testing.assert_array_equal(table.counts.toarray(), COUNTS)
    assert table.counts.nnz == 8  # zeros are not stored
    assert table.values == "counts"


def test_phyloseq_taxonomy_lineages() -> None:
    table = R.read_phyloseq_table(PS)
    # ranks Kingdom, Phylum, Genus -> k__, p__, g__; NA -> bare prefix; an existing prefix is kept
    assert list(table.taxonomy) == [
        "k__Bacteria;p__Firmicutes;g__Lactobacillus",
        "k__Bacteria;p__Firmicutes;g__",
        "k__Bacteria;p__Bacteroidetes;g__Bacteroides",
        "k__Archaea;p__;g__",
    ]
    ranks = R.read_phyloseq_taxonomy(PS)
    assert list(ranks.columns) == ["Kingdom", "Phylum", "Genus"]
    assert list(ranks.index) == ["A", "B", "C", "D"]
    assert ranks.loc["C", "Genus"] == "Bacteroides"
    assert ranks.loc["D", "Kingdom"] == "k__Archaea"
    assert ranks.loc["B", "Genus"] is None and ranks.loc["D", "Phylum"] is None


def test_taxa_in_columns_and_signal_values() -> None:
    # ps_signal: t(counts) * 1.5 stored samples x taxa (taxa_are_rows = FALSE), no tax_table
    table = R.read_phyloseq_table(WORKSPACE, values="signal", object="ps_signal")
    assert list(table.sample_ids) == ["S1", "S2", "S3"]
    np.testing.assert_array_equal(table.counts.toarray(), COUNTS * 1.5)
    assert table.taxonomy is None
    with pytest.raises(InputError, match=r"non-integer values \(e.g. 7.5\).*values: counts") as err:
        R.read_phyloseq_table(WORKSPACE, object="ps_signal")
    assert "sample 'S1', feature 'A'" in str(err.value)
    assert "values: signal" in str(err.value)


# ---------------------------------------------------------------------- phyloseq: samples
def test_phyloseq_samples_as_raw_text() -> None:
    raw = R.read_phyloseq_samples(PS)
    assert list(raw.columns) == ["row.names", "Disease", "Group", "Age", "BMI", "Smoker", "Visit"]
    assert list(raw.index) == ["row 1 of sam_data", "row 2 of sam_data", "row 3 of sam_data"]
    assert raw.attrs["id_column"] == "row.names"

    def col(name: str) -> list:
        return [None if v != v else v for v in raw[name].tolist()]  # NaN -> None

    assert col("row.names") == ["S1", "S2", "S3"]
    assert col("Disease") == ["Psoriasis", "Healthy", "Healthy"]  # " Healthy " is stripped
    assert col("Group") == ["LGG", None, "Placebo"]  # factor -> labels, NA -> missing
    assert col("Age") == ["64", None, "45"]  # integer with NA
    assert col("BMI") == ["22.04", "30", None]  # double: 30.0 printed as R does, "30"
    assert col("Smoker") == ["TRUE", None, "FALSE"]
    assert col("Visit") == ["2020-01-31", "2021-12-01", None]  # Date -> ISO


def test_samples_missing_values_and_id_column() -> None:
    raw = R.read_phyloseq_samples(PS, missing_values=["Healthy"])
    assert raw["Disease"].isna().tolist() == [False, True, True]
    with pytest.raises(InputError, match="close matches: 'Disease'"):
        R.read_phyloseq_samples(PS, id_column="disease")


def test_samples_id_column_must_be_unique() -> None:
    with pytest.raises(InputError, match="missing or duplicate sample ids") as err:
        R.read_phyloseq_samples(PS, id_column="Disease")  # Healthy twice
    assert "row 2 of sam_data" in str(err.value)
    with pytest.raises(InputError, match="missing or duplicate sample ids") as err:
        R.read_phyloseq_samples(PS, id_column="BMI")  # NA in row 3
    assert "row 3 of sam_data" in str(err.value)


def test_harmonise_reads_r_sample_data() -> None:
    raw = R.read_phyloseq_samples(PS)
    spec = {
        "id_column": "row.names",
        "columns": {
            "condition": {"from": "Disease", "map": {"Psoriasis": "psoriasis", "Healthy": "none"}},
            "age": {"from": "Age", "type": "number"},
            "bmi": {"from": "BMI", "type": "number"},
            "smoker": {"from": "Smoker", "map": {"TRUE": "yes", "FALSE": "no"}},
        },
    }
    samples, _ = harmonise(raw, spec, "tiny", PS)
    assert samples["sample_id"].tolist() == ["S1", "S2", "S3"]
    assert samples["condition"].tolist() == ["psoriasis", "none", "none"]
    np.testing.assert_array_equal(samples["age"].to_numpy(), [64.0, np.nan, 45.0])
    np.testing.assert_array_equal(samples["bmi"].to_numpy(), [22.04, 30.0, np.nan])
    bad = {"id_column": "row.names", "columns": {"sex": {"from": "Group"}}}
    with pytest.raises(InputError, match="row 1 of sam_data"):  # LGG is not a sex
        harmonise(raw, bad, "tiny", PS)


# ---------------------------------------------------------------------- phyloseq: tree
def test_phyloseq_tree() -> None:
    tree = R.read_phyloseq_tree(PS)
    # ((A:1,B:2)0.95:3,(C:4,D:5)0.80:6); root-to-tip distances 4, 5, 10, 11
    assert sorted(t.name for t in tree.tips()) == ["A", "B", "C", "D"]
    dist = {t.name: t.accumulate_to_ancestor(tree) for t in tree.tips()}
    assert dist == {"A": 4.0, "B": 5.0, "C": 10.0, "D": 11.0}
    assert [c.name for c in tree.children] == ["0.95", "0.80"]
    assert tree.name is None and tree.length is None
    assert [t.name for t in tree.children[0].children] == ["A", "B"]  # edge order kept


def test_tree_slot_missing() -> None:
    with pytest.raises(InputError, match="empty slot @phy_tree") as err:
        R.read_phyloseq_tree(WORKSPACE, object="ps_signal")
    assert "object 'ps_signal'" in str(err.value)


# ---------------------------------------------------------------------- choosing the object
def test_several_phyloseq_objects_need_a_choice() -> None:
    with pytest.raises(InputError, match=r"2 phyloseq objects \('ps_signal', 'bundle\$phyloseq'\)"):
        R.read_phyloseq_table(WORKSPACE)
    inside = R.read_phyloseq_table(WORKSPACE, object="bundle$phyloseq")
    np.testing.assert_array_equal(inside.counts.toarray(), COUNTS)


def test_only_phyloseq_object_inside_a_list_is_found() -> None:
    # one_in_list.rda: list peer(lipids = <matrix>, phyloseq = <phyloseq>), like microbiome's peerj32
    table = R.read_phyloseq_table(FIX / "one_in_list.rda")
    assert list(table.sample_ids) == ["S1", "S2", "S3"]


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ("nope", "holds no object 'nope'; it holds 'ps_signal' \\(phyloseq\\)"),
        ("bundle$x", "has no element 'x' \\(elements: phyloseq, meta\\)"),
        ("numbers", "object 'numbers' is a numeric, not a phyloseq object"),
        ("bundle$meta", "is a data.frame, not a phyloseq object"),
    ],
)
def test_bad_object_paths(obj: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        R.read_phyloseq_table(WORKSPACE, object=obj)
    assert str(WORKSPACE) in str(err.value)


def test_describe_r_file() -> None:
    text = R.describe_r_file(WORKSPACE)
    assert "'ps_signal' (phyloseq)" in text
    assert "'bundle' (list with elements phyloseq: phyloseq, meta: data.frame)" in text


# ---------------------------------------------------------------------- broken objects and files
@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("phyloseq_no_orientation.rds", "no TRUE/FALSE taxa_are_rows slot"),
        ("phyloseq_empty.rds", "empty slot @otu_table"),
        ("phyloseq_na.rds", "1 NA value"),
        ("microbiome_list.rds", "no phyloseq object in the file"),
    ],
)
def test_broken_phyloseq_objects(name: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        R.read_phyloseq_table(FIX / name)
    assert str(FIX / name) in str(err.value)


def test_na_cell_is_located() -> None:
    with pytest.raises(InputError) as err:
        R.read_phyloseq_table(FIX / "phyloseq_na.rds")
    # na_counts[2, 3] <- NA in R: taxon B, sample S3
    assert "slot @otu_table, sample 'S3', feature 'B'" in str(err.value)


def test_empty_sam_data() -> None:
    with pytest.raises(InputError, match="empty slot @sam_data"):
        R.read_phyloseq_samples(FIX / "phyloseq_empty.rds")


def test_not_r_files(tmp_path: Path) -> None:
    text = tmp_path / "table.rds"
    text.write_text("#OTU ID\tS1\nA\t1\n")
    with pytest.raises(InputError, match=r"not an R data file .* starts with '#OTU ID"):
        R.read_phyloseq_table(text)
    empty = tmp_path / "empty.rds"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty"):
        R.read_phyloseq_table(empty)
    with pytest.raises(InputError, match="file not found"):
        R.read_phyloseq_table(tmp_path / "absent.rds")
    truncated = tmp_path / "truncated.rds"
    truncated.write_bytes(PS.read_bytes()[:200])  # gzip stream cut short
    with pytest.raises(InputError, match="corrupt or truncated"):
        R.read_phyloseq_table(truncated)
    cut = tmp_path / "cut.rds"  # valid gzip, but the R serialization inside stops early
    cut.write_bytes(gzip.compress(gzip.decompress(PS.read_bytes())[:300]))
    with pytest.raises(InputError, match="cannot parse the R object"):
        R.read_phyloseq_table(cut)


def test_parsed_file_cache_sees_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "x.rds"
    shutil.copy(PS, path)
    assert R.read_phyloseq_table(path).n_features == 4
    shutil.copy(MLIST, path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(InputError, match="no phyloseq object"):
        R.read_phyloseq_table(path)


# ---------------------------------------------------------------------- MicrobiomeData list
def test_microbiome_list() -> None:
    table = R.read_microbiome_list_table(MLIST)
    np.testing.assert_array_equal(table.counts.toarray(), COUNTS)  # feature.tab is taxa x samples
    assert list(table.taxonomy) == [
        "k__Bacteria;g__Lactobacillus",
        "k__Bacteria;g__",
        "k__Bacteria;g__Bacteroides",
        "k__Archaea;g__",
    ]
    raw = R.read_microbiome_list_samples(MLIST)
    assert list(raw.index) == ["row 1 of meta.dat", "row 2 of meta.dat", "row 3 of meta.dat"]
    assert raw["Disease"].tolist() == ["Psoriasis", "Healthy", "Healthy"]
    assert raw["WHR"].tolist()[:2] == ["78.0", "69.0"]  # padded text " 78.0" stripped, kept as text
    assert raw["WHR"].isna().tolist() == [False, False, True]


# ---------------------------------------------------------------------- registries
def test_registered_formats() -> None:
    assert {"phyloseq_rds", "phyloseq_rda", "rds_microbiome_list"} <= set(gio.TABLE_READERS)
    assert {"phyloseq_rds", "phyloseq_rda", "rds_microbiome_list"} <= set(gio.SAMPLE_READERS)
    assert {"newick", "phyloseq_rds", "phyloseq_rda"} <= set(gio.TREE_READERS)
    table = gio.read_table(PS, "phyloseq_rds")
    np.testing.assert_array_equal(table.counts.toarray(), COUNTS)
    raw = gio.read_samples(PS, "phyloseq_rds", id_column="row.names")
    assert raw["row.names"].tolist() == ["S1", "S2", "S3"]
    tree = gio.read_tree(PS, "phyloseq_rds")
    assert sum(1 for _ in tree.tips()) == 4
    table = gio.read_table(WORKSPACE, "phyloseq_rda", values="signal", object="ps_signal")
    assert table.values == "signal"
    assert gio.read_table(MLIST, "rds_microbiome_list").n_samples == 3
    with pytest.raises(InputError, match="unknown tree format 'nexus'"):
        gio.read_tree(PS, "nexus")


@pytest.mark.parametrize(
    ("path", "fmt", "match"),
    [
        (PS, "phyloseq_rda", "expects an .rda/.RData workspace.*use format phyloseq_rds"),
        (WORKSPACE, "phyloseq_rds", "expects an .rds file.*use format phyloseq_rda"),
        (FIX / "one_in_list.rda", "rds_microbiome_list", "expects an .rds file"),
        (PS, "rds_microbiome_list", "no MicrobiomeData list"),
    ],
)
def test_container_and_format_mismatch(path: Path, fmt: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        gio.read_table(path, fmt)


def test_options_of_other_formats_are_refused() -> None:
    with pytest.raises(
        InputError, match="option\\(s\\) rows do not apply to format 'phyloseq_rds'"
    ):
        gio.read_table(PS, "phyloseq_rds", rows="samples")


# ---------------------------------------------------------------------- phylo -> TreeNode checks
def _phylo(**changes):
    parts = {
        "edge": np.array([[5, 6], [6, 1], [6, 2], [5, 7], [7, 3], [7, 4]]),
        "edge_length": np.array([3.0, 1, 2, 6, 4, 5]),
        "tip_label": ["A", "B", "C", "D"],
        "n_node": 3,
    }
    parts.update(changes)
    return R.phylo_to_tree(
        parts["edge"], parts["edge_length"], parts["tip_label"], parts["n_node"], source="t.rds"
    )


def test_phylo_to_tree_ok() -> None:
    tree = _phylo()
    assert {t.name: t.accumulate_to_ancestor(tree) for t in tree.tips()} == {
        "A": 4.0,
        "B": 5.0,
        "C": 10.0,
        "D": 11.0,
    }


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"edge": np.array([[5, 6], [6, 1], [6, 2], [5, 7], [7, 3], [7, 9]])}, "outside 1..7"),
        (
            {"edge": np.array([[5, 6], [6, 1], [6, 2], [5, 7], [7, 3], [7, 3]])},
            "node 3 has 2 parents",
        ),
        (
            {"edge": np.array([[5, 6], [1, 2], [6, 1], [5, 7], [7, 3], [7, 4]])},
            "tip 'A' .* has a child",
        ),
        (
            {"edge": np.array([[5, 6], [6, 1], [6, 2], [5, 7], [7, 3], [7, 5]])},
            "root .* has a parent",
        ),
        (
            {"edge": np.array([[5, 6], [6, 1], [6, 2], [5, 3], [7, 4]]), "edge_length": np.ones(5)},
            r"1 node\(s\) are not joined to the tree \(e.g. 'internal node 7'\)",
        ),
        ({"edge_length": np.array([3.0, 1, -2, 6, 4, 5])}, "edge 3 is not a finite number >= 0"),
        ({"edge_length": np.array([3.0, 1, 2, 6, 4])}, "5 branch lengths for 6 edges"),
        ({"tip_label": ["A", "B", "B", "D"]}, "duplicate tip labels: B"),
        ({"tip_label": ["A", None, "C", "D"]}, "tip label\\(s\\) are NA or empty"),
    ],
)
def test_phylo_to_tree_errors(changes: dict, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        _phylo(**changes)
    assert "t.rds" in str(err.value)


def test_phylo_cycle_is_detected() -> None:
    # nodes 6 and 7 are each other's parent: every node has one parent, but they hang from nothing
    edge = np.array([[5, 1], [5, 2], [6, 7], [7, 6], [6, 3], [7, 4]])
    with pytest.raises(InputError, match="cycle: only 3 of 7 nodes hang from the root"):
        _phylo(edge=edge, edge_length=np.ones(6))


# ---------------------------------------------------------------------- through the import step
def test_import_reads_table_and_samples_from_one_r_file(tmp_path: Path) -> None:
    entry = {"url": "https://example.org/ps.rds", "sha256": "0" * 64, "format": "phyloseq_rds"}
    dataset = {
        "title": "tiny",
        "values": "counts",
        "files": {"table": dict(entry), "samples": dict(entry)},
        "samples": {
            "id_column": "row.names",
            "columns": {
                "condition": {
                    "from": "Disease",
                    "map": {"Psoriasis": "psoriasis", "Healthy": "none"},
                },
                "body_site": {"constant": "gut"},
            },
        },
    }
    manifest = {
        "dataset": "tiny",
        "available": True,
        "files": {role: {**entry, "path": str(PS)} for role in ("table", "samples")},
    }
    import_dataset("tiny", dataset, manifest, tmp_path)
    table, samples, info = load_imported(tmp_path)
    assert info["n_samples"] == 3 and info["n_features"] == 4
    assert samples["condition"].tolist() == ["psoriasis", "none", "none"]
    np.testing.assert_array_equal(table.counts.toarray(), COUNTS)
    assert table.taxonomy.iloc[0] == "k__Bacteria;p__Firmicutes;g__Lactobacillus"


def test_raw_vectors_and_byte_code() -> None:
    # Written by tests/fixtures/make_rdata_raw_fixture.R (R 4.2.2): a phyloseq object whose refseq slot holds
    # list(raw = as.raw(c(1, 2, 255)), f = <byte-compiled closure holding two closures>, p = sum,
    # after = "still aligned"), like the EB cohort's phyloseq.ASV.RDS. rdata 1.1 alone stops at the RAW
    # vector ("Type RObjectType.RAW not implemented") and, past it, misreads the byte code.
    path = FIX / "phyloseq_raw_bytecode.rds"
    table = R.read_phyloseq_table(path)
    assert list(table.sample_ids) == ["S1", "S2"]
    assert list(table.feature_ids) == ["A", "B", "C"]
    # matrix(c(4, 0, 1, 2, 3, 0), nrow = 3) in the R script fills by column: S1 = (A 4, B 0, C 1),
    # S2 = (A 2, B 3, C 0)
    assert table.counts.toarray().tolist() == [[4.0, 0.0, 1.0], [2.0, 3.0, 0.0]]
    extra = dict(R._elements(R._child(R.read_r_file(path).objects[""], "refseq")))
    assert list(extra) == ["raw", "f", "p", "after"]
    assert extra["raw"].value.tolist() == [1, 2, 255]
    assert extra["p"].value == b"sum"  # a primitive: its name
    assert R._strings(extra["after"]) == [
        "still aligned"
    ]  # everything after the byte code is aligned
    samples = R.read_phyloseq_samples(path)
    assert samples["group"].tolist() == ["x", "y"]
