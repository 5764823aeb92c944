"""A claim as an evidence synthesis: one result per cohort, then random-effects pooling.

:func:`cohort_result` turns a runner's result on one dataset into the per-cohort result of the contract
(``dataset``, ``se``, ``scale``); :func:`pool` combines the cohorts of a claim into its result:

* ``k`` cohorts with an estimate. ``k == 0``: no estimate, ``data_problem`` says why for each cohort.
  ``k == 1``: the claim's result *is* that cohort's (every field the same), plus ``k``, ``cohorts``,
  ``dataset_selection`` and ``pooling: null``.
* ``k ≥ 2``: the random-effects pooled estimate on the claim's common scale (:mod:`gutskin.stats.meta`;
  REML τ²; the Hartung–Knapp–Sidik–Jonkman CI when ``k`` is below ``meta.hksj_below_k`` of the
  configuration, else the normal CI), I², Q, the 95 % prediction interval when ``k ≥ 3``, the pooled
  sensitivity analyses of :mod:`gutskin.claims.sensitivity` (leave-one-cohort-out …), one row per cohort
  with its weight, and a forest plot. Mantel r is pooled as Fisher z and shown back-transformed.

Only per-cohort effect sizes are pooled, never raw features across studies.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..stats import equivalence, meta, verdict
from ..stats._util import StatsInputError
from ..verdict_words import is_data_unavailable
from . import sensitivity
from .common import clean
from .entries import summarise_sensitivity
from .register import power_alternative

__all__ = ["DEFAULT_HKSJ_BELOW_K", "SCALE_WORDS", "cohort_claim", "cohort_result", "pool"]

#: HKSJ CI for fewer cohorts than this (the default of ``meta.hksj_below_k``).
DEFAULT_HKSJ_BELOW_K = 10

#: Words for each effect scale (labels and method text).
SCALE_WORDS = {
    "hedges_g": "Hedges g",
    "fisher_z": "Mantel r (pooled as Fisher z)",
    "log_odds_ratio": "log odds ratio",
    "standardised_difference": "standardised difference",
    "log_fold_change": "log fold change",
}

_Z975 = 1.959963984540054


def cohort_claim(claim: dict[str, Any], dataset: str) -> dict[str, Any]:
    """``claim`` restricted to one dataset, as its per-cohort job runs it.

    ``params.per_dataset[dataset]`` (overrides for this dataset) is merged into the parameters and
    ``per_dataset`` removed, for every runner. The pooling over cohorts is done by :func:`pool`.
    """
    out = copy.deepcopy(claim)
    out["datasets"] = [dataset]
    params = out.get("params") or {}
    per = params.get("per_dataset")
    if isinstance(per, dict):
        listed = claim.get("datasets")
        unknown = [ds for ds in per if isinstance(listed, list) and ds not in listed]
        if unknown:
            raise ConfigError(
                "config/claims.yaml",
                f"per_dataset names {unknown[0]!r}, which is not one of the claim's datasets {listed}",
                where=f"claims/{claim['id']}/params/per_dataset/{unknown[0]}",
                hint="fix the dataset name or add the dataset to the claim's datasets",
            )
        # the cohort job runs with its own dataset's overrides applied to the claim's parameters, so
        # every runner honours per_dataset (alpha_condition's own handling gives the same settings)
        params.pop("per_dataset")
        params.update(per.get(dataset) or {})
    return out


def primary_verdict(
    headline: dict[str, Any], claim: dict[str, Any], config: dict[str, Any]
) -> str | None:
    """The verdict of a headline alone (no sensitivity, no Holm), or None when it cannot be judged."""
    es = headline.get("effect_size")
    if es is None:
        return None
    ci95, ci90 = headline.get("effect_size_ci"), headline.get("effect_size_ci90")
    try:
        return verdict.decide(
            verdict.Evidence(
                estimate=es,
                ci95=tuple(ci95) if ci95 and None not in ci95 else None,
                ci90=tuple(ci90) if ci90 and None not in ci90 else None,
                p_value=headline.get("p_value"),
                p_adjusted=None,
                sesoi=float(claim["sesoi"]["value"]),
                expected_direction=claim.get("expected_direction", "two_sided"),
                power=headline.get("power"),
                n=int(headline.get("n") or 0),
                alpha=float(config.get("alpha", 0.05)),
                power_target=float(config.get("power_target", 0.8)),
            )
        ).verdict
    except StatsInputError:  # an unjudgeable headline leaves the entries unjudged
        return None


def judge_entries(
    entries: list[dict[str, Any]],
    primary: str | None,
    claim: dict[str, Any],
    config: dict[str, Any],
) -> None:
    """Fill ``kind``, ``outcome`` and ``verdict`` (CONTRACT) of sensitivity entries in place."""
    for e in entries:
        e.setdefault("kind", str(e.get("name", "")).split(":")[0].strip().replace(" ", "_"))
        if "outcome" in e:
            continue
        outcome, alone = verdict.judge_sensitivity(
            primary or "inconclusive",
            e,
            float(claim["sesoi"]["value"]),
            claim.get("expected_direction", "two_sided"),
            float(config.get("alpha", 0.05)),
        )
        e["outcome"], e["verdict"] = outcome, alone


def cohort_result(
    result: dict[str, Any],
    dataset: str,
    claim: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The per-cohort result: the runner's ``result`` (``ClaimResult.to_dict()``) with ``dataset``,
    ``se`` and ``scale``. ``claim`` and ``config`` are accepted for the adapter's sake; the sensitivity
    entries are judged once, by the ledger (:func:`gutskin.stats.verdict.decide`).

    A runner sets ``se`` and ``scale`` itself where it knows the SE of its effect size; otherwise the SE
    is taken from the 95 % CI of ``headline.effect_size`` (normal approximation) and said so in the notes.
    """
    out = dict(result)
    se = out.pop("se", None)
    scale = out.pop("scale", None)
    h = out.get("headline") or {}
    if se is None and not out.get("data_problem"):
        ci = h.get("effect_size_ci") or [None, None]
        if None not in ci and h.get("effect_size") is not None:
            se = (float(ci[1]) - float(ci[0])) / (2 * _Z975)
            out["notes"] = [
                *out.get("notes", []),
                "Pooling SE from the 95% CI of the effect size (normal approximation).",
            ]
    out["dataset"] = dataset
    out["se"] = se if se is None or (math.isfinite(se) and se > 0) else None
    out["scale"] = scale
    return clean(out)


