"""The configuration language the new cohorts need (issue 10, item 7), on a made-up cohort.

A survey-style cohort written by the test: a BIOM table whose sample ids carry a run prefix and lane suffix
(``77.S1.L001``), a CSV whose sample ids carry a ``run-`` prefix, skin conditions as three Y/blank indicator
columns, a probiotic box that is ticked (Y) or left blank, age in months, and no visit column; a second CSV
holds one row per subject *and visit* (so its key repeats) with the sex, keyed ``SUBJ01`` where the
metadata say ``subj-01``. Every expected value below is worked out by hand from these files.
"""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gutskin.config import validate
from gutskin.errors import ConfigError, InputError
from gutskin.harmonise import harmonise
from gutskin.importer import IMPORT_JSON, import_dataset, load_imported
from gutskin.io import rdata as R
from gutskin.io import read_delimited
from tests.support.biom import biom_json_doc

TABLE_IDS = ["77.S1.L001", "77.S2.L001", "77.S3.L001", "77.S4.L001", "77.S5.L001"]
COUNTS = [[5, 1], [0, 3], [2, 2], [4, 0], [1, 1]]  # samples × features

SAMPLES_CSV = "\n".join(
    [
        "id,Subject,Psoriasis,Rosacea,Eczema,Probiotic,AgeMonths",  # line 1
        "run-S1,subj-01,Y,,,Y,360",  # psoriasis, probiotic yes, 30 years
        "run-S2,subj-01,Y,,,,360",  # psoriasis, blank box → no
        "run-S3,subj-02,,,,,18",  # nothing ticked → none; 1.5 years
        "run-S4,subj-03,,Y,Y,Y,600",  # two ticks: rule decides; 50 years
        "run-S5,subj-04,,,Y,,6",  # eczema; 0.5 years
    ]
)

SUBJECTS_CSV = "\n".join(
    [
        "ID,Visit,Sex",  # line 1
        "SUBJ01,1,F",  # line 2
        "SUBJ01,2,F",  # line 3: the key repeats, the row agrees
        "SUBJ02,1,M",
        "SUBJ03,1,F",
        "SUBJ05,1,M",  # no subj-05 in the metadata; subj-04 has no row here
    ]
)

SPEC: dict[str, Any] = {
    "id_column": "id",
    "id_pattern": "^run-(S[0-9]+)$",
    "table_id_pattern": "^77[.](S[0-9]+)[.]L001$",
    "join": [
        {
            "role": "subjects",
            "by": "Subject",
            "by_pattern": "^subj-([0-9]+)$",
            "key": "ID",
            "key_pattern": "^SUBJ([0-9]+)$",
            "columns": ["Sex"],
        }
    ],
    "columns": {
        "subject_id": {"from": "Subject"},
        "body_site": {"constant": "gut"},
        "condition": {
            "indicators": {"Psoriasis": "psoriasis", "Rosacea": "rosacea", "Eczema": "eczema"},
            "none": "none",
            "several": "first",
        },
        "probiotic": {"from": "Probiotic", "map": {"Y": "yes"}, "blank": "no"},
        "age": {"from": "AgeMonths", "unit": {"from": "months", "to": "years"}, "max": 40},
        "sex": {"from": "subjects.Sex", "map": {"F": "female", "M": "male"}},
    },
}


def _biom() -> dict:
    by_feature = [list(col) for col in zip(*COUNTS, strict=True)]
    return biom_json_doc(by_feature, ["OTU_a", "OTU_b"], TABLE_IDS)


def _cohort(
    tmp_path: Path, spec: dict | None = None, subjects: str = SUBJECTS_CSV
) -> tuple[dict, dict]:
    (tmp_path / "table.biom").write_text(json.dumps(_biom()))
    (tmp_path / "samples.csv").write_text(SAMPLES_CSV + "\n")
    (tmp_path / "subjects.csv").write_text(subjects + "\n")
    sha = "0" * 64
    files = {
        "table": ("table.biom", "biom"),
        "samples": ("samples.csv", "csv"),
        "subjects": ("subjects.csv", "csv"),
    }
    dataset = {
        "title": "made-up survey cohort",
        "description": "A cohort invented for this test.",
        "citation": "none",
        "doi": None,
        "licence": "none",
        "data_type": "amplicon_16s",
        "values": "counts",
        "files": {
            r: {"url": f"https://example.org/{f}", "sha256": sha, "format": fmt}
            for r, (f, fmt) in files.items()
        },
        "samples": copy.deepcopy(spec if spec is not None else SPEC),
    }
    manifest = {
        "available": True,
        "files": {r: {"path": str(tmp_path / f), "format": fmt} for r, (f, fmt) in files.items()},
    }
    return dataset, manifest


