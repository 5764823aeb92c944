"""Tests of :mod:`gutskin.synthetic`: the generated files, their determinism and the planted effects.

Reference values are written out here (raw values copied from the real AGP/HMP mapping files, the
Hedges g standard-error formula, hand-computed counts), never taken from the generator itself. Where
the real files are available (``GUTSKIN_MIRROR`` or ``../shared/mirror``), the raw values we write
are also checked against them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
import os
from pathlib import Path

import biom
import h5py
import numpy as np
import pandas as pd
import pytest
from skbio.diversity import alpha_diversity, beta_diversity
from skbio.stats.distance import mantel

from gutskin import synthetic
from gutskin.errors import InputError
from gutskin.synthetic import (
    Scenario,
    expected_facts,
    serve_paths,
    simulate,
    write_synthetic_mirror,
)

REPO = Path(__file__).resolve().parents[2]
HOST = "synthetic.gutskin.test"
AG_COMMIT = "043c46753a879652c4656d1e6fda3714823ab5ad"
HMP_COMMIT = "68fd6d4b2fa6aeb5b4f5272c6f1006defe5b160e"
REAL_AGP_MAPPING = (
    f"raw.githubusercontent.com/biocore/American-Gut/{AG_COMMIT}/data/AG/AG_100nt_even10k.txt"
)
REAL_HMP_MAPPING = (
    f"raw.githubusercontent.com/biocore/American-Gut/{HMP_COMMIT}/data/HMP/HMPv35_100nt.txt"
)

# Raw values as they appear in the real AG_100nt_even10k.txt (copied by hand from the file).
AGP_SKIN_CONDITION = {
    "I do not have a skin condition": "none",
    "Eczema": "eczema",
    "Rosacea": "rosacea",
    "Psoriasis": "psoriasis",
    "no_data": "missing",
}
AGP_ANTIBIOTICS = {
    "Not in the last year",
    "In the past year",
    "In the past 6 months",
    "In the past month",
    "In the past week",
}
AGP_PLANTS = {"Less than 5", "6 to 10", "11 to 20", "21 to 30", "More than 30"}
AGP_SLEEP = {"Less than 5 hours", "5-6 hours", "6-7 hours", "7-8 hours", "8 or more hours"}
AGP_IBD = {"I do not have IBD", "Ulcerative colitis", "Crohn's disease"}
HMP_SUBSITES = {
    "Stool",
    "Right_Retroauricular_crease",
    "Left_Retroauricular_crease",
    "Right_Antecubital_fossa",
    "Left_Antecubital_fossa",
    "Tongue_dorsum",
    "Anterior_nares",
}
RANK_PREFIXES = ["k__", "p__", "c__", "o__", "f__", "g__", "s__"]

# A workflow rarefaction depth inside the documented window (agp_low_depth, agp_depth_range[0]].
WORKFLOW_DEPTH = 2000


def _read_mapping(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path, sep="\t", dtype=str, keep_default_na=False, na_filter=False, quoting=csv.QUOTE_NONE
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _local(root: Path, url: str) -> Path:
    prefix = f"https://{HOST}/"
    assert url.startswith(prefix)
    return root / HOST / url[len(prefix) :]


def _real_file(rel: str) -> Path:
    env = os.environ.get("GUTSKIN_MIRROR")
    roots = [Path(p) for p in env.split(":") if p] if env else [REPO.parent / "shared" / "mirror"]
    for root in roots:
        if (root / rel).is_file():
            return root / rel
    pytest.skip(f"real file {rel} not found in the mirror ({', '.join(map(str, roots))})")


def _hedges_g(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Hedges' g of x versus y and its large-sample SE (Hedges & Olkin 1985, eq. 5.15)."""
    n1, n2 = len(x), len(y)
    sp = math.sqrt(((n1 - 1) * np.var(x, ddof=1) + (n2 - 1) * np.var(y, ddof=1)) / (n1 + n2 - 2))
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    g = j * (np.mean(x) - np.mean(y)) / sp
    se = math.sqrt((n1 + n2) / (n1 * n2) + g**2 / (2 * (n1 + n2)))
    return float(g), se


