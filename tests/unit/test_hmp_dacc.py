"""HMP DACC files (mapping files with a broken header, OTU tables) and joining extra metadata files.

The files are small hand-written copies of the real formats: the first rows of ``ppAll_V35_map.txt``
(14 header names, 15 fields per row), of ``v35_map_uniquebyPSN.txt.bz2`` (R-quoted multi-centre runs,
``NA``) and of ``otu_table_psn_v35.txt.gz`` (a comment line, ``#OTU ID`` header, ``Consensus Lineage``).
Expected values are the literal cells.
"""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pytest

from gutskin.config import validate
from gutskin.errors import ConfigError, InputError
from gutskin.importer import import_dataset, join_samples, load_imported
from gutskin.io import read_qiime_mapping, read_samples, read_table
from gutskin.io.hmp_dacc import apply_header_fix, read_dacc_map, read_dacc_otu_table

PP_HEADER = (
    "SampleID\tRSID\tPSN\tSN\tNAP\tExperimentAccession\tRunID\tSRS_SampleID\tRegion\t"
    "BarcodeSequence\tLinkerPrimerSequence\tSex\tHMPBodySubsiteHMPBodySite\tVisitNo"
)
PP_ROWS = [
    "SRS012191.SRX020679.V35\t158013734\t700013549\t\t700013596\tSRX020679\tSRR048044\tSRS012191\tV35\t"
    "TCAGCGCAAC\tCCGTCAATTCMTTTRAGT\tfemale\tStool\tGastrointestinal_tract\t1",
    "SRS011157.SRX020666.V35\t158822939\t700014954\t\t700014956\tSRX020666\tSRR044955\tSRS011157\tV35\t"
    "TCAGTCACAC\tCCGTCAATTCMTTTRAGT\tmale\tStool\tGastrointestinal_tract\t1",
    "700014390.V35.241827\t\t\t\t700014390\tUnavailable\tF6J9Z3U02\tSRS011011\tV35\t"
    "TCAGCGCAAC\tCCGTCAATTCMTTTRAGT\tmale\tStool\tGastrointestinal_tract\t",
]
PP_TEXT = PP_HEADER + "\n" + "\n".join(PP_ROWS) + "\n"
FIX = {"split": {"HMPBodySubsiteHMPBodySite": ["HMPBodySubsite", "HMPBodySite"]}}

