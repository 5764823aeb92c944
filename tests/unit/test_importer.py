"""The import step (gutskin.importer) on a tiny dataset written by the test.

Table (features × samples, as stored in the BIOM file)::

            S1  S2  S3  S4
    OTU_a    4   0   1   0
    OTU_b    0   2   0   0
    OTU_c    0   0   0   9     <- only in S4
    OTU_d    3   3   0   0

Metadata rows: S2, S1, S3, S5 (S5 is not in the table; S4 has no metadata). So the import keeps
S2, S1, S3 (metadata order), drops 1 metadata row (S5) and 1 table sample (S4), and OTU_c, present only
in S4, becomes all-zero and is removed: 3 samples × 3 features.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutskin.errors import InputError
from gutskin.harmonise import CANONICAL_COLUMNS
from gutskin.importer import import_dataset, load_imported, read_samples_tsv, write_samples_tsv
from tests.support.biom import biom_json_doc
from tests.support.errors import refusal

OBS_BY_SAMPLE = [[4, 0, 1, 0], [0, 2, 0, 0], [0, 0, 0, 9], [3, 3, 0, 0]]
TABLE_SAMPLES = ["S1", "S2", "S3", "S4"]
FEATURES = ["OTU_a", "OTU_b", "OTU_c", "OTU_d"]

MAPPING = "\n".join(
    [
        "#SampleID\tSUBJ\tSITE\tAGE\tSEX\tVISIT\tPLANTS\tNOTE",
        "S2\tp1\tfeces\t40\t48\t2\t6 to 10\ttwo words",
        'S1\tp1\tfeces\t40\t48\t1\tLess than 5\tsay "hi"',
        "S3\tp2\thand\tno_data\t47\t1\tno_data\t",
        "S5\tp3\tfeces\t22\t47\t1\t6 to 10\tx",
    ]
)

SPEC = {
    "id_column": "#SampleID",
    "missing_values": [],
    "columns": {
        "subject_id": {"from": "SUBJ"},
        "body_site": {"from": "SITE", "map": {"feces": "gut", "hand": "skin"}},
        "age": {"from": "AGE", "type": "number"},
        "sex": {"from": "SEX", "map": {"47": "male", "48": "female"}},
        "visit": {"from": "VISIT", "type": "integer"},
        "types_of_plants": {
            "from": "PLANTS",
            "type": "ordinal",
            "levels": ["Less than 5", "6 to 10", "More than 30"],
        },
        "note": {"from": "NOTE"},
    },
}


def biom_json() -> dict:
    return biom_json_doc(OBS_BY_SAMPLE, FEATURES, TABLE_SAMPLES)


@pytest.fixture
def fetched(tmp_path: Path) -> tuple[dict, dict]:
    """A dataset block and a fetch manifest pointing at files written here."""
    table = tmp_path / "fetched" / "table.biom"
    table.parent.mkdir()
    table.write_text(json.dumps(biom_json()))
    mapping = tmp_path / "fetched" / "mapping.txt"
    mapping.write_text(MAPPING + "\n")
    dataset = {
        "title": "toy",
        "data_type": "amplicon_16s",
        "values": "counts",
        "files": {
            "table": {"url": "https://example.org/t.biom", "sha256": "0" * 64, "format": "biom"},
            "samples": {
                "url": "https://example.org/m.txt",
                "sha256": "1" * 64,
                "format": "qiime_mapping",
            },
        },
        "samples": copy.deepcopy(SPEC),
    }
    manifest = {
        "dataset": "toy",
        "available": True,
        "reason": None,
        "files": {
            "table": {"url": "https://example.org/t.biom", "path": str(table), "format": "biom"},
            "samples": {"url": "https://example.org/m.txt", "path": str(mapping)},
        },
    }
    return dataset, manifest


def test_import_counts_and_outputs(tmp_path: Path, fetched: tuple[dict, dict]) -> None:
    dataset, manifest = fetched
    out = tmp_path / "results" / "import" / "toy"
    info = import_dataset("toy", dataset, manifest, out)
    assert info["available"] is True and info["reason"] is None
    assert info["n_samples_table"] == 4 and info["n_features_table"] == 4
    assert info["n_samples_mapping"] == 4
    assert info["dropped"] == {"not_in_table": 1, "not_in_mapping": 1}
    assert info["dropped_examples"] == {"not_in_table": ["S5"], "not_in_mapping": ["S4"]}
    assert info["n_samples"] == 3 and info["n_features"] == 3
    assert info["n_features_removed_empty"] == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "import.json",
        "samples.tsv",
        "table.biom",
        "tree.nwk",  # empty: the dataset has no tree
    ]
    assert (out / "tree.nwk").stat().st_size == 0 and info["tree"] is None
    assert json.loads((out / "import.json").read_text()) == info
    assert [f["role"] for f in info["files"]] == ["table", "samples"]


def test_load_imported_round_trip(tmp_path: Path, fetched: tuple[dict, dict]) -> None:
    dataset, manifest = fetched
    out = tmp_path / "imp"
    import_dataset("toy", dataset, manifest, out)
    table, samples, info = load_imported(out)
    assert list(table.sample_ids) == ["S2", "S1", "S3"]  # metadata order
    assert list(table.feature_ids) == ["OTU_a", "OTU_b", "OTU_d"]  # OTU_c removed
    # S2 = (0, 2, 3), S1 = (4, 0, 3), S3 = (1, 0, 0) over OTU_a, OTU_b, OTU_d
    np.testing.assert_array_equal(table.counts.toarray(), [[0, 2, 3], [4, 0, 3], [1, 0, 0]])
    assert list(samples.columns) == [*CANONICAL_COLUMNS, "types_of_plants", "note"]
    assert list(samples["sample_id"]) == ["S2", "S1", "S3"]
    assert list(samples["dataset"]) == ["toy"] * 3
    assert samples["age"].dtype == np.float64 and samples["visit"].dtype == np.float64
    np.testing.assert_array_equal(samples["age"].to_numpy(), [40.0, 40.0, np.nan])
    np.testing.assert_array_equal(samples["visit"].to_numpy(), [2.0, 1.0, 1.0])
    assert samples["sex"].tolist() == ["female", "female", "male"]
    assert samples["body_subsite"].tolist() == ["gut", "gut", "skin"]  # defaults to body_site
    assert pd.api.types.is_string_dtype(samples["subject_id"])
    assert samples["condition"].isna().all() and samples["bmi"].isna().all()
    plants = samples["types_of_plants"]
    assert plants.cat.ordered
    assert list(plants.cat.categories) == ["Less than 5", "6 to 10", "More than 30"]
    assert plants.cat.codes.tolist() == [1, 0, -1]
    assert samples["note"].tolist()[:2] == ["two words", 'say "hi"'] and pd.isna(samples["note"][2])
    assert info["columns"]["visit"] == {"type": "integer"}


def test_samples_tsv_text_format(tmp_path: Path, fetched: tuple[dict, dict]) -> None:
    dataset, manifest = fetched
    out = tmp_path / "imp"
    import_dataset("toy", dataset, manifest, out)
    lines = (out / "samples.tsv").read_text().splitlines()
    assert lines[0].split("\t")[: len(CANONICAL_COLUMNS)] == list(CANONICAL_COLUMNS)
    s3 = dict(zip(lines[0].split("\t"), lines[3].split("\t"), strict=True))
    # integers without a decimal point, missing as empty cells
    assert s3["visit"] == "1" and s3["age"] == "" and s3["condition"] == ""
    assert s3["sample_id"] == "S3" and s3["body_site"] == "skin"


def test_unavailable_dataset_writes_empty_outputs(
    tmp_path: Path, fetched: tuple[dict, dict]
) -> None:
    dataset, _ = fetched
    manifest = {"dataset": "toy", "available": False, "reason": "no network", "files": {}}
    out = tmp_path / "imp"
    info = import_dataset("toy", dataset, manifest, out)
    assert info["available"] is False and info["reason"] == "no network"
    assert info["n_samples"] == 0 and info["n_features"] == 0
    assert (out / "samples.tsv").read_text() == "\t".join(CANONICAL_COLUMNS) + "\n"
    table, samples, info2 = load_imported(out)
    assert table.n_samples == 0 and len(samples) == 0
    assert list(samples.columns) == list(CANONICAL_COLUMNS)
    assert info2["available"] is False


def test_no_shared_ids(tmp_path: Path, fetched: tuple[dict, dict]) -> None:
    dataset, manifest = fetched
    mapping = Path(manifest["files"]["samples"]["path"])
    text = mapping.read_text()
    for sid in ("S1", "S2", "S3", "S5"):
        text = text.replace(f"\n{sid}\t", f"\nX{sid}\t")
    mapping.write_text(text)
    out = tmp_path / "imp"
    msg = refusal(import_dataset, "toy", dataset, manifest, out)
    assert "table.biom" in msg and "mapping.txt" in msg and "share no sample id" in msg
    assert "'S1', 'S2', 'S3' …" in msg  # table examples
    assert "'XS2', 'XS1', 'XS3' …" in msg  # metadata examples
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_harmonisation_error_leaves_no_outputs(tmp_path: Path, fetched: tuple[dict, dict]) -> None:
    dataset, manifest = fetched
    dataset["samples"]["columns"]["sex"] = {"from": "SEX", "map": {"47": "male"}}
    out = tmp_path / "imp"
    with pytest.raises(InputError, match="'48'"):
        import_dataset("toy", dataset, manifest, out)
    assert not any(out.iterdir())


def test_available_manifest_without_path(tmp_path: Path, fetched: tuple[dict, dict]) -> None:
    dataset, manifest = fetched
    del manifest["files"]["samples"]
    with pytest.raises(InputError, match="re-run the fetch step"):
        import_dataset("toy", dataset, manifest, tmp_path / "imp", manifest_path="m.json")


def test_load_imported_detects_mismatch(tmp_path: Path, fetched: tuple[dict, dict]) -> None:
    dataset, manifest = fetched
    out = tmp_path / "imp"
    import_dataset("toy", dataset, manifest, out)
    lines = (out / "samples.tsv").read_text().splitlines()
    (out / "samples.tsv").write_text("\n".join([lines[0], lines[2], lines[1], lines[3]]) + "\n")
    with pytest.raises(InputError, match="different samples"):
        load_imported(out)


def test_read_samples_tsv_rejects_text_in_numbers(tmp_path: Path) -> None:
    p = tmp_path / "samples.tsv"
    p.write_text("sample_id\tage\nA\t3\nB\tthree\n")
    message = refusal(read_samples_tsv, p)
    assert "'three'" in message and "line 3" in message


def test_write_samples_tsv_flattens_tabs_and_newlines(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "sample_id": pd.Series(["A", "B"], dtype="str"),
            "note": pd.Series(["x\ty", "line1\nline2"], dtype="str"),
            "n": [1.25, np.nan],
        }
    )
    types = {"sample_id": {"type": "string"}, "note": {"type": "string"}, "n": {"type": "number"}}
    write_samples_tsv(df, tmp_path / "s.tsv", types)
    assert (
        tmp_path / "s.tsv"
    ).read_text() == "sample_id\tnote\tn\nA\tx y\t1.25\nB\tline1 line2\t\n"
    back = read_samples_tsv(tmp_path / "s.tsv", types)
    assert back["note"].tolist() == ["x y", "line1 line2"]
    np.testing.assert_array_equal(back["n"].to_numpy(), [1.25, np.nan])
