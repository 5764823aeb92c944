"""The claims ledger: Holm across the primary tests, then the verdict rubric, in one place."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

from .._atomic import atomic_path
from ..stats import multiple, verdict
from ..verdict_words import is_data_unavailable
from .common import clean
from .register import claim_sided, one_sided_p
from .scope import scope_fields

CAUSAL_CAVEAT = (
    "Cross-sectional association only: confounding (diet, BMI, age, antibiotics), reverse causation, "
    "selection of volunteers, self-reported conditions and batch effects can all produce or hide it."
)


_NUMERIC_FIELDS = (
    "estimate",
    "ci_low",
    "ci_high",
    "effect_size",
    "effect_size_ci",
    "p_value",
    "p_adjusted",
    "tost_p",
    "power",
    "n",
)


def robustness(result: dict[str, Any], verdict_word: str | None = None) -> str | None:
    """The robustness score of judged sensitivity analyses: how many agree with the verdict, which do
    not, and how many could not disagree.

    ``"3/3 agree"``, ``"2/3 agree (disagrees: minimal covariates)"``, ``"1/1 agree; 1 uninformative"``;
    None when no sensitivity analysis was run. Entries are judged by their ``outcome`` (from
    :func:`gutskin.stats.verdict.judge_sensitivity`), else by ``agrees``. A result without the list
    (a runner that only sets ``sensitivity_agrees``) gives ``"agrees"`` or ``"disagrees"``.

    With ``verdict_word``, the primary analysis's own verdict before sensitivity analyses, and one that
    is not decisive (inconclusive), there is no decision for the analyses to confirm: the text says so and how many would be decisive alone,
    instead of counting "disagreements" a reader would take for a fragile result (C26 on the real data:
    the primary is significant alone but not after Holm, and its three analyses, each significant too,
    read "0/3 agree").
    """
    outs = list(result.get("sensitivity_analyses") or [])
    if verdict_word is not None and verdict_word not in verdict.DECISIVE and outs:
        alone = [str(o["verdict"]) for o in outs if o.get("verdict") in verdict.DECISIVE]
        many = "analysis" if len(outs) == 1 else "analyses"
        text = f"not judged: the primary result is not decisive ({len(outs)} {many}"
        if alone:
            kinds = ", ".join(
                f"{n} {verdict.LABELS.get(w, w).lower()}" for w, n in sorted(Counter(alone).items())
            )
            text += f"; decisive alone: {kinds}"
        return text + ")"

    def outcome(o: dict[str, Any]) -> str:
        if o.get("outcome") in verdict.OUTCOMES:
            return str(o["outcome"])
        a = o.get("agrees")
        return "uninformative" if a is None else ("agrees" if a else "disagrees")

    judged = [o for o in outs if outcome(o) != "uninformative"]
    unin = len(outs) - len(judged)
    if not outs:
        agrees = result.get("sensitivity_agrees")
        return None if agrees is None else ("agrees" if agrees else "disagrees")
    if not judged:
        return f"{unin} uninformative"
    bad = [str(o.get("name")) for o in judged if outcome(o) == "disagrees"]
    text = f"{len(judged) - len(bad)}/{len(judged)} agree"
    if bad:
        text += f" ({'disagrees' if len(bad) == 1 else 'disagree'}: {', '.join(bad)})"
    if unin:
        text += f"; {unin} uninformative"
    return text


def verdict_counts(ledger: list[dict[str, Any]]) -> dict[str, int]:
    """Claims per verdict, every word of :data:`gutskin.stats.verdict.VERDICTS` (data unavailable
    apart from inconclusive)."""
    return {k: sum(1 for e in ledger if e.get("verdict") == k) for k in verdict.VERDICTS}


def _claim_entry(claim: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "id",
        "title",
        "quote",
        "location",
        "claim_type",
        "testable",
        "hypothesis",
        "datasets",
        "sesoi",
        "expected_direction",
        "primary",
        "data_unavailable",
        "external_evidence",
    )
    out = {k: claim.get(k) for k in keep if k in claim}
    out["caveats"] = list(claim.get("caveats", []))
    if claim.get("analysis"):
        out["analysis"] = claim["analysis"]
        # the study design, where the runner has one (longitudinal_mixed: group_by_time / group)
        design = (claim.get("params") or {}).get("design")
        if design:
            out["design"] = str(design)
    return out


def simulated_power(
    calibration: dict[str, Any] | None,
    claim_id: str,
    sesoi: float,
    sided: str = "two",
    pooled: bool = False,
) -> tuple[float, str] | None:
    """The calibration's simulated power of ``claim_id``'s primary test at an effect equal to the SESOI,
    with a note; None when the calibration has no such simulation.

    The verdict-level calibration (``verdicts[]``: ``simulated_power``, ``simulated_power_ci``; the claim's
    own analysis and verdict on simulated cohorts, significant in the claimed direction) comes first; else a
    statistic-level test (``tests[].claim``, ``planted[].value``, ``power``, ``power_ci``) sided as the
    claim is (``tests[].sided``; a test without it is two-sided), at a planted effect of ±SESOI.
    A ``pooled`` claim (k > 1 cohorts) takes only a verdict-level simulation of all its cohorts (none of
    its cohorts ``not_simulated``): a single-cohort simulation says nothing about the pooled test's power.
    """
    import math

    for v in (calibration or {}).get("verdicts") or []:
        if v.get("claim") != claim_id or v.get("simulated_power") is None:
            continue
        if not (pooled and v.get("not_simulated")):
            ci = v.get("simulated_power_ci") or [None, None]
            note = (
                "simulated: the claim's own analysis and verdict on "
                f"{v.get('replicates')} simulated cohorts with a true effect at the SESOI"
            )
            if None not in ci:
                note += f"; 95% CI {float(ci[0]):.2f}–{float(ci[1]):.2f}"
            return float(v["simulated_power"]), note
    for t in [] if pooled else (calibration or {}).get("tests") or []:
        if t.get("claim") != claim_id or str(t.get("sided", "two")) != sided:
            continue
        for pl in t.get("planted") or []:
            v, pw = pl.get("value"), pl.get("power")
            if (
                v is not None
                and pw is not None
                and math.isclose(abs(float(v)), sesoi, rel_tol=1e-9)
            ):
                ci = pl.get("power_ci") or [None, None]
                note = f"simulated in the calibration ({t.get('replicates')} replicates"
                if None not in ci:
                    note += f"; 95% CI {float(ci[0]):.2f}–{float(ci[1]):.2f}"
                return float(pw), note + ")"
    return None


def build_ledger(
    claims: list[dict[str, Any]],
    results: dict[str, dict[str, Any]],
    config: dict[str, Any],
    calibration: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Combine the claims registry with runner results into the ledger (one object per claim).

    Parameters
    ----------
    claims
        The ``claims`` list of ``claims.yaml`` (validated).
    results
        Runner results (``ClaimResult.to_dict()``) by claim id; claims without an analysis are absent.
    config
        The validated workflow configuration (``alpha``, ``power_target``).
    calibration
        ``results/calibration.json``, when the workflow made it: where it simulated the claim's power
        at its SESOI (:func:`simulated_power`), that is the power printed and judged (it includes what a
        formula leaves out), ``power_source`` says so and ``power_analytic`` keeps the formula's value;
        otherwise the runner's analytic power (``power_source`` "analytic").
    """
    alpha = float(config.get("alpha", 0.05))
    power_target = float(config.get("power_target", 0.8))
    by_id = {c["id"]: c for c in claims}

    # Holm across the headline tests of primary claims that produced a p-value.
    family = [
        c["id"]
        for c in claims
        if c.get("primary")
        and c["id"] in results
        # a claim whose data could not be analysed has no test to correct for
        and not results[c["id"]].get("data_problem")
        and results[c["id"]].get("headline", {}).get("p_value") is not None
    ]
    adjusted = dict(
        zip(
            family,
            multiple.holm([_test_p(by_id[i], results[i]["headline"]) for i in family]),
            strict=True,
        )
    )

    ledger = []
    for claim in claims:
        entry = _claim_entry(claim)
        cid = claim["id"]
        if not claim.get("analysis") and claim.get("data_unavailable"):
            # testable in principle, but no configured dataset has the field it needs: data unavailable,
            # never "not testable" (that verdict is for claims microbiome data cannot test at all)
            missing = (claim.get("not_testable_reason") or "").strip() or "not stated"
            v = verdict.data_unavailable(f"no dataset has the needed field: {missing.rstrip('.')}")
            entry.update(verdict=v.verdict, verdict_label=v.label, reason=v.reason)
            entry.update(dict.fromkeys(_NUMERIC_FIELDS))
            entry.update(tests=[], figures=[], tables=[], n_groups={}, method="")
            entry.update(data_problem=v.reason, holm_family=[])
            ledger.append(clean(entry))
            continue
        if not claim.get("analysis"):
            v = verdict.not_testable(
                claim.get("not_testable_reason") or "no microbiome measurement can test this claim"
            )
            entry.update(verdict=v.verdict, verdict_label=v.label, reason=v.reason)
            entry.update(dict.fromkeys(_NUMERIC_FIELDS))
            entry.update(tests=[], figures=[], tables=[], n_groups={}, method="")
            ledger.append(clean(entry))
            continue
        r = results.get(cid, {"data_problem": "the analysis produced no result"})
        h = r.get("headline") or {}
        p_adj = adjusted.get(cid)  # None outside the Holm family: the rubric then uses the raw p
        ci95 = h.get("effect_size_ci")
        ci90 = h.get("effect_size_ci90")
        sided = claim_sided(claim)
        p_test = _test_p(claim, h)
        power_analytic = h.get("power")
        power_value = power_analytic
        power_source = "analytic" if power_value is not None else None
        pooled = int(r.get("k") or 1) > 1
        sim = simulated_power(calibration, cid, float(claim["sesoi"]["value"]), sided, pooled)
        if sim is not None:
            power_value, power_source = sim
        ev = verdict.Evidence(
            estimate=h.get("effect_size"),
            ci95=tuple(ci95) if ci95 and None not in ci95 else None,
            ci90=tuple(ci90) if ci90 and None not in ci90 else None,
            p_value=p_test,
            one_sided=sided == "one",
            p_adjusted=p_adj,
            sesoi=float(claim["sesoi"]["value"]),
            expected_direction=claim.get("expected_direction", "two_sided"),
            power=power_value,
            power_note=h.get("power_note") if power_source == "analytic" else None,
            n=int(h.get("n") or r.get("n") or 0),
            alpha=alpha,
            power_target=power_target,
            sensitivity_agrees=r.get("sensitivity_agrees"),
            sensitivity_note=r.get("sensitivity_note"),
            sensitivity=tuple(r.get("sensitivity_analyses") or ()),
            positive_control_ok=r.get("positive_control_ok"),
            mirror_claim=bool(claim.get("mirror_claim")),
            causal_language=claim.get("claim_type") == "causal",
            data_problem=r.get("data_problem"),
            data_unavailable=is_data_unavailable(r.get("data_problem")),
        )
        v = verdict.decide(ev)
        # the primary analysis's own verdict, before any sensitivity analysis could downgrade it: when
        # it is not decisive there is nothing for the sensitivity analyses to confirm
        primary_alone = verdict.decide(
            dataclasses.replace(ev, sensitivity=(), sensitivity_agrees=None)
        ).verdict
        judged = [dict(o) for o in v.sensitivity]
        matched = dict(r["matched"]) if r.get("matched") else None
        if matched is not None:
            m = next((o for o in judged if o.get("kind") == "matched"), None)
            if m is not None:
                matched.update(verdict=m["verdict"], outcome=m["outcome"])
        tests = list(r.get("tests", []))
        for t in tests:
            if t.get("role") == "primary" and cid in adjusted:
                t["p_adjusted"] = adjusted[cid]
        entry.update(
            verdict=v.verdict,
            verdict_label=v.label,
            reason=v.reason,
            estimate=h.get("estimate"),
            ci_low=h.get("ci_low"),
            ci_high=h.get("ci_high"),
            estimate_label=r.get("estimate_label"),
            effect_size=h.get("effect_size"),
            effect_size_ci=ci95,
            effect_size_ci90=ci90,
            effect_size_label=r.get("effect_size_label"),
            p_value=p_test,
            p_two_sided=h.get("p_value") if h.get("sided") != "one" else None,
            sided=sided,
            p_adjusted=p_adj,
            holm_family=family if cid in adjusted else [],
            tost_p=h.get("tost_p"),
            power=power_value,
            power_source=power_source,
            power_analytic=power_analytic,
            n=h.get("n") or r.get("n"),
            n_groups=r.get("n_groups", {}),
            method=_with_sidedness(r.get("method", ""), claim),
            covariates=r.get("covariates", []),
            tests=tests,
            figures=r.get("figures", []),
            tables=r.get("tables", []),
            sample_flow=r.get("sample_flow", []),
            notes=r.get("notes", []),
            sensitivity=verdict.sensitivity_summary(judged) or r.get("sensitivity_note"),
            sensitivity_analyses=judged,
            robustness=robustness({**r, "sensitivity_analyses": judged}, primary_alone),
            population=r.get("population"),
            deviations=list(r.get("deviations") or []),
            matched=matched,
            data_problem=r.get("data_problem"),
        )
        # the evidence synthesis (gutskin.claims.pooling): cohorts, pooling and why each dataset is used
        if "k" in r:
            entry.update(
                k=r.get("k"),
                cohorts=list(r.get("cohorts") or []),
                pooling=r.get("pooling"),
                dataset_selection=list(r.get("dataset_selection") or []),
            )
            if not isinstance(entry.get("datasets"), list):  # datasets: auto
                entry["datasets"] = [
                    d["dataset"] for d in entry["dataset_selection"] if d.get("used")
                ]
            entry["caveats"] = [*pooling_caveats(r), *entry["caveats"]]
        entry["caveats"] = [*entry["caveats"], CAUSAL_CAVEAT]
        fill_texts(entry, r.get("k"))
        entry.update(scope_fields(claim, entry))
        ledger.append(clean(entry))
    return ledger


