"""The claims ledger: Holm across the primary tests, then the verdict rubric, in one place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._atomic import atomic_path
from ..stats import multiple, verdict
from .common import clean

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


def robustness(result: dict[str, Any]) -> str | None:
    """The robustness score of a runner result: how many sensitivity analyses agree, and which do not.

    ``"3/3 agree"``, ``"2/3 agree (disagrees: minimal covariates)"``; None when no sensitivity analysis
    could be judged. A result without the list of analyses (a runner that only sets
    ``sensitivity_agrees``) gives ``"agrees"`` or ``"disagrees"``.
    """
    outs = [o for o in result.get("sensitivity_analyses") or [] if o.get("agrees") is not None]
    if not outs:
        agrees = result.get("sensitivity_agrees")
        return None if agrees is None else ("agrees" if agrees else "disagrees")
    bad = [str(o.get("name")) for o in outs if o["agrees"] is False]
    text = f"{len(outs) - len(bad)}/{len(outs)} agree"
    if bad:
        text += f" ({'disagrees' if len(bad) == 1 else 'disagree'}: {', '.join(bad)})"
    return text


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


def build_ledger(
    claims: list[dict[str, Any]], results: dict[str, dict[str, Any]], config: dict[str, Any]
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
    """
    alpha = float(config.get("alpha", 0.05))
    power_target = float(config.get("power_target", 0.8))

    # Holm across the headline tests of primary claims that produced a p-value.
    family = [
        c["id"]
        for c in claims
        if c.get("primary")
        and c["id"] in results
        and not results[c["id"]].get("data_problem")
        and results[c["id"]].get("headline", {}).get("p_value") is not None
    ]
    adjusted = dict(
        zip(family, multiple.holm([results[i]["headline"]["p_value"] for i in family]), strict=True)
    )

    ledger = []
    for claim in claims:
        entry = _claim_entry(claim)
        cid = claim["id"]
        if not claim.get("analysis") and claim.get("data_unavailable"):
            # testable in principle, but no configured dataset has the field it needs: inconclusive,
            # never "not testable" (that verdict is for claims microbiome data cannot test at all)
            missing = (claim.get("not_testable_reason") or "").strip() or "not stated"
            v = verdict.Verdict(
                verdict="inconclusive",
                label=verdict.LABELS["inconclusive"],
                reason=f"no dataset has the needed field: {missing.rstrip('.')}.",
            )
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
        ev = verdict.Evidence(
            estimate=h.get("effect_size"),
            ci95=tuple(ci95) if ci95 and None not in ci95 else None,
            ci90=tuple(ci90) if ci90 and None not in ci90 else None,
            p_value=h.get("p_value"),
            p_adjusted=p_adj,
            sesoi=float(claim["sesoi"]["value"]),
            expected_direction=claim.get("expected_direction", "two_sided"),
            power=h.get("power"),
            n=int(h.get("n") or r.get("n") or 0),
            alpha=alpha,
            power_target=power_target,
            sensitivity_agrees=r.get("sensitivity_agrees"),
            sensitivity_note=r.get("sensitivity_note"),
            positive_control_ok=r.get("positive_control_ok"),
            mirror_claim=bool(claim.get("mirror_claim")),
            causal_language=claim.get("claim_type") == "causal",
            data_problem=r.get("data_problem"),
        )
        v = verdict.decide(ev)
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
            p_value=h.get("p_value"),
            p_adjusted=p_adj,
            holm_family=family if cid in adjusted else [],
            tost_p=h.get("tost_p"),
            power=h.get("power"),
            n=h.get("n") or r.get("n"),
            n_groups=r.get("n_groups", {}),
            method=r.get("method", ""),
            covariates=r.get("covariates", []),
            tests=tests,
            figures=r.get("figures", []),
            tables=r.get("tables", []),
            sample_flow=r.get("sample_flow", []),
            notes=r.get("notes", []),
            sensitivity=r.get("sensitivity_note"),
            sensitivity_analyses=list(r.get("sensitivity_analyses") or []),
            robustness=robustness(r),
            data_problem=r.get("data_problem"),
        )
        entry["caveats"] = [*entry["caveats"], CAUSAL_CAVEAT]
        ledger.append(clean(entry))
    return ledger


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
