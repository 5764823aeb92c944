"""Differential abundance (DA) of taxa between two groups, and a pre-registered log-ratio.

No rarefying: every function here works on the unrarefied counts (McMurdie & Holmes 2014; CLAIMS.md §3.1).

Per-taxon tests (two methods, because DA methods disagree widely; Nearing et al. 2022)
    :func:`ancombc_test` — ANCOM-BC2 (Lin & Peddada 2024; ``skbio.stats.composition.ancombc2``) with a
    covariate formula, or ANCOM-BC (``ancombc``), repeated at several pseudocounts (the ANCOMBC authors'
    pseudocount sensitivity analysis); :func:`dirmult_test` — the ALDEx2-like Dirichlet-multinomial Welch
    test (``dirmult_ttest``; no covariates). Log fold changes are on the natural-log scale for both
    (``dirmult_ttest`` reports log2; it is converted).
Multiple testing and consensus
    :func:`call_taxa` adds Benjamini–Hochberg q-values (:func:`gutskin.stats.multiple.bh`, one family per
    call) and the per-method and consensus calls: a taxon is a *consensus* call when both methods call it
    significant with the same sign.
Pre-registered log-ratio
    :func:`taxon_counts` sums the reads of named taxa (e.g. genus *Faecalibacterium*, family
    Enterobacteriaceae); :func:`log_ratio` is the per-sample log-ratio of two groups of them. Being a ratio
    of parts of the same sample, it does not depend on the unknown sampling fraction, so its group
    difference is a log fold change without a compositional reference problem.

Inputs are samples × taxa count tables (:class:`pandas.DataFrame`) plus a metadata frame with the same
index. Bad input raises :class:`~gutskin.stats._util.StatsInputError`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..io.table import FeatureTable
from ..taxonomy import RANKS, collapse, disjoint_sets, lineage_table
from ._util import StatsInputError
from .multiple import bh

__all__ = [
    "ANCOMBC_METHODS",
    "TaxonSpec",
    "ancombc_test",
    "call_taxa",
    "collapse_to_rank",
    "counts_frame",
    "dirmult_test",
    "log_ratio",
    "parse_taxa",
    "prevalence_filter",
    "taxon_counts",
    "taxon_labels",
]

#: ANCOM-BC implementations of scikit-bio that :func:`ancombc_test` can run.
ANCOMBC_METHODS = ("ancombc2", "ancombc")

_DIRECTIONS = ("lower", "higher")


# ------------------------------------------------------------------------------------------------
# taxa
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaxonSpec:
    """A named taxon at a rank, optionally with a pre-registered direction.

    Attributes
    ----------
    name
        The taxon name as written in the lineage, without its rank prefix (``Faecalibacterium``).
    rank
        One of :data:`gutskin.taxonomy.RANKS` (``genus``, ``family`` …).
    direction
        ``"lower"`` or ``"higher"`` in cases than in the reference group (the hypothesis), or ``None``.
    """

    name: str
    rank: str
    direction: str | None = None
    #: names of other listed taxa whose features this one gives up in sums (e.g. a family without a
    #: listed genus of its own), so that the sets are disjoint
    exclude: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``"Faecalibacterium (genus)"``."""
        return f"{self.name} ({self.rank})"


