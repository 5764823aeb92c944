"""The typed result contract between claim runner → pooling → verdict → ledger → report.

One dataclass per object of ``results/claims/{claim}/cohorts/{dataset}.json`` (a :class:`CohortResult`),
``results/claims/{claim}.json`` (a :class:`PooledResult`) and each entry of ``results/claims.json``
(a :class:`LedgerEntry`). Field names are binding (``/work/CONTRACT.md``): add fields, never rename.

Every class has ``to_dict`` / ``from_dict``. ``from_dict`` keeps keys the class does not declare in
``extra`` (a runner's own headline fields such as ``resid_sd``), and ``to_dict`` writes the input's keys
back in their original order, so ``from_dict(d).to_dict() == d`` for any valid ``d`` and the JSON files do
not change when they pass through the contract.

:func:`json_schema` generates the JSON Schema of ``claims.json`` from these classes; the committed
``workflow/schemas/claims_result.schema.json`` is checked against it by a test, and
:func:`validate_ledger` validates a ledger with it.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

__all__ = [
    "SCALES",
    "CohortResult",
    "CohortRow",
    "DatasetSelection",
    "Deviation",
    "Headline",
    "LedgerEntry",
    "Matched",
    "PooledResult",
    "Pooling",
    "SensitivityResult",
    "TestEntry",
    "json_schema",
    "validate_ledger",
]

#: The common effect scales a cohort estimate is pooled on.
SCALES = ("hedges_g", "fisher_z", "log_odds_ratio", "standardised_difference", "log_fold_change")

Scale = Literal[
    "hedges_g", "fisher_z", "log_odds_ratio", "standardised_difference", "log_fold_change"
]
Interval = list[float | None]


class _Record:
    """``to_dict`` / ``from_dict`` shared by the contract classes (fields plus order-keeping extras)."""

    #: Whether keys the class does not declare are allowed (kept in ``extra``).
    OPEN: ClassVar[bool] = True

    extra: dict[str, Any]
    _order: tuple[str, ...]

    @classmethod
    def _fields(cls) -> list[dataclasses.Field[Any]]:
        return [f for f in dataclasses.fields(cls) if f.name not in ("extra", "_order")]  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Build the record from a JSON object (nested records are converted too)."""
        hints = get_type_hints(cls)
        names = {f.name for f in cls._fields()}
        kwargs: dict[str, Any] = {}
        for f in cls._fields():
            if f.name in d:
                kwargs[f.name] = _load(hints[f.name], d[f.name])
        extra = {k: v for k, v in d.items() if k not in names}
        obj = cls(**kwargs, extra=extra)  # type: ignore[call-arg]
        object.__setattr__(obj, "_order", tuple(d.keys()))
        return obj

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: declared fields (those set, or all when built in code), then ``extra``.

        A record read by :meth:`from_dict` gives back its keys in their original order.
        """
        values = {f.name: _dump(getattr(self, f.name)) for f in self._fields()}
        order = getattr(self, "_order", ())
        if order:
            out = {}
            for k in order:
                out[k] = values[k] if k in values else self.extra[k]
            for k, v in self.extra.items():
                out.setdefault(k, v)
            return out
        return {**values, **self.extra}


def _load(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None):
                continue
            return _load(arg, value)
    if origin is list and isinstance(value, list):
        (arg,) = get_args(tp) or (Any,)
        return [_load(arg, v) for v in value]
    if isinstance(tp, type) and issubclass(tp, _Record) and isinstance(value, dict):
        return tp.from_dict(value)
    return value


def _dump(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


@dataclass(frozen=True)
class Headline(_Record):
    """The primary test on the SESOI's scale (``effect_size*``) and in natural units (``estimate`` …)."""

    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    effect_size: float | None = None
    effect_size_ci: Interval | None = None
    effect_size_ci90: Interval | None = None
    tost_p: float | None = None
    power: float | None = None
    n: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class TestEntry(_Record):
    """One entry of ``tests``: ``role`` is ``primary``, ``secondary``, ``sensitivity`` or ``control``."""

    name: str = ""
    role: str = "secondary"
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    effect_size: float | None = None
    effect_size_ci: Interval | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    n: int | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SensitivityResult(_Record):
    """One pre-specified sensitivity analysis (see :mod:`gutskin.claims.sensitivity`).

    ``outcome`` is ``agrees`` | ``disagrees`` | ``uninformative``; ``verdict`` the verdict the analysis alone
    would give; ``agrees`` (True/False/None) is the older summary kept for the ledger's robustness.
    """

    name: str = ""
    kind: str | None = None
    estimate: float | None = None
    ci: Interval | None = None
    ci90: Interval | None = None
    p_value: float | None = None
    outcome: Literal["agrees", "disagrees", "uninformative"] | None = None
    verdict: str | None = None
    agrees: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CohortRow(_Record):
    """One cohort of a pooled claim, on the claim's effect scale (``weight`` in [0, 1], summing to 1)."""

    dataset: str = ""
    n: int | None = None
    estimate: float | None = None
    se: float | None = None
    ci: Interval | None = None
    weight: float | None = None
    p_value: float | None = None
    status: Literal["analysed", "failed"] = "analysed"
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Pooling(_Record):
    """The random-effects pooling of ``k ≥ 2`` cohorts (``null`` in the result when ``k == 1``)."""

    method: str = "REML"
    ci_method: Literal["hksj", "normal"] = "hksj"
    hksj_below_k: int = 10
    tau2: float | None = None
    i2: float | None = None
    q: float | None = None
    q_p: float | None = None
    prediction_interval: Interval | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DatasetSelection(_Record):
    """Whether a configured dataset serves the claim, and why."""

    dataset: str = ""
    used: bool = False
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Deviation(_Record):
    """A deviation from the pre-registered analysis of CLAIMS.md."""

    what: str = ""
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Matched(_Record):
    """The matched analysis of a case–control claim (branch ``verdicts``)."""

    verdict: str | None = None
    estimate: float | None = None
    ci: Interval | None = None
    n_cases: int | None = None
    n_controls: int | None = None
    balance: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class _ResultBase(_Record):
    """Fields of today's per-claim runner result (:class:`gutskin.claims.common.ClaimResult`)."""

    id: str = ""
    data_problem: str | None = None
    headline: Headline | None = None
    estimate_label: str = ""
    effect_size_label: str = ""
    method: str = ""
    covariates: list[str] = field(default_factory=list)
    n: int | None = None
    n_groups: dict[str, int] = field(default_factory=dict)
    tests: list[TestEntry] = field(default_factory=list)
    sensitivity_agrees: bool | None = None
    sensitivity_note: str | None = None
    sensitivity_analyses: list[SensitivityResult] = field(default_factory=list)
    positive_control_ok: bool | None = None
    figures: list[dict[str, str]] = field(default_factory=list)
    tables: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sample_flow: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CohortResult(_ResultBase):
    """``results/claims/{claim}/cohorts/{dataset}.json``: the runner's result on one dataset."""

    dataset: str = ""
    se: float | None = None
    scale: Scale | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class PooledResult(_ResultBase):
    """``results/claims/{claim}.json``: the claim's result over its cohorts."""

    scale: Scale | None = None
    k: int = 0
    cohorts: list[CohortRow] = field(default_factory=list)
    pooling: Pooling | None = None
    dataset_selection: list[DatasetSelection] = field(default_factory=list)
    matched: Matched | None = None
    population: str | None = None
    deviations: list[Deviation] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class LedgerEntry(_Record):
    """One claim of ``results/claims.json`` (what the report reads)."""

    id: str = ""
    title: str | None = None
    verdict: str = ""
    verdict_label: str = ""
    reason: str = ""
    datasets: list[str] | None = None
    caveats: list[str] = field(default_factory=list)
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    effect_size: float | None = None
    effect_size_ci: Interval | None = None
    effect_size_ci90: Interval | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    tost_p: float | None = None
    power: float | None = None
    n: int | None = None
    tests: list[TestEntry] = field(default_factory=list)
    figures: list[dict[str, str]] = field(default_factory=list)
    tables: list[dict[str, str]] = field(default_factory=list)
    sensitivity_analyses: list[SensitivityResult] = field(default_factory=list)
    k: int | None = None
    cohorts: list[CohortRow] = field(default_factory=list)
    pooling: Pooling | None = None
    dataset_selection: list[DatasetSelection] = field(default_factory=list)
    matched: Matched | None = None
    population: str | None = None
    deviations: list[Deviation] = field(default_factory=list)
    data_problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