PSN_TEXT = (
    "#SampleID\tRSID\tvisitno\tsex\tRUNCENTER\tHMPbodysubsite\tMislabeled\tContaminated\tDescription\n"
    "700013549\t158013734\t1\tfemale\tBCM\tStool\tNA\tNA\tHMP_sample_700013549\n"
    '700014386\t158398106\t1\tmale\t"BCM,BI"\tStool\tFALSE\tFALSE\tHMP_sample_700014386\n'
    '700014403\t158398106\t2\tmale\t"BCM,BI"\tSaliva\tFALSE\tFALSE\tHMP_sample_700014403\n'
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- mapping files
def test_ppall_header_without_fix_is_an_error_naming_line_and_counts(tmp_path: Path) -> None:
    p = _write(tmp_path / "ppAll_V35_map.txt", PP_TEXT)
    with pytest.raises(InputError) as exc:
        read_dacc_map(p)
    err = exc.value
    assert err.path == str(p)
    assert err.where == "line 2"
    assert "row has 15 fields but the header (line 1) names 14 columns" in err.problem
    assert "header_fix" in (err.hint or "")


def test_ppall_header_fix_applied(tmp_path: Path) -> None:
    p = _write(tmp_path / "ppAll_V35_map.txt", PP_TEXT)
    df = read_dacc_map(p, header_fix=FIX)
    assert list(df.columns)[-3:] == ["HMPBodySubsite", "HMPBodySite", "VisitNo"]
    assert df.shape == (3, 15)
    assert df.loc[2, "HMPBodySubsite"] == "Stool"
    assert df.loc[2, "HMPBodySite"] == "Gastrointestinal_tract"
    assert df.loc[2, "VisitNo"] == "1"
    assert df.loc[3, "RSID"] == "158822939"
    assert df["VisitNo"].isna().tolist() == [False, False, True]  # empty cell = missing
    assert list(df.index) == [2, 3, 4]  # line numbers
    assert df.attrs["header_fix"] == FIX
    # through the registry, as the importer calls it
    df2 = read_samples(p, "dacc_map", header_fix=FIX)
    assert df2.equals(df)


def test_header_fix_that_no_longer_applies_is_an_error(tmp_path: Path) -> None:
    fixed_upstream = PP_TEXT.replace("HMPBodySubsiteHMPBodySite", "HMPBodySubsite\tHMPBodySite", 1)
    p = _write(tmp_path / "ppAll_V35_map.txt", fixed_upstream)
    assert read_dacc_map(p).shape == (3, 15)  # the corrected file reads without a fix
    with pytest.raises(InputError, match="0 time") as exc:
        read_dacc_map(p, header_fix=FIX)
    assert exc.value.where == "line 1"


def test_header_fix_that_does_not_match_the_rows(tmp_path: Path) -> None:
    p = _write(tmp_path / "ppAll_V35_map.txt", PP_TEXT)
    three = {"split": {"HMPBodySubsiteHMPBodySite": ["A", "B", "C"]}}
    with pytest.raises(InputError, match="14 names, 16 after the declared header_fix"):
        read_dacc_map(p, header_fix=three)


def test_apply_header_fix_rename_and_validation(tmp_path: Path) -> None:
    assert apply_header_fix(
        ["a", "bc", "d"], {"split": {"bc": ["b", "c"]}, "rename": {"d": "D"}}, tmp_path
    ) == [
        "a",
        "b",
        "c",
        "D",
    ]
    assert apply_header_fix(["a"], None, tmp_path) == ["a"]
    with pytest.raises(InputError, match="at least two"):
        apply_header_fix(["a", "bc"], {"split": {"bc": ["b"]}}, tmp_path)
    with pytest.raises(InputError, match="split"):
        apply_header_fix(["a"], {"glue": {}}, tmp_path)


def test_psn_map_quoted_runs_and_na(tmp_path: Path) -> None:
    p = tmp_path / "v35_map_uniquebyPSN.txt.bz2"
    p.write_bytes(bz2.compress(PSN_TEXT.encode()))
    df = read_dacc_map(p, missing_values=["NA"])
    assert df.attrs["id_column"] == "#SampleID"
    assert list(df["RUNCENTER"]) == ["BCM", "BCM,BI", "BCM,BI"]
    assert df["Mislabeled"].isna().tolist() == [True, False, False]
    dup = PSN_TEXT + PSN_TEXT.splitlines()[1] + "\n"
    with pytest.raises(InputError, match="duplicate sample id"):
        read_dacc_map(_write(tmp_path / "dup.txt", dup))


# ---------------------------------------------------------------------- OTU tables
OTU_TEXT = (
    "# QIIME v1.2.1-dev OTU table\n"
    "#OTU ID\t700013549\t700014386\t700014403\tConsensus Lineage\n"
    "0\t5\t0\t1\tRoot;p__Firmicutes;c__Clostridia\n"
    "1\t0\t12\t0\tRoot;p__Bacteroidetes;c__Bacteroidia;o__Bacteroidales\n"
    "2\t3\t0\t0\tRoot;p__Proteobacteria\n"
)


def test_dacc_otu_table(tmp_path: Path) -> None:
    p = tmp_path / "otu_table_psn_v35.txt.gz"
    p.write_bytes(gzip.compress(OTU_TEXT.encode()))
    table = read_table(p, "dacc_otu_table")
    assert list(table.sample_ids) == ["700013549", "700014386", "700014403"]
    assert list(table.feature_ids) == ["0", "1", "2"]
    # samples × OTUs
    assert table.counts.toarray().tolist() == [[5, 0, 3], [0, 12, 0], [1, 0, 0]]
    assert table.taxonomy is not None
    assert table.taxonomy["1"] == "Root;p__Bacteroidetes;c__Bacteroidia;o__Bacteroidales"
    # without the comment line (header on line 1) it reads the same
    table2 = read_dacc_otu_table(_write(tmp_path / "t.txt", OTU_TEXT.split("\n", 1)[1]))
    assert table2.counts.toarray().tolist() == table.counts.toarray().tolist()


def test_dacc_otu_table_errors_name_the_real_line(tmp_path: Path) -> None:
    ragged = OTU_TEXT.replace("2\t3\t0\t0\t", "2\t3\t0\t", 1)
    with pytest.raises(InputError) as exc:
        read_dacc_otu_table(_write(tmp_path / "r.txt", ragged))
    assert exc.value.where == "line 5"  # the comment is line 1, the header line 2
    with pytest.raises(InputError, match="#OTU ID"):
        read_dacc_otu_table(_write(tmp_path / "x.txt", "OTU\ta\n1\t2\n"))
    with pytest.raises(InputError, match="not whole numbers"):
        read_dacc_otu_table(_write(tmp_path / "f.txt", OTU_TEXT.replace("\t12\t", "\t1.5\t")))


# ---------------------------------------------------------------------- joins
MAIN = (
    "#SampleID\tpsn\tvisitno\tHMPbodysubsite\tsex\n"
    "SRS012191.SRX020679\t700013549\t1\tStool\tfemale\n"  # in both DACC files
    "SRS011157.SRX020666\t700014386\t\tStool\tmale\n"  # visitno missing here, 1 in the PSN map
    "700014390.V35.241827\tno_data\t1\tStool\tmale\n"  # no PSN
    "SRS099999.SRX000001\t700099999\t2\tSaliva\tmale\n"  # PSN not in the PSN map
    "SRS000403.SRX000002\t700014403\t1\tSaliva\tmale\n"  # visit disagrees with the PSN map (2)
)


def _files(tmp_path: Path) -> dict[str, Path]:
    return {
        "samples": _write(tmp_path / "map.txt", MAIN),
        "dacc_pp": _write(tmp_path / "ppAll_V35_map.txt", PP_TEXT),
        "dacc_psn": _write(tmp_path / "psn.txt", PSN_TEXT),
    }


def _dataset(files: dict[str, Path], joins: list[dict]) -> tuple[dict, dict]:
    specs = {
        "samples": {"format": "qiime_mapping"},
        "dacc_pp": {"format": "dacc_map", "options": {"header_fix": FIX}},
        "dacc_psn": {"format": "dacc_map"},
    }
    dataset = {
        "files": {
            role: {"url": f"https://x.test/{role}", "sha256": "0" * 64, **spec}
            for role, spec in specs.items()
        },
        "samples": {"join": joins},
    }
    manifest = {
        "available": True,
        "files": {
            role: {"path": str(files[role]), "format": spec["format"]}
            for role, spec in specs.items()
        },
    }
    return dataset, manifest


PSN_JOIN = {
    "role": "dacc_psn",
    "by": "psn",
    "missing_values": ["NA"],
    "columns": ["RUNCENTER", "RSID"],
    "fill": {"visitno": "visitno"},
    "check": {"visitno": "visitno", "sex": "sex"},
}
PP_JOIN = {
    "role": "dacc_pp",
    "by": "#SampleID",
    "key": "SampleID",
    "key_pattern": r"^(.+?)(?:[.]V35)?$",
    "columns": ["RSID"],
}


def test_join_adds_checks_and_fills(tmp_path: Path) -> None:
    files = _files(tmp_path)
    dataset, manifest = _dataset(files, [PSN_JOIN, PP_JOIN])
    raw = read_qiime_mapping(files["samples"])
    out, reports, matched = join_samples(raw, [PSN_JOIN, PP_JOIN], "hmp_like", dataset, manifest)
    assert list(out.index) == list(raw.index)  # same rows, same line numbers
    assert out["dacc_psn.RUNCENTER"].tolist()[:2] == ["BCM", "BCM,BI"]
    assert out["dacc_psn.RUNCENTER"].isna().tolist() == [False, False, True, True, False]
    assert out["dacc_psn.RSID"].tolist()[0] == "158013734"
    psn = reports[0]
    assert (psn["n_matched"], psn["n_unmatched"], psn["n_no_key"]) == (3, 1, 1)
    assert psn["unmatched_examples"] == ["700099999"]
    assert matched[0].tolist() == [True, True, False, False, True]
    # visitno: compared where both present (rows 1 and 5); row 5 says 1 here and 2 in the PSN map
    assert psn["check"]["visitno"]["compared"] == 2
    assert psn["check"]["visitno"]["disagree"] == 1
    assert psn["check"]["visitno"]["examples"] == [{"line": 6, "main": "1", "joined": "2"}]
    assert psn["check"]["sex"] == {
        "joined": "sex",
        "compared": 3,
        "agree": 3,
        "disagree": 0,
        "examples": [],
    }
    # the missing visit of row 2 is filled from the PSN map (checked before filling)
    assert psn["filled"] == {"visitno": 1}
    assert out["visitno"].tolist()[1] == "1"
    assert raw["visitno"].isna().tolist()[1]  # the input frame is not modified
    pp = reports[1]
    # key_pattern turns "SRS012191.SRX020679.V35" into the HMP id; "700014390.V35.241827" is kept whole
    assert pp["n_matched"] == 3
    assert out["dacc_pp.RSID"].tolist()[:2] == ["158013734", "158822939"]
    # row 3 is in ppAll with an empty RSID; rows 4 and 5 are not in it
    assert out["dacc_pp.RSID"].isna().tolist() == [False, False, True, True, True]
    assert pp["header_fix"] == FIX


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"role": "nope"}, ConfigError, "does not list"),
        ({"by": "PSN"}, InputError, "no column 'PSN' to join by"),
        ({"columns": ["RUNCENTRE"]}, InputError, "close matches: 'RUNCENTER'"),
        ({"key": "RSID"}, InputError, "duplicate sample id"),
        ({"key_pattern": "^(.+)(\\d)$"}, ConfigError, "exactly one group"),
        ({"key_pattern": "^(\\d)"}, InputError, "repeats in .* rows .* that disagree on"),
        ({"check": {"VISIT": "visitno"}}, InputError, "no column 'VISIT' to fill or check"),
    ],
)
def test_join_errors(tmp_path: Path, change: dict, error: type, match: str) -> None:
    files = _files(tmp_path)
    join = {**PSN_JOIN, **change}
    dataset, manifest = _dataset(files, [join])
    raw = read_qiime_mapping(files["samples"])
    with pytest.raises(error, match=match):
        join_samples(raw, [join], "hmp_like", dataset, manifest)