def parse_taxa(specs: Sequence[Mapping[str, Any]], where: str = "taxa") -> list[TaxonSpec]:
    """Turn ``[{name, rank, direction}, …]`` (from claims.yaml) into :class:`TaxonSpec` objects.

    Raises
    ------
    StatsInputError
        Naming the entry with a missing name, an unknown rank or direction, or a duplicate.
    """
    out: list[TaxonSpec] = []
    for i, spec in enumerate(specs):
        here = f"{where}[{i}]"
        if not isinstance(spec, Mapping) or not str(spec.get("name", "")).strip():
            raise StatsInputError(
                f"taxon entry {spec!r} has no name", where=here, hint="write {name: …, rank: genus}"
            )
        rank = str(spec.get("rank", "genus"))
        if rank not in RANKS:
            raise StatsInputError(
                f"unknown rank {rank!r} for taxon {spec['name']!r}",
                where=here,
                hint=f"use one of {', '.join(RANKS)}",
            )
        direction = spec.get("direction")
        if direction is not None and direction not in _DIRECTIONS:
            raise StatsInputError(
                f"direction must be 'lower' or 'higher', got {direction!r}",
                where=here,
            )
        exclude = spec.get("exclude") or ()
        if isinstance(exclude, str) or not all(isinstance(e, str) for e in exclude):
            raise StatsInputError(
                f"exclude must be a list of taxon names, got {exclude!r}", where=here
            )
        t = TaxonSpec(str(spec["name"]).strip(), rank, direction, tuple(exclude))
        if any(o.name == t.name and o.rank == t.rank for o in out):
            raise StatsInputError(f"taxon {t.label} is listed twice", where=here)
        out.append(t)
    return out


def collapse_to_rank(table: FeatureTable, rank: str) -> FeatureTable:
    """Collapse ``table`` to ``rank`` by lineage (:func:`gutskin.taxonomy.collapse`).

    Features are grouped by their lineage down to ``rank`` (QIIME's convention: ``…;f__X;g__`` — an
    unclassified genus of family X — is a group of its own).

    Raises
    ------
    StatsInputError
        When the table has no taxonomy or a lineage cannot be parsed.
    """
    try:
        return collapse(table, rank)
    except ValueError as exc:
        raise StatsInputError(
            f"cannot collapse the table to {rank}: {exc}",
            where="feature table taxonomy",
            hint="differential abundance by rank needs a table whose features carry lineages",
        ) from None


def taxon_labels(lineages: pd.Series, rank: str) -> pd.Series:
    """Readable names for collapsed taxa: ``Faecalibacterium``, or ``Lachnospiraceae (unclassified genus)``.

    Parameters
    ----------
    lineages
        Lineage per collapsed feature (index: feature id).
    rank
        The rank the table was collapsed to.
    """
    parsed = lineage_table(lineages)
    depth = RANKS.index(rank)
    labels = {}
    for fid, row in parsed.iterrows():
        values = [None if pd.isna(v) else str(v) for v in row.iloc[: depth + 1]]
        if values[depth] is not None:
            labels[fid] = values[depth]
            continue
        named = [v for v in values if v is not None]
        labels[fid] = f"{named[-1]} (unclassified {rank})" if named else "Unassigned"
    return pd.Series(labels, dtype=object).reindex(lineages.index.astype(str))


def _matches(parsed: pd.DataFrame, taxon: TaxonSpec) -> np.ndarray:
    col = parsed[taxon.rank]
    want = taxon.name.casefold()
    return np.array([not pd.isna(v) and str(v).casefold() == want for v in col], dtype=bool)