def _to_pool(scale: str | None, x: float) -> float:
    return math.atanh(x) if scale == "fisher_z" else x


def _to_display(scale: str | None, x: float) -> float:
    return math.tanh(x) if scale == "fisher_z" else x


def _row(ds: str, c: dict[str, Any] | None, reason: str | None = None) -> dict[str, Any]:
    if c is None or c.get("data_problem") or reason:
        return {
            "dataset": ds,
            "n": (c or {}).get("n"),
            "estimate": None,
            "se": None,
            "ci": None,
            "weight": None,
            "p_value": None,
            "status": "failed",
            "reason": reason or (c or {}).get("data_problem") or "no result",
        }
    h = c.get("headline") or {}
    return {
        "dataset": ds,
        "n": h.get("n") or c.get("n"),
        "estimate": h.get("effect_size"),
        "se": c.get("se"),
        "ci": h.get("effect_size_ci"),
        "weight": 1.0,
        "p_value": h.get("p_value"),
        "status": "analysed",
        "reason": None,
    }


def _usable(c: dict[str, Any] | None) -> str | None:
    """Why a cohort result cannot be pooled (None: it can)."""
    if c is None:
        return "no result"
    if c.get("data_problem"):
        return str(c["data_problem"])
    h = c.get("headline") or {}
    if h.get("effect_size") is None:
        return "no effect size"
    if c.get("se") is None:
        return "no standard error of the effect size"
    return None