# ----------------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("mirror")
    return root, write_synthetic_mirror(root)


def _dataset(mirror: tuple[Path, dict], name: str) -> tuple[biom.Table, pd.DataFrame]:
    """The table and mapping of one synthetic dataset, read back from the mirror."""
    root, files = mirror
    table = biom.load_table(str(_local(root, files[name]["table"]["url"])))
    return table, _read_mapping(_local(root, files[name]["samples"]["url"]))


@pytest.fixture(scope="module")
def agp(mirror: tuple[Path, dict]) -> tuple[biom.Table, pd.DataFrame]:
    return _dataset(mirror, "agp_like")


@pytest.fixture(scope="module")
def hmp(mirror: tuple[Path, dict]) -> tuple[biom.Table, pd.DataFrame]:
    return _dataset(mirror, "hmp_like")


# ----------------------------------------------------------------------------------------------
# files, layout, determinism
# ----------------------------------------------------------------------------------------------
def test_files_block_layout_and_sha256(mirror: tuple[Path, dict]) -> None:
    root, files = mirror
    assert set(files) == {"agp_like", "hmp_like"}
    for ds, roles in files.items():
        assert set(roles) == {"table", "samples"}
        assert roles["table"]["format"] == "biom"
        assert roles["samples"]["format"] == "qiime_mapping"
        for entry in roles.values():
            assert set(entry) == {"url", "sha256", "format"}
            local = _local(root, entry["url"])
            assert local.is_file(), local
            assert _sha256(local) == entry["sha256"]
            assert f"/{ds}/" in entry["url"]
    # no temporary files left behind
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    assert leftovers == []


def test_serve_paths_maps_url_paths_to_the_written_files(mirror: tuple[Path, dict]) -> None:
    root, files = mirror
    expected = {
        entry["url"][len(f"https://{HOST}") :]: _local(root, entry["url"]).resolve()
        for roles in files.values()
        for entry in roles.values()
    }
    assert len(expected) == 4
    got = {k: v.resolve() for k, v in serve_paths(files).items()}
    assert got == expected
    got_root = {k: v.resolve() for k, v in serve_paths(files, root=root).items()}
    assert got_root == expected
    one = serve_paths(files["agp_like"])
    assert len(one) == 2 and all(k.startswith("/") for k in one)


def test_serve_paths_unknown_url_is_an_input_error() -> None:
    entry = {"url": f"https://{HOST}/never/written.txt", "sha256": "0" * 64, "format": "biom"}
    with pytest.raises(InputError, match="root="):
        serve_paths({"x": {"table": entry}})


def test_same_scenario_gives_identical_bytes(tmp_path: Path, mirror: tuple[Path, dict]) -> None:
    _, first = mirror
    again = write_synthetic_mirror(tmp_path / "again")
    for ds in ("agp_like", "hmp_like"):
        for role in ("table", "samples"):
            assert again[ds][role] == first[ds][role], (ds, role)
    other = write_synthetic_mirror(tmp_path / "other", Scenario(seed=7, n_agp_subjects=60))
    assert other["agp_like"]["table"]["url"] != first["agp_like"]["table"]["url"]
    for ds in ("agp_like", "hmp_like"):
        for role in ("table", "samples"):
            assert other[ds][role]["sha256"] != first[ds][role]["sha256"]


def test_gzip_header_has_no_timestamp_or_name(mirror: tuple[Path, dict]) -> None:
    root, files = mirror
    raw = _local(root, files["agp_like"]["table"]["url"]).read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    flags, mtime = raw[3], int.from_bytes(raw[4:8], "little")
    assert mtime == 0
    assert flags & 0x08 == 0  # FNAME not set
    doc = json.loads(gzip.decompress(raw))
    assert doc["format"] == "Biological Observation Matrix 1.0.0"
    assert doc["matrix_type"] == "sparse"
    assert doc["shape"] == [len(doc["rows"]), len(doc["columns"])]


