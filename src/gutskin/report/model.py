"""Read ``claims.json`` into the report's claim model: the one place that knows the file's field names.

Every claim object is type-checked field by field; a problem is an :class:`~gutskin.errors.InputError` naming
the file, the claim and the key. The views (:mod:`gutskin.report.views`) read only this model, so swapping to
the typed claim-result contract later touches this module alone.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, SupportsInt, cast

from ..errors import InputError
from ..stats import verdict as rubric

__all__ = ["Checker", "ClaimModel", "read_claim", "read_claims"]


_NUMERIC_KEYS = ("estimate", "ci_low", "ci_high", "effect_size", "power")

_PROB_KEYS = ("p_value", "p_adjusted", "tost_p", "power")

_ROLE_ORDER = {"primary": 0, "secondary": 1, "control": 2, "sensitivity": 3}


class Checker:
    """Type checks on one claim object; every problem names the file, the claim and the key."""

    def __init__(self, source: str, cid: str) -> None:
        self.source = source
        self.cid = cid

    def fail(self, key: str, problem: str, hint: str) -> InputError:
        return InputError(self.source, problem, where=f"claim {self.cid!r}, key {key!r}", hint=hint)

    def number(self, obj: Mapping[str, Any], key: str, *, prob: bool = False) -> float | None:
        v = obj.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise self.fail(key, f"{v!r} is not a number", "write a number or null")
        f = float(v)
        if math.isnan(f):
            return None
        if prob and not 0.0 <= f <= 1.0:
            raise self.fail(key, f"{v!r} is not a probability in [0, 1]", "check the runner output")
        return f

    def count(self, obj: Mapping[str, Any], key: str) -> int | None:
        v = obj.get(key)
        if v is None:
            return None
        if (
            isinstance(v, bool)
            or not isinstance(v, numbers.Real)
            or not math.isfinite(float(v))
            # typeshed's numbers.Real.__trunc__ returns a protocol rather than int, so int()
            # rejects a Real; every concrete Real (int, float, numpy scalars) has __int__
            or float(v) != int(cast(SupportsInt, v))
            or v < 0
        ):
            raise self.fail(key, f"{v!r} is not a count", "write a non-negative integer or null")
        return int(cast(SupportsInt, v))

    def pair(self, obj: Mapping[str, Any], key: str) -> tuple[float | None, float | None]:
        v = obj.get(key)
        if v is None:
            return (None, None)
        if not isinstance(v, list | tuple) or len(v) != 2:
            raise self.fail(key, f"{v!r} is not a [low, high] pair", "write [low, high] or null")
        return (self.number({"lo": v[0]}, "lo"), self.number({"hi": v[1]}, "hi"))

    def text(self, obj: Mapping[str, Any], key: str) -> str:
        v = obj.get(key)
        if v is None:
            return ""
        if isinstance(v, str | int | float):
            return str(v)
        raise self.fail(key, f"expected text, got {type(v).__name__}", "write a string or null")

    def texts(self, obj: Mapping[str, Any], key: str) -> list[str]:
        v = obj.get(key)
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        if not isinstance(v, list | tuple):
            raise self.fail(key, f"expected a list, got {type(v).__name__}", "write a list or null")
        return [str(x) for x in v if x is not None]

    def records(self, obj: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        v = obj.get(key)
        if v is None:
            return []
        if not isinstance(v, list | tuple) or not all(isinstance(x, Mapping) for x in v):
            raise self.fail(key, "expected a list of objects", "write a list of objects or null")
        return list(v)


def _is_testable(claim: Mapping[str, Any], verdict: str) -> bool:
    t = str(claim.get("testable") or "").lower()
    if t in {"yes", "meta_only", "proxy", "partly", "true"}:
        return True
    if t in {"no", "false"}:
        return False
    return verdict != "not_testable"


_AGREE_WORDS = {True: "agrees", False: "disagrees", None: "not judged"}
#: Outcomes of a sensitivity analysis in the claim-result contract.
_OUTCOMES = ("agrees", "disagrees", "uninformative")

#: The claim model: the checked fields of one ``claims.json`` object (see :func:`read_claim`).
ClaimModel = dict[str, Any]


def _sensitivity_records(ck: Checker, claim: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claim's sensitivity analyses (``sensitivity_analyses``), checked.

    Reads the contract's ``outcome`` (agrees / disagrees / uninformative) and ``verdict``; ledgers written
    before it carry ``agrees`` (true / false / null) instead.
    """
    out = []
    for o in ck.records(claim, "sensitivity_analyses"):
        if o.get("outcome") is not None:
            outcome = o.get("outcome")
            if outcome not in _OUTCOMES:
                raise ck.fail(
                    "sensitivity_analyses",
                    f"outcome is {outcome!r}",
                    f"write one of {', '.join(_OUTCOMES)}",
                )
        else:
            agrees = o.get("agrees")
            if agrees not in _AGREE_WORDS:
                raise ck.fail(
                    "sensitivity_analyses", f"agrees is {agrees!r}", "write true, false or null"
                )
            outcome = _AGREE_WORDS[agrees]
        verdict = o.get("verdict")
        if verdict is not None and verdict not in rubric.VERDICTS:
            raise ck.fail(
                "sensitivity_analyses",
                f"verdict is {verdict!r}",
                f"use one of: {', '.join(rubric.VERDICTS)}",
            )
        out.append(
            {
                "name": ck.text(o, "name"),
                "kind": ck.text(o, "kind"),
                "note": ck.text(o, "note"),
                "outcome": str(outcome),
                "verdict": verdict,
                "estimate": ck.number(o, "estimate"),
                "ci": ck.pair(o, "ci"),
                "p_value": ck.number(o, "p_value", prob=True),
            }
        )
    return out