def pool(
    claim: dict[str, Any],
    cohorts: dict[str, dict[str, Any] | None],
    config: dict[str, Any],
    out_dir: Path,
    selection: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The claim's result from its per-cohort results (``cohorts`` in the claim's dataset order)."""
    selection = list(selection or [])
    reasons = {ds: _usable(c) for ds, c in cohorts.items()}
    ok = [ds for ds, r in reasons.items() if r is None]
    rows = [_row(ds, cohorts[ds], reasons[ds]) for ds in cohorts]
    k = len(ok)
    if k <= 1:
        if k == 1:
            base = copy.deepcopy(cohorts[ok[0]])
        elif len(cohorts) == 1:
            base = copy.deepcopy(next(iter(cohorts.values()))) or {"id": claim["id"]}
        else:
            base = {"id": claim["id"], "headline": {}, "tests": [], "figures": [], "tables": []}
            if all(is_data_unavailable(r) for r in reasons.values()):
                # no cohort could be had: the claim's data are unavailable, not inconclusive
                base["data_problem"] = "; ".join(str(r) for r in reasons.values())
            else:
                base["data_problem"] = "no cohort gave an estimate: " + "; ".join(
                    f"{ds}: {r}" for ds, r in reasons.items()
                )
        assert base is not None
        base.pop("dataset", None)
        base.pop("se", None)
        for row in rows:
            if row["status"] == "analysed":
                row["weight"] = 1.0
        if k == 1 and len(cohorts) > 1:
            base["notes"] = [
                *base.get("notes", []),
                *(f"{ds}: not analysed: {r}." for ds, r in reasons.items() if r is not None),
            ]
        base.update(k=k, cohorts=rows, pooling=None, dataset_selection=selection)
        return clean(base)
    return clean(_pool_k(claim, cohorts, ok, rows, config, Path(out_dir), selection, reasons))


def _pool_k(
    claim: dict[str, Any],
    cohorts: dict[str, dict[str, Any] | None],
    ok: list[str],
    rows: list[dict[str, Any]],
    config: dict[str, Any],
    out_dir: Path,
    selection: list[dict[str, Any]],
    reasons: dict[str, str | None],
) -> dict[str, Any]:
    cs = {ds: cohorts[ds] for ds in ok}
    first = cs[ok[0]]
    assert first is not None
    scale = first.get("scale")
    k = len(ok)
    mcfg = config.get("meta") or {}
    method = str(mcfg.get("method", "REML"))
    below = int(mcfg.get("hksj_below_k", DEFAULT_HKSJ_BELOW_K))
    ci_method = "hksj" if k < below else "normal"
    alpha = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    direction = claim.get("expected_direction", "two_sided")
    y = [_to_pool(scale, float(cs[ds]["headline"]["effect_size"])) for ds in ok]  # type: ignore[index]
    s = [float(cs[ds]["se"]) for ds in ok]  # type: ignore[index]
    m = meta.random_effects(y, s, method=method, labels=ok, ci_method=ci_method)
    disp = lambda x: _to_display(scale, x)  # noqa: E731
    bound = _to_pool(scale, sesoi)
    tost = equivalence.tost(m.estimate, m.se, m.df, bound, alpha=alpha)
    pw = _power(bound, m, alpha, power_alternative(claim))
    n_total = int(
        sum(
            int((c or {}).get("headline", {}).get("n") or (c or {}).get("n") or 0)
            for c in cs.values()
        )
    )
    ci95 = [disp(m.ci95[0]), disp(m.ci95[1])]
    ci90 = [disp(m.ci90[0]), disp(m.ci90[1])]
    pi = [disp(m.pi95[0]), disp(m.pi95[1])] if m.pi95 is not None else None
    headline: dict[str, Any] = {
        "estimate": disp(m.estimate),
        "ci_low": ci95[0],
        "ci_high": ci95[1],
        "p_value": m.p_value,
        "effect_size": disp(m.estimate),
        "effect_size_ci": ci95,
        "effect_size_ci90": ci90,
        "tost_p": tost.p_value,
        "power": pw,
        "n": n_total,
        "tau2": m.tau2,
        "i2": m.i2,
        "prediction_interval": pi,
    }
    note = _power_note(k, ci_method, pw, float(config.get("power_target", 0.8)))
    if note:
        headline["power_note"] = note
    weights = dict(zip(m.labels, m.weights, strict=True))
    for row in rows:
        if row["dataset"] in weights:
            row["weight"] = weights[row["dataset"]] / 100.0
    word = SCALE_WORDS.get(scale or "", "effect size")
    ci_words = (
        f"Hartung–Knapp–Sidik–Jonkman 95% CI (t on {k - 1} df; its SE is not truncated at the normal "
        f"CI's, as in metafor's rma(test=\"knha\") by default), used because k = {k} < {below}"
        if ci_method == "hksj"
        else f"normal (Wald) 95% CI, used because k = {k} ≥ {below}"
    )
    pi_txt = (
        f"95% prediction interval {pi[0]:.3g} to {pi[1]:.3g}"
        if pi is not None
        else f"no prediction interval (it needs at least 3 cohorts; there are {k})"
    )
    label = str(first.get("effect_size_label") or word)
    res: dict[str, Any] = {
        "id": claim["id"],
        "data_problem": None,
        "headline": headline,
        "estimate_label": (
            f"Pooled {label} ({method} random effects, {k} cohorts)"
            + (f"; {first.get('estimate_label')}" if first.get("estimate_label") else "")
        ),
        "effect_size_label": f"{label}, pooled over {k} cohorts",
        "method": "",
        "covariates": sorted({c for x in cs.values() for c in (x or {}).get("covariates", [])}),
        "n": n_total,
        "n_groups": {},
        "tests": [],
        "sensitivity_agrees": None,
        "sensitivity_note": None,
        "sensitivity_analyses": [],
        "positive_control_ok": None,
        "figures": [],
        "tables": [],
        "notes": [],
        "sample_flow": [],
    }
    groups: dict[str, int] = {}
    for ds in ok:
        c = cs[ds] or {}
        for g, v in (c.get("n_groups") or {}).items():
            groups[g] = groups.get(g, 0) + int(v)
    res["n_groups"] = groups
    controls = [(cs[ds] or {}).get("positive_control_ok") for ds in ok]
    judged = [c for c in controls if c is not None]
    res["positive_control_ok"] = all(judged) if judged else None

    res["tests"].append(
        {
            "name": f"random-effects pooled {word} over {k} cohorts ({method}, {ci_method.upper()} CI)",
            "role": "primary",
            "estimate": disp(m.estimate),
            "ci_low": ci95[0],
            "ci_high": ci95[1],
            "effect_size": disp(m.estimate),
            "effect_size_ci": ci95,
            "p_value": m.p_value,
            "n": n_total,
            "tau2": m.tau2,
            "i2": m.i2,
            "q": m.q,
            "q_p": m.q_p,
            "prediction_interval": pi,
            "weights": {ds: w / 100.0 for ds, w in weights.items()},
            "note": (
                f"τ² = {m.tau2:.3g}, I² = {m.i2:.0f}%, Q = {m.q:.3g} on {m.q_df} df (p = {m.q_p:.3g}); "
                f"{pi_txt}; weights " + ", ".join(f"{ds} {w:.0f}%" for ds, w in weights.items())
            ),
        }
    )
    for ds, cres in cohorts.items():
        if cres is None:
            continue
        c = cres
        for t0 in c.get("tests", []):
            t = dict(t0)
            if t.get("role") in ("primary", "sensitivity"):
                t["role"] = "secondary"
            t["name"] = f"{t.get('name', '')} — {ds}"
            t["dataset"] = ds
            res["tests"].append(t)
        res["figures"] += c.get("figures", [])
        res["tables"] += c.get("tables", [])
        res["notes"] += [f"{ds}: {n}" for n in c.get("notes", [])]
        res["sample_flow"] += [{"dataset": ds, **row} for row in c.get("sample_flow", [])]
        if ds in ok and c.get("sensitivity_analyses"):
            for e in c["sensitivity_analyses"]:
                if e.get("agrees") is False:
                    res["notes"].append(
                        f"{ds}: its own sensitivity analysis disagrees: {e.get('note')}"
                    )
    for ds, r in reasons.items():
        if r is not None:
            res["notes"].append(f"{ds}: not pooled: {r}.")
    if pi is None:
        res["notes"].append(f"Pooling: {pi_txt}; between-cohort heterogeneity cannot be judged.")

    # The verdict of the pooled estimate alone, against which the pooled sensitivity analyses are judged.
    primary = verdict.decide(
        verdict.Evidence(
            estimate=disp(m.estimate),
            ci95=(ci95[0], ci95[1]),
            ci90=(ci90[0], ci90[1]),
            p_value=m.p_value,
            p_adjusted=None,
            sesoi=sesoi,
            expected_direction=direction,
            power=pw,
            power_note=note,
            n=n_total,
            alpha=alpha,
        )
    ).verdict
    ctx = sensitivity.PoolContext(
        labels=ok,
        effects=y,
        ses=s,
        method=method,
        ci_method=ci_method,
        to_display=disp,
        effect_word=word.split(" (")[0],
        cohort_analyses=_cohort_analyses([cs[ds] or {} for ds in ok], scale),
    )
    for sens in sensitivity.applicable("pooled"):
        if sens.refit is None:
            continue
        for refit in sens.refit(ctx):
            res["sensitivity_analyses"].append(
                sensitivity.entry(
                    sens,
                    refit,
                    primary_verdict=primary,
                    sesoi=sesoi,
                    direction=direction,
                    alpha=alpha,
                )
            )
    _summarise(res)

    res["method"] = (
        f"Each of the {k} cohorts ({', '.join(ok)}) was analysed on its own by the same analysis; their "
        f"{word} estimates were pooled by a random-effects model ({method} τ²) with the {ci_words} "
        f"(HKSJ whenever fewer than {below} cohorts are pooled: the normal CI is too narrow with few "
        f"cohorts); τ² = {m.tau2:.3g}, I² = {m.i2:.0f}%; {pi_txt}. Raw features are never pooled "
        f"across cohorts. Sensitivity of the pooled estimate: "
        + "; ".join(f"{s.name} ({s.description})" for s in sensitivity.applicable("pooled"))
        + ". Per cohort: "
        + " ".join(f"[{ds}] {(cs[ds] or {}).get('method', '')}" for ds in ok)
    )
    pooling = {
        "method": method,
        "ci_method": ci_method,
        "hksj_below_k": below,
        "tau2": m.tau2,
        "i2": m.i2,
        "q": m.q,
        "q_p": m.q_p,
        "prediction_interval": pi,
    }
    _forest(res, rows, m, headline, claim, out_dir, word, ci_method, pi)
    res.update(scale=scale, k=k, cohorts=rows, pooling=pooling, dataset_selection=selection)
    return res


def _cohort_analyses(
    cohorts: list[dict[str, Any]], scale: str | None
) -> dict[str, tuple[list[float], list[float]]]:
    """Sensitivity analyses every cohort ran with an effect size and 95 % CI, by name (not for Fisher z,
    whose cohort entries carry no effect sizes)."""
    if scale == "fisher_z" or not cohorts:
        return {}
    out: dict[str, tuple[list[float], list[float]]] = {}
    for e0 in cohorts[0].get("sensitivity_analyses") or []:
        name = e0.get("name")
        effects, ses = [], []
        for c in cohorts:
            e = next(
                (x for x in c.get("sensitivity_analyses") or [] if x.get("name") == name), None
            )
            ci = (e or {}).get("ci")
            if (
                e is None
                or e.get("scale") == "natural"
                or e.get("estimate") is None
                or not ci
                or None in ci
                or not ci[1] > ci[0]
            ):
                break
            effects.append(float(e["estimate"]))
            ses.append((float(ci[1]) - float(ci[0])) / (2 * _Z975))
        else:
            out[str(name)] = (effects, ses)
    return out


def _power(
    effect: float, m: meta.MetaResult, alpha: float, alternative: str = "two-sided"
) -> float:
    """Power of the pooled test at ``effect``: the z-test's, or with the Hartung–Knapp CI the t-test's on
    ``k - 1`` df (shifted-t approximation), so that the power matches the CI it is reported with; one-sided
    (``alternative="greater"``) for a directional claim."""
    if m.df is None:
        return meta.z_test_power(effect, m.se, alpha, alternative=alternative)
    from scipy import stats

    lam = abs(effect) / m.se
    if alternative == "greater":
        return float(stats.t.cdf(lam - float(stats.t.ppf(1 - alpha, m.df)), m.df))
    tc = float(stats.t.ppf(1 - alpha / 2, m.df))
    return float(stats.t.cdf(lam - tc, m.df) + stats.t.cdf(-lam - tc, m.df))


def _power_note(k: int, ci_method: str, power: float, target: float) -> str | None:
    """Plain words for a low pooled power that comes from the Hartung–Knapp t on ``k - 1`` df, not from
    the cohorts' sizes (the ledger quotes it beside the power); ``None`` otherwise."""
    if ci_method != "hksj" or power >= target:
        return None
    how = "almost no power" if k == 2 else "little power"
    return (
        f"k = {k}: a Hartung–Knapp interval (t on {k - 1} df) has {how} with so few cohorts, "
        "whatever their size; more cohorts are needed"
    )