def test_hmp_table_is_biom_2_1_hdf5(mirror: tuple[Path, dict]) -> None:
    root, files = mirror
    with h5py.File(_local(root, files["hmp_like"]["table"]["url"]), "r") as fh:
        assert list(fh.attrs["format-version"]) == [2, 1]
        assert "observation/metadata/taxonomy" in fh
        assert fh["observation/matrix/data"].dtype == np.float64


# ----------------------------------------------------------------------------------------------
# raw conventions
# ----------------------------------------------------------------------------------------------
def test_agp_table_and_mapping_conventions(agp: tuple[biom.Table, pd.DataFrame]) -> None:
    table, mapping = agp
    assert mapping.columns[0] == "#SampleID"
    required = {
        "HOST_SUBJECT_ID",
        "BODY_SITE",
        "SKIN_CONDITION",
        "AGE",
        "SEX",
        "BMI",
        "ANTIBIOTIC_SELECT",
        "TYPES_OF_PLANTS",
        "SLEEP_DURATION",
        "ACNE_MEDICATION",
        "IBD",
        "COUNTRY",
        "SAMPLE_PLATE",
    }
    assert required <= set(mapping.columns)
    assert mapping["#SampleID"].is_unique
    assert set(mapping["BODY_SITE"]) <= {
        "UBERON:feces",
        "UBERON:skin",
        "UBERON:hand",
        "UBERON:tongue",
    }
    assert {"UBERON:feces", "UBERON:skin", "UBERON:tongue"} <= set(mapping["BODY_SITE"])
    assert set(mapping["SKIN_CONDITION"]) == set(AGP_SKIN_CONDITION)
    assert set(mapping["SEX"]) == {"47", "48", "no_data"}
    assert set(mapping["ANTIBIOTIC_SELECT"]) <= AGP_ANTIBIOTICS | {"no_data"}
    assert AGP_ANTIBIOTICS <= set(mapping["ANTIBIOTIC_SELECT"])
    assert set(mapping["TYPES_OF_PLANTS"]) <= AGP_PLANTS | {"no_data"}
    assert set(mapping["SLEEP_DURATION"]) <= AGP_SLEEP | {"no_data"}
    assert set(mapping["IBD"]) <= AGP_IBD | {"no_data"}
    assert set(mapping["ACNE_MEDICATION"]) == {"yes", "no", "no_data"}
    assert all(c.startswith("GAZ:") for c in mapping["COUNTRY"])
    # missing is no_data, never an empty cell
    assert not (mapping == "").any().any()
    for col in ("AGE", "BMI", "SEX"):
        assert (mapping[col] == "no_data").sum() > 0, col
    ages = pd.to_numeric(mapping["AGE"].replace("no_data", np.nan))
    assert ages.dropna().between(18, 85).all()
    # ids keep their leading zeros (read as strings)
    assert any(s.startswith("000") for s in mapping["#SampleID"])
    # every mapped sample is in the table; the table also has blanks not in the mapping
    table_ids = set(table.ids())
    assert set(mapping["#SampleID"]) <= table_ids
    assert len(table_ids - set(mapping["#SampleID"])) >= 1
    # Greengenes taxonomy, seven ranks
    for md in table.metadata(axis="observation"):
        tax = md["taxonomy"]
        assert [t[:3] for t in tax] == RANK_PREFIXES
    assert all(i.startswith("otu_") for i in table.ids(axis="observation"))
    assert any(
        md["taxonomy"][5] == "g__Propionibacterium" for md in table.metadata(axis="observation")
    )
    # integer reads, written as floats like the real table
    data = table.matrix_data.data
    assert np.all(data == np.round(data)) and data.min() >= 1