def test_import_with_join_and_schema(tmp_path: Path) -> None:
    files = _files(tmp_path)
    # a wide table holding three of the five samples
    files["table"] = _write(
        tmp_path / "t.tsv",
        "\ta\tb\nSRS012191.SRX020679\t3\t1\nSRS011157.SRX020666\t0\t4\nSRS099999.SRX000001\t2\t2\n",
    )
    dataset, manifest = _dataset(files, [PSN_JOIN])
    dataset["files"]["table"] = {
        "url": "https://x.test/t",
        "sha256": "0" * 64,
        "format": "wide_tsv",
    }
    manifest["files"]["table"] = {"path": str(files["table"]), "format": "wide_tsv"}
    dataset.update(
        title="t",
        description="d",
        citation="c",
        doi="10.1000/x",
        licence="l",
        data_type="amplicon_16s",
        values="counts",
    )
    dataset["samples"].update(
        id_column="#SampleID",
        columns={
            "subject_id": {"from": "dacc_psn.RSID"},
            "visit": {"from": "visitno", "type": "integer"},
            "body_site": {"from": "HMPbodysubsite", "map": {"Stool": "gut", "Saliva": "oral"}},
            "run_center_psn": {"from": "dacc_psn.RUNCENTER"},
        },
    )
    # the block is valid against the schema (join keys included)
    validated = validate({"datasets": {"hmp_like": dataset}}, "datasets")["datasets"]["hmp_like"]
    info = import_dataset("hmp_like", validated, manifest, tmp_path / "out")
    (join_report,) = info["joins"]
    assert join_report["n_matched"] == 3  # of the five metadata rows
    assert join_report["n_matched_kept"] == 2  # of the three table samples
    _, samples, _ = load_imported(tmp_path / "out")
    assert samples["run_center_psn"].tolist()[:2] == ["BCM", "BCM,BI"]
    assert samples["run_center_psn"].isna().tolist() == [False, False, True]
    assert samples["visit"].tolist()[:2] == [1.0, 1.0]  # the second one filled by the join
    assert json.loads((tmp_path / "out" / "import.json").read_text())["joins"][0]["filled"] == {
        "visitno": 1
    }


def test_schema_rejects_a_typo_in_a_join(tmp_path: Path) -> None:
    block = {
        "title": "t",
        "description": "d",
        "citation": "c",
        "doi": "10.1000/x",
        "licence": "l",
        "data_type": "amplicon_16s",
        "values": "counts",
        "files": {
            "table": {"url": "https://x.test/t", "sha256": "0" * 64, "format": "biom"},
            "samples": {"url": "https://x.test/s", "sha256": "0" * 64, "format": "qiime_mapping"},
        },
        "samples": {"columns": {}, "join": [{"role": "dacc_psn", "by": "psn", "column": ["RSID"]}]},
    }
    with pytest.raises(ConfigError) as exc:
        validate({"datasets": {"x": block}}, "datasets", source="datasets.yaml")
    assert exc.value.where == "key datasets/x/samples/join/0"
    assert "'column' was unexpected" in exc.value.problem
