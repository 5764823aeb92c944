"""Readers and writer of gutskin.io: BIOM JSON/HDF5 tables and sample metadata files.

Every fixture file is written by the test itself: BIOM 1.0 JSON by hand (``json.dumps`` of the format's
documented structure), BIOM 2.1 HDF5 by ``biom-format`` itself, metadata as literal text. Expected values
are the literal numbers put into those files.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import biom
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutskin.config import load_and_validate, load_schema
from gutskin.errors import ConfigError, InputError
from gutskin.io import (
    SAMPLE_READERS,
    TABLE_READERS,
    TREE_READERS,
    FeatureTable,
    check_formats,
    read_biom,
    read_delimited,
    read_qiime_mapping,
    read_samples,
    read_table,
    write_biom,
)
from tests.support.biom import biom_json_doc as support_biom_json_doc
from tests.support.errors import refusal

REPO = Path(__file__).resolve().parents[2]

# A 3-feature × 4-sample table (features as rows, as BIOM stores it):
#            S1  S2  S3  S4
#   OTU_a     5   0   1   0
#   OTU_b     0   3   0   0
#   OTU_c     2   0   0   7
DENSE_OBS_BY_SAMPLE = [[5, 0, 1, 0], [0, 3, 0, 0], [2, 0, 0, 7]]
SAMPLES = ["S1", "S2", "S3", "S4"]
FEATURES = ["OTU_a", "OTU_b", "OTU_c"]
TAXA = [
    ["k__Bacteria", "p__Firmicutes", "c__Bacilli"],
    ["k__Bacteria", "p__Bacteroidetes", "c__Bacteroidia"],
    ["k__Bacteria", "p__Proteobacteria", "c__"],
]


def biom_json_doc(**overrides: object) -> dict:
    """A BIOM 1.0 sparse JSON document for the table above (entries: [row, column, value])."""
    doc = support_biom_json_doc(
        DENSE_OBS_BY_SAMPLE, FEATURES, SAMPLES, element_type="float", taxonomy=TAXA
    )
    doc.update(overrides)
    return doc


def write_json(path: Path, doc: dict, *, gz: bool = False) -> Path:
    text = json.dumps(doc).encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def write_hdf5_with_biom(path: Path, obs_ids=FEATURES, samp_ids=SAMPLES) -> Path:
    table = biom.Table(
        np.array(DENSE_OBS_BY_SAMPLE, dtype=float),
        observation_ids=list(obs_ids),
        sample_ids=list(samp_ids),
        observation_metadata=[{"taxonomy": t} for t in TAXA],
    )
    with h5py.File(path, "w") as h5:
        table.to_hdf5(h5, "test")
    return path


def assert_is_reference_table(t: FeatureTable) -> None:
    assert isinstance(t.counts, sp.csr_array)
    assert t.counts.dtype == np.float64
    assert list(t.sample_ids) == SAMPLES
    assert list(t.feature_ids) == FEATURES
    # samples x features = transpose of the literal matrix above
    expected = np.array(DENSE_OBS_BY_SAMPLE, dtype=float).T
    np.testing.assert_array_equal(t.counts.toarray(), expected)
    # depths: S1 = 5+0+2, S2 = 3, S3 = 1, S4 = 7
    np.testing.assert_array_equal(t.depths(), [7.0, 3.0, 1.0, 7.0])
    assert t.taxonomy is not None
    assert t.taxonomy["OTU_a"] == "k__Bacteria;p__Firmicutes;c__Bacilli"
    assert t.taxonomy["OTU_c"] == "k__Bacteria;p__Proteobacteria;c__"


# ---------------------------------------------------------------------- reading BIOM
def test_read_biom_json_plain(tmp_path: Path) -> None:
    t = read_biom(write_json(tmp_path / "t.biom", biom_json_doc()))
    assert_is_reference_table(t)
    assert t.values == "counts"


def test_read_biom_json_gzip_detected_by_content(tmp_path: Path) -> None:
    # the name says nothing: detection is by content
    t = read_biom(write_json(tmp_path / "table.dat", biom_json_doc(), gz=True))
    assert_is_reference_table(t)


def test_read_biom_json_dense(tmp_path: Path) -> None:
    doc = biom_json_doc(matrix_type="dense", data=DENSE_OBS_BY_SAMPLE)
    assert_is_reference_table(read_biom(write_json(tmp_path / "dense.json", doc)))


def test_read_biom_hdf5_written_by_biom_format(tmp_path: Path) -> None:
    t = read_biom(write_hdf5_with_biom(tmp_path / "t.json"))  # misleading name on purpose
    assert_is_reference_table(t)


def test_read_biom_hdf5_gzipped(tmp_path: Path) -> None:
    h5 = write_hdf5_with_biom(tmp_path / "t.biom")
    gz = tmp_path / "t.biom.gz"
    gz.write_bytes(gzip.compress(h5.read_bytes()))
    assert_is_reference_table(read_biom(gz))


def test_read_table_registry_dispatches_biom(tmp_path: Path) -> None:
    t = read_table(write_json(tmp_path / "t.biom", biom_json_doc()), "biom")
    assert t.n_samples == 4 and t.n_features == 3
    with pytest.raises(InputError, match="unknown feature-table format 'xlsx'"):
        read_table(tmp_path / "t.biom", "xlsx")


def test_relative_values_need_not_be_integers(tmp_path: Path) -> None:
    doc = biom_json_doc(data=[[0, 0, 0.25], [2, 0, 0.75], [1, 1, 1.0]])
    t = read_biom(write_json(tmp_path / "rel.biom", doc), values="relative")
    assert t.values == "relative"
    assert t.counts[[0], [0]].item() == 0.25
    # ...but declared counts must be whole numbers
    msg = refusal(read_biom, tmp_path / "rel.biom", values="counts")
    assert "rel.biom" in msg and "not whole numbers" in msg and "values: relative" in msg


# ---------------------------------------------------------------------- BIOM errors
def test_not_biom_at_all(tmp_path: Path) -> None:
    p = tmp_path / "otus.txt"
    p.write_text("#OTU ID\tS1\nOTU_a\t3\n")
    msg = refusal(read_biom, p)
    assert str(p) in msg and "not a BIOM file" in msg and "biom convert" in msg


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.biom"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_biom(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_biom(tmp_path / "nope.biom")


@pytest.mark.fault(
    "H16 truncated .biom.gz",
    "InputError naming the file, with the re-download hint",
    before="held",
)
def test_truncated_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(json.dumps(biom_json_doc()).encode())
    p = tmp_path / "cut.biom.gz"
    p.write_bytes(whole[: len(whole) // 2])
    msg = refusal(read_biom, p)
    assert str(p) in msg and ("truncated" in msg or "corrupt" in msg)
    assert "sha256" in msg  # the hint: re-download and verify


def test_truncated_hdf5(tmp_path: Path) -> None:
    whole = write_hdf5_with_biom(tmp_path / "whole.biom").read_bytes()
    p = tmp_path / "cut.biom"
    p.write_bytes(whole[: len(whole) // 3])
    assert str(p) in refusal(read_biom, p)


def test_invalid_json_names_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.biom"
    p.write_text('{\n  "rows": [\n  oops\n}')
    message = refusal(read_biom, p)
    assert "not valid JSON" in message and "line 3" in message


@pytest.mark.fault(
    "H17 duplicate sample ids in a table",
    "InputError naming the ids",
    before="held",
)
def test_json_duplicate_sample_ids(tmp_path: Path) -> None:
    doc = biom_json_doc()
    doc["columns"][2]["id"] = "S1"
    p = write_json(tmp_path / "dup.biom", doc)
    msg = refusal(read_biom, p)
    assert str(p) in msg and "duplicate sample ids: S1" in msg


def test_json_duplicate_feature_ids(tmp_path: Path) -> None:
    doc = biom_json_doc()
    doc["rows"][1]["id"] = "OTU_a"
    with pytest.raises(InputError, match="duplicate feature ids: OTU_a"):
        read_biom(write_json(tmp_path / "dupf.biom", doc))


def test_hdf5_duplicate_sample_ids(tmp_path: Path) -> None:
    p = write_hdf5_with_biom(tmp_path / "dup.biom")
    with h5py.File(p, "r+") as h5:  # corrupt the ids after biom-format wrote a valid file
        ids = h5["sample/ids"][:]
        ids[3] = ids[0]
        h5["sample/ids"][:] = ids
    msg = refusal(read_biom, p)
    assert str(p) in msg and "uplicate" in msg


@pytest.mark.fault(
    "H18 negative counts",
    "InputError naming the place",
    before="held",
)
def test_negative_counts(tmp_path: Path) -> None:
    doc = biom_json_doc(data=[[0, 0, 5.0], [1, 1, -3.0]])
    p = write_json(tmp_path / "neg.biom", doc)
    msg = refusal(read_biom, p)
    assert str(p) in msg and "negative" in msg and "-3" in msg


def test_negative_counts_hdf5(tmp_path: Path) -> None:
    table = biom.Table(np.array([[1.0, -2.0]]), ["o1"], ["s1", "s2"])
    p = tmp_path / "neg.h5"
    with h5py.File(p, "w") as h5:
        table.to_hdf5(h5, "test")
    with pytest.raises(InputError, match="negative"):
        read_biom(p)


def test_wrong_shape(tmp_path: Path) -> None:
    p = write_json(tmp_path / "shape.biom", biom_json_doc(shape=[3, 5]))
    msg = refusal(read_biom, p)
    assert str(p) in msg and "declared shape [3, 5]" in msg and "4 sample ids" in msg


def test_entry_outside_matrix(tmp_path: Path) -> None:
    p = write_json(tmp_path / "oob.biom", biom_json_doc(data=[[0, 4, 1.0]]))  # column 4 of 0..3
    with pytest.raises(InputError, match="outside the declared 3 × 4 matrix"):
        read_biom(p)


def test_cell_listed_twice(tmp_path: Path) -> None:
    p = write_json(tmp_path / "twice.biom", biom_json_doc(data=[[1, 2, 1.0], [1, 2, 4.0]]))
    with pytest.raises(InputError, match=r"more than once.*row 1, column 2"):
        read_biom(p)


def test_dense_row_of_wrong_length(tmp_path: Path) -> None:
    doc = biom_json_doc(matrix_type="dense", data=[[1, 2, 3, 4], [1, 2], [0, 0, 0, 0]])
    with pytest.raises(InputError, match="dense row 1 has 2 values, expected 4"):
        read_biom(write_json(tmp_path / "d.biom", doc))


def test_json_that_is_not_biom(tmp_path: Path) -> None:
    p = write_json(tmp_path / "x.json", {"hello": "world"})
    with pytest.raises(InputError, match="no 'rows' key"):
        read_biom(p)


# ---------------------------------------------------------------------- writing BIOM
def test_write_biom_round_trip_and_readable_by_biom_format(tmp_path: Path) -> None:
    t = read_biom(write_json(tmp_path / "in.biom", biom_json_doc()))
    out = tmp_path / "sub" / "out.biom"
    write_biom(t, out, generated_by="unit test")
    assert_is_reference_table(read_biom(out))
    # independent reader: biom-format sees features as observations, samples as samples
    b = biom.load_table(str(out))
    assert list(b.ids(axis="sample")) == SAMPLES
    assert list(b.ids(axis="observation")) == FEATURES
    assert b.get_value_by_ids("OTU_c", "S4") == 7.0
    assert b.metadata("OTU_b", axis="observation")["taxonomy"] == TAXA[1]
    with h5py.File(out, "r") as h5:
        assert h5.attrs["format-version"].tolist() == [2, 1]
        assert h5.attrs["generated-by"] == "unit test"
    assert [p.name for p in out.parent.iterdir()] == ["out.biom"]  # no temp file left


def test_write_biom_empty_table(tmp_path: Path) -> None:
    empty = FeatureTable(
        sp.csr_array((0, 0)), np.array([], dtype=object), np.array([], dtype=object)
    )
    write_biom(empty, tmp_path / "empty.biom")
    back = read_biom(tmp_path / "empty.biom")
    assert (back.n_samples, back.n_features) == (0, 0)


def test_write_biom_is_atomic_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = read_biom(write_json(tmp_path / "in.biom", biom_json_doc()))
    target = tmp_path / "out" / "table.biom"
    target.parent.mkdir()
    target.write_bytes(b"previous content")

    def boom(self: object, *args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(biom.Table, "to_hdf5", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_biom(t, target)
    assert target.read_bytes() == b"previous content"
    assert [p.name for p in target.parent.iterdir()] == ["table.biom"]


# ---------------------------------------------------------------------- FeatureTable helpers
def reference_table() -> FeatureTable:
    return FeatureTable(
        counts=sp.csr_array(np.array(DENSE_OBS_BY_SAMPLE, dtype=float).T),
        sample_ids=np.array(SAMPLES, dtype=object),
        feature_ids=np.array(FEATURES, dtype=object),
        taxonomy=pd.Series([";".join(t) for t in TAXA], index=FEATURES),
    )


def test_subset_samples_keeps_requested_order() -> None:
    sub = reference_table().subset_samples(["S4", "S1"])
    assert list(sub.sample_ids) == ["S4", "S1"]
    # S4 = (0, 0, 7), S1 = (5, 0, 2)
    np.testing.assert_array_equal(sub.counts.toarray(), [[0, 0, 7], [5, 0, 2]])
    with pytest.raises(KeyError, match="S9"):
        reference_table().subset_samples(["S1", "S9"])


def test_filter_empty_features_drops_zero_columns_and_their_taxonomy() -> None:
    # S2 is the only sample with OTU_b; without it OTU_b sums to 0
    sub = reference_table().subset_samples(["S1", "S3", "S4"]).filter_empty_features()
    assert list(sub.feature_ids) == ["OTU_a", "OTU_c"]
    assert list(sub.taxonomy.index) == ["OTU_a", "OTU_c"]
    np.testing.assert_array_equal(sub.depths(), [7.0, 1.0, 7.0])


def test_feature_table_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="duplicate sample ids: S1"):
        FeatureTable(sp.csr_array(np.ones((2, 1))), np.array(["S1", "S1"]), np.array(["f"]))
    with pytest.raises(ValueError, match="shape"):
        FeatureTable(sp.csr_array(np.ones((2, 1))), np.array(["S1"]), np.array(["f"]))
    with pytest.raises(ValueError, match="negative"):
        FeatureTable(sp.csr_array(-np.ones((1, 1))), np.array(["S1"]), np.array(["f"]))


def test_biom_bridge_round_trip() -> None:
    t = reference_table()
    back = FeatureTable.from_biom(t.to_biom())
    assert_is_reference_table(back)


# ---------------------------------------------------------------------- QIIME mapping files
QIIME_TEXT = (
    "#SampleID\tBODY_SITE\tAGE\tNOTE\n"  # line 1
    'S1\tUBERON:feces\t34\t"quoted"\n'  # line 2
    "# a comment line, skipped\n"  # line 3
    "S2\tUBERON:skin\tno_data\t\n"  # line 4
    "\n"  # line 5 (blank, skipped)
    "S3\tUBERON:feces\tUnknown\t a b \n"  # line 6
)


def test_read_qiime_mapping(tmp_path: Path) -> None:
    p = tmp_path / "map.txt"
    p.write_text(QIIME_TEXT)
    df = read_qiime_mapping(p, missing_values=["Unknown"])
    assert list(df.columns) == ["#SampleID", "BODY_SITE", "AGE", "NOTE"]
    assert list(df["#SampleID"]) == ["S1", "S2", "S3"]
    assert list(df.index) == [2, 4, 6]  # line numbers in the file
    assert df.index.name == "line"
    assert df.loc[2, "NOTE"] == '"quoted"'  # QUOTE_NONE: quotes are data
    assert df.loc[6, "NOTE"] == "a b"  # cells are stripped
    assert pd.isna(df.loc[4, "AGE"])  # no_data
    assert pd.isna(df.loc[4, "NOTE"])  # empty
    assert pd.isna(df.loc[6, "AGE"])  # dataset missing value
    assert all(pd.api.types.is_string_dtype(df[c]) for c in df.columns)


def test_read_qiime_mapping_crlf_and_gzip(tmp_path: Path) -> None:
    p = tmp_path / "map.txt.gz"
    p.write_bytes(gzip.compress(QIIME_TEXT.replace("\n", "\r\n").encode()))
    df = read_qiime_mapping(p)
    assert list(df["#SampleID"]) == ["S1", "S2", "S3"]
    assert df.loc[6, "AGE"] == "Unknown"  # not declared missing here
    assert list(df.index) == [2, 4, 6]


def test_qiime_ragged_row_names_line(tmp_path: Path) -> None:
    p = tmp_path / "ragged.txt"
    p.write_text("#SampleID\tA\tB\nS1\t1\t2\nS2\t1\t2\t3\n")
    msg = refusal(read_qiime_mapping, p)
    assert str(p) in msg and "line 3" in msg and "4 fields" in msg and "has 3" in msg


def test_qiime_duplicate_ids_named(tmp_path: Path) -> None:
    p = tmp_path / "dup.txt"
    p.write_text("#SampleID\tA\nS1\tx\nS2\ty\nS1\tz\n")
    msg = refusal(read_qiime_mapping, p)
    assert str(p) in msg and "'S1' (lines 2, 4)" in msg


def test_qiime_header_required(tmp_path: Path) -> None:
    p = tmp_path / "nohead.txt"
    p.write_text("SampleID\tA\nS1\tx\n")
    with pytest.raises(InputError, match="#SampleID"):
        read_qiime_mapping(p)


def test_qiime_duplicate_column_names(tmp_path: Path) -> None:
    p = tmp_path / "dupcol.txt"
    p.write_text("#SampleID\tAGE\tAGE\nS1\t1\t2\n")
    with pytest.raises(InputError, match=r"duplicate column name.*'AGE'"):
        read_qiime_mapping(p)


@pytest.mark.fault(
    "H19 mapping file not UTF-8",
    "InputError naming the line",
    before="held",
)
def test_qiime_not_utf8_names_line(tmp_path: Path) -> None:
    p = tmp_path / "latin1.txt"
    p.write_bytes("#SampleID\tCITY\nS1\tZurich\nS2\tZürich\n".encode("latin-1"))
    with pytest.raises(InputError, match="line 3"):
        read_qiime_mapping(p)


# ---------------------------------------------------------------------- generic delimited
def test_read_delimited_csv_with_r_row_names_and_quotes(tmp_path: Path) -> None:
    p = tmp_path / "meta.csv"
    p.write_text('"","Subject","Note"\n"a_1","1","x, y"\n"a_2","2",NA\n')
    df = read_delimited(p, ",", "", missing_values=["NA"])
    assert list(df.columns) == ["", "Subject", "Note"]
    assert list(df[""]) == ["a_1", "a_2"]
    assert df.loc[2, "Note"] == "x, y"
    assert pd.isna(df.loc[3, "Note"])


def test_read_delimited_default_id_is_first_column(tmp_path: Path) -> None:
    p = tmp_path / "meta.tsv"
    p.write_text("SampleID\tage\nA\t3\nB\t4\n")
    df = read_samples(p, "tsv")
    assert df.attrs["id_column"] == "SampleID"
    assert list(df["SampleID"]) == ["A", "B"]


@pytest.mark.parametrize(
    ("name", "text", "sep", "id_column", "words"),
    [
        pytest.param(
            "meta.tsv",
            "SampleID\tage\nA\t3\n",
            "\t",
            "sample_id",
            ["'sample_id'", "close matches: 'SampleID'"],
            id="missing-id-column-suggests",
        ),
        pytest.param("bad.csv", "id,a,b\nx,1,2\ny,1\n", ",", "id", ["line 3"], id="ragged-csv"),
        pytest.param(
            "noid.tsv",
            "id\ta\nx\t1\n\t2\n",
            "\t",
            "id",
            ["(line 3)", "no sample id"],
            id="missing-sample-id",
        ),
    ],
)
def test_read_delimited_refuses_naming_the_problem(
    tmp_path: Path, name: str, text: str, sep: str, id_column: str, words: list[str]
) -> None:
    p = tmp_path / name
    p.write_text(text)
    message = refusal(read_delimited, p, sep, id_column)
    assert all(w in message for w in words), message


def test_unknown_sample_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown sample-metadata format 'xlsx'"):
        read_samples(tmp_path / "x", "xlsx")


# ---------------------------------------------------------------------- the registries are the one list
def test_the_datasets_schema_lists_no_formats() -> None:
    # a format named in the schema too would be a second list to keep in step with the readers
    schema = load_schema("datasets")
    for role in ("table_file", "samples_file", "tree_file"):
        assert "enum" not in schema["$defs"][role]["properties"]["format"], role


def test_check_formats_accepts_the_repository_datasets() -> None:
    datasets = load_and_validate(REPO / "config" / "datasets.yaml", "datasets")["datasets"]
    check_formats(datasets)  # every format of the real blocks has its reader


@pytest.mark.parametrize(
    ("role", "fmt", "close"),
    [
        ("table", "bion", "biom"),
        ("samples", "qiime_maping", "qiime_mapping"),
        ("tree", "nexus", None),
    ],
)
def test_check_formats_names_the_key_and_close_matches(
    role: str, fmt: str, close: str | None
) -> None:
    datasets = {"d1": {"files": {role: {"url": "https://x/y", "sha256": "0" * 64, "format": fmt}}}}
    with pytest.raises(ConfigError) as err:
        check_formats(datasets, source="my/datasets.yaml")
    msg = str(err.value)
    assert "my/datasets.yaml" in msg and f"datasets/d1/files/{role}/format" in msg
    assert f"unknown {role} format {fmt!r}" in msg
    known = {"table": TABLE_READERS, "samples": SAMPLE_READERS, "tree": TREE_READERS}[role]
    assert all(name in msg for name in known)
    assert (f"did you mean {close}?" in msg) if close else "did you mean" not in msg


def test_qiime_reader_matches_csv_module(tmp_path: Path) -> None:
    # the same file read by the standard library (QUOTE_NONE) gives the same cells
    p = tmp_path / "map.txt"
    p.write_text("#SampleID\tA\tB\nS1\t\"x\tq\nS2\ty\t'z'\n".replace('\t"x\tq', '\t"x"\tq'))
    with p.open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    df = read_qiime_mapping(p)
    assert df.loc[2].tolist() == rows[1]
    assert df.loc[3].tolist() == rows[2]