def test_made_up_cohort_imports(tmp_path: Path) -> None:
    dataset, manifest = _cohort(tmp_path)
    # the block is valid configuration (schema of config/datasets.yaml)
    validate({"datasets": {"survey": dataset}}, "datasets", source=tmp_path / "datasets.yaml")
    out = tmp_path / "out"
    info = import_dataset("survey", dataset, manifest, out)
    table, s, back = load_imported(out)
    # ids: both sides normalised to S1…S5, so all five samples match
    assert list(table.sample_ids) == ["S1", "S2", "S3", "S4", "S5"]
    assert info["dropped"] == {"not_in_table": 0, "not_in_mapping": 0}
    assert info["id_normalisation"]["table"]["examples"][0] == "77.S1.L001 → S1"
    # indicators: S4 ticks Rosacea and Eczema; `several: first` takes the first listed (rosacea)
    assert s["condition"].tolist() == ["psoriasis", "psoriasis", "none", "rosacea", "eczema"]
    harm = back["harmonisation"]
    assert harm["indicators"]["condition"] == {
        "none_ticked": 1,
        "one_ticked": 3,
        "several_ticked": 1,
        "several_rule": "first",
    }
    # blank cell → "no" (not passed through the map); three blank boxes
    assert s["probiotic"].tolist() == ["yes", "no", "no", "yes", "no"]
    assert harm["blank_filled"] == {"probiotic": 3}
    # months → years: 360/12, 18/12, 600/12, 6/12; max 40 (years) applies after conversion, so 50 goes
    assert s["age"].tolist()[:3] == [30.0, 30.0, 1.5]
    assert np.isnan(s["age"].iloc[3]) and harm["out_of_range"] == {"age": 1}
    assert s["age"].iloc[4] == 0.5
    assert harm["columns"]["age"]["unit"] == {"from": "months", "to": "years", "factor": 1 / 12}
    # the join: SUBJ01 ↔ subj-01 via the two patterns; SUBJ01's two agreeing rows collapse to one
    assert s["sex"].tolist()[:4] == ["female", "female", "male", "female"]
    assert pd.isna(s["sex"].iloc[4])  # subj-04 has no row in subjects.csv
    join = back["joins"][0]
    assert join["n_repeated_keys"] == 1
    assert join["n_matched"] == 4 and join["n_unmatched"] == 1
    assert join["match_rate"] == pytest.approx(0.8)
    assert join["min_match"] == 0.5
    assert join["unmatched_examples"] == ["04"]
    # no visit column: samples.tsv has the canonical visit column, all missing
    assert "visit" in s.columns and s["visit"].isna().all()