# ------------------------------------------------------------------------------------------------
# JSON Schema
# ------------------------------------------------------------------------------------------------
_REQUIRED: dict[type, tuple[str, ...]] = {}


def _schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if tp is Any:
        return {}
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        inner = [_schema_of(a, defs) for a in args]
        nullable = len(args) < len(get_args(tp))
        alts = inner + ([{"type": "null"}] if nullable else [])
        return alts[0] if len(alts) == 1 else {"anyOf": alts}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin is list:
        (arg,) = get_args(tp) or (Any,)
        return {"type": "array", "items": _schema_of(arg, defs)}
    if origin is dict:
        _, val = get_args(tp) or (str, Any)
        return {"type": "object", "additionalProperties": _schema_of(val, defs)}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if isinstance(tp, type) and issubclass(tp, _Record):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            hints = get_type_hints(tp)
            props = {f.name: _schema_of(hints[f.name], defs) for f in tp._fields()}  # type: ignore[attr-defined]
            doc = (tp.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
            defs[name] = {
                "type": "object",
                "description": doc,
                "properties": props,
                "required": list(_REQUIRED.get(tp, ())),
                "additionalProperties": tp.OPEN,
            }
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for type {tp!r}")


_REQUIRED.update(
    {
        LedgerEntry: ("id", "verdict", "verdict_label", "reason"),
        CohortRow: ("dataset", "status"),
        Pooling: ("method", "ci_method", "hksj_below_k", "tau2", "i2", "q", "q_p"),
        DatasetSelection: ("dataset", "used", "reason"),
        SensitivityResult: ("name", "note"),
        TestEntry: ("name", "role"),
        CohortResult: ("id", "dataset"),
        PooledResult: ("id", "k", "cohorts", "pooling", "dataset_selection"),
    }
)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``results/claims.json``, generated from :class:`LedgerEntry`.

    The per-claim files are described by ``$defs/PooledResult`` and ``$defs/CohortResult``.
    """
    defs: dict[str, Any] = {}
    item = _schema_of(LedgerEntry, defs)
    for cls in (PooledResult, CohortResult):
        _schema_of(cls, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "claims_result.schema.json",
        "title": "gutskin claims ledger (results/claims.json)",
        "description": (
            "Generated by gutskin.claims.contract.json_schema() from the contract dataclasses; do not "
            "edit by hand (tests/unit/test_contract.py checks the committed file)."
        ),
        "type": "array",
        "items": item,
        "$defs": {k: defs[k] for k in sorted(defs)},
    }


def _validator(ref: str | None) -> Any:
    import jsonschema

    schema = json_schema()
    if ref is not None:
        schema = {**schema, "type": "object", "items": None, "$ref": f"#/$defs/{ref}"}
        schema.pop("items")
        schema.pop("type")
    return jsonschema.Draft202012Validator(schema)


def validate_ledger(ledger: list[dict[str, Any]]) -> None:
    """Raise :class:`jsonschema.ValidationError` unless ``ledger`` fits the contract."""
    _validator(None).validate(ledger)


def validate(obj: dict[str, Any], kind: str) -> None:
    """Validate one per-claim (``PooledResult``) or per-cohort (``CohortResult``) JSON object."""
    _validator(kind).validate(obj)