def fill_texts(entry: dict[str, Any], k: int | None) -> None:
    """Fill ``{k}`` (the number of cohorts pooled) in the claim's title and caveats, in place.

    Nothing that describes the data is written into claims.yaml: a title says "pooled over {k} cohorts".
    """

    def fill(text: str) -> str:
        if k == 1:
            text = text.replace("{k} cohorts", "1 cohort")
        return text.replace("{k}", str(k) if k is not None else "its")

    if isinstance(entry.get("title"), str):
        entry["title"] = fill(entry["title"])
    entry["caveats"] = [fill(c) if isinstance(c, str) else c for c in entry["caveats"]]


def pooling_caveats(result: dict[str, Any]) -> list[str]:
    """Caveats the pooled result itself calls for: few cohorts, cohorts that gave no estimate."""
    out = []
    k = result.get("k") or 0
    failed = [c for c in result.get("cohorts") or [] if c.get("status") == "failed"]
    if k == 2:
        out.append(
            "Only 2 cohorts are pooled: τ² is poorly estimated and there is no prediction interval "
            "(it needs at least 3)."
        )
    if failed and k:
        out.append(
            f"{len(failed)} of {len(failed) + k} cohorts gave no estimate and are not pooled: "
            + "; ".join(f"{c['dataset']} ({c.get('reason')})" for c in failed)
            + "."
        )
    return out


