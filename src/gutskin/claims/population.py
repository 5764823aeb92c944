"""Analysis populations and implausible records (issue 11 item 3).

A claim may declare its population in ``config/claims.yaml``, e.g. ``population: "age >= 18"`` (the
C8 hypothesis is about adults); the workflow configuration declares ``implausible_records``, rules that
flag records which are almost certainly entry errors, e.g. ``{name: infant age with an adult BMI, when:
"age < 2 and bmi >= 18.5"}``. Before a claim's runner sees a dataset, :func:`restrict` removes the
implausible records (every rule whose columns the dataset has) and then the samples outside the
population (missing values count as outside: adulthood cannot be checked without an age), and says so
in the sample flow; the result's ``population`` states what was analysed.

Conditions are deliberately small: clauses ``<column> <op> <value>`` joined by ``and``, where ``op``
is one of ``>= > <= < == !=`` and ``value`` a number or a quoted string. Anything else is a
:class:`~gutskin.errors.ConfigError` naming the claim or rule.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..errors import ConfigError
from .bundle import DatasetBundle

__all__ = ["Clause", "parse_condition", "restrict"]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_CLAUSE = re.compile(
    r"^\s*(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<val>-?\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\")\s*$"
)


@dataclasses.dataclass(frozen=True)
class Clause:
    """One ``column op value`` comparison."""

    column: str
    op: str
    value: float | str

    def mask(self, samples: pd.DataFrame) -> pd.Series:
        """True where the comparison holds (False where the value is missing)."""
        col = samples[self.column]
        if isinstance(self.value, str):
            values: pd.Series = col.astype("string")
        else:
            values = pd.to_numeric(col, errors="coerce")
        out = _OPS[self.op](values, self.value)
        return pd.Series(out, index=samples.index).fillna(False).astype(bool)


def parse_condition(text: str, *, file: str, where: str) -> list[Clause]:
    """The clauses of ``text`` (``"age >= 18 and bmi < 60"``); ConfigError naming ``where`` if bad."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(file, "empty condition", where=where, hint='e.g. "age >= 18"')
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip()):
        m = _CLAUSE.match(part)
        if m is None:
            raise ConfigError(
                file,
                f"cannot read the condition {part.strip()!r} in {text!r}",
                where=where,
                hint='write clauses "<column> <op> <number or quoted text>" joined by "and", '
                "with op one of >= > <= < == !=",
            )
        raw = m["val"]
        value: float | str = raw[1:-1] if raw[0] in "'\"" else float(raw)
        clauses.append(Clause(m["col"], m["op"], value))
    return clauses


def _all(clauses: list[Clause], samples: pd.DataFrame) -> pd.Series:
    mask = pd.Series(True, index=samples.index)
    for c in clauses:
        mask &= c.mask(samples)
    return mask


def _site_samples(samples: pd.DataFrame, claim: dict[str, Any]) -> pd.Series:
    """Samples of the claim's body site (all samples when it names none or there is no such column)."""
    site = (claim.get("params") or {}).get("body_site")
    if site and "body_site" in samples.columns:
        return samples["body_site"].astype("string") == str(site)
    return pd.Series(True, index=samples.index)


def restrict(
    claim: dict[str, Any], bundles: dict[str, DatasetBundle], config: dict[str, Any]
) -> tuple[dict[str, DatasetBundle], list[dict[str, Any]], str | None]:
    """Remove implausible records and samples outside the claim's population from its datasets.

    Returns the restricted bundles (unchanged objects where nothing applies), the sample-flow rows
    (per dataset, counted on the claim's body site: records before, after the implausible-record rules
    and after the population) and the population text for the result (None when neither applies).
    """
    cid = claim["id"]
    rules = list(config.get("implausible_records") or [])
    parsed_rules = [
        (
            str(r.get("name") or r.get("when")),
            r["when"],
            parse_condition(
                r["when"], file="config/config.yaml", where=f"implausible_records[{i}].when"
            ),
        )
        for i, r in enumerate(rules)
    ]
    pop_text = claim.get("population")
    pop = (
        parse_condition(pop_text, file="config/claims.yaml", where=f"claim {cid}, population")
        if pop_text
        else None
    )
    if not parsed_rules and pop is None:
        return bundles, [], None

    out: dict[str, DatasetBundle] = {}
    flow: list[dict[str, Any]] = []
    excluded_total = 0
    applied: set[str] = set()
    for ds, b in bundles.items():
        if b is None or not b.available:
            out[ds] = b
            continue
        s = b.samples
        site = _site_samples(s, claim)
        keep = pd.Series(True, index=s.index)
        rows = [{"dataset": ds, "step": "records before exclusions", "n": int(site.sum())}]
        for name, when, clauses in parsed_rules:
            if not all(c.column in s.columns for c in clauses):
                continue
            bad = _all(clauses, s) & keep
            n_bad = int((bad & site).sum())
            keep &= ~bad
            excluded_total += n_bad
            applied.add(name)
            rows.append(
                {
                    "dataset": ds,
                    "step": f"after excluding implausible records: {name} ({when}; {n_bad} excluded)",
                    "n": int((keep & site).sum()),
                    "excluded": n_bad,
                }
            )
        if pop is not None:
            missing = [c.column for c in pop if c.column not in s.columns]
            if missing:
                raise ConfigError(
                    "config/claims.yaml",
                    f"population {pop_text!r} needs column(s) {', '.join(missing)}, which dataset "
                    f"{ds} does not have",
                    where=f"claim {cid}, population",
                    hint="add the column to the dataset's samples.columns in config/datasets.yaml "
                    "or drop the population",
                )
            inside = _all(pop, s)
            n_out = int((keep & site & ~inside).sum())
            keep &= inside
            rows.append(
                {
                    "dataset": ds,
                    "step": f"in the analysis population ({pop_text}; {n_out} outside it or with the "
                    "value missing)",
                    "n": int((keep & site).sum()),
                    "excluded": n_out,
                }
            )
        flow += rows
        out[ds] = dataclasses.replace(b, samples=s.loc[keep]) if not keep.all() else b

    parts = []
    if pop_text:
        parts.append(f"{pop_text}")
    if applied:
        parts.append(
            f"{excluded_total} implausible record{'s' if excluded_total != 1 else ''} excluded "
            f"({'; '.join(sorted(applied))})"
        )
    return out, flow, "; ".join(parts) if parts else None