def test_hmp_table_and_mapping_conventions(hmp: tuple[biom.Table, pd.DataFrame]) -> None:
    table, mapping = hmp
    assert mapping.columns[0] == "#SampleID"
    assert {"hostsubjectid", "HMPbodysubsite", "visitno", "sex", "AGE", "bmi", "RUNCENTER"} <= set(
        mapping.columns
    )
    assert set(mapping["HMPbodysubsite"]) == HMP_SUBSITES
    assert set(mapping["sex"]) == {"male", "female"}
    assert set(mapping["visitno"]) == {"1", "2", ""}
    assert 2 <= mapping["RUNCENTER"].nunique() <= 3
    # the table covers a subset of the mapping (some mapping rows have no sequences)
    assert set(table.ids()) < set(mapping["#SampleID"])
    sums = table.sum(axis="sample")
    assert np.all(sums == 1500)


def test_raw_values_occur_in_the_real_agp_mapping(agp: tuple[biom.Table, pd.DataFrame]) -> None:
    real = _read_mapping(_real_file(REAL_AGP_MAPPING))
    _, mapping = agp
    assert set(mapping.columns) <= set(real.columns)
    for col in (
        "BODY_SITE",
        "BODY_HABITAT",
        "ENV_MATTER",
        "COMMON_NAME",
        "SKIN_CONDITION",
        "SEX",
        "ANTIBIOTIC_SELECT",
        "TYPES_OF_PLANTS",
        "SLEEP_DURATION",
        "IBD",
        "ACNE_MEDICATION",
        "ACNE_MEDICATION_OTC",
        "DIET_TYPE",
        "COUNTRY",
        "TITLE",
    ):
        extra = set(mapping[col]) - set(real[col])
        assert not extra, (col, extra)
    # SEX: 48 is female (only 48 take the pill or are pregnant in the real file), and the
    # generator writes 48 for its female subjects
    assert synthetic.AGP_SEX == {"male": "47", "female": "48"}
    assert set(real.loc[real["PREGNANT"] == "yes", "SEX"]) == {"48"}
    pill = real["CONTRACEPTIVE"].str.contains("pill")
    assert set(real.loc[pill, "SEX"]) == {"48"}
    # the same (BODY_SITE, BODY_HABITAT, ENV_MATTER) combinations as in the real file
    combos = {tuple(r) for r in mapping[["BODY_SITE", "BODY_HABITAT", "ENV_MATTER"]].to_numpy()}
    real_combos = {tuple(r) for r in real[["BODY_SITE", "BODY_HABITAT", "ENV_MATTER"]].to_numpy()}
    assert combos <= real_combos


def test_raw_values_occur_in_the_real_hmp_mapping(hmp: tuple[biom.Table, pd.DataFrame]) -> None:
    real = _read_mapping(_real_file(REAL_HMP_MAPPING))
    _, mapping = hmp
    assert set(mapping.columns) <= set(real.columns)
    assert list(real.columns[:3]) == list(mapping.columns[:3])
    for col in ("sex", "RUNCENTER", "LinkerPrimerSequence", "COUNTRY", "visitno"):
        extra = set(mapping[col]) - set(real[col])
        assert not extra, (col, extra)
    cols = ["HMPbodysubsite", "HMPbodysupersite", "bodysite"]
    combos = {tuple(r) for r in mapping[cols].to_numpy()}
    assert combos <= {tuple(r) for r in real[cols].to_numpy()}


# ----------------------------------------------------------------------------------------------
# planted effects
# ----------------------------------------------------------------------------------------------
def _agp_fecal_shannon(table: biom.Table, mapping: pd.DataFrame) -> pd.DataFrame:
    """One fecal sample per subject (smallest sample id) with >= WORKFLOW_DEPTH reads; Shannon."""
    fec = mapping[mapping["BODY_SITE"] == "UBERON:feces"]
    fec = fec.sort_values("#SampleID").drop_duplicates("HOST_SUBJECT_ID")
    ids = list(fec["#SampleID"])
    counts = np.vstack([table.data(i, axis="sample", dense=True) for i in ids])
    keep = counts.sum(axis=1) >= WORKFLOW_DEPTH
    h = alpha_diversity("shannon", counts[keep], ids=np.array(ids)[keep])
    out = fec.set_index("#SampleID").loc[h.index].copy()
    out["shannon"] = h.to_numpy()
    return out


