"""Readers, harmonisation and import on the real public files (mirror), checked against DATASETS.md.

Skipped, with the reason, when the mirror is absent (see ``conftest.py``). Expected numbers are the ones
published in ``../shared/reference/DATASETS.md`` (§1 American Gut rounds 1–8, §2 HMP V3–V5), quoted next
to each assertion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gutskin.importer import load_imported
from gutskin.io import read_biom, read_qiime_mapping

pytestmark = pytest.mark.realdata


def _url(datasets_config: dict[str, Any], name: str, role: str) -> str:
    return datasets_config[name]["files"][role]["url"]


@pytest.mark.parametrize("name", ["agp_2014", "hmp_v35"])
def test_config_sha256_matches_mirror_files(
    name: str, datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]
) -> None:
    for spec in datasets_config[name]["files"].values():
        digest = hashlib.sha256(mirror_file(spec["url"]).read_bytes()).hexdigest()
        assert digest == spec["sha256"], spec["url"]


# ---------------------------------------------------------------------- American Gut (DATASETS.md §1)
def test_agp_raw_table(datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]) -> None:
    table = read_biom(mirror_file(_url(datasets_config, "agp_2014", "table")))
    # "gzipped BIOM 1.0 JSON, 19,236 OTUs × 1,962 samples, already rarefied to 10,000 reads"
    assert table.n_samples == 1962
    assert table.n_features == 19236
    np.testing.assert_array_equal(table.depths(), np.full(1962, 10000.0))
    assert table.taxonomy is not None and table.taxonomy.str.startswith("k__").all()


def test_agp_raw_mapping(
    datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]
) -> None:
    raw = read_qiime_mapping(mirror_file(_url(datasets_config, "agp_2014", "samples")))
    # "QIIME mapping TSV, 174 columns"
    assert raw.shape[1] == 174
    # "BODY_SITE: UBERON:feces 1,569, tongue 242, hand 72, skin 66"
    counts = raw["BODY_SITE"].value_counts()
    assert counts["UBERON:feces"] == 1569
    assert counts["UBERON:tongue"] == 242
    assert counts["UBERON:hand"] == 72
    assert counts["UBERON:skin"] == 66


def test_agp_import(imported: Callable[[str], Path]) -> None:
    table, samples, info = load_imported(imported("agp_2014"))
    assert info["available"] is True
    assert info["n_samples_table"] == 1962 and info["n_features_table"] == 19236
    assert info["n_samples"] == 1962  # every table sample has metadata and vice versa
    assert info["dropped"] == {"not_in_table": 0, "not_in_mapping": 0}
    assert table.n_features == info["n_features"] == 19236 - info["n_features_removed_empty"]
    # body sites after harmonisation (BODY_SITE counts of DATASETS.md)
    site = samples["body_site"].value_counts()
    assert site["gut"] == 1569
    assert site["oral"] == 242
    assert site["skin"] == 72 + 66  # UBERON:hand + UBERON:skin
    sub = samples["body_subsite"].value_counts()
    assert (sub["feces"], sub["tongue"], sub["hand"], sub["skin"]) == (1569, 242, 72, 66)


def test_agp_fecal_skin_conditions(imported: Callable[[str], Path]) -> None:
    _, samples, _ = load_imported(imported("agp_2014"))
    fecal = samples[samples["body_site"] == "gut"]
    # "Fecal SKIN_CONDITION: none 1,232 · Eczema 153 · Rosacea 84 · Psoriasis 54 · no_data 46"
    cond = fecal["condition"].value_counts()
    assert cond["none"] == 1232
    assert cond["eczema"] == 153
    assert cond["rosacea"] == 84
    assert cond["psoriasis"] == 54
    assert fecal["condition"].isna().sum() == 46
    assert len(fecal) == 1232 + 153 + 84 + 54 + 46


# ---------------------------------------------------------------------- HMP V3–V5 (DATASETS.md §2)
def test_hmp_raw_table_and_mapping(
    datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]
) -> None:
    table = read_biom(mirror_file(_url(datasets_config, "hmp_v35", "table")))
    # "BIOM 2.1 HDF5, 5,430 OTUs × 5,452 samples, rarefied to 1,000 reads"
    assert (table.n_features, table.n_samples) == (5430, 5452)
    np.testing.assert_array_equal(table.depths(), np.full(5452, 1000.0))
    raw = read_qiime_mapping(mirror_file(_url(datasets_config, "hmp_v35", "samples")))
    # "Mapping (6,242 rows, covers all table samples)"
    assert len(raw) == 6242
    assert set(table.sample_ids) <= set(raw["#SampleID"])


def test_hmp_import(imported: Callable[[str], Path]) -> None:
    table, samples, info = load_imported(imported("hmp_v35"))
    assert info["n_samples_mapping"] == 6242
    assert info["n_samples"] == 5452
    assert info["dropped"] == {"not_in_table": 6242 - 5452, "not_in_mapping": 0}
    assert table.n_samples == 5452
    assert set(samples["body_site"].dropna()) == {"gut", "skin", "oral", "nasal", "vaginal"}
    assert (samples["condition"] == "none").all()
    assert set(samples["run_center"]) == {"BCM", "BI", "JCVI", "WUGSC"}


def _subjects_with_stool_and_skin(samples: Any) -> set[str]:
    sites = samples.groupby("subject_id")["body_site"].agg(set)
    return {str(s) for s, v in sites.items() if "gut" in v and "skin" in v}


def test_hmp_subjects_with_stool_and_skin(
    imported: Callable[[str], Path],
    datasets_config: dict[str, Any],
    mirror_file: Callable[[str], Path],
) -> None:
    _, samples, _ = load_imported(imported("hmp_v35"))
    # DATASETS.md: "181 subjects have stool and at least one skin site". That count is reproduced when
    # the 431 table samples whose Description is 'missing_description' (no PSN; all sequenced at visit
    # 1, several twice at two centres) are left out. With every table sample, two more subjects have
    # stool and skin: 241665 and 241804, whose only stool samples are among those rows
    # (700015398/9.V35.241665 and 700015703/4.V35.241804 in the mapping file).
    raw = read_qiime_mapping(mirror_file(_url(datasets_config, "hmp_v35", "samples")))
    no_description = set(raw.loc[raw["Description"] == "missing_description", "#SampleID"])
    described = samples[~samples["sample_id"].isin(no_description)]
    assert len(samples) - len(described) == 431
    assert len(_subjects_with_stool_and_skin(described)) == 181
    everyone = _subjects_with_stool_and_skin(samples)
    assert everyone - _subjects_with_stool_and_skin(described) == {"241665", "241804"}
    assert len(everyone) == 183
