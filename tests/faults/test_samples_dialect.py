"""F3: one samples.tsv dialect — the importer's writer, and the same reader in the claim step and the report.

Hostile metadata values must survive the round trip unchanged (or be escaped in a documented way: a tab
or line break inside a value becomes a space), and every reader must see the same rows: before, a value
starting with ``"`` merged rows in the claim step (24 samples became 18) and a subject ``NA`` became missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gutskin.claims.bundle import load_bundle
from gutskin.importer import read_samples_tsv, write_samples_tsv
from gutskin.report.qc import load_depth

HOSTILE = [
    '"quoted start',
    'ends with quote"',
    '"',
    "NA",
    "NaN",
    "null",
    "None",
    "#comment-like",
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2",
    "@SUM(A1)",
    "tab\tinside",
    "line\nbreak",
    "carriage\rreturn",
    "  padded  ",
    "ünïcödé ✓",
    "back\\slash",
    "semi;colon,comma",
    "'single",
    "<script>alert(1)</script>",
    "0001",
    "1e5",
    "last",
]


def hostile_table() -> pd.DataFrame:
    n = len(HOSTILE)
    return pd.DataFrame(
        {
            "sample_id": [f"S{i:02d}" for i in range(n)],
            "subject_id": ["NA" if i == 0 else v for i, v in enumerate(HOSTILE)],
            "dataset": ["d"] * n,
            "body_site": ["gut"] * n,
            "note": HOSTILE,
            "age": [float(i) for i in range(n)],
        }
    )


def expected_text(v: str) -> str:
    return v.replace("\t", " ").replace("\n", " ").replace("\r", " ")


TYPES = {
    "sample_id": {"type": "string"},
    "subject_id": {"type": "string"},
    "dataset": {"type": "string"},
    "body_site": {"type": "string"},
    "note": {"type": "string"},
    "age": {"type": "number"},
}


@pytest.fixture
def hostile_tsv(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    """The hostile table and the samples.tsv the import step writes from it."""
    df = hostile_table()
    path = tmp_path / "samples.tsv"
    write_samples_tsv(df, path, TYPES)
    return df, path


@pytest.mark.fault(
    "F3 hostile metadata values in samples.tsv",
    "round trip keeps every row and value (NA, leading quote, formulas); tab/newline become a space",
    before="failed",
)
def test_hostile_values_round_trip(hostile_tsv: tuple[pd.DataFrame, Path]) -> None:
    df, path = hostile_tsv
    back = read_samples_tsv(path, TYPES)
    assert len(back) == len(df) == 24
    assert back["subject_id"].tolist()[0] == "NA"
    assert back["note"].tolist() == [expected_text(v) for v in HOSTILE]
    assert back["age"].tolist() == df["age"].tolist()


@pytest.mark.fault(
    "F3 hostile metadata values in samples.tsv",
    "the claim step (load_bundle) and the QC report read the same 24 rows and values",
    before="failed",
)
def test_claim_step_and_report_read_the_same_rows(tmp_path: Path) -> None:
    imp, div = tmp_path / "import", tmp_path / "diversity"
    imp.mkdir()
    div.mkdir()
    df = hostile_table()
    write_samples_tsv(df, imp / "samples.tsv", TYPES)
    (imp / "import.json").write_text(json.dumps({"available": True, "columns": TYPES}))
    bundle = load_bundle("d", imp, div)
    assert len(bundle.samples) == 24
    assert bundle.samples["subject_id"].iloc[0] == "NA"
    assert bundle.samples["note"].tolist() == [expected_text(v) for v in HOSTILE]
    depth = div / "depth.tsv"
    depth.write_text(
        "sample_id\treads\tretained\n" + "".join(f"S{i:02d}\t100\ttrue\n" for i in range(24)),
        encoding="utf-8",
    )
    qc = load_depth(depth, imp / "samples.tsv")
    assert len(qc) == 24 and set(qc["body_site"]) == {"gut"}


@pytest.mark.fault(
    "H1 formula injection in TSV outputs",
    "a value like =HYPERLINK(...) is written verbatim as text (never evaluated; not prefixed)",
    before="held",
)
def test_formula_values_are_plain_text(hostile_tsv: tuple[pd.DataFrame, Path]) -> None:
    _, path = hostile_tsv
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 25  # header + 24: no value spilled over a line
    assert all(len(line.split("\t")) == 6 for line in lines)
    assert '=HYPERLINK("http://x","y")' in path.read_text(encoding="utf-8")
