"""gutskin.io.wide: wide CSV/TSV feature tables, rounding of averaged counts, and their import.

Every file is written by the test as literal text; expected values are the literal numbers in it, and the
rounding numbers are worked out by hand in the comments (round half to even, as R's round()).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from gutskin.errors import ConfigError, InputError
from gutskin.importer import import_dataset, load_imported
from gutskin.io import FeatureTable, read_table, read_wide, round_counts

# Three samples × four taxa, as R's write.csv writes a data frame with row names (empty first header).
R_CSV = (
    '"","Bacteria.Firmicutes.Bacilli.Bacillales.Staphylococcaceae.Staphylococcus.__",'
    '"Bacteria.Actinobacteria.Actinobacteria.Propionibacteriales.Propionibacteriaceae.Cutibacterium.__",'
    '"Bacteria.Proteobacteria.Gammaproteobacteria.Pseudomonadales.Moraxellaceae.Acinetobacter.__",'
    '"Bacteria.Firmicutes.Bacilli.Lactobacillales.Streptococcaceae.Streptococcus.__"\n'
    '"S1",12,0,3,0\n'
    '"S2",0,0,7,1\n'
    '"S3",5,9,0,0\n'
)
DENSE = [[12, 0, 3, 0], [0, 0, 7, 1], [5, 9, 0, 0]]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_r_csv_samples_in_rows(tmp_path: Path) -> None:
    table = read_wide(_write(tmp_path / "t.csv", R_CSV))
    assert list(table.sample_ids) == ["S1", "S2", "S3"]
    assert table.n_features == 4
    assert table.feature_ids[1].startswith("Bacteria.Actinobacteria")
    assert table.counts.toarray().tolist() == DENSE
    assert table.counts.nnz == 6  # zeros are not stored
    assert table.values == "counts"
    assert table.taxonomy is None


def test_r_dotted_lineage_option(tmp_path: Path) -> None:
    table = read_wide(_write(tmp_path / "t.csv", R_CSV), lineage="r_dotted")
    assert table.taxonomy is not None
    # seven dot-separated tokens: one reading; written canonically
    assert table.taxonomy.iloc[0] == (
        "k__Bacteria;p__Firmicutes;c__Bacilli;o__Bacillales;f__Staphylococcaceae;"
        "g__Staphylococcus;s__"
    )


def test_features_in_rows_tsv_with_lineage_column(tmp_path: Path) -> None:
    text = (
        "taxon\tA\tB\ttaxonomy\n"
        "otu1\t4\t0\tk__Bacteria; p__Firmicutes; c__Bacilli\n"
        "otu2\t0\t2\tk__Bacteria; p__Bacteroidetes\n"
    )
    table = read_table(
        _write(tmp_path / "t.tsv", text),
        "wide_tsv",
        rows="features",
        lineage_column="taxonomy",
    )
    assert list(table.sample_ids) == ["A", "B"]
    assert list(table.feature_ids) == ["otu1", "otu2"]
    assert table.counts.toarray().tolist() == [[4, 0], [0, 2]]
    assert table.taxonomy is not None
    assert table.taxonomy["otu2"] == "k__Bacteria; p__Bacteroidetes"


def test_gzip_and_relative_values(tmp_path: Path) -> None:
    p = tmp_path / "t.csv.gz"
    p.write_bytes(gzip.compress(b'"",a,b\nS1,0.25,0.75\nS2,1,0\n'))
    table = read_wide(p, values="relative")
    assert table.counts.toarray().tolist() == [[0.25, 0.75], [1.0, 0.0]]
    assert table.values == "relative"


def test_non_integer_counts_name_line_and_the_round_option(tmp_path: Path) -> None:
    p = _write(tmp_path / "t.csv", '"",a,b\nS1,1,2\nS2,0.5,3\n')
    with pytest.raises(InputError, match="round: nearest") as exc:
        read_wide(p)
    assert "line 3" in str(exc.value)
    assert "1 value(s) are not whole numbers" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "problem", "where"),
    [
        ('"",a,b\nS1,1,x\n', "'x' is not a number", "line 2, column 3 ('b')"),
        ('"",a,b\nS1,1,\n', "an empty cell is not a number", "line 2, column 3 ('b')"),
        ('"",a,b\nS1,1,2,3\n', "row has 4 fields but the header has 3", "line 2"),
        ('"",a,b\nS1,1,2\nS1,3,4\n', "duplicate row id 'S1'", "lines 2 and 3"),
        ('"",a,a\nS1,1,2\n', "duplicate column id 'a'", "header, columns 2 and 3"),
        ('"",a,b\nS1,1,-2\n', "1 value(s) are negative (smallest -2)", "line 2"),
        ('"",a,b\nS2,1,2\nS1,1,inf\n', "'inf' is not a finite number", "line 3, column 3 ('b')"),
        ("", "the file is empty", None),
        ('"",a\n,1\n', "1 row id(s) are empty", "line 2"),
    ],
)
def test_bad_tables(tmp_path: Path, text: str, problem: str, where: str | None) -> None:
    p = _write(tmp_path / "bad.csv", text)
    with pytest.raises(InputError) as exc:
        read_wide(p)
    assert exc.value.path == str(p)
    assert problem in exc.value.problem
    assert exc.value.where == where


def test_unknown_lineage_convention(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="lineage"):
        read_wide(_write(tmp_path / "t.csv", R_CSV), lineage="dots")


def test_round_counts_half_to_even() -> None:
    # row S1: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (ties to even); total 4.5 -> 4
    # row S2: 0.25 -> 0, 3.0 -> 3 (unchanged), 2.75 -> 3;       total 6.0 -> 6
    table = FeatureTable(
        counts=sp.csr_array(np.array([[0.5, 1.5, 2.5], [0.25, 3.0, 2.75]])),
        sample_ids=["S1", "S2"],
        feature_ids=["a", "b", "c"],
        values="signal",
    )
    rounded, report = round_counts(table)
    assert rounded.counts.toarray().tolist() == [[0, 2, 2], [0, 3, 3]]
    assert rounded.values == "counts"
    assert rounded.counts.nnz == 4  # the two cells rounded to 0 are not stored
    assert report["n_values"] == 6
    assert report["n_changed"] == 5
    assert report["fraction_changed"] == pytest.approx(5 / 6)
    assert report["max_change"] == pytest.approx(0.5)
    assert report["n_nonzero_to_zero"] == 2
    assert report["depth_change_max"] == pytest.approx(0.5)
    # mean over samples of |Δ total| / total: (0.5 / 4.5 + 0 / 6) / 2
    assert report["depth_change_mean_relative"] == pytest.approx((0.5 / 4.5) / 2)
    with pytest.raises(ValueError, match="rounding mode"):
        round_counts(table, "up")


# ---------------------------------------------------------------------- import with round: nearest
def _dataset(table: Path, samples: Path, **extra: object) -> tuple[dict, dict]:
    dataset = {
        "title": "t",
        "values": "counts",
        "files": {
            "table": {"url": "https://x.test/t.csv", "sha256": "0" * 64, "format": "wide_csv"},
            "samples": {"url": "https://x.test/m.csv", "sha256": "1" * 64, "format": "csv"},
        },
        "samples": {
            "id_column": "SampleName",
            "missing_values": ["NA"],
            "columns": {
                "subject_id": {"from": "Subject"},
                "body_site": {"constant": "skin"},
                "condition": {"from": "Dx", "map": {"AD": "atopic_dermatitis", "ctrl": "none"}},
            },
        },
        **extra,
    }
    manifest = {
        "available": True,
        "files": {
            "table": {"path": str(table), "format": "wide_csv"},
            "samples": {"path": str(samples), "format": "csv"},
        },
    }
    return dataset, manifest


def test_import_rounds_averaged_counts_and_reports_it(tmp_path: Path) -> None:
    # S1: 2.5 -> 2, 1 -> 1, 0.5 -> 0; S2: 4 -> 4, 0 -> 0, 1.5 -> 2  => 3 of 5 non-zero cells change
    table = _write(tmp_path / "t.csv", '"",a,b,c\n"S1",2.5,1,0.5\n"S2",4,0,1.5\n')
    meta = _write(
        tmp_path / "m.csv",
        '"","Subject","SampleName","Dx"\n"1","p1","S1","AD"\n"2","c1","S2","ctrl"\n',
    )
    dataset, manifest = _dataset(table, meta, round="nearest")
    info = import_dataset("ad_like", dataset, manifest, tmp_path / "out")
    assert info["rounding"]["n_values"] == 5
    assert info["rounding"]["n_changed"] == 3
    assert info["rounding"]["n_nonzero_to_zero"] == 1
    on_disk = json.loads((tmp_path / "out" / "import.json").read_text())
    assert on_disk["rounding"]["max_change"] == 0.5
    assert on_disk["values"] == "counts"
    out, samples, _ = load_imported(tmp_path / "out")
    assert out.counts.toarray().tolist() == [[2, 1, 0], [4, 0, 2]]
    assert list(samples["condition"]) == ["atopic_dermatitis", "none"]


def test_import_without_round_rejects_averaged_counts(tmp_path: Path) -> None:
    table = _write(tmp_path / "t.csv", '"",a\n"S1",2.5\n')
    meta = _write(tmp_path / "m.csv", '"Subject","SampleName","Dx"\n"p1","S1","AD"\n')
    dataset, manifest = _dataset(table, meta)
    with pytest.raises(InputError, match="round: nearest"):
        import_dataset("ad_like", dataset, manifest, tmp_path / "out")
    assert not (tmp_path / "out" / "import.json").exists()


def test_round_only_for_counts_and_options_checked(tmp_path: Path) -> None:
    table = _write(tmp_path / "t.csv", '"",a\n"S1",0.5\n')
    meta = _write(tmp_path / "m.csv", '"Subject","SampleName","Dx"\n"p1","S1","AD"\n')
    dataset, manifest = _dataset(table, meta, round="nearest")
    dataset["values"] = "relative"
    with pytest.raises(ConfigError, match="datasets/ad_like/round"):
        import_dataset("ad_like", dataset, manifest, tmp_path / "out")
    # an option of another format names its key
    dataset, manifest = _dataset(table, meta, round="nearest")
    dataset["files"]["table"]["options"] = {"header_fix": {"rename": {"a": "b"}}}
    with pytest.raises(ConfigError, match="datasets/ad_like/files/table/options/header_fix"):
        import_dataset("ad_like", dataset, manifest, tmp_path / "out")
