"""The diversity step of one dataset: rarefaction, alpha, beta, PCoA, written atomically to files.

Callable without Snakemake (``scripts/diversity.py`` is a thin adapter around :func:`run_diversity`).

Files written to ``out_dir``
----------------------------
(names from :mod:`gutskin.layout`)

``alpha.tsv``
    ``sample_id``, ``<metric>_mean`` and ``<metric>_sd`` per metric, ``depth``, ``iterations``; one
    row per retained sample. With a second rarefaction depth (``sensitivity_depth`` > 0, counts only)
    also ``<metric>_depth2_mean`` per non-phylogenetic metric (the depth is ``depth2`` in the
    summary): see :func:`run_diversity`.
``depth.tsv``
    ``sample_id``, ``reads`` (row total), ``retained`` (``True``/``False``); one row per sample.
``beta_<metric>.npz``
    ``ids`` (unicode array of the retained sample ids) and ``condensed`` (float64, ``squareform``
    order), readable with ``numpy.load(..., allow_pickle=False)``.
``pcoa_<metric>.tsv``
    ``sample_id``, ``PC1`` .. ``PCk``.

Every file is written to a temporary file in ``out_dir`` and renamed into place, so a failed run never
leaves a half-written output. A table with 0 samples (an unavailable dataset) gives valid files with a
header and no rows (and empty ``.npz`` arrays).

Tables whose ``values`` are ``relative`` or ``signal`` are not rarefied: alpha diversity is computed on
the proportions (``observed`` then counts features with a value > 0), Bray–Curtis on proportions,
Jaccard on presence/absence of the unrarefied values, robust Aitchison on the values (rCLR is
scale-invariant); samples whose values are all 0 are dropped. The summary then says
``"rarefied": false``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._atomic import atomic_write
from ..errors import InputError
from ..io.newick import prepare_tree
from ..layout import ALPHA_TSV, DEPTH_TSV, TREE_NWK, beta_npz, pcoa_tsv
from ._common import positive_int
from .alpha import alpha_diversity
from .ordination import pcoa
from .phylogeny import backend_summary, faith_pd, repeated_rarefaction_faith_pd
from .rarefy import _prepare, check_alpha_metrics, repeated_rarefaction_alpha
from .registry import ALPHA, BETA, beta_diversity, check_beta_metrics, mean_rarefied_beta

if TYPE_CHECKING:  # pragma: no cover
    from ..io.table import FeatureTable

__all__ = ["depth2_seed", "run_diversity"]

#: Appended to the base seed to derive the seed of the second rarefaction depth.
DEPTH2_SEED_KEY = 2


def depth2_seed(seed: int) -> np.random.SeedSequence:
    """The seed of the second rarefaction depth: ``numpy.random.SeedSequence([seed, 2])``.

    Its entropy differs from ``SeedSequence(seed)`` (and from every child that ``spawn`` gives it), so
    the depth-2 draws are independent of the main depth's while depending only on ``seed``.
    """
    return np.random.SeedSequence([int(seed), DEPTH2_SEED_KEY])


log = logging.getLogger(__name__)


def _write_tsv(df: pd.DataFrame, path: Path) -> None:
    text = df.to_csv(sep="\t", index=False, lineterminator="\n", na_rep="")
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def _write_npz(path: Path, ids: np.ndarray, condensed: np.ndarray) -> None:
    ids_u = np.asarray(ids, dtype=str)
    if ids_u.size == 0:
        ids_u = np.zeros(0, dtype="<U1")
    cond = np.ascontiguousarray(condensed, dtype=np.float64)
    atomic_write(path, lambda fh: np.savez(fh, ids=ids_u, condensed=cond))


def _proportions(csr: sp.csr_array, rows: np.ndarray) -> sp.csr_array:
    sub = sp.csr_array(csr[rows]) if rows.size != csr.shape[0] else csr
    sums = np.asarray(sub.sum(axis=1)).ravel()
    row_of = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    data = sub.data / sums[row_of] if sub.data.size else sub.data.astype(np.float64)
    return sp.csr_array((data, sub.indices, sub.indptr), shape=sub.shape)


def run_diversity(
    table: FeatureTable,
    depth: int,
    iterations: int,
    beta_iterations: int,
    seed: int,
    alpha_metrics: Sequence[str],
    beta_metrics: Sequence[str],
    pcoa_dimensions: int,
    out_dir: Path,
    tree: Any | None = None,
    sensitivity_depth: float = 0.0,
) -> dict[str, Any]:
    """Compute and write the diversity results of one dataset.

    Parameters
    ----------
    table
        The imported :class:`~gutskin.io.table.FeatureTable` (``counts`` samples x features).
    depth
        Rarefaction depth (reads per sample); samples with fewer reads are dropped. Ignored (not
        rarefied) when ``table.values`` is not ``"counts"``.
    iterations
        Rarefactions averaged for alpha diversity.
    beta_iterations
        Rarefactions averaged for Bray–Curtis and Jaccard.
    seed
        Base seed; alpha iteration ``i`` and beta iteration ``i`` both use
        ``SeedSequence(seed).spawn(n)[i]``.
    alpha_metrics, beta_metrics
        Metric names (``observed``/``shannon``/``simpson``; ``braycurtis``/``jaccard``/
        ``robust_aitchison``).
    pcoa_dimensions
        PCoA axes to keep.
    out_dir
        Output directory (created if needed).
    tree
        The features' phylogeny (:class:`skbio.TreeNode`, e.g. from
        :func:`gutskin.io.newick.load_tree` of the import directory), or ``None``. Needed by
        ``faith_pd`` (alpha, same rarefactions as the other alpha metrics) and ``unweighted_unifrac`` /
        ``weighted_unifrac`` (beta, averaged like Bray–Curtis); without a tree these are skipped: their
        ``alpha.tsv`` columns are empty, their ``beta_*.npz`` / ``pcoa_*.tsv`` have no samples, and
        ``notes`` and ``phylogeny`` say so.
    sensitivity_depth
        Fraction of ``depth`` (0 <= f < 1; 0, the default, disables it) giving a second rarefaction
        depth ``depth2 = floor(f * depth)`` for a sensitivity analysis. When the table is rarefied and
        ``depth2 >= 1``, the non-phylogenetic alpha metrics are also averaged over ``iterations``
        rarefactions at ``depth2`` by :func:`~gutskin.diversity.rarefy.repeated_rarefaction_alpha`
        on the whole table with the seed :func:`depth2_seed` (``SeedSequence([seed, 2])``), and the
        rows of the samples retained at ``depth`` (all have ``>= depth2`` reads) are written as
        ``<metric>_depth2_mean`` columns of ``alpha.tsv``; ``depth2`` (and ``depth2_fraction``) go
        to the summary (``None`` when not computed).

    Returns
    -------
    dict
        JSON-serialisable summary: ``n_samples_in``, ``n_retained``, ``n_dropped``, ``depth``,
        ``iterations``, ``beta_iterations``, ``seed``, ``values``, ``rarefied``, ``metrics``
        (``alpha``, ``beta``), ``pcoa`` (proportion explained per metric), ``files``, ``notes``,
        ``seconds`` (wall time per step), ``phylogeny`` (``tree``: whether a tree was given,
        ``backend``: the back end's name, or ``"metric: name; ..."`` when metrics use different ones,
        ``backends``: metric -> back end, ``n_tips``, ``skipped``: tree metrics not computed),
        ``depth2`` and ``depth2_fraction`` (the second rarefaction depth, or ``None``).

    Raises
    ------
    InputError
        For unknown metrics, a non-positive depth or iteration count, or a count table holding
        non-integer values.
    """
    out_dir = Path(out_dir)
    alpha_metrics = tuple(alpha_metrics)
    phylo_alpha = [m for m in alpha_metrics if m in ALPHA and ALPHA[m].needs_tree]
    plain_alpha = [m for m in alpha_metrics if m not in phylo_alpha]
    if plain_alpha or not phylo_alpha:
        check_alpha_metrics(plain_alpha)
    beta_metrics = check_beta_metrics(beta_metrics)
    values = str(getattr(table, "values", "counts"))
    if values not in ("counts", "relative", "signal"):
        raise InputError(
            None,
            f"unknown table values {values!r}",
            where="key values",
            hint="use counts, relative or signal in config/datasets.yaml",
        )
    rarefied = values == "counts"
    for key, val in (("iterations", iterations), ("beta_iterations", beta_iterations)):
        positive_int(val, key, f"key rarefaction.{key}", hint="set it in config/config.yaml")
    if (
        isinstance(sensitivity_depth, bool)
        or not isinstance(sensitivity_depth, int | float | np.integer | np.floating)
        or not 0 <= float(sensitivity_depth) < 1
    ):
        raise InputError(
            None,
            f"sensitivity_depth must be a fraction in [0, 1), got {sensitivity_depth!r}",
            where="key rarefaction.sensitivity_depth",
            hint="set it in config/config.yaml (0 disables the second rarefaction depth)",
        )
    csr = sp.csr_array(table.counts)
    ids = np.asarray(table.sample_ids, dtype=str)
    n = csr.shape[0]
    seconds: dict[str, float] = {}
    notes: list[str] = []
    files: list[str] = []

    # -- reads per sample and retention --------------------------------------------------------
    t0 = time.perf_counter()
    if rarefied:
        csr, _, depth, kept, totals = _prepare(csr, depth, source=None, ids=ids)
        reads: np.ndarray = totals
    else:
        reads = np.asarray(csr.sum(axis=1), dtype=np.float64).ravel()
        kept = np.flatnonzero(reads > 0).astype(np.int64)
        notes.append(
            f"values are {values}, not read counts: no rarefaction; alpha diversity and Bray–Curtis "
            "on proportions, Jaccard on presence/absence of unrarefied values"
        )
    retained = np.zeros(n, dtype=bool)
    retained[kept] = True
    depth_df = pd.DataFrame({"sample_id": ids, "reads": reads, "retained": retained})
    _write_tsv(depth_df, out_dir / DEPTH_TSV)
    files.append(DEPTH_TSV)
    kept_ids = ids[kept]
    if n and kept.size == 0:
        notes.append(
            f"no sample reached {'depth ' + str(depth) if rarefied else 'a non-zero total'}; "
            "all outputs are empty"
        )
    seconds["depth"] = time.perf_counter() - t0

    # -- phylogeny (tree metrics) ------------------------------------------------------------------
    phylo_wanted = [*phylo_alpha, *(m for m in beta_metrics if BETA[m].needs_tree)]
    phylo: dict[str, Any] = {
        "tree": tree is not None,
        "backend": None,
        "backends": {},
        "n_tips": None,
        "skipped": [],
    }
    fids = np.asarray(table.feature_ids, dtype=str)
    if phylo_wanted and tree is not None and kept.size:
        tree = prepare_tree(tree, fids[np.unique(csr[kept].indices)], source=TREE_NWK)
        phylo["backend"], phylo["backends"] = backend_summary(phylo_wanted)
        phylo["n_tips"] = sum(1 for _ in tree.tips())
    elif phylo_wanted and tree is None:
        phylo["skipped"] = phylo_wanted
        notes.append(
            f"no phylogenetic tree for this dataset: {', '.join(phylo_wanted)} not computed "
            "(empty columns / files)"
        )

    # -- alpha -----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    means: dict[str, np.ndarray]
    sds: dict[str, np.ndarray]
    if not plain_alpha:
        means, sds = {}, {}
    elif rarefied:
        _, means, sds = repeated_rarefaction_alpha(csr, depth, iterations, seed, plain_alpha)
    else:
        means = alpha_diversity(csr[kept] if kept.size != n else csr, plain_alpha)
        sds = {m: np.full(kept.size, np.nan) for m in plain_alpha}
    for m in phylo_alpha:
        if tree is None or kept.size == 0:
            means[m], sds[m] = np.full(kept.size, np.nan), np.full(kept.size, np.nan)
        elif rarefied:
            _, means[m], sds[m] = repeated_rarefaction_faith_pd(
                csr, tree, depth, iterations, seed, feature_ids=fids
            )
        else:
            means[m] = faith_pd(csr[kept], tree, feature_ids=fids, ids=kept_ids)
            sds[m] = np.full(kept.size, np.nan)
    cols: dict[str, Any] = {"sample_id": kept_ids}
    for m in alpha_metrics:
        cols[f"{m}_mean"] = means[m]
        cols[f"{m}_sd"] = sds[m]
    depth2 = math.floor(float(sensitivity_depth) * depth) if rarefied else 0
    depth2_metrics = plain_alpha if depth2 >= 1 else []
    if depth2_metrics:
        # the whole table (no row copy): samples with depth2 <= reads < depth are rarefied too, and
        # their rows dropped here
        kept2, means2, _ = repeated_rarefaction_alpha(
            csr, depth2, iterations, depth2_seed(seed), depth2_metrics
        )
        rows2 = np.searchsorted(kept2, kept)
        for m in depth2_metrics:
            cols[f"{m}_depth2_mean"] = means2[m][rows2]
        del means2
    cols["depth"] = np.full(kept.size, depth if rarefied else np.nan)
    cols["iterations"] = np.full(kept.size, iterations if rarefied else 0, dtype=np.int64)
    alpha_df = pd.DataFrame(cols)
    if rarefied:
        alpha_df["depth"] = alpha_df["depth"].astype(np.int64)
    _write_tsv(alpha_df, out_dir / ALPHA_TSV)
    files.append(ALPHA_TSV)
    seconds["alpha"] = time.perf_counter() - t0

    # -- beta and PCoA -------------------------------------------------------------------------
    pcoa_info: dict[str, Any] = {}
    props = None if rarefied else _proportions(csr, kept)
    for metric in beta_metrics:
        t0 = time.perf_counter()
        if kept.size == 0 or (BETA[metric].needs_tree and tree is None):
            cond, bids = np.zeros(0), kept_ids[:0]
        elif rarefied:
            cond, bids = mean_rarefied_beta(
                csr, metric, depth, beta_iterations, seed, ids=ids, tree=tree, feature_ids=fids
            )
        else:
            cond, bids = beta_diversity(props, metric, ids=kept_ids, tree=tree, feature_ids=fids)
        _write_npz(out_dir / beta_npz(metric), bids, cond)
        files.append(beta_npz(metric))
        seconds[f"beta_{metric}"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        coords, prop = pcoa(cond, bids, pcoa_dimensions, seed=seed)
        _write_tsv(coords.reset_index(), out_dir / pcoa_tsv(metric))
        files.append(pcoa_tsv(metric))
        pcoa_info[metric] = {
            "axes": [str(c) for c in prop.index],
            "proportion_explained": [float(x) for x in prop.to_numpy()],
        }
        seconds[f"pcoa_{metric}"] = time.perf_counter() - t0
        if BETA[metric].needs_tree and tree is None:
            log.info("beta %s: skipped (no phylogenetic tree for this dataset)", metric)
        else:
            log.info("beta %s: %d samples", metric, bids.size)

    return {
        "n_samples_in": int(n),
        "n_retained": int(kept.size),
        "n_dropped": int(n - kept.size),
        "depth": int(depth) if rarefied else None,
        "iterations": int(iterations) if rarefied else 0,
        "beta_iterations": int(beta_iterations) if rarefied else 0,
        "seed": int(seed),
        "values": values,
        "rarefied": bool(rarefied),
        "metrics": {"alpha": list(alpha_metrics), "beta": list(beta_metrics)},
        "pcoa": pcoa_info,
        "files": files,
        "notes": notes,
        "seconds": {k: round(float(v), 4) for k, v in seconds.items()},
        "phylogeny": phylo,
        "depth2": depth2 if depth2_metrics else None,
        "depth2_fraction": float(sensitivity_depth) if depth2_metrics else None,
    }