def _summarise(res: dict[str, Any]) -> None:
    from .common import ClaimResult

    tmp = ClaimResult(id=res["id"], sensitivity_analyses=res["sensitivity_analyses"])
    summarise_sensitivity(tmp)
    res["sensitivity_agrees"] = tmp.sensitivity_agrees
    res["sensitivity_note"] = tmp.sensitivity_note


def _forest(
    res: dict[str, Any],
    rows: list[dict[str, Any]],
    m: meta.MetaResult,
    headline: dict[str, Any],
    claim: dict[str, Any],
    out_dir: Path,
    word: str,
    ci_method: str,
    pi: list[float] | None,
) -> None:
    from ..plotting import figures

    out_dir.mkdir(parents=True, exist_ok=True)
    frows = []
    for r in rows:
        ci = r.get("ci") or [None, None]
        lab = r["dataset"] + (
            f" (n = {r['n']}, {100 * r['weight']:.0f}%)"
            if r["status"] == "analysed" and r.get("weight") is not None
            else f" (not analysed: {r['reason']})"[:60]
        )
        frows.append({"label": lab, "estimate": r["estimate"], "ci_low": ci[0], "ci_high": ci[1]})
    frows.append(
        {
            "label": f"pooled ({m.method}, {ci_method.upper()})",
            "estimate": headline["effect_size"],
            "ci_low": headline["effect_size_ci"][0],
            "ci_high": headline["effect_size_ci"][1],
        }
    )
    if pi is not None:
        frows.append(
            {
                "label": "95% prediction interval",
                "estimate": headline["effect_size"],
                "ci_low": pi[0],
                "ci_high": pi[1],
            }
        )
    xlabel = word.split(" (")[0]
    sesoi = float(claim["sesoi"]["value"])
    fig = figures.forest(
        frows,
        xlabel=xlabel,
        sesoi=sesoi,
        title=f"{claim['id']}: {m.k} cohorts and the pooled estimate",
    )
    path = out_dir / "forest.svg"
    alt = f"Forest plot of {xlabel} in {m.k} cohorts and pooled: " + "; ".join(
        f"{r['label']} {r['estimate']:+.2f}" for r in frows if r.get("estimate") is not None
    )
    figures.save_figure(fig, path, alt=alt)
    res["figures"].insert(
        0,
        {
            "path": str(path),
            "caption": (
                f"{xlabel} per cohort (95% CI) and the random-effects pooled estimate over {m.k} cohorts "
                f"({m.method} τ², {'Hartung–Knapp' if ci_method == 'hksj' else 'normal'} CI; τ² = "
                f"{m.tau2:.3g}, I² = {m.i2:.0f}%); the shaded band is ±SESOI ({sesoi:g})."
                + (" The last row is the 95% prediction interval." if pi is not None else "")
            ),
            "alt": alt,
        },
    )
