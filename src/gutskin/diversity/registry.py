"""The diversity metrics gutskin knows: one name → function map with what each metric needs.

Like scikit-bio's ``skbio.diversity`` driver, every metric name used in ``config/config.yaml``
(``alpha_metrics``, ``beta_metrics``), in ``config/claims.yaml`` (``beta_metric``) and in the result
files (``alpha.tsv`` columns ``<name>_mean``, ``beta_<name>.npz``, ``pcoa_<name>.tsv``) is a key of
:data:`ALPHA` or :data:`BETA`. Each entry says

``needs_tree``
    the metric needs the features' phylogeny (``files.tree`` of the dataset); without one the
    diversity step writes its files empty and says so;
``rarefied``
    on a count table the metric is averaged over repeated rarefactions to the dataset's depth (else
    it is computed once on the unrarefied counts of the samples that reach that depth, as robust
    Aitchison is; either way all metrics cover the same samples);
``pcoa``
    the diversity step also writes a PCoA of the distances (beta metrics);
``label`` / ``words``
    a short name for axis labels and table headers, and the words for prose ("the Bray–Curtis
    dissimilarity").

The config schema lists no metric names: :func:`check_config_metrics` checks ``alpha_metrics`` /
``beta_metrics`` against these tables when the workflow is planned (``workflow/rules/common.smk``),
and :func:`metric_names` gives them to :func:`gutskin.config.check_claims` for the claims' ``metric``
keys, so these tables are the one list.

Adding a beta metric (walk-through in ``docs/ARCHITECTURE.md``): write its function (``beta.py``, or
a module of its own), add one :class:`BetaMetric` entry here, and add a test against a reference
implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError, did_you_mean
from . import alpha as _alpha
from . import beta as _beta
from . import phylogeny as _phylo
from ._common import default_ids, split_table

__all__ = [
    "ALPHA",
    "ALPHA_METRICS",
    "BETA",
    "BETA_METRICS",
    "RAREFIED_METRICS",
    "AlphaMetric",
    "BetaMetric",
    "alpha_metric",
    "beta_diversity",
    "beta_metric",
    "check_config_metrics",
    "mean_rarefied_beta",
    "metric_names",
]

#: ``plain(matrix, *, ids, source, block_entries, tree, feature_ids) -> condensed``.
PlainBeta = Callable[..., np.ndarray]
#: ``rarefied(matrix, depth, iterations, seed, *, ids, source, block_entries, tree, feature_ids)``
#: ``-> (condensed, retained ids)``.
RarefiedBeta = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class AlphaMetric:
    """An alpha-diversity metric (one value per sample).

    ``function`` computes it on one table (``function(matrix)``, or ``function(matrix, tree)`` when
    :attr:`needs_tree`); the diversity step computes the metrics without a tree together, averaged
    over rarefactions (:func:`~gutskin.diversity.rarefy.repeated_rarefaction_alpha`).
    """

    name: str
    label: str
    words: str
    function: Callable[..., np.ndarray]
    needs_tree: bool = False
    rarefied: bool = True


@dataclass(frozen=True)
class BetaMetric:
    """A beta-diversity metric (a distance between every pair of samples).

    ``plain`` computes the distances of a table as it is (proportions, or a table that is not
    rarefied); ``rarefied_fn`` those of a count table rarefied to a depth (averaged over iterations
    when :attr:`rarefied`, else once on the retained samples' counts). ``pcoa`` holds for every
    metric today: the diversity step writes ``pcoa_<name>.tsv`` for each (a metric without it would
    also need the ``pcoa`` outputs of ``workflow/rules/diversity.smk`` filtered).
    """

    name: str
    label: str
    words: str
    plain: PlainBeta
    rarefied_fn: RarefiedBeta
    needs_tree: bool = False
    rarefied: bool = True
    pcoa: bool = True


# ---------------------------------------------------------------------- adapters to one signature
def _plain(fn: Callable[..., np.ndarray], *, blocks: bool) -> PlainBeta:
    def plain(matrix: Any, *, ids: Any, source: Any, block_entries: Any, **_: Any) -> np.ndarray:
        if blocks:
            return fn(matrix, ids=ids, source=source, block_entries=block_entries)
        return fn(matrix, ids=ids, source=source)

    return plain


def _averaged(accumulate: Callable[..., None]) -> RarefiedBeta:
    def rarefied(
        matrix: Any, depth: int, iterations: int, seed: Any, *, ids: Any, source: Any,
        block_entries: Any, **_: Any,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        table = _beta.retain(matrix, depth, iterations, ids=ids, source=source)
        return _beta.mean_rarefied(accumulate, table, iterations, seed, block_entries), table.ids

    return rarefied


def _once(fn: Callable[..., np.ndarray]) -> RarefiedBeta:
    def rarefied(
        matrix: Any, depth: int, iterations: int, seed: Any, *, ids: Any, source: Any,
        block_entries: Any, **_: Any,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        del seed  # computed once on the unrarefied counts
        table = _beta.retain(matrix, depth, iterations, ids=ids, source=source)
        return _beta.once_on_retained(fn, table, source, block_entries), table.ids

    return rarefied


def _unifrac_plain(metric: str) -> PlainBeta:
    def plain(
        matrix: Any, *, ids: Any, source: Any, tree: Any, feature_ids: Any, **_: Any
    ) -> np.ndarray:
        return _phylo.unifrac(matrix, tree, metric, feature_ids=feature_ids, ids=ids, source=source)

    return plain


def _unifrac_rarefied(metric: str) -> RarefiedBeta:
    def rarefied(
        matrix: Any, depth: int, iterations: int, seed: Any, *, ids: Any, source: Any,
        tree: Any, feature_ids: Any, **_: Any,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        return _phylo.mean_rarefied_unifrac(
            matrix, tree, metric, depth, iterations, seed,
            feature_ids=feature_ids, ids=ids, source=source,
        )  # fmt: skip

    return rarefied


def _unifrac(name: str, label: str, words: str) -> BetaMetric:
    """A UniFrac variant of :mod:`gutskin.diversity.phylogeny` (needs a tree, averaged when rarefied)."""
    return BetaMetric(
        name,
        label,
        words,
        plain=_unifrac_plain(name),
        rarefied_fn=_unifrac_rarefied(name),
        needs_tree=True,
    )


# ---------------------------------------------------------------------- the tables
def _table(*entries: Any) -> Mapping[str, Any]:
    return MappingProxyType({e.name: e for e in entries})


#: Alpha metrics by name, in the order of the config schema's enum.
ALPHA: Mapping[str, AlphaMetric] = _table(
    AlphaMetric(
        "observed", "observed features", "the number of observed features", _alpha.observed
    ),
    AlphaMetric("shannon", "Shannon (nats)", "Shannon entropy (natural log)", _alpha.shannon),
    AlphaMetric("simpson", "Gini–Simpson", "the Gini–Simpson index", _alpha.simpson),
    AlphaMetric(
        "faith_pd",
        "Faith PD",
        "Faith's phylogenetic diversity",
        _phylo.faith_pd,
        needs_tree=True,
    ),
)

#: Beta metrics by name, in the order of the config schema's enum.
BETA: Mapping[str, BetaMetric] = _table(
    BetaMetric(
        "braycurtis",
        "Bray–Curtis",
        "the Bray–Curtis dissimilarity",
        plain=_plain(_beta.braycurtis, blocks=False),
        rarefied_fn=_averaged(_beta.accumulate_braycurtis),
    ),
    BetaMetric(
        "jaccard",
        "Jaccard",
        "the (binary) Jaccard distance",
        plain=_plain(_beta.jaccard, blocks=True),
        rarefied_fn=_averaged(_beta.accumulate_jaccard),
    ),
    BetaMetric(
        "robust_aitchison",
        "Robust Aitchison",
        "the robust Aitchison distance (Euclidean on rCLR)",
        plain=_plain(_beta.robust_aitchison, blocks=True),
        rarefied_fn=_once(_beta.robust_aitchison),
        rarefied=False,
    ),
    _unifrac("unweighted_unifrac", "Unweighted UniFrac", "the unweighted UniFrac distance"),
    _unifrac("weighted_unifrac", "Weighted UniFrac", "the (normalised) weighted UniFrac distance"),
)

#: All alpha metric names.
ALPHA_METRICS: tuple[str, ...] = tuple(ALPHA)
#: All beta metric names.
BETA_METRICS: tuple[str, ...] = tuple(BETA)
#: Beta metrics averaged over rarefactions of a count table.
RAREFIED_METRICS: tuple[str, ...] = tuple(m for m, spec in BETA.items() if spec.rarefied)


# ---------------------------------------------------------------------- look-ups and drivers
def _unknown(kind: str, names: Sequence[str], known: Sequence[str]) -> InputError:
    return InputError(
        None,
        f"unknown {kind} metric(s) {list(names)}",
        where=f"key {kind}_metrics",
        hint=f"choose from {list(known)} (gutskin.diversity.registry)",
    )


def alpha_metric(name: str) -> AlphaMetric:
    """The :class:`AlphaMetric` called ``name``; :class:`InputError` naming the key if unknown."""
    try:
        return ALPHA[name]
    except KeyError:
        raise _unknown("alpha", [name], ALPHA_METRICS) from None


def beta_metric(name: str) -> BetaMetric:
    """The :class:`BetaMetric` called ``name``; :class:`InputError` naming the key if unknown."""
    try:
        return BETA[name]
    except KeyError:
        raise _unknown("beta", [name], BETA_METRICS) from None


def check_beta_metrics(names: Sequence[str]) -> tuple[str, ...]:
    """Validate beta metric names (all unknown ones in one error); returns them as a tuple."""
    names = tuple(names)
    unknown = [m for m in names if m not in BETA]
    if unknown:
        raise _unknown("beta", unknown, BETA_METRICS)
    return names


def _need_tree(spec: BetaMetric, tree: Any, source: str | None) -> None:
    if spec.needs_tree and tree is None:
        raise InputError(
            source,
            f"beta metric {spec.name!r} needs a phylogenetic tree",
            where="key beta_metrics",
            hint="give the dataset a tree (files.tree in config/datasets.yaml) or drop the metric",
        )


def beta_diversity(
    data: Any,
    metric: str,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    source: str | None = None,
    block_entries: int | None = None,
    tree: Any | None = None,
    feature_ids: Sequence[str] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Beta diversity of all pairs of samples, without rarefaction.

    Parameters
    ----------
    data
        A FeatureTable or a samples x features sparse matrix.
    metric
        A key of :data:`BETA`.
    ids
        Sample ids (default: the table's ids, or ``"0".."n-1"`` for a bare matrix).
    source
        File name for error messages.
    block_entries
        Bound on dense row-block entries (Jaccard, robust Aitchison).
    tree, feature_ids
        The phylogeny and the table's feature ids (tree metrics only; ``feature_ids`` default to a
        FeatureTable's).

    Returns
    -------
    condensed : numpy.ndarray
        float64 distances in ``squareform`` order.
    ids : numpy.ndarray
        The sample ids, in row order.
    """
    spec = beta_metric(metric)
    _need_tree(spec, tree, source)
    matrix, table_ids, _ = split_table(data)
    ids_arr = default_ids(matrix.shape[0], ids if ids is not None else table_ids)
    cond = spec.plain(
        matrix,
        ids=ids_arr,
        source=source,
        block_entries=block_entries,
        tree=tree,
        feature_ids=feature_ids if feature_ids is not None else getattr(data, "feature_ids", None),
    )
    return cond, ids_arr


def mean_rarefied_beta(
    data: Any,
    metric: str,
    depth: int,
    iterations: int,
    seed: int | np.random.SeedSequence,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    source: str | None = None,
    block_entries: int | None = None,
    tree: Any | None = None,
    feature_ids: Sequence[str] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Beta diversity of a count table rarefied to ``depth``.

    Samples with fewer than ``depth`` reads are dropped, for every metric (so all metrics cover the
    same samples). Metrics with ``rarefied`` set are averaged over ``iterations`` rarefactions,
    iteration ``i`` using ``numpy.random.SeedSequence(seed).spawn(iterations)[i]`` (the same draws
    as :func:`~gutskin.diversity.rarefy.repeated_rarefaction_alpha` with the same seed); the others
    (``robust_aitchison``) are computed once on the unrarefied counts of the retained samples.

    Returns
    -------
    condensed : numpy.ndarray
        Mean float64 distances over the retained samples, ``squareform`` order.
    ids : numpy.ndarray
        Ids of the retained samples.
    """
    spec = beta_metric(metric)
    _need_tree(spec, tree, source)
    matrix, table_ids, _ = split_table(data)
    return spec.rarefied_fn(
        matrix,
        depth,
        iterations,
        seed,
        ids=ids if ids is not None else table_ids,
        source=source,
        block_entries=block_entries,
        tree=tree,
        feature_ids=feature_ids if feature_ids is not None else getattr(data, "feature_ids", None),
    )


def metric_names() -> dict[str, list[str]]:
    """The known metric names of each config key (``alpha_metrics``, ``beta_metrics``)."""
    return {"alpha_metrics": list(ALPHA_METRICS), "beta_metrics": list(BETA_METRICS)}


def check_config_metrics(
    config: Mapping[str, Any], *, source: str | Path = "config/config.yaml"
) -> None:
    """Every name of ``alpha_metrics`` / ``beta_metrics`` in ``config`` is a metric of this registry.

    Raises
    ------
    ConfigError
        Naming the file, the key, the unknown names, close matches and the known names.
    """
    for key, known in metric_names().items():
        unknown = [str(m) for m in config.get(key) or [] if m not in known]
        if unknown:
            raise ConfigError(
                source,
                f"unknown metric(s) {unknown}",
                where=f"key {key}",
                hint=did_you_mean(unknown, known, n=2)
                + f"use one of {', '.join(known)} (gutskin.diversity.registry)",
            )