def test_planted_shannon_effect_recovered_from_files(agp: tuple[biom.Table, pd.DataFrame]) -> None:
    table, mapping = agp
    d = _agp_fecal_shannon(table, mapping)
    none = d.loc[d["SKIN_CONDITION"] == "I do not have a skin condition", "shannon"].to_numpy()
    planted = -0.8
    for raw in ("Eczema", "Rosacea", "Psoriasis"):
        x = d.loc[d["SKIN_CONDITION"] == raw, "shannon"].to_numpy()
        g, se = _hedges_g(x, none)
        assert g < 0, raw
        assert abs(g - planted) < 3 * se, (raw, g, se)
    cases = d.loc[d["SKIN_CONDITION"].isin(["Eczema", "Rosacea", "Psoriasis"]), "shannon"]
    g, se = _hedges_g(cases.to_numpy(), none)
    assert abs(g - planted) < 3 * se, (g, se)
    assert se < 0.15  # the default sizes are large enough for a meaningful check


def test_planted_effects_at_large_n_in_memory() -> None:
    # 3000 subjects: SE(g) of cases vs none about 0.04, so the planted g is pinned down tightly.
    data = simulate(Scenario(n_agp_subjects=3000, seed=11))["agp_like"]
    truth = data.truth
    keep = (truth["site"] == "feces").to_numpy() & (truth["replicate"] == 0).to_numpy()
    h = alpha_diversity("shannon", data.counts[keep], ids=data.sample_ids[keep])
    cond = truth.loc[keep, "condition"].to_numpy()
    none = h.to_numpy()[cond == "none"]
    cases = h.to_numpy()[np.isin(cond, ["eczema", "rosacea", "psoriasis"])]
    g, se = _hedges_g(cases, none)
    assert se < 0.05
    assert abs(g - (-0.8)) < 3 * se, (g, se)


def test_null_condition_effect_and_antibiotics_lower_diversity() -> None:
    data = simulate(Scenario(n_agp_subjects=3000, seed=12, condition_effect_g=0.0))["agp_like"]
    truth = data.truth
    keep = (truth["site"] == "feces").to_numpy() & (truth["replicate"] == 0).to_numpy()
    ids = data.sample_ids[keep]
    h = pd.Series(alpha_diversity("shannon", data.counts[keep], ids=ids).to_numpy(), index=ids)
    cond = truth.loc[keep, "condition"].to_numpy()
    g, se = _hedges_g(h[cond == "psoriasis"].to_numpy(), h[cond == "none"].to_numpy())
    assert abs(g) < 3 * se, (g, se)
    # Antibiotics in the past month/week versus not in the past year. Planted (CLAIMS.md R1):
    # beta = -1.582 Faith PD over a residual SD of 3.06 -> g = -0.517; within-group SD of the
    # antibiotic groups is sqrt(1 - 0.029) (between-group variance of the antibiotic effects with
    # shares .69/.13/.12/.06: E[x^2] - E[x]^2 = 0.0384 - 0.0096), so g ~ -0.517 / 0.985 = -0.525.
    mapping = data.mapping.set_index("#SampleID").loc[ids]
    abx = mapping["ANTIBIOTIC_SELECT"].to_numpy()
    recent = h[np.isin(abx, ["In the past month", "In the past week"])].to_numpy()
    never = h[abx == "Not in the last year"].to_numpy()
    g, se = _hedges_g(recent, never)
    assert abs(g - (-0.525)) < 3 * se, (g, se)


