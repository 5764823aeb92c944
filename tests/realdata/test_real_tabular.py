"""Wide tables, HMP DACC mapping files and joins on the real public files (mirror).

Skipped, with the reason, when the mirror is absent (see ``conftest.py``). Expected numbers are those of
``../shared/reference/DATASETS.md`` (§3 HMP DACC files, §5 atopic-dermatitis cohort), quoted next to the
assertion, or are recomputed here from the raw files with pandas/numpy alone (not with gutskin's readers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gutskin.errors import InputError
from gutskin.importer import load_imported
from gutskin.io.hmp_dacc import read_dacc_map
from gutskin.taxonomy import parse_lineage

pytestmark = pytest.mark.realdata

AD = "ad_skin_khadka2021"


def _file(
    datasets_config: dict[str, Any], mirror_file: Callable[[str], Path], name: str, role: str
) -> Path:
    return mirror_file(datasets_config[name]["files"][role]["url"])


@pytest.mark.parametrize(
    ("name", "role"),
    [(AD, "table"), (AD, "samples"), ("hmp_v35", "dacc_pp"), ("hmp_v35", "dacc_psn")],
)
def test_sha256_matches_config(
    name: str, role: str, datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]
) -> None:
    path = _file(datasets_config, mirror_file, name, role)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == datasets_config[name]["files"][role]["sha256"]


# ---------------------------------------------------------------------- §5 atopic dermatitis
def test_ad_import_samples_subjects_and_conditions(imported: Callable[[str], Path]) -> None:
    table, samples, info = load_imported(imported(AD))
    # DATASETS.md §5: "318 samples", "41 subjects"
    assert info["n_samples"] == table.n_samples == 318
    assert samples["subject_id"].nunique() == 41
    assert info["dropped"] == {"not_in_table": 0, "not_in_mapping": 0}
    # controls are the subjects named "<n>-control" (their Site is "control"): 13 children, 31 samples
    controls = samples["subject_id"].str.endswith("-control")
    assert samples.loc[controls, "subject_id"].nunique() == 13
    assert (samples.loc[controls, "condition"] == "none").all()
    assert (samples.loc[~controls, "condition"] == "atopic_dermatitis").all()
    assert int(controls.sum()) == 31
    assert set(samples["body_site"]) == {"skin"}
    # Active_Dermatitis is per site and visit, not the diagnosis: patients have both values
    patients = samples.loc[~controls]
    assert set(patients["active_dermatitis"].dropna()) == {"yes", "no"}
    assert samples.loc[controls, "active_dermatitis"].isna().all()
    assert table.values == "counts"


def test_ad_rounding_reported_and_recomputed(
    imported: Callable[[str], Path],
    datasets_config: dict[str, Any],
    mirror_file: Callable[[str], Path],
) -> None:
    table, _, info = load_imported(imported(AD))
    raw = pd.read_csv(_file(datasets_config, mirror_file, AD, "table"), index_col=0)
    values = raw.to_numpy(dtype=float)
    nonzero = values != 0
    rounded = np.round(values)  # half to even, as R's round()
    # DATASETS.md §5: 318 samples × 2,257 SILVA level-7 taxa, replicate-averaged so non-integer
    assert raw.shape[0] == 318
    assert (values[nonzero] != np.round(values[nonzero])).any()
    rep = info["rounding"]
    assert rep["n_values"] == int(nonzero.sum())
    assert rep["n_changed"] == int((rounded[nonzero] != values[nonzero]).sum())
    assert rep["n_nonzero_to_zero"] == int((nonzero & (rounded == 0)).sum())
    assert rep["max_change"] == pytest.approx(float(np.abs(rounded - values).max()))
    assert rep["max_change"] <= 0.5
    # the imported table is the rounded one, sample for sample
    order = pd.Index(raw.index.astype(str)).get_indexer(table.sample_ids.astype(str))
    assert (order >= 0).all()
    assert np.allclose(table.depths(), rounded.sum(axis=1)[order])
    assert np.all(table.counts.data == np.round(table.counts.data))
    # every sample keeps at least the configured rarefaction depth
    assert table.depths().min() >= datasets_config[AD]["rarefaction_depth"]


def test_ad_lineages_from_r_names(
    datasets_config: dict[str, Any],
    mirror_file: Callable[[str], Path],
    imported: Callable[[str], Path],
) -> None:
    table, _, info = load_imported(imported(AD))
    assert table.taxonomy is not None
    staph = [f for f in table.feature_ids if ".Staphylococcaceae.Staphylococcus." in f]
    assert staph
    for fid in staph:
        assert parse_lineage(table.taxonomy[fid])[5] == "Staphylococcus", fid
    # every feature has its kingdom; a share of lower ranks stays open rather than guessed
    named = info["taxonomy"]["named_at_rank"]
    assert named["kingdom"] == info["n_features"]
    assert named["genus"] < info["n_features"]


# ---------------------------------------------------------------------- §3 HMP DACC
def test_ppall_header_fix(
    datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]
) -> None:
    path = _file(datasets_config, mirror_file, "hmp_v35", "dacc_pp")
    # DATASETS.md §3: "malformed header (14 names, 15 fields; HMPBodySubsiteHMPBodySite is two columns
    # glued)"
    with pytest.raises(InputError) as exc:
        read_dacc_map(path)
    assert exc.value.where == "line 2"
    assert "15 fields" in exc.value.problem and "14 columns" in exc.value.problem
    fix = datasets_config["hmp_v35"]["files"]["dacc_pp"]["options"]["header_fix"]
    df = read_dacc_map(path, header_fix=fix)
    assert df.shape == (6908, 15)
    assert "HMPBodySubsite" in df.columns and "HMPBodySite" in df.columns
    assert "Stool" in set(df["HMPBodySubsite"])
    assert "Gastrointestinal_tract" in set(df["HMPBodySite"])
    # the split puts the right values in the right columns: no site name in the visit column
    assert set(df["VisitNo"].dropna()) <= {"1", "2", "3"}


def test_hmp_join_adds_run_centre(
    imported: Callable[[str], Path],
    datasets_config: dict[str, Any],
    mirror_file: Callable[[str], Path],
) -> None:
    _, samples, info = load_imported(imported("hmp_v35"))
    joins = {j["role"]: j for j in info["joins"]}
    psn = joins["dacc_psn"]
    # the DACC files agree with the HMP mapping wherever both have a value
    for check in (*psn["check"].values(), *joins["dacc_pp"]["check"].values()):
        assert check["compared"] > 0 and check["disagree"] == 0
    assert joins["dacc_pp"]["header_fix"] is not None
    assert joins["dacc_pp"]["n_matched_kept"] == info["n_samples"]
    # run centres of each PSN, recomputed with pandas from the .bz2 file
    dacc = pd.read_csv(
        _file(datasets_config, mirror_file, "hmp_v35", "dacc_psn"),
        sep="\t",
        dtype=str,
        keep_default_na=False,
    ).set_index("#SampleID")["RUNCENTER"]
    mapping = pd.read_csv(
        _file(datasets_config, mirror_file, "hmp_v35", "samples"),
        sep="\t",
        dtype=str,
        keep_default_na=False,
        quoting=3,
    ).set_index("#SampleID")["psn"]
    psns = mapping.reindex(samples["sample_id"]).to_numpy()
    expected = pd.Series(psns).map(dacc)
    assert psn["n_matched_kept"] == int(expected.notna().sum())
    got = samples["run_center_psn"]
    assert got.notna().sum() == expected.notna().sum()
    assert (got[got.notna()].to_numpy() == expected[expected.notna()].to_numpy()).all()
    assert "BCM,BI" in set(got.dropna())  # PSNs sequenced at two centres
    # the HMP mapping's own per-experiment centre is untouched
    assert set(samples["run_center"]) == {"BCM", "BI", "JCVI", "WUGSC"}
