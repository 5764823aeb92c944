"""Claims C3 (IBD and skin conditions), C25 (plant types) and C32 (sleep) on the real American Gut 2014 files.

Skipped, with the reason, when the mirror is absent (see ``conftest.py``). The claims are the repository's
own (config/claims.yaml), run on the dataset imported from the mirror with a quick diversity step (3
rarefactions at the configured depth). Expected sizes come from DATASETS.md §1 (1,569 fecal samples; fecal
SKIN_CONDITION none 1,232 · Eczema 153 · Rosacea 84 · Psoriasis 54) and the raw mapping file (IBD: 52 ulcerative
colitis + 36 Crohn's samples); expected directions from the published American Gut regression (CLAIMS.md R1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gutskin.claims import load_bundle, run_claim
from gutskin.claims.ledger import build_ledger
from gutskin.config import load_and_validate
from gutskin.diversity.rarefy import repeated_rarefaction_alpha
from gutskin.importer import load_imported
from gutskin.stats.verdict import VERDICTS

pytestmark = pytest.mark.realdata

REPO = Path(__file__).resolve().parents[2]
CONFIG = {"alpha": 0.05, "power_target": 0.8, "seed": 20261126}


@pytest.fixture(scope="module")
def claims() -> dict[str, dict[str, Any]]:
    return {
        c["id"]: c for c in load_and_validate(REPO / "config" / "claims.yaml", "claims")["claims"]
    }


@pytest.fixture(scope="module")
def agp_bundle(
    imported: Callable[[str], Path],
    datasets_config: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
):
    import_dir = imported("agp_2014")
    table, _, _ = load_imported(import_dir)
    depth = int(datasets_config["agp_2014"].get("rarefaction_depth") or 1000)
    kept, means, _ = repeated_rarefaction_alpha(table, depth, 3, 7, ["observed", "shannon"])
    div_dir = tmp_path_factory.mktemp("agp_diversity")
    alpha = pd.DataFrame(
        {
            "sample_id": table.sample_ids[kept],
            "observed_mean": means["observed"],
            "shannon_mean": means["shannon"],
        }
    )
    alpha.to_csv(div_dir / "alpha.tsv", sep="\t", index=False)
    (div_dir / "diversity.json").write_text(
        json.dumps({"depth": depth, "iterations": 3, "values": "counts", "rarefied": True})
    )
    return load_bundle("agp_2014", import_dir, div_dir)


def _run(cid: str, claims: dict, bundle, tmp_path: Path) -> tuple[dict, dict]:
    claim = claims[cid]
    result = run_claim(claim, {"agp_2014": bundle}, CONFIG, tmp_path / cid).to_dict()
    entry = build_ledger([claim], {cid: result}, CONFIG)[0]
    return result, entry


def test_c3_ibd_and_skin_conditions(claims: dict, agp_bundle, tmp_path: Path) -> None:
    res, entry = _run("C3", claims, agp_bundle, tmp_path)
    assert res["data_problem"] is None
    assert entry["verdict"] in VERDICTS and entry["verdict"] != "not_testable"
    # participants (one row each) with a known skin condition, IBD answer, age, sex and BMI: at most the
    # 1,962 samples of the file, at least most of the 1,569 fecal ones
    assert 1000 <= res["n"] <= 1962
    # IBD: 52 + 36 = 88 samples in the file, some participants sampled twice or missing covariates
    assert 40 <= res["n_groups"]["IBD (ulcerative colitis or Crohn's disease)"] <= 88
    # skin conditions among fecal samples: 153 + 84 + 54 = 291; all sites add a few more
    assert 200 <= res["n_groups"]["skin condition (eczema/rosacea/psoriasis)"] <= 364
    assert 0.1 < res["headline"]["odds_ratio"] < 10
    assert any(t["name"].startswith("psoriasis ~ IBD") for t in res["tests"])


def test_c25_plant_types(claims: dict, agp_bundle, tmp_path: Path) -> None:
    res, entry = _run("C25", claims, agp_bundle, tmp_path)
    assert res["data_problem"] is None
    assert entry["verdict"] in VERDICTS and entry["verdict"] != "not_testable"
    # one fecal sample per subject with complete covariates: fewer than the 1,569 fecal samples
    assert 900 <= res["n"] <= 1569
    assert set(res["n_groups"]) == {
        "Less than 5",
        "6 to 10",
        "11 to 20",
        "21 to 30",
        "More than 30",
    }
    assert res["n_groups"]["Less than 5"] >= 40
    # R1: more than 30 vs fewer than 5 plant types raises diversity (+0.85 Faith PD, p = 0.017)
    assert res["headline"]["estimate"] > 0
    assert any(t["name"].startswith("R1 reproduction") for t in res["tests"])


def test_c32_sleep(claims: dict, agp_bundle, tmp_path: Path) -> None:
    res, entry = _run("C32", claims, agp_bundle, tmp_path)
    assert res["data_problem"] is None
    assert entry["verdict"] in VERDICTS and entry["verdict"] != "not_testable"
    assert 900 <= res["n"] <= 1569
    # "Less than 5 hours" (14 samples) is merged with "5-6 hours" (158) as pre-registered
    assert list(res["n_groups"]) == [
        "Less than 6 hours",
        "6-7 hours",
        "7-8 hours",
        "8 or more hours",
    ]
    assert 50 <= res["n_groups"]["Less than 6 hours"] <= 172


# ---------------------------------------------------------------------------------------------------------
# longitudinal_mixed on the repeated-measures datasets (DATASETS.md §5 and §6)
# ---------------------------------------------------------------------------------------------------------
#: Claim parameters as proposed for config/claims.yaml; the registered claim is used when it exists.
LONGITUDINAL = {
    "C18b": (
        "ad_skin_khadka2021",
        "negative",
        {
            "design": "group",
            "metric": "shannon",
            "body_site": "skin",
            "subsites": ["forearm", "antecubital_fold", "popliteal_fold"],
            "group": {"column": "condition", "reference": "none", "levels": ["atopic_dermatitis"]},
            "covariates": ["body_subsite"],
            "min_subjects": 5,
        },
    ),
    "C20": (
        "hitchip_peerj32",
        "positive",
        {
            "design": "group_by_time",
            "metric": "shannon",
            "body_site": "gut",
            "group": {"column": "treatment_group", "reference": "placebo", "levels": ["lgg"]},
            "time": {"column": "visit", "baseline": [1], "followup": [2]},
            "min_subjects": 5,
        },
    ),
    "C25b": (
        "hitchip_dietswap",
        "positive",
        {
            "design": "group_by_time",
            "metric": "shannon",
            "body_site": "gut",
            "group": {
                "column": "nationality",
                "reference": "rural_african",
                "levels": ["african_american"],
            },
            "time": {"column": "diet_group", "baseline": ["HE"], "followup": ["DI"]},
            "min_subjects": 5,
        },
    ),
}


def _longitudinal_claim(cid: str, claims: dict) -> dict[str, Any]:
    if cid in claims:
        return claims[cid]
    ds, direction, params = LONGITUDINAL[cid]
    return {
        "id": cid,
        "title": cid,
        "quote": "q",
        "claim_type": "causal",
        "testable": "proxy",
        "hypothesis": "h",
        "analysis": "longitudinal_mixed",
        "datasets": [ds],
        "params": params,
        "sesoi": {"value": 0.2, "scale": "hedges_g"},
        "expected_direction": direction,
    }


@pytest.fixture(scope="module")
def diversity_of(
    imported: Callable[[str], Path],
    datasets_config: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Any]:
    from gutskin.diversity.pipeline import run_diversity

    done: dict[str, Any] = {}

    def get(name: str):
        if name not in datasets_config:
            pytest.skip(f"{name} is not in config/datasets.yaml yet")
        if name not in done:
            import_dir = imported(name)
            table, _, info = load_imported(import_dir)
            div_dir = tmp_path_factory.mktemp(f"div_{name}")
            depth = int(datasets_config[name].get("rarefaction_depth") or 1000)
            if (info.get("values") or "counts") == "counts":
                # alpha only (quick): the claims need no beta diversity
                kept, means, _ = repeated_rarefaction_alpha(
                    table, depth, 3, 7, ["observed", "shannon"]
                )
                pd.DataFrame(
                    {
                        "sample_id": table.sample_ids[kept],
                        "observed_mean": means["observed"],
                        "shannon_mean": means["shannon"],
                    }
                ).to_csv(div_dir / "alpha.tsv", sep="\t", index=False)
                summary = {"depth": depth, "iterations": 3, "values": "counts", "rarefied": True}
            else:  # microarray signal: the pipeline's own (unrarefied) route
                summary = run_diversity(
                    table,
                    depth=depth,
                    iterations=3,
                    beta_iterations=1,
                    seed=7,
                    alpha_metrics=["observed", "shannon"],
                    beta_metrics=["braycurtis"],
                    pcoa_dimensions=2,
                    out_dir=div_dir,
                )
            (div_dir / "diversity.json").write_text(json.dumps(summary, default=str))
            done[name] = load_bundle(name, import_dir, div_dir)
        return done[name]

    return get


@pytest.mark.parametrize(
    ("cid", "total", "smallest_group"),
    [
        # DATASETS.md §5: 41 subjects (28 AD + 13 controls in the file); skin sites of every subject
        ("C18b", (35, 41), 10),
        # DATASETS.md §6: peerj32 22 subjects × 2 time points, LGG 8 / placebo 14
        ("C20", (22, 22), 8),
        # DATASETS.md §6: dietswap 38 subjects, each in the home-diet and the intervention period
        ("C25b", (36, 38), 15),
    ],
)
def test_longitudinal_claims_on_real_repeated_measures(
    cid: str,
    total: tuple[int, int],
    smallest_group: int,
    claims: dict,
    diversity_of,
    tmp_path: Path,
) -> None:
    claim = _longitudinal_claim(cid, claims)
    ds = claim["datasets"][0]
    bundle = diversity_of(ds)
    res = run_claim(claim, {ds: bundle}, CONFIG, tmp_path / cid).to_dict()
    entry = build_ledger([claim], {cid: res}, CONFIG)[0]
    assert res["data_problem"] is None
    assert entry["verdict"] in VERDICTS and entry["verdict"] != "not_testable"
    n_subjects = sum(res["n_groups"].values())
    assert total[0] <= n_subjects <= total[1]
    assert min(res["n_groups"].values()) >= smallest_group
    assert res["headline"]["n_subjects"] == n_subjects
    if bundle.diversity_info.get("values") == "signal":
        assert any("microarray" in n for n in res["notes"])
