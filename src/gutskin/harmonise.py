"""Config-driven harmonisation of raw sample metadata into the canonical sample table.

The ``samples:`` block of a dataset in ``config/datasets.yaml`` says, per output column, which raw column
to read (``from``) or which fixed value to use (``constant``), how to recode raw values (``map``, with
``other`` for values not listed), what type the result has (``string``, ``number``, ``integer`` or
``ordinal`` with ``levels``) and which range is plausible (``min``/``max``; values outside become missing
and are counted). Processing order per column: dataset ``missing_values`` → ``map``/``other`` → type
conversion → range check.

The canonical columns, their types and their controlled vocabularies are read from
``workflow/schemas/samples.schema.yaml`` — the one place they are defined. Canonical columns that a
dataset does not configure are missing (empty); ``dataset`` is filled in; ``body_subsite`` takes the
``body_site`` value wherever it is not configured, missing, or its raw value is not in its ``map``.

Every problem raises an error a user can act on: a bad configuration raises
:class:`~gutskin.errors.ConfigError` naming the key in ``config/datasets.yaml``; bad data raise
:class:`~gutskin.errors.InputError` naming the metadata file, the raw column, the value and the first line
it is on, and the fix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd

from .config import load_schema
from .errors import ConfigError, InputError, close_matches_note

__all__ = [
    "CANONICAL_COLUMNS",
    "UNITS",
    "canonical_type",
    "column_types",
    "harmonise",
    "samples_schema",
    "validate_samples",
    "vocabulary",
]

_TYPES = ("string", "number", "integer", "ordinal")

#: Unit conversions of ``unit: {from, to}``: unit → (dimension, factor to the dimension's base unit).
UNITS: dict[str, tuple[str, float]] = {
    "days": ("time", 1.0 / 365.25),
    "weeks": ("time", 7.0 / 365.25),
    "months": ("time", 1.0 / 12.0),
    "years": ("time", 1.0),
    "g": ("mass", 0.001),
    "kg": ("mass", 1.0),
    "lb": ("mass", 0.45359237),
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
    "in": ("length", 0.0254),
}
_SEVERAL = ("error", "first", "missing", "value")


@functools.cache
def samples_schema() -> dict[str, Any]:
    """The JSON Schema of one row of the canonical sample table (``samples.schema.yaml``)."""
    return load_schema("samples")


def _canonical_columns() -> tuple[str, ...]:
    return tuple(samples_schema()["properties"])


#: Canonical columns of ``samples.tsv``, in order (the properties of ``samples.schema.yaml``).
CANONICAL_COLUMNS: tuple[str, ...] = _canonical_columns()


def _property(column: str) -> dict[str, Any] | None:
    return samples_schema()["properties"].get(column)


def vocabulary(column: str) -> tuple[str, ...] | None:
    """Allowed (non-missing) values of a canonical column, or ``None`` if it is free text or numeric."""
    prop = _property(column)
    if prop is None or "enum" not in prop:
        return None
    return tuple(v for v in prop["enum"] if v is not None)


def canonical_type(column: str) -> str | None:
    """``"string"``, ``"number"`` or ``"integer"`` for a canonical column; ``None`` for other columns."""
    prop = _property(column)
    if prop is None:
        return None
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if "integer" in types:
        return "integer"
    if "number" in types:
        return "number"
    return "string"


# ---------------------------------------------------------------------- configuration checks
def _key(dataset: str, *parts: str) -> str:
    return "key " + "/".join(["datasets", dataset, "samples", *parts])


def _effective_type(column: str, cspec: Mapping[str, Any], config_path: Path, dataset: str) -> str:
    declared = cspec.get("type", "string")
    if declared not in _TYPES:
        raise ConfigError(
            config_path,
            f"unknown type {declared!r}",
            where=_key(dataset, "columns", column, "type"),
            hint=f"use one of {', '.join(_TYPES)}",
        )
    canon = canonical_type(column)
    if canon is None or canon == "string":
        if canon == "string" and declared in ("number", "integer", "ordinal"):
            raise ConfigError(
                config_path,
                f"canonical column {column!r} is text (see workflow/schemas/samples.schema.yaml) "
                f"but is declared type {declared!r}",
                where=_key(dataset, "columns", column, "type"),
                hint="remove the type (canonical columns take their type from the schema)",
            )
        return declared
    # numeric canonical column: the schema decides; an explicit `integer` is kept (stricter).
    if declared == "ordinal":
        raise ConfigError(
            config_path,
            f"canonical column {column!r} is numeric and cannot be ordinal",
            where=_key(dataset, "columns", column, "type"),
            hint="remove the type",
        )
    return "integer" if declared == "integer" or canon == "integer" else "number"


def _check_scalar(value: Any, config_path: Path, where: str) -> None:
    if isinstance(value, bool):
        raise ConfigError(
            config_path,
            f"{value!r} was read by YAML as a boolean (yes/no/true/false/on/off)",
            where=where,
            hint='quote it, e.g. "yes": "yes"',
        )


def _check_allowed(
    value: Any,
    column: str,
    ctype: str,
    levels: list[str] | None,
    config_path: Path,
    where: str,
) -> None:
    """Check a value produced by the configuration (map value, other, constant)."""
    if value is None:
        return
    _check_scalar(value, config_path, where)
    if ctype == "ordinal":
        if str(value) not in (levels or []):
            raise ConfigError(
                config_path,
                f"{value!r} is not one of the levels of {column!r}: {levels}",
                where=where,
                hint="map raw values onto the listed levels",
            )
        return
    if ctype in ("number", "integer"):
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                config_path,
                f"{value!r} is not a number but column {column!r} is {ctype}",
                where=where,
            ) from None
        if ctype == "integer" and not float(num).is_integer():
            raise ConfigError(config_path, f"{value!r} is not a whole number", where=where)
        return
    vocab = vocabulary(column)
    if vocab is not None and str(value) not in vocab:
        raise ConfigError(
            config_path,
            f"{value!r} is not an allowed value of {column!r}",
            where=where,
            hint=f"allowed: {', '.join(vocab)} (workflow/schemas/samples.schema.yaml)",
        )


def _normalise_map(
    cmap: Any, column: str, config_path: Path, dataset: str
) -> dict[str, Any] | None:
    if cmap is None:
        return None
    where = _key(dataset, "columns", column, "map")
    if not isinstance(cmap, Mapping):
        raise ConfigError(config_path, "map must be a mapping raw value → value", where=where)
    out: dict[str, Any] = {}
    for k, v in cmap.items():
        _check_scalar(k, config_path, f"{where}/{k}")
        if isinstance(k, float) and k.is_integer():
            raise ConfigError(
                config_path,
                f"map key {k!r} was read by YAML as a number",
                where=f"{where}/{k}",
                hint=f'quote it exactly as it appears in the data, e.g. "{k}"',
            )
        out[str(k)] = v
    return out


# ---------------------------------------------------------------------- data helpers
def _isna(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _lines(raw: pd.DataFrame) -> np.ndarray:
    if raw.index.name == "line":
        return np.asarray(raw.index, dtype=object)
    return np.array([f"row {i + 1}" for i in range(len(raw))], dtype=object)


def _where_line(line: Any) -> str:
    return f"line {line}" if not isinstance(line, str) else line


def _first_examples(values: pd.Series, mask: np.ndarray, lines: np.ndarray, k: int = 3) -> str:
    vc = pd.Series(values[mask].astype(str)).value_counts()
    parts = []
    for v, n in list(vc.items())[:k]:
        first = lines[np.flatnonzero(mask & (values.astype(str) == v).to_numpy())[0]]
        parts.append(f"{v!r} ({n} sample(s), first on {_where_line(first)})")
    more = f" and {len(vc) - k} more value(s)" if len(vc) > k else ""
    return "; ".join(parts) + more


def _refuse_values(
    source: Path,
    values: pd.Series,
    bad: np.ndarray,
    lines: np.ndarray,
    column: str,
    problem: Callable[[Any], str],
    hint: Callable[[Any], str],
    end: str = "",
) -> None:
    """Raise the :class:`InputError` for the values where ``bad`` holds, if any: ``problem(first)``,
    the first few bad values with their lines, ``end``; where = the column and the first bad line."""
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    first = values.iloc[i]
    raise InputError(
        source,
        problem(first) + _first_examples(values, bad, lines) + end,
        where=f"column {column!r}, {_where_line(lines[i])}",
        hint=hint(first),
    )


def _to_number(
    values: pd.Series,
    column: str,
    raw_col: str | None,
    ctype: str,
    lines: np.ndarray,
    source: Path,
    dataset: str,
) -> pd.Series:
    obj = values.astype(object)
    num = pd.to_numeric(obj, errors="coerce").astype("float64")
    name = raw_col or column
    bad = (num.isna() | ~np.isfinite(num.fillna(0.0))).to_numpy() & obj.notna().to_numpy()
    _refuse_values(
        source,
        obj,
        bad,
        lines,
        name,
        lambda _: f"{int(bad.sum())} value(s) of {name!r} are not numbers: ",
        lambda v: (
            f"if {v!r} means missing, add it to datasets/{dataset}/samples/"
            f"missing_values in config/datasets.yaml; otherwise map it in samples.columns.{column}.map"
        ),
    )
    if ctype == "integer":
        frac = num.notna().to_numpy() & (num.fillna(0.0) != np.round(num.fillna(0.0))).to_numpy()
        _refuse_values(
            source,
            obj,
            frac,
            lines,
            name,
            lambda _: f"{int(frac.sum())} value(s) of {name!r} are not whole numbers: ",
            lambda _: (
                f"declare samples.columns.{column}.type: number in config/datasets.yaml, "
                "or fix the data"
            ),
        )
    return num


def _is_blank(value: Any) -> bool:
    return _isna(value) or (isinstance(value, str) and not value.strip())


def _unit_factor(
    spec: Any, column: str, config_path: Path, dataset: str
) -> tuple[float, dict[str, Any]]:
    """The factor of ``unit: {from, to}`` and its record for import.json."""
    where = _key(dataset, "columns", column, "unit")
    if not isinstance(spec, Mapping) or set(spec) != {"from", "to"}:
        raise ConfigError(
            config_path,
            "unit must be a mapping {from: <unit>, to: <unit>}",
            where=where,
            hint="e.g. unit: {from: months, to: years}",
        )
    units = []
    for end in ("from", "to"):
        unit = str(spec[end])
        if unit not in UNITS:
            raise ConfigError(
                config_path,
                f"unknown unit {unit!r}",
                where=f"{where}/{end}",
                hint=f"use one of {', '.join(UNITS)}",
            )
        units.append(UNITS[unit])
    (dim_from, f_from), (dim_to, f_to) = units
    if dim_from != dim_to:
        raise ConfigError(
            config_path,
            f"cannot convert {spec['from']} ({dim_from}) to {spec['to']} ({dim_to})",
            where=where,
        )
    factor = f_from / f_to
    return factor, {"from": str(spec["from"]), "to": str(spec["to"]), "factor": factor}


def _no_column(source: Any, raw: pd.DataFrame, raw_col: str, what: str, hint: str) -> InputError:
    """The error for a raw column the configuration names but the file lacks: how many columns the file
    has and its close matches (case-insensitive), for ``from`` and ``indicators`` alike."""
    return InputError(
        source,
        f"there is no {what}; the file has {raw.shape[1]} columns"
        + close_matches_note(raw_col, raw.columns, ignore_case=True),
        where=f"column {raw_col!r}",
        hint=hint,
    )


def _from_indicators(
    raw: pd.DataFrame,
    column: str,
    cspec: Mapping[str, Any],
    *,
    ctype: str,
    levels: list[str] | None,
    dataset: str,
    source: Path,
    config_path: Path,
    missing: set[str],
    lines: np.ndarray,
    report: dict[str, Any],
) -> pd.Series:
    """One column from several indicator columns (``indicators``: raw column → value if ticked)."""
    where = _key(dataset, "columns", column)
    indicators = cspec["indicators"]
    if not isinstance(indicators, Mapping) or not indicators:
        raise ConfigError(
            config_path,
            "indicators must map each raw indicator column to the value it stands for",
            where=f"{where}/indicators",
            hint="e.g. indicators: {Psoriasis: psoriasis, Eczema: eczema}",
        )
    for key in ("map", "other", "blank"):
        if key in cspec:
            raise ConfigError(
                config_path,
                f"`{key}` does not apply to an indicators column",
                where=f"{where}/{key}",
                hint="list the values in `indicators`, `none` and `several_value`",
            )
    for raw_col, value in indicators.items():
        _check_allowed(value, column, ctype, levels, config_path, f"{where}/indicators/{raw_col}")
    ticked_values = cspec.get("ticked", ["Y"])
    unticked_values = cspec.get("unticked", [])
    for name, vals in (("ticked", ticked_values), ("unticked", unticked_values)):
        if not isinstance(vals, list):
            raise ConfigError(
                config_path, f"{name} must be a list of raw values", where=f"{where}/{name}"
            )
        for j, v in enumerate(vals):
            _check_scalar(v, config_path, f"{where}/{name}/{j}")
    ticked_set = {str(v) for v in ticked_values}
    unticked_set = {str(v) for v in unticked_values}
    none_value = cspec.get("none")
    _check_allowed(none_value, column, ctype, levels, config_path, f"{where}/none")
    several = cspec.get("several", "error")
    if several not in _SEVERAL:
        raise ConfigError(
            config_path,
            f"unknown rule {several!r} for several ticked indicators",
            where=f"{where}/several",
            hint=f"use one of {', '.join(_SEVERAL)}",
        )
    if several == "value":
        if "several_value" not in cspec:
            raise ConfigError(
                config_path,
                "several: value needs several_value (the output when more than one box is ticked)",
                where=f"{where}/several_value",
            )
        _check_allowed(
            cspec["several_value"], column, ctype, levels, config_path, f"{where}/several_value"
        )
    n = len(raw)
    ticks = np.zeros((n, len(indicators)), dtype=bool)
    for j, raw_col in enumerate(indicators):
        raw_col = str(raw_col)
        if raw_col not in raw.columns:
            raise _no_column(
                source,
                raw,
                raw_col,
                f"indicator column {raw_col!r} (samples.columns.{column}.indicators of dataset {dataset})",
                f"fix {where}/indicators in {config_path}",
            )
        vals = raw[raw_col].astype(object)
        strs = pd.Series(
            [None if _is_blank(v) or str(v) in missing else str(v).strip() for v in vals],
            index=vals.index,
            dtype=object,
        )
        is_ticked = strs.isin(ticked_set).to_numpy()
        bad = strs.notna().to_numpy() & ~is_ticked & ~strs.isin(unticked_set).to_numpy()
        _refuse_values(
            source,
            strs,
            bad,
            lines,
            raw_col,
            # called at once, within this iteration
            lambda v: (
                f"indicator column {raw_col!r} holds {v!r}, "  # noqa: B023
                f"which is neither ticked ({', '.join(sorted(ticked_set))}) nor blank: "
            ),
            lambda _: f"list it under {where}/ticked or {where}/unticked in {config_path}",
        )
        ticks[:, j] = is_ticked
    outputs = list(indicators.values())
    n_ticked = ticks.sum(axis=1)
    several_rows = n_ticked > 1
    if several_rows.any() and several == "error":
        i = int(np.flatnonzero(several_rows)[0])
        names = [str(c) for c, t in zip(indicators, ticks[i], strict=True) if t]
        raise InputError(
            source,
            f"{int(several_rows.sum())} row(s) tick more than one of the indicator columns of "
            f"{column!r}; the first, {_where_line(lines[i])}, ticks {', '.join(names)}",
            where=f"columns {', '.join(map(str, indicators))}, {_where_line(lines[i])}",
            hint=f"declare what several ticks mean: {where}/several: first | missing | value "
            f"(with several_value) in {config_path}",
        )
    result: list[Any] = []
    for i in range(n):
        if n_ticked[i] == 0:
            result.append(none_value)
        elif n_ticked[i] == 1:
            result.append(outputs[int(np.flatnonzero(ticks[i])[0])])
        elif several == "first":
            result.append(outputs[int(np.flatnonzero(ticks[i])[0])])
        elif several == "value":
            result.append(cspec["several_value"])
        else:
            result.append(None)
    report.setdefault("indicators", {})[column] = {
        "none_ticked": int((n_ticked == 0).sum()),
        "one_ticked": int((n_ticked == 1).sum()),
        "several_ticked": int(several_rows.sum()),
        "several_rule": several,
    }
    return pd.Series(result, index=raw.index, dtype=object)


def _column(
    raw: pd.DataFrame,
    column: str,
    cspec: Mapping[str, Any],
    *,
    dataset: str,
    source: Path,
    config_path: Path,
    missing: set[str],
    lines: np.ndarray,
    report: dict[str, Any],
) -> tuple[pd.Series, dict[str, Any]]:
    if not isinstance(cspec, Mapping):
        raise ConfigError(
            config_path,
            f"column {column!r} must be a mapping with `from` or `constant`",
            where=_key(dataset, "columns", column),
        )
    has_from, has_const = "from" in cspec, "constant" in cspec
    has_ind = "indicators" in cspec
    if has_from + has_const + has_ind != 1:
        raise ConfigError(
            config_path,
            f"column {column!r} needs exactly one of `from` (a raw column), `constant` or "
            "`indicators` (several indicator columns)",
            where=_key(dataset, "columns", column),
        )
    ctype = _effective_type(column, cspec, config_path, dataset)
    levels = cspec.get("levels")
    if ctype == "ordinal":
        if not isinstance(levels, list) or len(levels) < 2:
            raise ConfigError(
                config_path,
                f"ordinal column {column!r} needs `levels` (at least two, lowest first)",
                where=_key(dataset, "columns", column, "levels"),
            )
        for j, lv in enumerate(levels):
            _check_scalar(lv, config_path, _key(dataset, "columns", column, "levels", str(j)))
        levels = [str(lv) for lv in levels]
    info: dict[str, Any] = {"type": ctype}
    if ctype == "ordinal":
        info["levels"] = levels
    n = len(raw)
    cmap = _normalise_map(cspec.get("map"), column, config_path, dataset)
    raw_col: str | None = None
    is_blank = np.zeros(n, dtype=bool)

    if has_ind:
        values = _from_indicators(
            raw,
            column,
            cspec,
            ctype=ctype,
            levels=levels,
            dataset=dataset,
            source=source,
            config_path=config_path,
            missing=missing,
            lines=lines,
            report=report,
        )
        info["indicators"] = {str(k): v for k, v in cspec["indicators"].items()}
    elif has_const:
        const = cspec["constant"]
        _check_allowed(
            const, column, ctype, levels, config_path, _key(dataset, "columns", column, "constant")
        )
        values = pd.Series([const] * n, index=raw.index, dtype=object)
        info["constant"] = const
    else:
        raw_col = str(cspec["from"])
        info["from"] = raw_col
        if raw_col not in raw.columns:
            raise _no_column(
                source,
                raw,
                raw_col,
                f"column {raw_col!r} (asked for by samples.columns.{column}.from of dataset {dataset})",
                f"fix datasets/{dataset}/samples/columns/{column}/from in {config_path}",
            )
        values = raw[raw_col].astype(object)
        values = values.where(values.notna() & ~values.isin(missing), None)
        if "blank" in cspec:
            blank = cspec["blank"]
            _check_allowed(
                blank, column, ctype, levels, config_path, _key(dataset, "columns", column, "blank")
            )
            is_blank = np.array([_is_blank(v) for v in values], dtype=bool)
            if is_blank.any():
                report.setdefault("blank_filled", {})[column] = int(is_blank.sum())
            info["blank"] = blank

    if is_blank.any():
        values = values.where(~pd.Series(is_blank, index=values.index), None)
    if cmap is not None:
        for k, v in cmap.items():
            _check_allowed(
                v, column, ctype, levels, config_path, _key(dataset, "columns", column, "map", k)
            )
        other_given = "other" in cspec
        if other_given:
            _check_allowed(
                cspec["other"],
                column,
                ctype,
                levels,
                config_path,
                _key(dataset, "columns", column, "other"),
            )
        strs = [None if _isna(v) else str(v) for v in values]
        present = np.array([v is not None for v in strs], dtype=bool)
        as_str = pd.Series(strs, index=values.index, dtype=object)
        in_map = np.array([v is not None and v in cmap for v in strs], dtype=bool)
        unmapped = present & ~in_map
        mapped = pd.Series(
            [cmap[v] if ok and v is not None else None for v, ok in zip(strs, in_map, strict=True)],
            index=values.index,
            dtype=object,
        )
        if unmapped.any():
            counts = {str(k): int(v) for k, v in as_str[unmapped].value_counts().items()}
            if other_given:
                mapped[unmapped] = cspec["other"]
                report["unmapped"][column] = counts
            elif column == "body_subsite":
                report["unmapped"][column] = counts  # filled from body_site later
            else:
                _refuse_values(
                    source,
                    as_str,
                    unmapped,
                    lines,
                    str(raw_col),
                    lambda v: (
                        f"value {v!r} of column {raw_col!r} is not in "
                        f"samples.columns.{column}.map (unmapped: "
                    ),
                    lambda _: (
                        f"add it to samples.columns.{column}.map in config/datasets.yaml "
                        f"(dataset {dataset}), or give the column an `other:` value"
                    ),
                    end=")",
                )
        to_missing = int((in_map & np.array([_isna(v) for v in mapped], dtype=bool)).sum())
        if other_given and cspec["other"] is None:
            to_missing += int(unmapped.sum())
        if to_missing:
            report["mapped_to_missing"][column] = to_missing
        values = mapped
    if is_blank.any():
        values = values.astype(object).copy()
        values[is_blank] = cspec["blank"]

    if "unit" in cspec and ctype not in ("number", "integer"):
        raise ConfigError(
            config_path,
            f"`unit` converts numbers, but column {column!r} is {ctype}",
            where=_key(dataset, "columns", column, "unit"),
            hint="declare type: number, or remove `unit`",
        )
    if ctype in ("number", "integer"):
        num = _to_number(values, column, raw_col, ctype, lines, source, dataset)
        if "unit" in cspec:
            factor, unit_info = _unit_factor(cspec["unit"], column, config_path, dataset)
            num = num * factor
            info["unit"] = unit_info
        lo, hi = cspec.get("min"), cspec.get("max")
        out = np.zeros(n, dtype=bool)
        if lo is not None:
            out |= (num < float(lo)).to_numpy()
        if hi is not None:
            out |= (num > float(hi)).to_numpy()
        if out.any():
            report["out_of_range"][column] = int(out.sum())
            num[out] = np.nan
        if lo is not None:
            info["min"] = lo
        if hi is not None:
            info["max"] = hi
        return num, info

    text = pd.Series(
        [None if _isna(v) else str(v) for v in values], index=values.index, dtype=object
    )
    present = text.notna().to_numpy()
    if ctype == "ordinal":
        bad = present & ~text.isin(levels).to_numpy()
        _refuse_values(
            source,
            text,
            bad,
            lines,
            raw_col or column,
            lambda v: (
                f"value {v!r} of column {raw_col or column!r} is not one of the levels of "
                f"{column!r} ({', '.join(levels or [])}); found: "
            ),
            lambda _: (
                f"add it to samples.columns.{column}.levels (in order) or map it onto a level "
                f"in samples.columns.{column}.map in config/datasets.yaml (dataset {dataset})"
            ),
        )
        return pd.Series(
            pd.Categorical(text, categories=levels, ordered=True), index=raw.index, name=column
        ), info
    vocab = vocabulary(column)
    if vocab is not None:
        bad = present & ~text.isin(vocab).to_numpy()
        _refuse_values(
            source,
            text,
            bad,
            lines,
            raw_col or column,
            lambda v: (
                f"value {v!r} of column {raw_col or column!r} is not an allowed value of "
                f"{column!r} ({', '.join(vocab)}); found: "
            ),
            lambda _: (
                f"map it in samples.columns.{column}.map in config/datasets.yaml (dataset "
                f"{dataset})"
            ),
        )
    return text.astype("str"), info


def _per_subject(
    built: dict[str, pd.Series],
    columns: Mapping[str, Any],
    dataset: str,
    source: Path,
    config_path: Path,
    lines: np.ndarray,
    report: dict[str, Any],
) -> None:
    """Apply ``per_subject`` rules: a column that must hold one value per subject.

    ``per_subject: error`` stops at the first subject whose samples disagree (naming it, the values and
    the lines); ``per_subject: missing`` sets that subject's values missing and counts it in
    ``report["per_subject_inconsistent"]``.
    """
    for column, cspec in columns.items():
        rule = cspec.get("per_subject") if isinstance(cspec, Mapping) else None
        if rule is None:
            continue
        where = _key(dataset, "columns", str(column), "per_subject")
        if rule not in ("error", "missing"):
            raise ConfigError(
                config_path,
                f"unknown per_subject rule {rule!r}",
                where=where,
                hint="use error or missing",
            )
        if "subject_id" not in built:
            raise ConfigError(
                config_path,
                "per_subject needs a subject_id column",
                where=where,
                hint="configure samples.columns.subject_id",
            )
        values = built[str(column)]
        subj = built["subject_id"].astype(object)
        frame = pd.DataFrame({"s": subj.to_numpy(), "v": values.astype(object).to_numpy()}).dropna()
        frame["v"] = frame["v"].astype(str)
        counts = frame.groupby("s")["v"].nunique()
        bad = [str(x) for x in counts.index[counts > 1]]
        if not bad:
            continue
        if rule == "error":
            first = bad[0]
            rows = np.flatnonzero((subj.astype(str) == first).to_numpy())
            shown = ", ".join(f"{values.iloc[i]!r} on {_where_line(lines[i])}" for i in rows[:4])
            raise InputError(
                source,
                f"{len(bad)} subject(s) have more than one value of {column!r} (it must hold one "
                f"value per subject); subject {first!r}: {shown}",
                where=f"column {column!r}",
                hint=f"fix the data, or declare {where}: missing in {config_path} to set such "
                "subjects' values missing",
            )
        mask = subj.astype(str).isin(bad).to_numpy() & values.notna().to_numpy()
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.copy()
            values[mask] = np.nan
        else:
            values = values.astype(object).copy()
            values[mask] = None
        built[str(column)] = values
        report.setdefault("per_subject_inconsistent", {})[str(column)] = {
            "subjects": bad[:20],
            "n_subjects": len(bad),
            "n_samples_set_missing": int(mask.sum()),
        }


def harmonise(
    raw: pd.DataFrame,
    spec: Mapping[str, Any],
    dataset: str,
    source: str | Path,
    *,
    config_path: str | Path = "config/datasets.yaml",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply a dataset's ``samples:`` block to its raw metadata.

    Parameters
    ----------
    raw
        Raw metadata as returned by the readers of :mod:`gutskin.io.mapping` (all ``str``; index = line
        numbers named ``"line"``, used in error messages; any other index gives "row i").
    spec
        The dataset's ``samples:`` block (``id_column``, ``missing_values``, ``columns``).
    dataset
        The dataset key; fills the ``dataset`` column.
    source
        The metadata file, named in data errors.
    config_path
        The datasets file, named in configuration errors.

    Returns
    -------
    samples : pandas.DataFrame
        The canonical sample table: the columns of ``samples.schema.yaml`` in order, then the dataset's
        further columns in config order; one row per raw row, same order, default integer index. Text
        columns have dtype ``str``, numeric ones ``float64``, ordinal ones an ordered ``Categorical``;
        missing values are ``NA``.
    report : dict
        ``n_samples``; ``missing`` (per column, number missing); ``out_of_range`` (per column, values
        outside ``min``/``max`` set missing); ``unmapped`` (per column, raw value → count of values not
        in ``map`` that went to ``other``, or for ``body_subsite`` to ``body_site``);
        ``mapped_to_missing`` (per column); ``body_subsite_from_body_site``; ``columns`` (per output
        column: ``type``, ``levels``, ``from``/``constant``, ``min``/``max``).

    Raises
    ------
    ConfigError
        A malformed ``samples:`` block (key path in ``config/datasets.yaml``).
    InputError
        A raw column that does not exist (with close matches), an unmapped value without ``other``, a
        non-number in a numeric column, a value outside the controlled vocabulary, missing or duplicate
        sample ids (file, column, value, line, fix).
    """
    source = Path(source)
    config_path = Path(config_path)
    if not isinstance(spec, Mapping) or not isinstance(spec.get("columns"), Mapping):
        raise ConfigError(
            config_path,
            f"dataset {dataset!r} has no samples.columns mapping",
            where=_key(dataset, "columns"),
            hint="see docs/ARCHITECTURE.md, 'Configuration files'",
        )
    id_column = str(spec.get("id_column", "#SampleID"))
    missing_values = spec.get("missing_values") or []
    for j, mv in enumerate(missing_values):
        _check_scalar(mv, config_path, _key(dataset, "missing_values", str(j)))
    missing = {str(m) for m in missing_values}
    lines = _lines(raw)

    if id_column not in raw.columns:
        raise InputError(
            source,
            f"there is no sample-id column {id_column!r}; the file has {raw.shape[1]} columns"
            + close_matches_note(id_column, raw.columns),
            where=f"column {id_column!r}",
            hint=f"fix datasets/{dataset}/samples/id_column in {config_path}",
        )
    ids = raw[id_column].astype(object)
    ids = ids.where(ids.notna() & ~ids.isin(missing), None)
    if ids.isna().any():
        i = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(
            source,
            f"{int(ids.isna().sum())} row(s) have no sample id",
            where=f"column {id_column!r}, {_where_line(lines[i])}",
            hint="every row needs a sample id; remove the row or fill in its id",
        )
    ids = ids.astype(str)
    dup = ids.duplicated(keep=False).to_numpy()
    _refuse_values(
        source,
        ids,
        dup,
        lines,
        id_column,
        lambda _: "duplicate sample ids: ",
        lambda _: "each sample may appear once; remove or rename the repeated rows",
    )

    report: dict[str, Any] = {
        "n_samples": len(raw),
        "missing": {},
        "out_of_range": {},
        "unmapped": {},
        "mapped_to_missing": {},
        "body_subsite_from_body_site": 0,
        "columns": {},
    }
    built: dict[str, pd.Series] = {}
    for column, cspec in spec["columns"].items():
        column = str(column)
        if column in ("sample_id", "dataset"):
            raise ConfigError(
                config_path,
                f"column {column!r} is filled in automatically and cannot be configured",
                where=_key(dataset, "columns", column),
                hint="remove it (the sample id comes from samples.id_column)",
            )
        series, info = _column(
            raw,
            column,
            cspec,
            dataset=dataset,
            source=source,
            config_path=config_path,
            missing=missing,
            lines=lines,
            report=report,
        )
        built[column] = series
        report["columns"][column] = info

    _per_subject(built, spec["columns"], dataset, source, config_path, lines, report)

    n = len(raw)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for column in CANONICAL_COLUMNS:
        if column == "sample_id":
            out[column] = pd.Series(ids.to_numpy(), dtype="str")
        elif column == "dataset":
            out[column] = pd.Series([dataset] * n, dtype="str")
        elif column in built:
            out[column] = built[column].reset_index(drop=True)
        elif canonical_type(column) in ("number", "integer"):
            out[column] = pd.Series(np.full(n, np.nan), dtype="float64")
            report["columns"][column] = {"type": canonical_type(column)}
        else:
            out[column] = pd.Series([None] * n, dtype="str")
            report["columns"][column] = {"type": "string"}
        if column not in report["columns"]:
            report["columns"][column] = {"type": canonical_type(column) or "string"}

    # body_subsite falls back to body_site
    sub = out["body_subsite"]
    fill = sub.isna() & out["body_site"].notna()
    if fill.any():
        out.loc[fill, "body_subsite"] = out.loc[fill, "body_site"]
    report["body_subsite_from_body_site"] = int(fill.sum())
    if "body_subsite" not in built:
        report["columns"]["body_subsite"] = {"type": "string", "from_body_site": True}

    for column, series in built.items():
        if column not in CANONICAL_COLUMNS:
            out[column] = series.reset_index(drop=True)
    report["missing"] = {c: int(out[c].isna().sum()) for c in out.columns}
    report["columns"] = {c: report["columns"][c] for c in out.columns}
    validate_samples(out, source)
    return out, report