def _hmp_site_matrix(
    table: biom.Table, mapping: pd.DataFrame, site: str, subjects: list[str]
) -> tuple[np.ndarray, list[str]]:
    v1 = mapping[(mapping["visitno"] == "1") & (mapping["HMPbodysubsite"] == site)]
    v1 = v1[v1["#SampleID"].isin(set(table.ids()))].set_index("hostsubjectid")
    ids = [v1.at[s, "#SampleID"] for s in subjects]
    return np.vstack([table.data(i, axis="sample", dense=True) for i in ids]), subjects


def _subjects_with(table: biom.Table, mapping: pd.DataFrame, *sites: str) -> list[str]:
    m = mapping[(mapping["visitno"] == "1") & mapping["#SampleID"].isin(set(table.ids()))]
    have = [set(m.loc[m["HMPbodysubsite"] == s, "hostsubjectid"]) for s in sites]
    return sorted(set.intersection(*have))


def _mantel_bc(
    table: biom.Table, mapping: pd.DataFrame, a: str, b: str
) -> tuple[float, float, int]:
    subjects = _subjects_with(table, mapping, a, b)
    x, _ = _hmp_site_matrix(table, mapping, a, subjects)
    y, _ = _hmp_site_matrix(table, mapping, b, subjects)
    dx = beta_diversity("braycurtis", x, ids=subjects)
    dy = beta_diversity("braycurtis", y, ids=subjects)
    r, p, n = mantel(dx, dy, method="pearson", permutations=999, seed=42)
    return float(r), float(p), int(n)


def test_left_right_crease_positive_control_and_gut_skin_null(
    hmp: tuple[biom.Table, pd.DataFrame],
) -> None:
    table, mapping = hmp
    r, p, n = _mantel_bc(
        table, mapping, "Left_Retroauricular_crease", "Right_Retroauricular_crease"
    )
    assert n >= 50
    assert r > 0.3 and p < 0.01, (r, p)
    r, p, n = _mantel_bc(table, mapping, "Stool", "Right_Retroauricular_crease")
    assert n >= 50
    assert abs(r) < 0.15 and p > 0.01, (r, p)


def test_gut_skin_coupling_one_gives_a_positive_mantel(tmp_path: Path) -> None:
    files = write_synthetic_mirror(tmp_path, Scenario(gut_skin_coupling=1.0))
    table = biom.load_table(str(_local(tmp_path, files["hmp_like"]["table"]["url"])))
    mapping = _read_mapping(_local(tmp_path, files["hmp_like"]["samples"]["url"]))
    r, p, _ = _mantel_bc(table, mapping, "Stool", "Right_Retroauricular_crease")
    assert r > 0.3 and p < 0.01, (r, p)


def test_stool_shannon_exceeds_crease_shannon(hmp: tuple[biom.Table, pd.DataFrame]) -> None:
    table, mapping = hmp
    subjects = _subjects_with(table, mapping, "Stool", "Right_Retroauricular_crease")
    stool, _ = _hmp_site_matrix(table, mapping, "Stool", subjects)
    crease, _ = _hmp_site_matrix(table, mapping, "Right_Retroauricular_crease", subjects)
    hs = alpha_diversity("shannon", stool).to_numpy()
    hc = alpha_diversity("shannon", crease).to_numpy()
    assert np.mean(hs > hc) > 0.9
    assert np.mean(hs - hc) > 1.0
    # the crease is dominated by one taxon (Propionibacterium acnes in the real HMP data)
    top_share = crease.max(axis=1) / crease.sum(axis=1)
    assert np.median(top_share) > 0.4


