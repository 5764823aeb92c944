"""Input handling shared by the claim runners: dataset checks, metadata values, sample choice, covariates.

Each function keeps the exact behaviour its runners had before it was shared; where two runners differ on
purpose (or for reasons of history that show in their outputs), the difference is a parameter rather than
a silent change.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..stats._util import StatsInputError
from .bundle import DatasetBundle
from .common import Bundles, Claim, ClaimResult, second_depth_label

#: Covariates always treated as categorical (text columns are categorical anyway).
CATEGORICAL = frozenset(
    {"sex", "antibiotics", "country", "body_subsite", "run_center", "sample_plate"}
)

#: Preferred reference level of categorical covariates (else the most frequent level).
COVARIATE_REFERENCE: Mapping[str, str] = {"antibiotics": "not_past_year"}

#: What :func:`dataset_problem` says of a dataset that was not loaded at all, by default.
NOT_LOADED = "was not loaded (not configured)"


# ------------------------------------------------------------------------------------------------
# datasets
# ------------------------------------------------------------------------------------------------
def first_dataset(
    res: ClaimResult,
    claim: Claim,
    bundles: Bundles,
    *,
    columns: Iterable[str] = (),
    metric: str | None = None,
    not_loaded: str = NOT_LOADED,
) -> tuple[str, DatasetBundle | None]:
    """The claim's first dataset: its name and bundle, or its name and None when it cannot be used.

    In the second case ``res.data_problem`` says why (:func:`dataset_problem`, with the same checks).
    """
    ds = claim["datasets"][0]
    bundle = bundles.get(ds)
    problem = dataset_problem(bundle, ds, columns=columns, metric=metric, not_loaded=not_loaded)
    if problem:
        res.data_problem = problem
        return ds, None
    return ds, bundle


def alpha_metric_problem(bundle: DatasetBundle, ds: str, metric: str) -> str | None:
    """Why ``metric`` cannot be analysed in ``ds`` (its ``<metric>_mean`` was not computed), or None."""
    if f"{metric}_mean" not in bundle.alpha.columns:
        return f"alpha metric {metric} not computed for {ds}"
    return None


def dataset_problem(
    bundle: DatasetBundle | None,
    ds: str,
    *,
    columns: Iterable[str] = (),
    metric: str | None = None,
    not_loaded: str = NOT_LOADED,
) -> str | None:
    """Why dataset ``ds`` cannot be used, or None; the first problem found, in this order.

    Parameters
    ----------
    bundle
        The loaded dataset, or None when it was not loaded.
    ds
        Its name, as the claim gives it.
    columns
        Sample-table columns the analysis needs; the missing ones are named in the given order.
    metric
        Alpha metric the analysis needs (see :func:`alpha_metric_problem`).
    not_loaded
        The words after ``"dataset <ds> "`` for a dataset that was not loaded. The runners
        ``alpha_condition``, ``paired_mirror`` and ``differential_abundance`` say
        ``"unavailable: not configured"`` there; the others the default.
    """
    if bundle is None:
        return f"dataset {ds} {not_loaded}"
    if not bundle.available:
        return f"dataset {ds} unavailable: {bundle.reason}"
    problem = missing_columns_problem(bundle, ds, columns)
    if problem is None and metric is not None:
        problem = alpha_metric_problem(bundle, ds, metric)
    return problem


def missing_columns_problem(bundle: DatasetBundle, ds: str, columns: Iterable[str]) -> str | None:
    """Which of ``columns`` the sample table of ``ds`` lacks (in the given order), or None."""
    missing = [c for c in columns if c not in bundle.samples.columns]
    if missing:
        return (
            f"dataset {ds} has no column(s) {', '.join(missing)} in its sample table; "
            "add them to its samples.columns in config/datasets.yaml"
        )
    return None


def values_caveat(bundle: DatasetBundle) -> str | None:
    """A caveat when diversity was computed on microarray signal or relative values (not rarefied)."""
    values = bundle.diversity_info.get("values") or bundle.import_info.get("values")
    if values == "signal":
        return (
            f"Diversity in {bundle.name} was computed on microarray (HITChip) signal, not on sequence counts, "
            "and was not rarefied: its values are not comparable with 16S-based diversity of other datasets; "
            "only the within-study contrasts are interpretable."
        )
    if values == "relative":
        return (
            f"Diversity in {bundle.name} was computed on relative abundances (not rarefied); richness-type "
            "metrics depend on sequencing depth there."
        )
    return None


# ------------------------------------------------------------------------------------------------
# metadata values
# ------------------------------------------------------------------------------------------------
def norm_value(value: Any) -> str | None:
    """A metadata value as comparable text: ``1``, ``1.0`` and ``"1"`` all become ``"1"``; missing → None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, np.floating):
        return norm_value(float(value))
    text = str(value).strip()
    return text or None