def column_types(samples: pd.DataFrame, report_columns: Mapping[str, Any] | None = None) -> dict:
    """Describe each column of a canonical sample table: ``{name: {"type", ["levels"]}}``.

    Types come from ``report_columns`` (the ``columns`` entry of a harmonisation report) when given,
    otherwise from the schema for canonical columns and from the dtype for the others.
    """
    result: dict[str, dict[str, Any]] = {}
    for column in samples.columns:
        if report_columns and column in report_columns:
            info = dict(report_columns[column])
            entry: dict[str, Any] = {"type": info.get("type", "string")}
            if "levels" in info:
                entry["levels"] = list(info["levels"])
        elif canonical_type(column) is not None:
            entry = {"type": canonical_type(column)}
        elif isinstance(samples[column].dtype, pd.CategoricalDtype) and samples[column].cat.ordered:
            entry = {"type": "ordinal", "levels": [str(c) for c in samples[column].cat.categories]}
        elif pd.api.types.is_numeric_dtype(samples[column].dtype):
            entry = {"type": "number"}
        else:
            entry = {"type": "string"}
        result[str(column)] = entry
    return result


def _native(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value if isinstance(value, (int, float, str)) else str(value)


def validate_samples(samples: pd.DataFrame, source: str | Path) -> None:
    """Validate a canonical sample table against ``samples.schema.yaml``, column by column.

    Equivalent to validating every row (as a JSON object with ``null`` for missing values): every
    schema property must be a column, each distinct value of a column (and ``null`` where values are
    missing) is checked against the column's subschema, and further columns against
    ``additionalProperties``. Sample ids must also be unique.

    Raises
    ------
    InputError
        Naming the column, the offending value and the first sample that has it.
    """
    schema = samples_schema()
    props: dict[str, Any] = schema["properties"]
    absent = [c for c in props if c not in samples.columns]
    if absent:
        raise InputError(
            source,
            f"the sample table lacks canonical column(s) {', '.join(absent)}",
            hint="the sample table must have every column of workflow/schemas/samples.schema.yaml",
        )
    validator_cls = jsonschema.validators.validator_for(schema)
    extra = schema.get("additionalProperties", {})
    for column in samples.columns:
        sub = props.get(column, extra)
        if sub is False:
            raise InputError(source, f"unexpected column {column!r}")
        if sub is True:
            continue
        validator = validator_cls(sub)
        col = samples[column]
        values = (
            col.cat.categories.to_list() if isinstance(col.dtype, pd.CategoricalDtype) else None
        )
        if values is None:
            values = pd.unique(col.dropna()).tolist()
        candidates = [_native(v) for v in values]
        if col.isna().any():
            candidates.append(None)
        for value in candidates:
            err = next(iter(validator.iter_errors(value)), None)
            if err is None:
                continue
            if value is None:
                row = int(np.flatnonzero(col.isna().to_numpy())[0])
            else:
                row = int(np.flatnonzero((col.astype(object) == value).to_numpy())[0])
            sid = samples["sample_id"].iloc[row] if "sample_id" in samples.columns else row
            desc = sub.get("description", "") if isinstance(sub, Mapping) else ""
            raise InputError(
                source,
                f"column {column!r} has a value not allowed by samples.schema.yaml: {err.message}",
                where=f"column {column!r}, sample {sid!r}",
                hint=f"map, range-limit (min/max) or declare missing the raw values behind {column!r} "
                "in config/datasets.yaml" + (f" (expected: {desc})" if desc else ""),
            )
    ids = samples["sample_id"]
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise InputError(
            source,
            f"duplicate sample ids: {', '.join(map(str, pd.unique(ids[dup])[:5]))}",
            where="column 'sample_id'",
            hint="each sample may appear once",
        )