def _with_sidedness(method: str, claim: dict[str, Any]) -> str:
    """The method text with the sidedness of the primary test and the rule that set it."""
    if not method:
        return method
    if claim_sided(claim) == "one":
        why = (
            f"one-sided in the claimed direction ({claim['expected_direction']}): a directional "
            "hypothesis; a contradiction is judged by the two-sided 95% CI"
        )
    elif claim.get("expected_direction") in ("positive", "negative"):
        why = "two-sided, as the register states the alternative"
    else:
        why = "two-sided (the claim states no direction)"
    return f"{method.rstrip()} Primary test {why}."


def _test_p(claim: dict[str, Any], headline: dict[str, Any]) -> float | None:
    """The p-value of the claim's primary test as registered: one-sided in the claimed direction for
    a one-sided claim (:func:`gutskin.claims.register.claim_sided`), from the headline's two-sided p
    unless the headline already says ``"sided": "one"``."""
    p = headline.get("p_value")
    if claim_sided(claim) == "two" or headline.get("sided") == "one":
        return p
    return one_sided_p(p, headline.get("effect_size"), claim["expected_direction"])


def write_json(obj: Any, path: Path) -> None:
    """Write JSON atomically (temp file in the same directory, then rename)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:  # mode 0666 & ~umask
        json.dump(obj, fh, indent=2, ensure_ascii=False, allow_nan=False)
        fh.write("\n")


LEDGER_COLUMNS = (
    "id",
    "title",
    "verdict",
    "reason",
    "estimate",
    "ci_low",
    "ci_high",
    "effect_size",
    "p_value",
    "p_adjusted",
    "tost_p",
    "power",
    "n",
    "datasets",
)


def write_tsv(ledger: list[dict[str, Any]], path: Path) -> None:
    """The ledger as a flat TSV (one row per claim), written atomically."""
    import pandas as pd

    rows = []
    for e in ledger:
        row = {k: e.get(k) for k in LEDGER_COLUMNS}
        row["datasets"] = ",".join(e.get("datasets") or [])
        rows.append(row)
    with atomic_path(path) as tmp:  # mode 0666 & ~umask
        pd.DataFrame(rows, columns=list(LEDGER_COLUMNS)).to_csv(tmp, sep="\t", index=False)