def norm_series(s: pd.Series) -> pd.Series:
    """:func:`norm_value` applied to a column (object dtype, ``None`` for missing)."""
    return pd.Series([norm_value(v) for v in s.to_numpy(dtype=object)], index=s.index, dtype=object)


# ------------------------------------------------------------------------------------------------
# one sample per subject
# ------------------------------------------------------------------------------------------------
def pick_one_per_subject(
    df: pd.DataFrame, how: str, seed: int, prefer: pd.Series | None = None
) -> pd.DataFrame:
    """Keep one row per ``subject_id``: the first by sample id (``how="first"``) or a random one.

    ``prefer`` (boolean, aligned with ``df``) ranks preferred rows first (e.g. fecal samples). ``how`` must
    be ``"first"`` or ``"random"``; the random keys are drawn in the order of ``df``.
    """
    if how not in ("first", "random"):
        raise StatsInputError(
            f"one_sample_per_subject must be 'first' or 'random', got {how!r}",
            where="params.one_sample_per_subject",
        )
    out = df.assign(_pref=0 if prefer is None else (~prefer.astype(bool)).astype(int))
    if how == "random":
        rng = np.random.default_rng(seed)
        out = out.assign(_k=rng.random(len(out)))
    else:
        out = out.assign(_k=0.0)
    out = out.sort_values(["subject_id", "_pref", "_k", "sample_id"])
    return out.drop_duplicates("subject_id", keep="first").drop(columns=["_pref", "_k"])


def first_or_random_per_subject(df: pd.DataFrame, how: str, seed: int) -> pd.DataFrame:
    """Keep one row per ``subject_id``, as ``alpha_condition`` and ``differential_abundance`` do.

    Rows are sorted by subject and sample id first; ``how="random"`` then draws the random keys in that
    order (any other value keeps the first sample by id). This is not :func:`pick_one_per_subject`:
    its random keys are drawn before sorting, so the two pick different random samples from one seed.
    """
    df = df.sort_values(["subject_id", "sample_id"])
    if how == "random":
        keys = np.random.default_rng(seed).random(len(df))
        df = df.assign(_k=keys).sort_values(["subject_id", "_k"]).drop(columns="_k")
    return df.drop_duplicates("subject_id", keep="first")


# ------------------------------------------------------------------------------------------------
# covariates
# ------------------------------------------------------------------------------------------------
def _is_categorical(var: str, data: pd.DataFrame, categorical: Collection[str]) -> bool:
    return var in categorical or not pd.api.types.is_numeric_dtype(data[var])


def covariate_term(
    var: str,
    data: pd.DataFrame,
    categorical: Collection[str] = CATEGORICAL,
    preferred: Mapping[str, str] | None = COVARIATE_REFERENCE,
) -> str:
    """Patsy term of a covariate: ``C(var, Treatment(ref))`` for categorical ones, else the name.

    A covariate is categorical when it is named in ``categorical`` or not numeric. Its reference level
    is ``preferred[var]`` when that level occurs, else the most frequent level; ``preferred=None`` always
    takes the most frequent level (``alpha_condition`` and ``differential_abundance``).
    """
    if not _is_categorical(var, data, categorical):
        return var
    levels = data[var].value_counts()
    ref = preferred.get(var) if preferred else None
    if ref is None or ref not in levels.index:
        ref = levels.idxmax()
    return f"C({var}, Treatment({ref!r}))"


def prepare_covariates(
    data: pd.DataFrame,
    covariates: list[str],
    categorical: Collection[str] = CATEGORICAL,
    *,
    numeric_as_float: bool = True,
) -> pd.DataFrame:
    """A copy of ``data`` with categorical covariates as text and, by default, numeric ones as floats.

    ``numeric_as_float=False`` leaves numeric covariates as they are (``alpha_condition`` and
    ``differential_abundance``, whose tables show integers as integers).
    """
    data = data.copy()
    for c in covariates:
        if _is_categorical(c, data, categorical):
            data[c] = data[c].astype(str)
        elif numeric_as_float:
            data[c] = data[c].astype(float)
    return data


def add_second_depth(data: pd.DataFrame, bundle: DatasetBundle, metric: str) -> str | None:
    """Add ``<metric>_depth2`` (alpha at the second rarefaction depth) to ``data`` where computed.

    Rows are matched on ``data``'s index (sample ids). Returns the analysis label (see
    :func:`~gutskin.claims.common.second_depth_label`), or ``None`` when the diversity step did not
    compute the column (e.g. unrarefied tables); ``data`` is then unchanged.
    """
    column = f"{metric}_depth2_mean"
    if column not in bundle.alpha.columns:
        return None
    data[f"{metric}_depth2"] = bundle.alpha.loc[data.index, column].astype(float)
    return second_depth_label(metric, bundle.diversity_info)