def test_join_below_min_match_is_an_error(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["join"][0]["min_match"] = 0.9
    dataset, manifest = _cohort(tmp_path, spec)
    with pytest.raises(InputError) as err:
        import_dataset("survey", dataset, manifest, tmp_path / "out")
    msg = str(err.value)
    assert "join 0 of dataset survey (file role 'subjects'" in msg
    assert "matched 4 of 5 metadata rows with a key (80.0%)" in msg
    assert "min_match of 90%" in msg
    assert not (tmp_path / "out" / IMPORT_JSON).exists()


def test_join_without_pattern_matches_nothing(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    del spec["join"][0]["by_pattern"]  # subj-01 never equals 01
    dataset, manifest = _cohort(tmp_path, spec)
    with pytest.raises(InputError, match=r"matched 0 of 5 .*\(0\.0%\)"):
        import_dataset("survey", dataset, manifest, tmp_path / "out")


def test_repeated_key_with_disagreeing_rows_names_the_rows(tmp_path: Path) -> None:
    subjects = SUBJECTS_CSV.replace("SUBJ01,2,F", "SUBJ01,2,M")
    dataset, manifest = _cohort(tmp_path, subjects=subjects)
    with pytest.raises(InputError) as err:
        import_dataset("survey", dataset, manifest, tmp_path / "out")
    msg = str(err.value)
    assert "key '01' (column 'ID') repeats in 2 rows (line 2, line 3)" in msg
    assert "disagree on 'Sex'" in msg


def test_table_id_pattern_collision_is_an_error(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["table_id_pattern"] = "^(77)[.]"  # every table sample becomes "77"
    dataset, manifest = _cohort(tmp_path, spec)
    with pytest.raises(InputError, match=r"gives 5 table samples the same id.*'77.S1.L001'"):
        import_dataset("survey", dataset, manifest, tmp_path / "out")


@pytest.fixture
def raw(tmp_path: Path) -> pd.DataFrame:
    (tmp_path / "samples.csv").write_text(SAMPLES_CSV + "\n")
    return read_delimited(tmp_path / "samples.csv", ",", "id")


def _columns(**columns: Any) -> dict:
    return {"id_column": "id", "columns": {"subject_id": {"from": "Subject"}, **columns}}


def test_several_ticks_default_is_an_error(raw: pd.DataFrame) -> None:
    spec = _columns(
        condition={
            "indicators": {"Psoriasis": "psoriasis", "Rosacea": "rosacea", "Eczema": "eczema"}
        }
    )
    with pytest.raises(InputError) as err:
        harmonise(raw, spec, "survey", "samples.csv")
    msg = str(err.value)
    assert "1 row(s) tick more than one" in msg and "line 5, ticks Rosacea, Eczema" in msg
    assert "several: first | missing | value" in msg


@pytest.mark.parametrize(
    ("rule", "expected"),
    [({"several": "missing"}, None), ({"several": "value", "several_value": "other"}, "other")],
)
def test_several_ticks_rules(raw: pd.DataFrame, rule: dict, expected: str | None) -> None:
    spec = _columns(
        condition={
            "indicators": {"Psoriasis": "psoriasis", "Rosacea": "rosacea", "Eczema": "eczema"},
            **rule,
        }
    )
    out, _ = harmonise(raw, spec, "survey", "samples.csv")
    # no `none`: an unticked row (S3) is missing
    assert pd.isna(out["condition"].iloc[2])
    got = out["condition"].iloc[3]
    assert (pd.isna(got) and expected is None) or got == expected


def test_indicator_with_an_unknown_value(raw: pd.DataFrame) -> None:
    raw = raw.copy()
    raw.loc[raw.index[1], "Psoriasis"] = "maybe"
    spec = _columns(condition={"indicators": {"Psoriasis": "psoriasis"}, "none": "none"})
    with pytest.raises(InputError, match=r"'Psoriasis' holds 'maybe'.*line 3"):
        harmonise(raw, spec, "survey", "samples.csv")
    spec["columns"]["condition"]["unticked"] = ["maybe"]
    out, _ = harmonise(raw, spec, "survey", "samples.csv")
    assert out["condition"].tolist() == ["psoriasis", "none", "none", "none", "none"]


@pytest.mark.parametrize(
    ("column", "match"),
    [
        ({"from": "AgeMonths", "unit": {"from": "fortnights", "to": "years"}}, "unknown unit"),
        ({"from": "AgeMonths", "unit": {"from": "months", "to": "kg"}}, "cannot convert"),
        (
            {"indicators": {"Psoriasis": "psoriasis"}, "map": {"Y": "psoriasis"}},
            "does not apply to an indicators column",
        ),
        ({"indicators": {"Psoriasis": "psoriasis"}, "several": "last"}, "unknown rule"),
        ({"indicators": {"Psoriasis": "psoriasis"}, "several": "value"}, "needs several_value"),
        ({"from": "Probiotic", "indicators": {"Psoriasis": "x"}}, "exactly one of"),
        (
            {"from": "Probiotic", "map": {"Y": "psoriasis"}, "blank": True},
            "read by YAML as a boolean",
        ),
        (
            {"from": "Probiotic", "map": {"Y": "psoriasis"}, "blank": "healthy"},
            "not an allowed value",
        ),
    ],
)
def test_bad_configuration(raw: pd.DataFrame, column: dict, match: str) -> None:
    name = "age" if "unit" in column else "condition"
    with pytest.raises(ConfigError, match=match) as err:
        harmonise(raw, _columns(**{name: column}), "survey", "samples.csv")
    assert f"datasets/survey/samples/columns/{name}" in str(err.value)


def test_per_subject_rules(raw: pd.DataFrame) -> None:
    raw = raw.copy()
    raw.loc[raw.index[1], "Psoriasis"] = None  # subj-01: psoriasis on S1, nothing on S2
    column = {"indicators": {"Psoriasis": "psoriasis"}, "none": "none", "per_subject": "error"}
    with pytest.raises(
        InputError, match=r"subject 'subj-01': 'psoriasis' on line 2, 'none' on line 3"
    ):
        harmonise(raw, _columns(condition=column), "survey", "samples.csv")
    column["per_subject"] = "missing"
    out, rep = harmonise(raw, _columns(condition=column), "survey", "samples.csv")
    assert out["condition"].isna().tolist() == [True, True, False, False, False]
    assert rep["per_subject_inconsistent"]["condition"] == {
        "subjects": ["subj-01"],
        "n_subjects": 1,
        "n_samples_set_missing": 2,
    }


# ---------------------------------------------------------------------- R RAW vectors
def _xdr_int(*values: int) -> bytes:
    return struct.pack(">" + "i" * len(values), *values)


def _char(text: str) -> bytes:
    return _xdr_int(0x00040009, len(text)) + text.encode()  # CHARSXP, ASCII flag (gp 64)


def _rds(obj: bytes) -> bytes:
    # R serialization version 3, written by R 4.2.2 (0x040202), readable by R 3.5.0 (0x030500), UTF-8
    return b"X\n" + _xdr_int(3, 0x040202, 0x030500, 5) + b"UTF-8" + obj


def test_raw_vector_is_read(tmp_path: Path) -> None:
    # list(raw = as.raw(c(1, 2, 255)), after = "still aligned"), serialized by hand
    raw_vec = _xdr_int(24, 3) + bytes([1, 2, 255])  # RAWSXP: length, bytes, no padding
    strs = _xdr_int(16, 1) + _char("still aligned")
    names = _xdr_int(0x402) + _xdr_int(1) + _char("names")  # LISTSXP with tag: SYM "names"
    names += _xdr_int(16, 2) + _char("raw") + _char("after") + _xdr_int(254)
    obj = _xdr_int(0x213, 2) + raw_vec + strs + names  # VECSXP with attributes
    path = tmp_path / "raw.rds"
    path.write_bytes(_rds(obj))
    parsed = R.read_r_file(path)
    elements = dict(R._elements(parsed.objects[""]))
    assert elements["raw"].value.tolist() == [1, 2, 255]
    assert R._strings(elements["after"]) == ["still aligned"]


def test_unimplemented_type_is_a_reader_limitation(tmp_path: Path) -> None:
    # a WEAKREF (type 23), which the parser does not implement: not a damaged file
    path = tmp_path / "weakref.rds"
    path.write_bytes(_rds(_xdr_int(23)))
    with pytest.raises(InputError) as err:
        R.read_r_file(path)
    msg = str(err.value)
    assert "limitation of gutskin's reader, not a sign that the file is damaged" in msg
    assert "delete the file" not in msg


# ---------------------------------------------------------------------- wide tables with rank columns
def test_wide_rank_and_ignored_columns(tmp_path: Path) -> None:
    from gutskin.io.wide import read_wide_tsv

    path = tmp_path / "features.tsv"
    path.write_text(
        '"OTU_ID"\t"A"\t"B"\t"Kingdom"\t"Genus"\t"Sequence"\n'
        '"x1"\t3\t0\t"Bacteria"\t"Cutibacterium"\t"ACGT"\n'
        '"x2"\t0\t5\t"Bacteria"\tNA\t"TTGA"\n'
    )
    table = read_wide_tsv(
        path, rows="features", rank_columns=["Kingdom", "Genus"], ignore_columns=["Sequence"]
    )
    assert list(table.sample_ids) == ["A", "B"]
    assert table.counts.toarray().tolist() == [[3.0, 0.0], [0.0, 5.0]]
    assert table.taxonomy is not None
    assert table.taxonomy.tolist() == ["k__Bacteria;g__Cutibacterium", "k__Bacteria;g__"]
    with pytest.raises(InputError, match="not a rank name"):
        read_wide_tsv(path, rows="features", rank_columns=["Sequence"])
    with pytest.raises(InputError, match=r"no column 'Seq'"):
        read_wide_tsv(path, rows="features", ignore_columns=["Seq"])


def test_missing_indicator_column_is_named_with_close_matches(raw: pd.DataFrame) -> None:
    """An indicator column the file lacks gets the same error as a missing ``from`` column: the column,
    the key to fix, how many columns the file has and its close matches regardless of case."""
    spec = _columns(condition={"indicators": {"psoriasis": "psoriasis"}})
    with pytest.raises(InputError) as err:
        harmonise(raw, spec, "survey", "samples.csv")
    msg = str(err.value)
    assert "no indicator column 'psoriasis'" in msg and "close matches: 'Psoriasis'" in msg
    assert f"the file has {raw.shape[1]} columns" in msg and "indicators" in msg