# ----------------------------------------------------------------------------------------------
# expected facts
# ----------------------------------------------------------------------------------------------
def test_expected_facts_match_the_files(
    agp: tuple[biom.Table, pd.DataFrame], hmp: tuple[biom.Table, pd.DataFrame]
) -> None:
    facts = expected_facts()
    table, mapping = agp
    f = facts["agp_like"]
    assert f["n_samples_table"] == len(table.ids())
    assert f["n_samples_mapping"] == len(mapping)
    assert f["n_table_only"] == len(set(table.ids()) - set(mapping["#SampleID"]))
    assert f["n_features"] == len(table.ids(axis="observation"))
    reads = pd.Series(table.sum(axis="sample"), index=table.ids())
    fec = mapping[mapping["BODY_SITE"] == "UBERON:feces"].copy()
    fec["reads"] = reads.loc[fec["#SampleID"]].to_numpy()
    assert f["n_fecal_samples"] == len(fec)
    assert f["n_fecal_subjects"] == fec["HOST_SUBJECT_ID"].nunique()
    assert f["n_fecal_subjects"] == 400  # Scenario().n_agp_subjects
    per_subject = fec.groupby("HOST_SUBJECT_ID").size()
    assert f["n_subjects_with_two_fecal"] == int((per_subject == 2).sum()) == 20  # 5 % of 400
    assert per_subject.max() == 2
    shallow = fec["reads"] < WORKFLOW_DEPTH
    assert f["n_fecal_low_depth"] == int(shallow.sum()) == 12  # 3 % of 400
    assert fec.loc[shallow, "reads"].max() <= 800
    assert fec.loc[~shallow, "reads"].min() >= 2500
    # duplicated subjects are never shallow: one-per-subject choice cannot change the counts
    dup_subjects = set(per_subject[per_subject == 2].index)
    assert not (fec.loc[shallow, "HOST_SUBJECT_ID"].isin(dup_subjects)).any()
    one = fec.drop_duplicates("HOST_SUBJECT_ID")
    by_cond = one["SKIN_CONDITION"].map(AGP_SKIN_CONDITION).value_counts().to_dict()
    assert f["fecal_subjects_by_condition"] == {
        k: by_cond.get(k, 0) for k in f["fecal_subjects_by_condition"]
    }
    # Exact allocation: 12 missing (3 % of 400); 388 known split .7/.12/.1/.08 ->
    # 271.6, 46.56, 38.8, 31.04 -> floors 271, 46, 38, 31 (=386), the two largest remainders
    # (.8 rosacea, .6 none) get one more each.
    assert f["fecal_subjects_by_condition"] == {
        "none": 272,
        "eczema": 46,
        "rosacea": 39,
        "psoriasis": 31,
        "missing": 12,
    }
    retained = one[one["reads"] >= WORKFLOW_DEPTH]
    by_cond = retained["SKIN_CONDITION"].map(AGP_SKIN_CONDITION).value_counts().to_dict()
    assert f["fecal_subjects_by_condition_retained"] == {
        k: by_cond.get(k, 0) for k in f["fecal_subjects_by_condition_retained"]
    }
    assert f["n_fecal_subjects_retained"] == len(retained) == 388
    assert f["n_skin_samples"] == int((mapping["BODY_SITE"] == "UBERON:skin").sum())
    assert f["n_hand_samples"] == int((mapping["BODY_SITE"] == "UBERON:hand").sum())
    assert f["n_tongue_samples"] == int((mapping["BODY_SITE"] == "UBERON:tongue").sum())
    assert f["n_subjects"] == mapping["HOST_SUBJECT_ID"].nunique()
    assert f["body_site_counts"] == mapping["BODY_SITE"].value_counts().to_dict()
    fone = one.set_index("#SampleID")
    for col, n_missing in f["fecal_subjects_missing"].items():
        assert n_missing == int((fone[col] == "no_data").sum()), col
    bmi = pd.to_numeric(fone["BMI"].replace("no_data", np.nan))
    assert f["fecal_subjects_bmi_out_of_range"] == int(((bmi < 10) | (bmi > 80)).sum()) >= 1
    lo, hi = facts["rarefaction_depth_window"]
    assert lo <= WORKFLOW_DEPTH <= hi

    table, mapping = hmp
    h = facts["hmp_like"]
    in_table = mapping[mapping["#SampleID"].isin(set(table.ids()))]
    assert h["n_samples_table"] == len(table.ids()) == len(in_table)
    assert h["n_samples_mapping"] == len(mapping)
    assert h["n_mapping_only"] == len(mapping) - len(in_table)
    assert h["n_subjects"] == in_table["hostsubjectid"].nunique() == 80
    assert h["samples_by_subsite"] == in_table["HMPbodysubsite"].value_counts().to_dict()
    assert h["samples_by_visit"] == in_table["visitno"].value_counts().to_dict()
    assert h["samples_by_runcenter"] == in_table["RUNCENTER"].value_counts().to_dict()
    stool = _subjects_with(table, mapping, "Stool")
    both = _subjects_with(
        table, mapping, "Left_Retroauricular_crease", "Right_Retroauricular_crease"
    )
    right = _subjects_with(table, mapping, "Right_Retroauricular_crease")
    left = _subjects_with(table, mapping, "Left_Retroauricular_crease")
    assert h["n_subjects_stool_v1"] == len(stool)
    assert h["n_subjects_both_creases_v1"] == len(both)
    assert h["n_subjects_stool_and_both_creases_v1"] == len(set(stool) & set(both))
    assert h["n_subjects_stool_and_any_crease_v1"] == len(set(stool) & (set(left) | set(right)))
    v1 = in_table[in_table["visitno"] == "1"]
    skin_subjects = set(v1.loc[v1["HMPbodysubsite"].str.contains("crease|fossa"), "hostsubjectid"])
    assert h["n_subjects_stool_without_skin_v1"] == len(set(stool) - skin_subjects) > 0
    assert (
        h["n_subjects_with_visit2"]
        == in_table.loc[in_table["visitno"] == "2", "hostsubjectid"].nunique()
    )
    # most subjects have stool and both creases at visit 1 (80 % of 80 = 64 by construction)
    assert h["n_subjects_stool_and_both_creases_v1"] == 64
    assert facts["planted"]["condition_effect_g"] == {
        "eczema": -0.8,
        "rosacea": -0.8,
        "psoriasis": -0.8,
    }