def taxon_counts(table: FeatureTable, taxa: Sequence[TaxonSpec]) -> pd.DataFrame:
    """Reads of each named taxon per sample: the sum over all features in it (samples × taxa).

    A family's count includes the reads of all its genera (named or not), except those of listed
    taxa it ``exclude``-s. The sets must be disjoint after the exclusions, so that no read counts
    twice in a log-ratio: :class:`gutskin.taxonomy.OverlappingTaxaError` names two sets that overlap
    (e.g. Faecalibacterium and Ruminococcaceae without ``exclude: [Faecalibacterium]``).

    Raises
    ------
    StatsInputError
        When the table has no taxonomy, or a taxon matches no feature (a typo would otherwise give a
        column of zeros).
    """
    if table.taxonomy is None:
        raise StatsInputError(
            "the feature table has no taxonomy, so named taxa cannot be found",
            where="feature table taxonomy",
            hint="use a table whose features carry lineages",
        )
    try:
        parsed = lineage_table(table.taxonomy.reindex(table.feature_ids.astype(str)))
    except ValueError as exc:
        raise StatsInputError(f"cannot parse the lineages: {exc}", where="taxonomy") from None
    masks = {}
    for taxon in taxa:
        mask = _matches(parsed, taxon)
        if not mask.any():
            raise StatsInputError(
                f"no feature of the table belongs to {taxon.label}",
                where=f"taxon {taxon.label}",
                hint="check the spelling and the rank against the table's lineages",
            )
        masks[taxon.label] = mask
    by_name = {t.name: t.label for t in taxa}
    excludes: dict[str, Sequence[str]] = {}
    for taxon in taxa:
        unknown = [e for e in taxon.exclude if e not in by_name]
        if unknown:
            raise StatsInputError(
                f"{taxon.label} excludes {unknown}, which are not listed taxa",
                where=f"taxon {taxon.label}",
                hint="exclude names other entries of the same taxa list",
            )
        excludes[taxon.label] = [by_name[e] for e in taxon.exclude]
    # raises taxonomy.OverlappingTaxaError when two sets still share features
    masks = disjoint_sets(masks, excludes)
    cols = {}
    for label, mask in masks.items():
        cols[label] = np.asarray(table.counts[:, np.flatnonzero(mask)].sum(axis=1)).ravel()
    return pd.DataFrame(cols, index=pd.Index(table.sample_ids.astype(str), name="sample_id"))


def log_ratio(
    counts: pd.DataFrame,
    numerator: Sequence[str],
    denominator: Sequence[str],
    pseudocount: float = 0.5,
) -> pd.Series:
    """Per-sample log-ratio ``mean_i log(n_i + c) − mean_j log(d_j + c)`` (natural log).

    The mean of the logs is the log of the geometric mean, so each listed taxon has equal weight. With
    one taxon in each group this is ``log((n + c) / (d + c))``.

    Parameters
    ----------
    counts
        Samples × taxa reads (e.g. from :func:`taxon_counts`).
    numerator, denominator
        Column names of ``counts``; not empty, not overlapping.
    pseudocount
        Added to every count before the log (> 0), so that samples without a taxon keep a finite value.
    """
    num, den = list(numerator), list(denominator)
    if not num or not den:
        raise StatsInputError(
            "a log-ratio needs at least one taxon in the numerator and one in the denominator",
            where="numerator/denominator",
        )
    overlap = set(num) & set(den)
    if overlap:
        raise StatsInputError(
            f"taxa {sorted(overlap)} are in both the numerator and the denominator",
            where="numerator/denominator",
        )
    missing = [c for c in [*num, *den] if c not in counts.columns]
    if missing:
        raise StatsInputError(
            f"taxa {missing} are not columns of the count table", where="numerator/denominator"
        )
    if not (
        isinstance(pseudocount, int | float) and pseudocount > 0 and math.isfinite(pseudocount)
    ):
        raise StatsInputError(f"pseudocount must be > 0, got {pseudocount!r}", where="pseudocount")
    logs = np.log(counts[[*num, *den]].to_numpy(dtype=np.float64) + pseudocount)
    value = logs[:, : len(num)].mean(axis=1) - logs[:, len(num) :].mean(axis=1)
    return pd.Series(value, index=counts.index, name="log_ratio")


def counts_frame(table: FeatureTable) -> pd.DataFrame:
    """Dense samples × features frame of a (small, collapsed) table; columns = feature ids."""
    dense = table.counts.toarray()
    return pd.DataFrame(
        dense,
        index=pd.Index(table.sample_ids.astype(str), name="sample_id"),
        columns=pd.Index(table.feature_ids.astype(str), name="feature_id"),
    )


