"""gutskin.coverage: the covariate coverage map, counted by hand on small sample tables.

The sample tables are written as literal TSV in the canonical layout; every expected count is read off
the table in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gutskin.coverage import CORE_VARIABLES, build_coverage, coverage_table, write_coverage
from gutskin.errors import InputError

HEADER = (
    "sample_id\tsubject_id\tdataset\tbody_site\tbody_subsite\tvisit\tcondition\tage\tsex\tbmi\t"
    "antibiotics\ttypes_of_plants\tsleep_duration\trun_center"
)
#  id  subject site  condition  age  sex     bmi  abx        plants         sleep       run_center
ROWS = [
    "s1\tA\tds_a\tgut\tgut\t1\teczema\t30\tfemale\t22.5\tpast_year\t6 to 10\t7-8 hours\tX",
    "s2\tA\tds_a\tskin\tskin\t1\teczema\t30\tfemale\t\t\t\t\tX",
    "s3\tB\tds_a\tgut\tgut\t\tnone\t\tmale\t25\t\tLess than 5\t\t",
    "s4\tC\tds_a\tskin\tskin\t\t\t41\t\t\t\t\t\tY",
    "s5\tB\tds_a\tskin\tskin\t2\tnone\t52\tmale\t\t\t\t\t",
]
COLUMNS = {
    "types_of_plants": {"type": "ordinal", "levels": ["Less than 5", "6 to 10"]},
    "sleep_duration": {"type": "string"},
    "run_center": {"type": "string"},
}
EMPTY_HEADER = "sample_id\tsubject_id\tdataset\tbody_site\tbody_subsite\tvisit\tcondition\tage\tsex\tbmi\tantibiotics"
CLAIMS = [
    {"id": "C8", "analysis": "alpha_condition", "datasets": ["ds_a"]},
    {"id": "C1", "testable": "no"},  # no analysis: uses no dataset
    {"id": "C9", "analysis": "paired_mirror", "datasets": ["ds_a", "ds_b"]},
]


def _write(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    a = tmp_path / "ds_a"
    a.mkdir()
    (a / "samples.tsv").write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    (a / "import.json").write_text(
        json.dumps({"dataset": "ds_a", "available": True, "columns": COLUMNS})
    )
    b = tmp_path / "ds_b"
    b.mkdir()
    (b / "samples.tsv").write_text(EMPTY_HEADER + "\n")
    (b / "import.json").write_text(
        json.dumps({"dataset": "ds_b", "available": False, "reason": "no mirror", "columns": {}})
    )
    return {
        "ds_a": (a / "samples.tsv", a / "import.json"),
        "ds_b": (b / "samples.tsv", b / "import.json"),
    }


def test_counts_by_hand(tmp_path: Path) -> None:
    cov = build_coverage(_write(tmp_path), CLAIMS)
    a = cov["datasets"]["ds_a"]
    assert a["available"] is True
    assert a["n_samples"] == 5
    assert a["body_sites"] == {"gut": 2, "skin": 3}
    # subjects A (s1 gut, s2 skin) and B (s3 gut, s5 skin) gave both; C only skin
    assert a["paired_gut_skin_subjects"] == 2
    expected = {
        "condition": 4,  # s1 s2 s3 s5
        "body_site": 5,
        "paired_subjects": 4,  # s1 s2 s3 s5
        "subject_id": 5,
        "visit": 3,  # s1 s2 s5
        "age": 4,  # all but s3
        "sex": 4,  # all but s4
        "bmi": 2,  # s1 s3
        "antibiotics": 1,  # s1
        "diet_plants": 2,  # types_of_plants: s1 s3
        "probiotics": 0,
        "sleep": 1,  # sleep_duration: s1
        "run_center": 3,  # s1 s2 s4
    }
    assert {v: e["n_non_missing"] for v, e in a["variables"].items()} == expected
    assert a["variables"]["visit"]["fraction"] == pytest.approx(3 / 5)
    assert a["variables"]["probiotics"]["fraction"] == 0.0
    assert a["claims"] == ["C8", "C9"]
    assert cov["concept_columns"]["ds_a"] == {
        "diet_plants": ["types_of_plants"],
        "sleep": ["sleep_duration"],
    }


def test_structure_and_order(tmp_path: Path) -> None:
    cov = build_coverage(_write(tmp_path), CLAIMS)
    # core variables first, then further columns; concept columns are not repeated
    assert cov["variables"] == [*CORE_VARIABLES, "run_center"]
    assert cov["variables"][:3] == ["condition", "body_site", "paired_subjects"]
    assert set(cov) == {"variables", "definitions", "concept_columns", "datasets"}
    for entry in cov["datasets"].values():
        assert set(entry) == {
            "available",
            "n_samples",
            "body_sites",
            "paired_gut_skin_subjects",
            "paired_same_visit_subjects",
            "pairing",
            "variables",
            "claims",
        }
        assert list(entry["variables"]) == cov["variables"]
        for v in entry["variables"].values():
            assert set(v) == {"n_non_missing", "fraction"}


def test_unavailable_dataset(tmp_path: Path) -> None:
    b = build_coverage(_write(tmp_path), CLAIMS)["datasets"]["ds_b"]
    assert b["available"] is False
    assert b["n_samples"] == 0
    assert b["body_sites"] == {}
    assert b["paired_gut_skin_subjects"] == 0
    assert all(v == {"n_non_missing": 0, "fraction": 0.0} for v in b["variables"].values())
    assert b["claims"] == ["C9"]


def test_dataset_never_imported_is_listed_unavailable(tmp_path: Path) -> None:
    """The workflow plans no import job for a dataset that could not be fetched: None in place of its
    files gives the entry the importer's placeholder files gave (and the same variables)."""
    from gutskin.importer import import_dataset

    imports = _write(tmp_path)
    placeholder = tmp_path / "placeholder"
    import_dataset("ds_b", {"files": {}}, {"available": False, "reason": "no mirror"}, placeholder)
    from_files = build_coverage(
        {**imports, "ds_b": (placeholder / "samples.tsv", placeholder / "import.json")}, CLAIMS
    )
    never = build_coverage({**imports, "ds_b": None}, CLAIMS)
    assert never == from_files
    assert never["datasets"]["ds_b"]["available"] is False
    assert list(never["datasets"]) == ["ds_a", "ds_b"]