def _cohorts(ck: Checker, claim: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-cohort results (``cohorts``): one row per configured dataset that served the claim."""
    return [
        {
            "dataset": ck.text(o, "dataset"),
            "n": ck.count(o, "n"),
            "estimate": ck.number(o, "estimate"),
            "se": ck.number(o, "se"),
            "ci": ck.pair(o, "ci"),
            "weight": ck.number(o, "weight", prob=True),
            "p_value": ck.number(o, "p_value", prob=True),
            "status": ck.text(o, "status") or "analysed",
            "reason": ck.text(o, "reason"),
        }
        for o in ck.records(claim, "cohorts")
    ]


def _pooling(ck: Checker, claim: Mapping[str, Any]) -> dict[str, Any] | None:
    """How the cohorts were pooled (``pooling``); None for one cohort."""
    p = claim.get("pooling")
    if p is None:
        return None
    if not isinstance(p, Mapping):
        raise ck.fail(
            "pooling", "expected an object or null", "write {method, tau2, i2, …} or null"
        )
    return {
        "method": ck.text(p, "method"),
        "ci_method": ck.text(p, "ci_method"),
        "hksj_below_k": ck.count(p, "hksj_below_k"),
        "tau2": ck.number(p, "tau2"),
        "i2": ck.number(p, "i2"),
        "q": ck.number(p, "q"),
        "q_p": ck.number(p, "q_p", prob=True),
        "prediction_interval": ck.pair(p, "prediction_interval"),
    }


def _matched(ck: Checker, claim: Mapping[str, Any]) -> dict[str, Any] | None:
    """The matched analysis (``matched``), if the claim has one."""
    m = claim.get("matched")
    if m is None:
        return None
    if not isinstance(m, Mapping):
        raise ck.fail("matched", "expected an object or null", "write {verdict, estimate, ci, …}")
    verdict = m.get("verdict")
    if verdict is not None and verdict not in rubric.VERDICTS:
        raise ck.fail(
            "matched", f"verdict is {verdict!r}", f"use one of: {', '.join(rubric.VERDICTS)}"
        )
    return {
        "verdict": verdict,
        "estimate": ck.number(m, "estimate"),
        "ci": ck.pair(m, "ci"),
        "n_cases": ck.count(m, "n_cases"),
        "n_controls": ck.count(m, "n_controls"),
        "balance": [
            {
                "covariate": ck.text(b, "covariate"),
                "smd_before": ck.number(b, "smd_before"),
                "smd_after": ck.number(b, "smd_after"),
            }
            for b in ck.records(m, "balance")
        ],
        "note": ck.text(m, "note"),
    }


def read_claim(claim: Mapping[str, Any], index: int, source: str) -> ClaimModel:
    """Check one claim object of ``claims.json`` and return its model.

    Raises
    ------
    InputError
        No id, an unknown verdict, or a mistyped field (naming the claim and the key).
    """
    if not isinstance(claim, Mapping):
        raise InputError(source, "claim is not an object", where=f"claim #{index + 1}")
    cid = claim.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise InputError(
            source,
            "claim without an id",
            where=f"claim #{index + 1}",
            hint="every claim needs an id",
        )
    ck = Checker(source, cid)
    verdict = claim.get("verdict")
    if verdict not in rubric.VERDICTS:
        raise ck.fail(
            "verdict",
            f"unknown verdict {verdict!r}",
            f"use one of: {', '.join(rubric.VERDICTS)}",
        )
    nums = {k: ck.number(claim, k, prob=k in _PROB_KEYS) for k in (*_NUMERIC_KEYS, *_PROB_KEYS)}
    es_lo, es_hi = ck.pair(claim, "effect_size_ci")
    es90_lo, es90_hi = ck.pair(claim, "effect_size_ci90")
    n = ck.count(claim, "n")
    n_groups_raw = claim.get("n_groups") or {}
    if not isinstance(n_groups_raw, Mapping):
        raise ck.fail("n_groups", "expected an object {group: n}", "write {group: n} or null")
    n_groups = {str(g): ck.count(n_groups_raw, g) for g in n_groups_raw}
    sesoi_raw = claim.get("sesoi")
    sesoi_value: float | None = None
    sesoi_scale = ""
    if sesoi_raw is not None:
        if not isinstance(sesoi_raw, Mapping):
            raise ck.fail("sesoi", "expected {value, scale}", "write {value: 0.2, scale: hedges_g}")
        sesoi_value = ck.number(sesoi_raw, "value")
        sesoi_scale = ck.text(sesoi_raw, "scale")

    tests: list[dict[str, Any]] = []
    for j, t in enumerate(ck.records(claim, "tests")):
        tk = Checker(source, f"{cid}/tests[{j}]")
        lo, hi = tk.pair(t, "effect_size_ci")
        tests.append(
            {
                "name": tk.text(t, "name"),
                "role": tk.text(t, "role"),
                "estimate": tk.number(t, "estimate"),
                "ci_low": tk.number(t, "ci_low"),
                "ci_high": tk.number(t, "ci_high"),
                "effect_size": tk.number(t, "effect_size"),
                "effect_size_ci": (lo, hi),
                "p_value": tk.number(t, "p_value", prob=True),
                "p_adjusted": tk.number(t, "p_adjusted", prob=True),
                "n": tk.count(t, "n"),
                "note": tk.text(t, "note"),
            }
        )
    tests.sort(key=lambda t: _ROLE_ORDER.get(t["role"], 9))
    figures = ck.records(claim, "figures")
    tables = ck.records(claim, "tables")
    ext = claim.get("external_evidence")
    external = None
    if ext:
        if not isinstance(ext, Mapping):
            raise ck.fail("external_evidence", "expected an object", "{rating, summary, citations}")
        external = {
            "rating": ck.text(ext, "rating"),
            "summary": ck.text(ext, "summary"),
            "citations": Checker(source, cid).texts(ext, "citations"),
        }
    return {
        "id": cid,
        "title": ck.text(claim, "title"),
        "quote": ck.text(claim, "quote"),
        "location": ck.text(claim, "location"),
        "hypothesis": ck.text(claim, "hypothesis"),
        "claim_type": ck.text(claim, "claim_type"),
        "design": ck.text(claim, "design"),
        "testable_text": ck.text(claim, "testable"),
        "testable": _is_testable(claim, str(verdict)),
        "verdict": verdict,
        "verdict_label": ck.text(claim, "verdict_label"),
        "reason": ck.text(claim, "reason"),
        "data_problem": ck.text(claim, "data_problem"),
        **nums,
        "estimate_label": ck.text(claim, "estimate_label"),
        "effect_size_label": ck.text(claim, "effect_size_label"),
        "es_ci": (es_lo, es_hi),
        "es_ci90": (es90_lo, es90_hi),
        "sesoi_value": sesoi_value,
        "sesoi_scale": sesoi_scale,
        "n": n,
        "n_groups": n_groups,
        "datasets": ck.texts(claim, "datasets"),
        "method": ck.text(claim, "method"),
        "covariates": ck.texts(claim, "covariates"),
        "tests": tests,
        "figure_records": figures,
        "table_records": tables,
        "caveats": ck.texts(claim, "caveats"),
        "notes": ck.texts(claim, "notes"),
        "sensitivity": ck.text(claim, "sensitivity"),
        "robustness": ck.text(claim, "robustness"),
        "sensitivity_analyses": _sensitivity_records(ck, claim),
        "external": external,
        "sample_flow": ck.records(claim, "sample_flow"),
        "holm_family": ck.texts(claim, "holm_family"),
        "primary": bool(claim.get("primary")),
        "expected_direction": ck.text(claim, "expected_direction"),
        # where the power comes from ("analytic", or the calibration's simulation) and the formula's value
        "power_source": ck.text(claim, "power_source"),
        "power_analytic": ck.number(claim, "power_analytic", prob=True),
        # fields of the claim-result contract (CONTRACT.md); absent in older ledgers
        "k": ck.count(claim, "k"),
        "cohorts": _cohorts(ck, claim),
        "pooling": _pooling(ck, claim),
        "dataset_selection": [
            {
                "dataset": ck.text(d, "dataset"),
                "used": bool(d.get("used")),
                "reason": ck.text(d, "reason"),
            }
            for d in ck.records(claim, "dataset_selection")
        ],
        "matched": _matched(ck, claim),
        "population": ck.text(claim, "population"),
        "deviations": [
            {"what": ck.text(d, "what"), "reason": ck.text(d, "reason")}
            for d in ck.records(claim, "deviations")
        ],
    }


def read_claims(claims: Any, source: str) -> list[ClaimModel]:
    """Check every claim of ``claims.json`` (a list of objects with unique ids) and return their models."""
    if not isinstance(claims, list):
        raise InputError(source, "expected a list of claim objects", hint="check the ledger output")
    out: list[ClaimModel] = []
    seen: set[str] = set()
    for i, c in enumerate(claims):
        m = read_claim(c, i, source)
        if m["id"] in seen:
            raise InputError(
                source,
                f"claim id {m['id']!r} occurs twice",
                where=f"claim #{i + 1}",
                hint="claim ids must be unique",
            )
        seen.add(m["id"])
        out.append(m)
    return out