def prevalence_filter(counts: pd.DataFrame, min_prevalence: float) -> pd.DataFrame:
    """Keep the taxa present (count > 0) in at least ``min_prevalence`` of the samples.

    Raises
    ------
    StatsInputError
        If ``min_prevalence`` is outside [0, 1] or fewer than two taxa remain (a composition needs two).
    """
    if not 0 <= min_prevalence <= 1:
        raise StatsInputError(
            f"min_prevalence must be in [0, 1], got {min_prevalence}", where="min_prevalence"
        )
    prevalence = (counts > 0).mean(axis=0)
    kept = counts.loc[:, prevalence >= min_prevalence]
    if kept.shape[1] < 2:
        raise StatsInputError(
            f"only {kept.shape[1]} taxa are present in at least {min_prevalence:.0%} of the "
            f"{counts.shape[0]} samples",
            where="min_prevalence",
            hint="lower the prevalence threshold or use a coarser rank",
        )
    return kept


# ------------------------------------------------------------------------------------------------
# the two DA methods
# ------------------------------------------------------------------------------------------------
def _check_inputs(counts: pd.DataFrame, metadata: pd.DataFrame) -> None:
    if counts.shape[0] != metadata.shape[0] or not counts.index.equals(metadata.index):
        raise StatsInputError(
            "the count table and the metadata must have the same samples in the same order",
            where="counts/metadata index",
        )
    if counts.shape[0] < 4:
        raise StatsInputError(f"too few samples ({counts.shape[0]})", where="counts")
    values = counts.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise StatsInputError(
            "counts must be finite and non-negative", where="counts", hint="check the table"
        )
    empty = np.flatnonzero(values.sum(axis=1) == 0)
    if empty.size:
        raise StatsInputError(
            f"{empty.size} sample(s) have no reads in the tested taxa (e.g. {counts.index[empty[0]]})",
            where="counts",
            hint="drop samples with no reads before testing",
        )


def _pc_key(pc: float) -> str:
    return f"{pc:g}"


