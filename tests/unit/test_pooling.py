"""Claims as evidence syntheses: per-cohort results pooled by random effects (gutskin.claims.pooling)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gutskin.claims import contract
from gutskin.claims.pooling import cohort_claim, cohort_result, pool
from gutskin.claims.selection import declared_entry, resolve, select
from gutskin.diversity.registry import metric_names
from gutskin.stats.meta import random_effects
from tests.support.claims import claim_entry

CLAIM = {
    "id": "CX",
    "analysis": "alpha_condition",
    "datasets": ["a", "b", "c"],
    "sesoi": {"value": 0.2, "scale": "hedges_g"},
    "expected_direction": "negative",
    "params": {"body_site": "gut"},
}
CONFIG = {"alpha": 0.05, "meta": {"method": "REML", "hksj_below_k": 10}}
#: The parameters of a gut psoriasis-vs-none alpha claim whose datasets are chosen by ``datasets: auto``.
GUT_PSORIASIS = {
    "body_site": "gut",
    "exposure": "condition",
    "reference": "none",
    "levels": ["psoriasis"],
}


def _cohort(ds: str, g: float, se: float, n: int = 100) -> dict:
    runner = {
        "id": "CX",
        "data_problem": None,
        "headline": {
            "estimate": g * 2,
            "ci_low": (g - 1.96 * se) * 2,
            "ci_high": (g + 1.96 * se) * 2,
            "p_value": 0.04,
            "effect_size": g,
            "effect_size_ci": [g - 1.96 * se, g + 1.96 * se],
            "effect_size_ci90": [g - 1.645 * se, g + 1.645 * se],
            "tost_p": 0.3,
            "power": 0.5,
            "n": n,
            "resid_sd": 0.5,
        },
        "estimate_label": "Adjusted difference",
        "effect_size_label": "Hedges g (adjusted)",
        "method": f"OLS in {ds}",
        "covariates": ["age"],
        "n": n,
        "n_groups": {"psoriasis": 10, "none": n - 10},
        "tests": [{"name": "any vs none", "role": "primary", "effect_size": g, "p_value": 0.04}],
        "sensitivity_agrees": True,
        "sensitivity_note": "Huber agrees",
        "sensitivity_analyses": [{"name": "Huber", "agrees": True, "note": "Huber agrees"}],
        "positive_control_ok": None,
        "figures": [],
        "tables": [],
        "notes": [f"note of {ds}"],
        "sample_flow": [{"step": "all", "n": n}],
        "se": se,
        "scale": "hedges_g",
    }
    return cohort_result(runner, ds)


def test_cohort_claim_is_restricted_to_its_dataset() -> None:
    c = cohort_claim(CLAIM, "b")
    assert c["datasets"] == ["b"] and c["params"] == CLAIM["params"]
    assert CLAIM["datasets"] == ["a", "b", "c"]  # the claim itself is not changed


def test_cohort_result_has_contract_fields() -> None:
    c = _cohort("a", -0.3, 0.1)
    assert (c["dataset"], c["se"], c["scale"]) == ("a", 0.1, "hedges_g")
    contract.validate(c, "CohortResult")


def test_cohort_se_from_ci_when_the_runner_gives_none() -> None:
    runner = {
        "id": "CX",
        "headline": {
            "effect_size": 0.5,
            "effect_size_ci": [0.5 - 1.959963984540054 * 0.2, 0.5 + 1.959963984540054 * 0.2],
        },
        "notes": [],
    }
    c = cohort_result(runner, "a")
    assert c["se"] == pytest.approx(0.2, rel=1e-12) and c["scale"] is None
    assert "normal approximation" in c["notes"][-1]


def test_k1_is_exactly_the_single_cohort(tmp_path: Path) -> None:
    one = _cohort("a", -0.3, 0.1)
    res = pool({**CLAIM, "datasets": ["a"]}, {"a": copy.deepcopy(one)}, CONFIG, tmp_path, [])
    assert res["k"] == 1 and res["pooling"] is None
    for key, value in one.items():
        if key not in ("dataset", "se"):
            assert res[key] == value, key
    assert res["cohorts"] == [
        {
            "dataset": "a",
            "n": 100,
            "estimate": -0.3,
            "se": 0.1,
            "ci": one["headline"]["effect_size_ci"],
            "weight": 1.0,
            "p_value": 0.04,
            "status": "analysed",
            "reason": None,
        }
    ]
    assert not list(tmp_path.iterdir())  # no forest plot for one cohort
    contract.validate(res, "PooledResult")


@pytest.mark.parametrize("below", [0, 10])
def test_k2_pools_by_reml_with_hksj_or_normal_ci(tmp_path: Path, below: int) -> None:
    cs = {"a": _cohort("a", -0.35, 0.08, 400), "b": _cohort("b", 0.05, 0.2, 100)}
    res = pool(
        {**CLAIM, "datasets": ["a", "b"]},
        cs,
        {"alpha": 0.05, "meta": {"hksj_below_k": below}},
        tmp_path,
        [],
    )
    ref = random_effects([-0.35, 0.05], [0.08, 0.2], ci_method="hksj" if below else "normal")
    h = res["headline"]
    assert (
        res["k"] == 2 and h["effect_size"] == ref.estimate and h["effect_size_ci"] == list(ref.ci95)
    )
    assert h["p_value"] == ref.p_value and h["n"] == 500
    assert res["pooling"]["ci_method"] == ("hksj" if below else "normal")
    assert res["pooling"]["prediction_interval"] is None  # k < 3
    assert sum(r["weight"] for r in res["cohorts"]) == pytest.approx(1.0)
    assert [t["role"] for t in res["tests"]].count("primary") == 1
    names = [s["name"] for s in res["sensitivity_analyses"]]
    assert "leave-one-cohort-out: without a" in names and "leave-one-cohort-out: without b" in names
    for s in res["sensitivity_analyses"]:
        assert s["outcome"] in ("agrees", "disagrees", "uninformative")
    assert "2 cohorts" in res["method"] and "2 cohorts" in res["effect_size_label"]
    assert (tmp_path / "forest.svg").exists() and res["figures"][0]["path"].endswith("forest.svg")
    contract.validate(res, "PooledResult")


def test_k3_has_a_prediction_interval_and_texts_follow_k(tmp_path: Path) -> None:
    cs = {
        d: _cohort(d, g, s) for d, g, s in [("a", -0.4, 0.1), ("b", -0.1, 0.12), ("c", -0.3, 0.15)]
    }
    res = pool(CLAIM, cs, CONFIG, tmp_path, [])
    ref = random_effects([-0.4, -0.1, -0.3], [0.1, 0.12, 0.15], ci_method="hksj")
    assert res["pooling"]["prediction_interval"] == pytest.approx(list(ref.pi95))
    assert "3 cohorts" in res["method"] and "3 cohorts" in res["figures"][0]["caption"]
    assert "prediction interval" in res["figures"][0]["caption"]


def test_failed_cohort_is_a_row_not_a_weight(tmp_path: Path) -> None:
    bad = {"id": "CX", "data_problem": "too few samples", "headline": {}, "n": 5}
    cs = {"a": _cohort("a", -0.4, 0.1), "b": _cohort("b", -0.2, 0.1), "c": cohort_result(bad, "c")}
    res = pool(CLAIM, cs, CONFIG, tmp_path, [])
    assert res["k"] == 2
    row = next(r for r in res["cohorts"] if r["dataset"] == "c")
    assert (
        row["status"] == "failed" and row["reason"] == "too few samples" and row["weight"] is None
    )


def test_datasets_auto_selects_from_declared_columns() -> None:
    blocks = {
        "x": {
            "samples": {
                "columns": {
                    "body_site": {"map": {"F": "gut"}},
                    "condition": {"map": {"P": "psoriasis", "N": "none"}},
                }
            }
        },
        "y": {
            "samples": {
                "columns": {
                    "body_site": {"map": {"S": "skin"}},
                    "condition": {"map": {"P": "psoriasis", "N": "none"}},
                }
            }
        },
        "z": {"samples": {"columns": {"body_site": {"map": {"F": "gut"}}}}},
    }
    claim = {"id": "CX", "analysis": "alpha_condition", "datasets": "auto", "params": GUT_PSORIASIS}
    used, rows = select(claim, blocks)
    assert used == ["x"]
    why = {r["dataset"]: r["reason"] for r in rows}
    assert "gut" in why["y"] and "condition" in why["z"]
    assert declared_entry(blocks["x"])["body_sites"] == ["gut"]


def test_check_claims_with_datasets_auto_checks_the_selected_datasets(tmp_path: Path) -> None:
    """``check_claims`` reads ``datasets: auto`` as the datasets selected for the claim (it used to iterate
    the word's letters, so a covariate declared by a selected dataset was refused as unknown)."""
    import yaml

    from gutskin.config import check_claims, load_and_validate
    from gutskin.errors import ConfigError

    gut = {
        "body_site": {"map": {"F": "gut"}},
        "condition": {"map": {"P": "psoriasis", "N": "none"}},
    }
    blocks = {
        "x": {"samples": {"columns": {**gut, "diet_score": {"from": "DIET"}}}},
        "y": {"samples": {"columns": {"body_site": {"map": {"S": "skin"}}}}},
    }
    claim = claim_entry(
        "C99",
        datasets="auto",
        params={**GUT_PSORIASIS, "covariates": ["age", "diet_score"]},
        expected_direction="negative",
    )
    p = tmp_path / "claims.yaml"
    p.write_text(yaml.safe_dump({"claims": [claim]}))
    claims = load_and_validate(p, "claims")["claims"]
    by_claim, _ = resolve(claims, blocks)
    assert by_claim == {"C99": ["x"]}
    check_claims(
        claims, blocks, metrics=metric_names(), claim_datasets=by_claim
    )  # diet_score is x's column
    check_claims(
        claims, blocks, metrics=metric_names()
    )  # without the selection: any configured dataset may be chosen
    with pytest.raises(ConfigError, match=r"datasets: auto, selected: y\)") as err:
        check_claims(claims, blocks, metrics=metric_names(), claim_datasets={"C99": ["y"]})
    assert "claims/C99/params/covariates" in str(err.value)


def test_ledger_texts_follow_k() -> None:
    from gutskin.claims.ledger import fill_texts, pooling_caveats

    for k, want in [(1, "over 1 cohort"), (2, "over 2 cohorts"), (5, "over 5 cohorts")]:
        e = {"title": "Psoriasis, pooled over {k} cohorts", "caveats": ["{k} cohorts differ"]}
        fill_texts(e, k)
        assert e["title"].endswith(want) and e["caveats"][0].startswith(str(k))
    two = {"k": 2, "cohorts": [{"dataset": "x", "status": "failed", "reason": "no gut"}]}
    cav = pooling_caveats(two)
    assert cav[0].startswith("Only 2 cohorts") and "x (no gut)" in cav[1]
    assert pooling_caveats({"k": 3, "cohorts": []}) == []


def _with_sens(c: dict, g: float, se: float) -> dict:
    c = copy.deepcopy(c)
    c["sensitivity_analyses"] = [
        {
            "name": "minimal covariates",
            "agrees": True,
            "note": "",
            "estimate": g,
            "ci": [g - 1.959963984540054 * se, g + 1.959963984540054 * se],
            "ci90": None,
            "p_value": 0.01,
            "scale": "effect_size",
        },
        {
            "name": "Huber",
            "agrees": True,
            "note": "",
            "estimate": -0.1,
            "ci": None,
            "ci90": None,
            "p_value": 0.01,
            "scale": "natural",
        },
    ]
    return c


def test_cohort_sensitivity_analyses_are_pooled_like_the_headline(tmp_path: Path) -> None:
    cs = {
        "a": _with_sens(_cohort("a", -0.4, 0.1), -0.35, 0.1),
        "b": _with_sens(_cohort("b", -0.3, 0.1), -0.2, 0.2),
    }
    res = pool({**CLAIM, "datasets": ["a", "b"]}, cs, CONFIG, tmp_path, [])
    e = next(x for x in res["sensitivity_analyses"] if x["name"] == "minimal covariates (pooled)")
    ref = random_effects([-0.35, -0.2], [0.1, 0.2], ci_method="hksj")
    assert e["estimate"] == pytest.approx(ref.estimate) and e["ci"] == pytest.approx(list(ref.ci95))
    assert e["kind"] == "pooled_cohort_analysis"
    assert not any(
        x["name"].startswith("Huber") for x in res["sensitivity_analyses"]
    )  # natural units


def test_cohort_claim_keeps_only_its_own_per_dataset_overrides() -> None:
    from gutskin.errors import ConfigError

    claim = {
        **CLAIM,
        "params": {
            "covariates": ["age", "sex"],
            "strata": "run",
            "per_dataset": {"b": {"covariates": ["age"], "strata": None}},
        },
    }
    assert cohort_claim(claim, "b")["params"] == {"covariates": ["age"], "strata": None}
    assert cohort_claim(claim, "a")["params"] == {"covariates": ["age", "sex"], "strata": "run"}
    bad = {**CLAIM, "params": {"per_dataset": {"typo": {}}}}
    with pytest.raises(ConfigError, match="per_dataset/typo"):
        cohort_claim(bad, "a")


def test_claims_schema_accepts_auto_and_rejects_other_words(tmp_path: Path) -> None:
    import yaml

    from gutskin.config import load_and_validate
    from gutskin.errors import ConfigError

    base = claim_entry("C99", expected_direction="negative")
    p = tmp_path / "claims.yaml"
    p.write_text(yaml.safe_dump({"claims": [{**base, "datasets": "auto"}]}))
    assert load_and_validate(p, "claims")["claims"][0]["datasets"] == "auto"
    p.write_text(yaml.safe_dump({"claims": [{**base, "datasets": "all"}]}))
    with pytest.raises(ConfigError, match="datasets"):
        load_and_validate(p, "claims")


@pytest.mark.parametrize("cid", ["C8b", "C9", "C18b", "C20b", "C26"])
def test_auto_selects_the_configured_cohorts_of_the_repository(cid: str) -> None:
    """``datasets: auto`` on the repository's configuration picks exactly the cohorts each pooled claim
    lists (the declared columns, subsites, condition and group levels decide; per_dataset overrides apply)."""
    from gutskin.config import load_and_validate

    repo = Path(__file__).resolve().parents[2]
    ds = load_and_validate(repo / "config" / "datasets.yaml", "datasets")["datasets"]
    claims = {
        c["id"]: c for c in load_and_validate(repo / "config" / "claims.yaml", "claims")["claims"]
    }
    claim = claims[cid]
    used, rows = select({**claim, "datasets": "auto"}, ds)
    assert used == claim["datasets"]
    assert {r["dataset"] for r in rows} == set(ds) and all(r["reason"] for r in rows)


def test_ledger_entry_carries_the_synthesis_and_its_caveats(tmp_path: Path) -> None:
    from gutskin.claims.ledger import build_ledger

    cs = {"a": _cohort("a", -0.35, 0.08, 400), "b": _cohort("b", 0.05, 0.2, 100)}
    claim = {**CLAIM, "datasets": ["a", "b"], "title": "pooled over {k} cohorts", "caveats": []}
    res = pool(claim, cs, CONFIG, tmp_path, [{"dataset": "a", "used": True, "reason": "listed"}])
    entry = build_ledger([claim], {"CX": res}, CONFIG)[0]
    assert (
        entry["k"] == 2 and entry["pooling"]["ci_method"] == "hksj" and len(entry["cohorts"]) == 2
    )
    assert entry["title"] == "pooled over 2 cohorts"
    assert entry["caveats"][0].startswith("Only 2 cohorts")
    assert entry["dataset_selection"] == [{"dataset": "a", "used": True, "reason": "listed"}]
    contract.validate_ledger([entry])


def test_power_follows_the_ci_method(tmp_path: Path) -> None:
    """Normal CI: the z-test's power; Hartung–Knapp: the t-test's on k − 1 df, by hand with scipy.
    A claim registered two-sided gets two tails at α/2."""
    from scipy import stats

    cs = {"a": _cohort("a", -0.35, 0.08, 400), "b": _cohort("b", -0.3, 0.1, 100)}
    claim = {**CLAIM, "datasets": ["a", "b"], "sided": "two"}
    normal = pool(claim, cs, {"alpha": 0.05, "meta": {"hksj_below_k": 0}}, tmp_path / "n", [])
    m = random_effects([-0.35, -0.3], [0.08, 0.1])
    z = stats.norm.ppf(0.975)
    assert normal["headline"]["power"] == pytest.approx(
        stats.norm.cdf(0.2 / m.se - z) + stats.norm.cdf(-0.2 / m.se - z)
    )
    hk = pool(claim, cs, CONFIG, tmp_path / "h", [])
    mh = random_effects([-0.35, -0.3], [0.08, 0.1], ci_method="hksj")
    t = stats.t.ppf(0.975, 1)
    assert hk["headline"]["power"] == pytest.approx(
        stats.t.cdf(0.2 / mh.se - t, 1) + stats.t.cdf(-0.2 / mh.se - t, 1)
    )


def test_hksj_with_two_cohorts_says_plainly_why_power_is_low(tmp_path: Path) -> None:
    """k = 2 under Hartung–Knapp: t on 1 df (one-sided critical value 6.3) leaves almost no power even for two
    large, precise cohorts; the ledger's reason says so in words beside the number. Two cohorts with
    the normal CI, or three under HKSJ at adequate power, carry no such note."""
    from gutskin.claims.ledger import build_ledger

    # two precise, non-significant cohorts (estimates either side of 0): HKSJ interval very wide
    cs = {"a": _cohort("a", 0.05, 0.03, 4000), "b": _cohort("b", -0.05, 0.03, 4000)}
    claim = {**CLAIM, "datasets": ["a", "b"], "caveats": []}
    res = pool(claim, cs, CONFIG, tmp_path / "h", [])
    # HKSJ se 0.05 here; the claim is directional, so one-sided: 0.2 / se = 4 against t(0.95, 1) = 6.31
    from scipy import stats

    assert res["headline"]["power"] == pytest.approx(stats.t.cdf(4 - stats.t.ppf(0.95, 1), 1))
    assert res["headline"]["power"] < 0.15
    note = res["headline"]["power_note"]
    assert note.startswith("k = 2:") and "almost no power" in note and "more cohorts" in note
    entry = build_ledger([claim], {"CX": res}, CONFIG)[0]
    assert entry["verdict"] == "inconclusive"
    assert (
        f"power {res['headline']['power']:.2f} at the SESOI (target 0.80; {note})"
        in entry["reason"]
    )
    contract.validate_ledger([entry])
    normal = pool(claim, cs, {"alpha": 0.05, "meta": {"hksj_below_k": 0}}, tmp_path / "n", [])
    assert "power_note" not in normal["headline"]


def test_power_of_a_directional_claim_is_one_sided(tmp_path: Path) -> None:
    """A directional claim is tested one-sided (claims/register.py), so its pooled power is one tail at α
    in the claimed direction: Φ(SESOI/se − z_{0.95}), or t on k − 1 df with Hartung–Knapp."""
    from scipy import stats

    cs = {"a": _cohort("a", -0.35, 0.08, 400), "b": _cohort("b", -0.3, 0.1, 100)}
    claim = {**CLAIM, "datasets": ["a", "b"]}  # expected_direction: negative
    normal = pool(claim, cs, {"alpha": 0.05, "meta": {"hksj_below_k": 0}}, tmp_path / "n", [])
    m = random_effects([-0.35, -0.3], [0.08, 0.1])
    assert normal["headline"]["power"] == pytest.approx(
        stats.norm.cdf(0.2 / m.se - stats.norm.ppf(0.95))
    )
    hk = pool(claim, cs, CONFIG, tmp_path / "h", [])
    mh = random_effects([-0.35, -0.3], [0.08, 0.1], ci_method="hksj")
    assert hk["headline"]["power"] == pytest.approx(
        stats.t.cdf(0.2 / mh.se - stats.t.ppf(0.95, 1), 1)
    )


def test_no_cohort_could_be_had_is_data_unavailable_not_inconclusive(tmp_path: Path) -> None:
    """A pooled claim none of whose datasets could be had is "data unavailable", as a one-dataset claim
    is; one cohort failing for another reason keeps it a data problem (inconclusive)."""
    from gutskin.claims.ledger import is_data_unavailable

    def gone(ds: str) -> dict:
        problem = f"dataset {ds} unavailable: no mirror has the file"
        return cohort_result({"id": "CX", "data_problem": problem, "headline": {}}, ds)

    res = pool(CLAIM, {ds: gone(ds) for ds in ("a", "b", "c")}, CONFIG, tmp_path, [])
    assert res["k"] == 0 and is_data_unavailable(res["data_problem"])
    few = cohort_result({"id": "CX", "data_problem": "too few samples", "headline": {}}, "c")
    res = pool(CLAIM, {"a": gone("a"), "b": gone("b"), "c": few}, CONFIG, tmp_path, [])
    assert res["k"] == 0 and not is_data_unavailable(res["data_problem"])
