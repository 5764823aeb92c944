"""Harmonisation of raw metadata (gutskin.harmonise) and the datasets / samples schemas.

The raw metadata are a small QIIME mapping file written by the test; every expected value below is worked
out by hand from that file and the spec next to it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gutskin.config import validate
from gutskin.errors import ConfigError, InputError
from gutskin.harmonise import (
    CANONICAL_COLUMNS,
    canonical_type,
    harmonise,
    validate_samples,
    vocabulary,
)
from gutskin.io import check_formats, read_qiime_mapping
from tests.support.errors import refusal

REPO = Path(__file__).resolve().parents[2]

RAW = "\n".join(
    [
        "#SampleID\tHOST\tSITE\tCOND\tAGE\tSEX\tBMI\tABX\tPLANTS\tVISIT\tPLATE",  # line 1
        "S1\th1\tUBERON:feces\tI do not have a skin condition\t34\t47\t22.5\tNot in the last year\t6 to 10\t1\tP1",
        "S2\th1\tUBERON:hand\tEczema\t34\t47\t5\tIn the past week\tMore than 30\t2\tP1",
        "S3\th2\tUBERON:tongue\tPsoriasis\tno_data\t48\t81\tIn the past 6 months\tLess than 5\t1\tno_data",
        "S4\th3\tUBERON:hair follicle\tno_data\t61\t48\t30.0\tIn the past year\tno_data\t3\tP2",
    ]
)

SPEC = {
    "id_column": "#SampleID",
    "missing_values": ["no_data"],
    "columns": {
        "subject_id": {"from": "HOST"},
        "body_site": {
            "from": "SITE",
            "map": {"UBERON:feces": "gut", "UBERON:hand": "skin", "UBERON:tongue": "oral"},
            "other": "other",
        },
        # tongue and hair follicle are not listed: they fall back to body_site
        "body_subsite": {"from": "SITE", "map": {"UBERON:feces": "feces", "UBERON:hand": "hand"}},
        "condition": {
            "from": "COND",
            "map": {
                "I do not have a skin condition": "none",
                "Eczema": "eczema",
                "Psoriasis": "psoriasis",
            },
        },
        "age": {"from": "AGE", "type": "number", "min": 0, "max": 110},
        "sex": {"from": "SEX", "map": {"47": "male", "48": "female"}},
        "bmi": {"from": "BMI", "type": "number", "min": 10, "max": 70},
        "antibiotics": {
            "from": "ABX",
            "map": {
                "In the past week": "past_month",
                "In the past month": "past_month",
                "In the past 6 months": "past_6_months",
                "In the past year": "past_year",
                "Not in the last year": "not_past_year",
            },
        },
        "visit": {"from": "VISIT", "type": "integer"},
        "types_of_plants": {
            "from": "PLANTS",
            "type": "ordinal",
            "levels": ["Less than 5", "6 to 10", "11 to 20", "21 to 30", "More than 30"],
        },
        "sample_plate": {"from": "PLATE"},
        "kit": {"constant": "K1"},
    },
}


@pytest.fixture
def raw_file(tmp_path: Path) -> Path:
    p = tmp_path / "mapping.txt"
    p.write_text(RAW + "\n")
    return p


def run(raw_file: Path, spec: dict | None = None, text: str | None = None):
    if text is not None:
        raw_file.write_text(text + "\n")
    spec = SPEC if spec is None else spec
    raw = read_qiime_mapping(raw_file, missing_values=spec.get("missing_values", []))
    return harmonise(raw, spec, "toy_ds", raw_file)


def modified(**columns: dict) -> dict:
    spec = copy.deepcopy(SPEC)
    spec["columns"].update(columns)
    return spec


# ---------------------------------------------------------------------- the happy path
def test_canonical_columns_are_those_of_the_architecture() -> None:
    # docs/ARCHITECTURE.md, "Canonical data": required columns of samples.tsv, in this order
    assert CANONICAL_COLUMNS == (
        "sample_id",
        "subject_id",
        "dataset",
        "body_site",
        "body_subsite",
        "visit",
        "condition",
        "age",
        "sex",
        "bmi",
        "antibiotics",
    )
    assert vocabulary("body_site") == ("gut", "skin", "oral", "nasal", "vaginal", "other")
    assert vocabulary("sex") == ("female", "male")
    assert vocabulary("subject_id") is None
    assert canonical_type("bmi") == "number" and canonical_type("visit") == "integer"


def test_harmonise_values(raw_file: Path) -> None:
    df, _ = run(raw_file)
    assert list(df.columns) == [*CANONICAL_COLUMNS, "types_of_plants", "sample_plate", "kit"]
    assert list(df["sample_id"]) == ["S1", "S2", "S3", "S4"]
    assert list(df["dataset"]) == ["toy_ds"] * 4
    assert list(df["subject_id"]) == ["h1", "h1", "h2", "h3"]
    assert list(df["body_site"]) == ["gut", "skin", "oral", "other"]  # hair follicle → other
    # feces/hand mapped; tongue and hair follicle unmapped → their body_site
    assert list(df["body_subsite"]) == ["feces", "hand", "oral", "other"]
    assert df["condition"].tolist()[:3] == ["none", "eczema", "psoriasis"]
    assert pd.isna(df.loc[3, "condition"])  # no_data
    assert list(df["sex"]) == ["male", "male", "female", "female"]
    assert list(df["antibiotics"]) == ["not_past_year", "past_month", "past_6_months", "past_year"]
    # age: S3 no_data → missing
    np.testing.assert_array_equal(df["age"].to_numpy(), [34.0, 34.0, np.nan, 61.0])
    # bmi 5 < 10 and 81 > 70 become missing
    np.testing.assert_array_equal(df["bmi"].to_numpy(), [22.5, np.nan, np.nan, 30.0])
    np.testing.assert_array_equal(df["visit"].to_numpy(), [1.0, 2.0, 1.0, 3.0])
    plants = df["types_of_plants"]
    assert isinstance(plants.dtype, pd.CategoricalDtype) and plants.cat.ordered
    assert plants.cat.codes.tolist() == [
        1,
        4,
        0,
        -1,
    ]  # "6 to 10", "More than 30", "Less than 5", NA
    assert df["sample_plate"].tolist()[:2] == ["P1", "P1"] and pd.isna(df.loc[2, "sample_plate"])
    assert list(df["kit"]) == ["K1"] * 4
    assert df["antibiotics"].dtype == "str" and df["age"].dtype == np.float64


def test_harmonise_report(raw_file: Path) -> None:
    _, report = run(raw_file)
    assert report["n_samples"] == 4
    assert report["out_of_range"] == {"bmi": 2}
    assert report["unmapped"] == {
        "body_site": {"UBERON:hair follicle": 1},
        "body_subsite": {"UBERON:tongue": 1, "UBERON:hair follicle": 1},
    }
    assert report["body_subsite_from_body_site"] == 2
    assert report["missing"]["age"] == 1
    assert report["missing"]["bmi"] == 2
    assert report["missing"]["condition"] == 1
    assert report["missing"]["types_of_plants"] == 1
    assert report["missing"]["visit"] == 0
    assert report["missing"]["antibiotics"] == 0
    assert report["columns"]["types_of_plants"]["levels"][0] == "Less than 5"
    assert report["columns"]["bmi"] == {"type": "number", "from": "BMI", "min": 10, "max": 70}


def test_unconfigured_canonical_columns_are_missing_and_subsite_copies_site(raw_file: Path) -> None:
    spec = {
        "columns": {
            "body_site": {"from": "SITE", "map": {"UBERON:feces": "gut"}, "other": "other"},
            "condition": {"constant": "none"},
        }
    }
    df, report = run(raw_file, spec)
    assert list(df.columns) == list(CANONICAL_COLUMNS)
    assert df["subject_id"].isna().all() and df["age"].isna().all() and df["visit"].isna().all()
    assert list(df["body_subsite"]) == ["gut", "other", "other", "other"]
    assert report["body_subsite_from_body_site"] == 4
    assert list(df["condition"]) == ["none"] * 4


def test_map_to_null_and_other_null(raw_file: Path) -> None:
    spec = modified(sex={"from": "SEX", "map": {"47": "male", "48": None}})
    df, report = run(raw_file, spec)
    assert df["sex"].tolist()[:2] == ["male", "male"] and df["sex"].isna().sum() == 2
    assert report["mapped_to_missing"] == {"sex": 2}
    spec = modified(body_site={"from": "SITE", "map": {"UBERON:feces": "gut"}, "other": None})
    df, report = run(raw_file, spec)
    assert df["body_site"].tolist()[0] == "gut" and df["body_site"].isna().sum() == 3


def test_plain_dataframe_without_line_index(raw_file: Path) -> None:
    raw = read_qiime_mapping(raw_file).reset_index(drop=True)
    spec = modified(sex={"from": "SEX", "map": {"47": "male"}})
    with pytest.raises(InputError, match="row 3"):  # no line numbers: rows are counted from 1
        harmonise(raw, spec, "toy_ds", raw_file)


# ---------------------------------------------------------------------- data errors
def test_unmapped_value_without_other(raw_file: Path) -> None:
    spec = modified(
        condition={"from": "COND", "map": {"Eczema": "eczema", "Psoriasis": "psoriasis"}}
    )
    msg = refusal(run, raw_file, spec)
    assert str(raw_file) in msg
    assert "column 'COND'" in msg
    assert "'I do not have a skin condition'" in msg
    assert "line 2" in msg  # S1 is on line 2 of the file
    assert "samples.columns.condition.map in config/datasets.yaml" in msg


def test_missing_from_column_lists_close_matches(raw_file: Path) -> None:
    spec = modified(age={"from": "Age", "type": "number"})
    msg = refusal(run, raw_file, spec)
    assert "no column 'Age'" in msg and "close matches: 'AGE'" in msg and "11 columns" in msg


def test_non_number_in_numeric_column(raw_file: Path) -> None:
    text = RAW.replace("\t61\t", "\tsixty-one\t")
    msg = refusal(run, raw_file, text=text)
    assert "'AGE'" in msg and "'sixty-one'" in msg and "line 5" in msg and "missing_values" in msg


def test_non_integer_in_integer_column(raw_file: Path) -> None:
    text = RAW.replace("\tMore than 30\t2\t", "\tMore than 30\t2.5\t")
    with pytest.raises(InputError, match=r"not whole numbers.*'2.5'"):
        run(raw_file, text=text)


def test_value_outside_levels(raw_file: Path) -> None:
    text = RAW.replace("\t6 to 10\t", "\t6-10\t")
    msg = refusal(run, raw_file, text=text)
    assert "'6-10'" in msg and "levels" in msg and "line 2" in msg


def test_unmapped_value_outside_vocabulary(raw_file: Path) -> None:
    # sex passed through without a map must already be canonical
    spec = modified(sex={"from": "SEX"})
    msg = refusal(run, raw_file, spec)
    assert "'47'" in msg and "female, male" in msg and "samples.columns.sex.map" in msg


def test_duplicate_ids_in_a_dataframe(raw_file: Path) -> None:
    raw = read_qiime_mapping(raw_file)
    raw.loc[4, "#SampleID"] = "S1"
    with pytest.raises(InputError, match=r"duplicate sample ids: 'S1' \(2 sample"):
        harmonise(raw, SPEC, "toy_ds", raw_file)


# ---------------------------------------------------------------------- configuration errors
def test_map_value_not_in_vocabulary_is_config_error(raw_file: Path) -> None:
    spec = modified(body_site={"from": "SITE", "map": {"UBERON:feces": "Gut"}, "other": "other"})
    msg = refusal(run, raw_file, spec, error=ConfigError)
    assert "config/datasets.yaml" in msg and "'Gut'" in msg
    assert "datasets/toy_ds/samples/columns/body_site/map/UBERON:feces" in msg


def test_yaml_boolean_keys_are_rejected(raw_file: Path) -> None:
    spec = modified(acne={"from": "PLATE", "map": yaml.safe_load("{yes: 'yes', P1: a}")})
    with pytest.raises(ConfigError, match="quote it"):
        run(raw_file, spec)


def test_ordinal_without_levels_and_bad_constant(raw_file: Path) -> None:
    with pytest.raises(ConfigError, match="levels"):
        run(raw_file, modified(types_of_plants={"from": "PLANTS", "type": "ordinal"}))
    with pytest.raises(ConfigError, match="'healthy' is not an allowed value of 'condition'"):
        run(raw_file, modified(condition={"constant": "healthy"}))
    with pytest.raises(ConfigError, match="exactly one of"):
        run(raw_file, modified(condition={"constant": "none", "from": "COND"}))


# ---------------------------------------------------------------------- samples schema
def test_validate_samples_rejects_bad_value(raw_file: Path) -> None:
    df, _ = run(raw_file)
    df.loc[2, "condition"] = "flu"
    msg = refusal(validate_samples, df, "samples.tsv")
    assert "column 'condition'" in msg and "'flu'" in msg and "sample 'S3'" in msg


def test_validate_samples_rejects_missing_column_and_bad_numbers(raw_file: Path) -> None:
    df, _ = run(raw_file)
    with pytest.raises(InputError, match="lacks canonical column"):
        validate_samples(df.drop(columns=["sex"]), "samples.tsv")
    df.loc[0, "bmi"] = -1.0  # the schema requires bmi > 0
    with pytest.raises(InputError, match=r"column 'bmi'.*sample 'S1'"):
        validate_samples(df, "samples.tsv")
    df.loc[0, "bmi"] = 20.0
    df.loc[0, "visit"] = 1.5  # visit is an integer
    with pytest.raises(InputError, match="column 'visit'"):
        validate_samples(df, "samples.tsv")


# ---------------------------------------------------------------------- datasets schema
def datasets_doc() -> dict:
    with (REPO / "config" / "datasets.yaml").open() as fh:
        return yaml.safe_load(fh)


def test_shipped_datasets_yaml_is_valid() -> None:
    filled = validate(datasets_doc(), "datasets", source="config/datasets.yaml")
    assert set(filled["datasets"]) >= {"agp_2014", "hmp_v35"}
    # the default type is filled in
    assert filled["datasets"]["agp_2014"]["samples"]["columns"]["subject_id"]["type"] == "string"


def test_schema_rejects_missing_sha256() -> None:
    doc = datasets_doc()
    del doc["datasets"]["agp_2014"]["files"]["table"]["sha256"]
    msg = refusal(validate, doc, "datasets", source="config/datasets.yaml", error=ConfigError)
    assert "'sha256' is a required property" in msg
    assert "datasets/agp_2014/files/table" in msg


def test_schema_rejects_bad_url_and_sha() -> None:
    doc = datasets_doc()
    doc["datasets"]["hmp_v35"]["files"]["samples"]["url"] = "ftp:/example.org/x.txt"
    with pytest.raises(ConfigError) as exc:
        validate(doc, "datasets", source="config/datasets.yaml")
    assert "datasets/hmp_v35/files/samples/url" in str(exc.value)
    doc = datasets_doc()
    doc["datasets"]["hmp_v35"]["files"]["table"]["sha256"] = "ABC"
    with pytest.raises(ConfigError, match="datasets/hmp_v35/files/table/sha256"):
        validate(doc, "datasets", source="config/datasets.yaml")


def test_schema_rejects_unknown_format_and_bad_column_spec() -> None:
    doc = datasets_doc()
    doc["datasets"]["agp_2014"]["files"]["table"]["format"] = "xlsx"
    # the format names are the readers' (gutskin.io), checked when the workflow is planned
    filled = validate(doc, "datasets", source="config/datasets.yaml")
    with pytest.raises(ConfigError, match="datasets/agp_2014/files/table/format"):
        check_formats(filled["datasets"], source="config/datasets.yaml")
    doc = datasets_doc()
    doc["datasets"]["agp_2014"]["samples"]["columns"]["sleep_duration"].pop("levels")
    with pytest.raises(ConfigError, match="'levels' is a required property"):
        validate(doc, "datasets", source="config/datasets.yaml")
    doc = datasets_doc()
    doc["datasets"]["agp_2014"]["samples"]["columns"]["sample_id"] = {"from": "x"}
    with pytest.raises(ConfigError, match="datasets/agp_2014/samples/columns"):
        validate(doc, "datasets", source="config/datasets.yaml")
    doc = datasets_doc()
    del doc["datasets"]["hmp_v35"]["doi"]
    with pytest.raises(ConfigError, match="'doi' is a required property"):
        validate(doc, "datasets", source="config/datasets.yaml")