def ancombc_test(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    formula: str,
    term: str,
    *,
    method: str = "ancombc2",
    pseudocounts: Sequence[float] = (0.0, 0.1, 0.5, 1.0),
) -> pd.DataFrame:
    """ANCOM-BC2 (or ANCOM-BC) of every taxon, reporting one coefficient, at several pseudocounts.

    Parameters
    ----------
    counts
        Samples × taxa counts (unrarefied; already prevalence-filtered).
    metadata
        Covariates, same index as ``counts``; every variable of ``formula``.
    formula
        Patsy right-hand side, e.g. ``"case + age + sex + bmi"``. String columns are categorical with
        the alphabetically first level as reference (scikit-bio's convention).
    term
        The coefficient to report, e.g. ``"case"`` for a 0/1 column.
    method
        ``"ancombc2"`` (default; zeros are handled by the method at pseudocount 0) or ``"ancombc"``
        (needs every pseudocount > 0).
    pseudocounts
        The first is the main analysis; the others are the pseudocount sensitivity analysis recommended by
        the ANCOMBC authors (a call is *robust* when every pseudocount gives the same decision).

    Returns
    -------
    pandas.DataFrame
        Index = taxa; ``lfc`` (natural-log fold change, bias-corrected), ``se``, ``ci_low``/``ci_high``
        (Wald 95 %), ``p`` (two-sided, from the main pseudocount) and ``p_pc<c>`` / ``lfc_pc<c>`` for every
        pseudocount (``p_pc0``, ``p_pc0.1``, …). p-values are raw: adjust them with :func:`call_taxa`.
        scikit-bio's own adjustment is run with ``p_adjust="bh"`` but not used.

    Raises
    ------
    StatsInputError
        Unknown method, a zero pseudocount with ``ancombc``, mismatched inputs, a term that is not in the
        model, or a failure inside scikit-bio (its message is quoted).
    """
    from skbio.stats.composition import ancombc, ancombc2

    if method not in ANCOMBC_METHODS:
        raise StatsInputError(
            f"unknown ANCOM-BC method {method!r}", where="method", hint=f"use {ANCOMBC_METHODS}"
        )
    pcs = [float(p) for p in pseudocounts]
    if not pcs or any(p < 0 or not math.isfinite(p) for p in pcs):
        raise StatsInputError(
            f"pseudocounts must be a non-empty list of numbers >= 0, got {list(pseudocounts)!r}",
            where="pseudocounts",
        )
    if method == "ancombc" and min(pcs) <= 0:
        raise StatsInputError(
            "ANCOM-BC needs strictly positive counts: every pseudocount must be > 0",
            where="pseudocounts",
            hint="use e.g. [1, 0.5, 0.1], or method ancombc2",
        )
    _check_inputs(counts, metadata)
    out = pd.DataFrame(index=pd.Index(counts.columns, name="taxon"))
    for k, pc in enumerate(pcs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if method == "ancombc2":
                    res = ancombc2(counts, metadata, formula, pseudocount=pc, p_adjust="bh").result
                else:
                    res = ancombc(counts + pc, metadata, formula, p_adjust="bh").result
        except Exception as exc:  # scikit-bio raises ValueError, LinAlgError, patsy errors …
            raise StatsInputError(
                f"{method} failed at pseudocount {pc:g}: {type(exc).__name__}: {exc}",
                where=f"formula {formula!r}",
                hint="check for covariates that are constant or collinear among the samples",
            ) from None
        covariates = res.index.get_level_values("Covariate")
        if term not in set(covariates):
            raise StatsInputError(
                f"term {term!r} is not a coefficient of {formula!r}",
                where=f"term {term!r}",
                hint=f"available: {sorted(set(covariates))}",
            )
        r = res.xs(term, level="Covariate").reindex(counts.columns)
        key = _pc_key(pc)
        out[f"lfc_pc{key}"] = r["Log(FC)"].to_numpy(dtype=float)
        out[f"p_pc{key}"] = r["pvalue"].to_numpy(dtype=float)
        if k == 0:
            out["lfc"] = r["Log(FC)"].to_numpy(dtype=float)
            out["se"] = r["SE"].to_numpy(dtype=float)
            out["p"] = r["pvalue"].to_numpy(dtype=float)
    z = 1.959963984540054
    out["ci_low"] = out["lfc"] - z * out["se"]
    out["ci_high"] = out["lfc"] + z * out["se"]
    first = ["lfc", "se", "ci_low", "ci_high", "p"]
    return out[first + [c for c in out.columns if c not in first]]


def dirmult_test(
    counts: pd.DataFrame,
    case: pd.Series,
    *,
    draws: int = 128,
    pseudocount: float = 0.5,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """The ALDEx2-like Dirichlet-multinomial Welch t-test (``skbio``'s ``dirmult_ttest``), cases vs rest.

    Parameters
    ----------
    counts
        Samples × taxa counts (unrarefied).
    case
        Boolean per sample (same index as ``counts``): ``True`` = case, ``False`` = reference.
    draws
        Posterior Dirichlet draws.
    pseudocount
        Added to the counts before the draws.
    seed
        Seed or generator for the draws.

    Returns
    -------
    pandas.DataFrame
        Index = taxa; ``lfc`` (mean CLR difference, natural log), ``ci_low``/``ci_high`` (scikit-bio's
        conservative 95 % interval: the widest per-draw interval), ``p`` (the mean per-draw Welch p).
    """
    from skbio.stats.composition import dirmult_ttest

    if not isinstance(case, pd.Series) or not case.index.equals(counts.index):
        raise StatsInputError(
            "case must be a boolean Series with the same index as counts", where="case"
        )
    flags = case.astype(bool)
    n1, n2 = int(flags.sum()), int((~flags).sum())
    if n1 < 2 or n2 < 2:
        raise StatsInputError(
            f"each group needs at least 2 samples (cases {n1}, reference {n2})", where="case"
        )
    _check_inputs(counts, flags.to_frame("case"))
    grouping = pd.Series(np.where(flags, "case", "reference"), index=counts.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = dirmult_ttest(
            counts,
            grouping,
            treatment="case",
            reference="reference",
            pseudocount=pseudocount,
            draws=int(draws),
            p_adjust="bh",
            seed=seed,
        )
    ln2 = math.log(2.0)
    res = res.reindex(counts.columns)
    return pd.DataFrame(
        {
            "lfc": res["Log2(FC)"].to_numpy(float) * ln2,
            "ci_low": res["CI(2.5)"].to_numpy(float) * ln2,
            "ci_high": res["CI(97.5)"].to_numpy(float) * ln2,
            "p": res["pvalue"].to_numpy(float),
        },
        index=pd.Index(counts.columns, name="taxon"),
    )


# ------------------------------------------------------------------------------------------------
# FDR and consensus
# ------------------------------------------------------------------------------------------------
def _bh_column(values: pd.Series) -> np.ndarray:
    vals = [None if not math.isfinite(float(v)) else min(1.0, max(0.0, float(v))) for v in values]
    q = bh(vals)
    return np.array([np.nan if v is None else v for v in q], dtype=float)


def call_taxa(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Benjamini–Hochberg q-values, per-method calls and the consensus, over all rows of ``table``.

    ``table`` is one BH family: one row per (taxon, contrast) test of a claim, with the columns of
    :func:`ancombc_test` prefixed ``ancombc_`` and those of :func:`dirmult_test` prefixed ``dirmult_``
    (``ancombc_lfc``, ``ancombc_p``, ``ancombc_p_pc<c>``, ``ancombc_lfc_pc<c>``, ``dirmult_lfc``,
    ``dirmult_ci_low``, ``dirmult_ci_high``, ``dirmult_p``).

    Rules (``q`` = BH-adjusted p over all rows, NaN p-values left out of the family):

    * ``ancombc_signif``: ``q < alpha`` at every pseudocount and the same sign of the log fold change at
      every pseudocount (significant *and* robust to the pseudocount);
    * ``dirmult_signif``: ``q < alpha`` and the 95 % interval excludes 0 (scikit-bio's rule);
    * ``consensus``: ``"lower"`` or ``"higher"`` when both methods are significant with the same sign,
      else ``""``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with ``ancombc_q``, ``ancombc_q_pc<c>``, ``ancombc_robust``, ``ancombc_signif``,
        ``dirmult_q``, ``dirmult_signif`` and ``consensus`` added.
    """
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be in (0, 1), got {alpha}", where="alpha")
    need = ["ancombc_lfc", "ancombc_p", "dirmult_lfc", "dirmult_p", "dirmult_ci_low"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise StatsInputError(f"columns {missing} are missing", where="DA table")
    out = table.copy()
    out["ancombc_q"] = _bh_column(out["ancombc_p"])
    pc_cols = [c for c in out.columns if re.fullmatch(r"ancombc_p_pc[0-9.e+-]+", c)]
    decisions = [out["ancombc_q"] < alpha]
    signs = [np.sign(out["ancombc_lfc"])]
    for col in pc_cols:
        key = col.removeprefix("ancombc_p_pc")
        out[f"ancombc_q_pc{key}"] = _bh_column(out[col])
        decisions.append(out[f"ancombc_q_pc{key}"] < alpha)
        lfc_col = f"ancombc_lfc_pc{key}"
        if lfc_col in out.columns:
            signs.append(np.sign(out[lfc_col]))
    dec = pd.concat(decisions, axis=1)
    same_decision = dec.eq(dec.iloc[:, 0], axis=0).all(axis=1)
    same_sign = pd.concat(signs, axis=1).eq(signs[0], axis=0).all(axis=1)
    out["ancombc_robust"] = same_decision & same_sign
    out["ancombc_signif"] = dec.all(axis=1) & same_sign
    out["dirmult_q"] = _bh_column(out["dirmult_p"])
    excludes_zero = (out["dirmult_ci_low"] > 0) | (out["dirmult_ci_high"] < 0)
    out["dirmult_signif"] = (out["dirmult_q"] < alpha) & excludes_zero
    agree = np.sign(out["ancombc_lfc"]) == np.sign(out["dirmult_lfc"])
    both = out["ancombc_signif"] & out["dirmult_signif"] & agree
    out["consensus"] = np.where(both, np.where(out["ancombc_lfc"] > 0, "higher", "lower"), "")
    return out
