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
from .verdict_style import VERDICTS

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

#: The claim model: the checked fields of one ``claims.json`` object (see :func:`read_claim`).
ClaimModel = dict[str, Any]


def _sensitivity_records(ck: Checker, claim: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claim's sensitivity analyses (``sensitivity_analyses``), checked."""
    out = []
    for o in ck.records(claim, "sensitivity_analyses"):
        agrees = o.get("agrees")
        if agrees not in _AGREE_WORDS:
            raise ck.fail(
                "sensitivity_analyses", f"agrees is {agrees!r}", "write true, false or null"
            )
        out.append(
            {
                "name": ck.text(o, "name"),
                "note": ck.text(o, "note"),
                "outcome": _AGREE_WORDS[agrees],
            }
        )
    return out


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
    if verdict not in VERDICTS:
        raise ck.fail(
            "verdict",
            f"unknown verdict {verdict!r}",
            f"use one of: {', '.join(VERDICTS)}",
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