# ----------------------------------------------------------------------------------------------
# scenario validation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"condition_shares": {"none": 0.5, "acne": 0.5}}, "condition_shares"),
        ({"condition_shares": {"eczema": 1.0}}, "condition_shares"),
        ({"agp_depth_range": (500, 6000)}, "agp_depth_range"),
        ({"agp_depth_range": (3000, 2000)}, "agp_depth_range"),
        ({"gut_skin_coupling": 1.5}, "gut_skin_coupling"),
        ({"n_features": 10}, "n_features"),
        ({"condition_effect_g": {"acne": -1.0}}, "condition_effect_g"),
    ],
)
def test_bad_scenarios_are_input_errors(kwargs: dict, where: str) -> None:
    with pytest.raises(InputError, match=f"Scenario.{where}"):
        Scenario(**kwargs)


def test_bad_host_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="host"):
        write_synthetic_mirror(tmp_path, host="a/b")
    assert not any(tmp_path.iterdir())


def test_scenario_is_hashable_and_keyed_by_its_fields() -> None:
    assert hash(Scenario()) == hash(Scenario())
    assert Scenario().key() == Scenario().key()
    assert Scenario().key() != Scenario(hmp_depth=1000).key()
    assert Scenario().key().startswith("s20261126-")


def test_per_condition_effects(tmp_path: Path) -> None:
    sc = Scenario(condition_effect_g={"psoriasis": -1.0}, n_agp_subjects=120)
    facts = expected_facts(sc)
    assert facts["planted"]["condition_effect_g"] == {
        "eczema": 0.0,
        "rosacea": 0.0,
        "psoriasis": -1.0,
    }
    files = write_synthetic_mirror(tmp_path, sc)
    mapping = _read_mapping(_local(tmp_path, files["agp_like"]["samples"]["url"]))
    fec = mapping[mapping["BODY_SITE"] == "UBERON:feces"].drop_duplicates("HOST_SUBJECT_ID")
    assert len(fec) == 120