def test_written_files(tmp_path: Path) -> None:
    cov = build_coverage(_write(tmp_path), CLAIMS)
    out = tmp_path / "results"
    write_coverage(cov, out / "coverage.json", out / "coverage.tsv")
    assert json.loads((out / "coverage.json").read_text()) == cov
    lines = (out / "coverage.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["dataset", "available", "n_samples", *cov["variables"]]
    assert lines[1].split("\t")[:6] == ["ds_a", "yes", "5", "4", "5", "4"]
    assert lines[2].split("\t")[:4] == ["ds_b", "no", "0", "0"]
    assert len(lines) == 3
    assert list(coverage_table(cov)["dataset"]) == ["ds_a", "ds_b"]
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_missing_import_json(tmp_path: Path) -> None:
    files = _write(tmp_path)
    files["ds_a"][1].unlink()
    with pytest.raises(InputError, match=r"import\.json"):
        build_coverage(files, CLAIMS)


def test_same_visit_pairs_are_counted_as_the_mirror_claim_pairs_them(tmp_path: Path) -> None:
    """Subject A: gut and skin at visit 1 (paired); B: gut without a visit, skin at visit 2 (not paired at
    the same visit). Without a visit column both pair on subject alone, as paired_mirror does."""
    cov = build_coverage(_write(tmp_path), CLAIMS)
    a = cov["datasets"]["ds_a"]
    assert (a["paired_same_visit_subjects"], a["pairing"]) == (1, "visit")
    header = HEADER.replace("\tvisit", "")
    rows = ["\t".join(r.split("\t")[:5] + r.split("\t")[6:]) for r in ROWS]
    (tmp_path / "ds_a" / "samples.tsv").write_text(header + "\n" + "\n".join(rows) + "\n")
    a = build_coverage(_write_existing(tmp_path), CLAIMS)["datasets"]["ds_a"]
    assert (a["paired_same_visit_subjects"], a["pairing"]) == (2, "subject")


def _write_existing(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    return {
        ds: (tmp_path / ds / "samples.tsv", tmp_path / ds / "import.json")
        for ds in ("ds_a", "ds_b")
    }
