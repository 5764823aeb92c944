"""Phylogenetic diversity: Faith's PD (alpha) and unweighted / weighted UniFrac (beta).

These metrics need a rooted tree whose tips are the table's features. The import step stores it next
to the imported table as ``results/import/{dataset}/tree.nwk`` (Newick, pruned to the features kept);
datasets without a tree skip the phylogenetic metrics, and the diversity summary says so.

Definitions
-----------
``faith_pd``
    Sum of the lengths of the branches on the paths from the root to every feature present in the
    sample (Faith 1992; the root is always included, as in scikit-bio, Striped UniFrac and picante).
``unweighted_unifrac``
    Branch length unique to one of the two samples / branch length covered by either (Lozupone & Knight
    2005); presence/absence only.
``weighted_unifrac``
    Normalised weighted UniFrac (Lozupone et al. 2007): ``Σ_b l_b |p_Ab − p_Bb| / Σ_i d_i (p_Ai + p_Bi)``
    with ``p`` the proportion of a sample's abundance below branch ``b`` (or at tip ``i``) and ``d_i``
    the root-to-tip distance, so distances lie in [0, 1] whatever the tree's scale (phyloseq's
    ``UniFrac(weighted = TRUE, normalized = TRUE)``, Striped UniFrac's ``weighted_normalized``).

Back ends
---------
Per metric, the first available of:

``"unifrac"``
    The `Striped UniFrac <https://github.com/biocore/unifrac>`_ package (``import unifrac``; a native
    library only conda/bioconda provides — see ``environment.yml``), when it can be imported.
``"gutskin"``
    gutskin's own numba kernels (:mod:`gutskin.diversity.unifrac_gram`) for the metrics in
    :data:`GUTSKIN_METRICS` (all three): branch coverage of each sample, unweighted UniFrac as a Gram
    product, normalised weighted UniFrac as Bray–Curtis of branch-weighted proportions. The route of
    pip-only installs.
``"skbio"``
    scikit-bio (:func:`skbio.diversity.alpha_diversity` ``"faith_pd"``,
    :func:`skbio.diversity.beta_diversity` ``"unweighted_unifrac"`` / ``"weighted_unifrac"`` with
    ``normalized=True``), for a metric the others do not cover, or when asked for.

All give the same numbers (tests: ``unifrac`` against scikit-bio when it is installed, gutskin against
scikit-bio to 1e-9). :func:`backend_name` tells which one a metric uses; the diversity summary
(``diversity.json``, key ``phylogeny``) records it. scikit-bio takes integer counts only:
presence/absence is passed for Faith PD and unweighted UniFrac (exact), and non-integer abundances
(``values: relative`` / ``signal``) are passed to weighted UniFrac as proportions scaled to integers
(``round(p · 2^40)``, a relative error below 1e-12; a present feature never rounds to absent); the
gutskin kernels take the values as they are.

Rarefaction
-----------
For count tables, Faith PD is averaged over the same rarefactions as the other alpha metrics and UniFrac
over the same rarefactions as Bray–Curtis: iteration ``i`` draws with
``numpy.random.SeedSequence(seed).spawn(iterations)[i]`` (:func:`gutskin.diversity.rarefy_counts`), so
the rarefied tables are identical to those behind ``alpha.tsv`` and ``beta_braycurtis.npz``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..io.newick import import_tree, load_tree, prepare_tree, read_newick, write_newick
from ..io.table import FeatureTable, write_biom
from ..layout import TABLE_BIOM, TREE_NWK
from . import unifrac_gram
from ._common import as_csr, default_ids, positive_int, split_table
from .rarefy import _prepare, rarefy_counts

__all__ = [
    "BACKENDS",
    "GUTSKIN_METRICS",
    "PHYLO_ALPHA_METRICS",
    "PHYLO_BETA_METRICS",
    "TREE_FILE",
    "backend_name",
    "backend_summary",
    "faith_pd",
    "import_tree",
    "load_tree",
    "mean_rarefied_unifrac",
    "prepare_tree",
    "read_newick",
    "repeated_rarefaction_faith_pd",
    "unifrac",
    "unifrac_available",
    "write_newick",
]

#: Alpha metrics that need a tree.
PHYLO_ALPHA_METRICS: tuple[str, ...] = ("faith_pd",)
#: Beta metrics that need a tree.
PHYLO_BETA_METRICS: tuple[str, ...] = ("unweighted_unifrac", "weighted_unifrac")
#: The tree stored next to an imported table (``results/import/{dataset}/tree.nwk``).
TREE_FILE = TREE_NWK
# The tree files themselves (read, check, prune to a table, store, load) are handled by
# gutskin.io.newick; load_tree, prepare_tree, import_tree, read_newick and write_newick are
# re-exported here for the callers that know them by this module.
#: Back ends, in the order they are preferred (see the module docs).
BACKENDS: tuple[str, ...] = ("unifrac", "gutskin", "skbio")
#: Metrics gutskin's own kernels compute (:mod:`gutskin.diversity.unifrac_gram`).
GUTSKIN_METRICS: tuple[str, ...] = ("faith_pd", "unweighted_unifrac", "weighted_unifrac")

_SCALE = float(2**40)


# ---------------------------------------------------------------------- back end
def unifrac_available() -> bool:
    """True when the Striped UniFrac package (``import unifrac``) can be imported."""
    try:
        import unifrac  # noqa: F401
    except Exception:  # ImportError, or a broken native library
        return False
    return True


def backend_name(backend: str | None = None, *, metric: str | None = None) -> str:
    """The back end that computes ``metric`` (without a metric: the preferred back end).

    With ``backend=None``: ``"unifrac"`` when the Striped UniFrac package can be imported, else
    ``"gutskin"`` for the metrics in :data:`GUTSKIN_METRICS` (and when no metric is named), else
    ``"skbio"``. A back end asked for by name is checked and returned.

    Raises
    ------
    InputError
        If ``backend`` or ``metric`` is unknown, ``"unifrac"`` is asked for but cannot be imported, or
        ``"gutskin"`` is asked for a metric it does not compute.
    """
    if metric is not None and metric not in (*PHYLO_ALPHA_METRICS, *PHYLO_BETA_METRICS):
        raise InputError(
            None,
            f"unknown phylogenetic metric {metric!r}",
            hint=f"choose from {[*PHYLO_ALPHA_METRICS, *PHYLO_BETA_METRICS]}",
        )
    if backend is None:
        if unifrac_available():
            return "unifrac"
        return "gutskin" if metric is None or metric in GUTSKIN_METRICS else "skbio"
    if backend not in BACKENDS:
        raise InputError(
            None,
            f"unknown phylogenetic back end {backend!r}",
            hint=f"use one of {', '.join(BACKENDS)}",
        )
    if backend == "unifrac" and not unifrac_available():
        raise InputError(
            None,
            "the Striped UniFrac package (unifrac) is not installed",
            hint="install it with conda (conda install -c bioconda unifrac) or use "
            "backend='gutskin' (gutskin's own kernels) or 'skbio'",
        )
    if backend == "gutskin" and metric is not None and metric not in GUTSKIN_METRICS:
        raise InputError(
            None,
            f"gutskin's kernels do not compute {metric}",
            hint="use backend='skbio' or leave the back end unset",
        )
    return backend


def backend_summary(metrics: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """The back end of each phylogenetic metric, and one string for all of them.

    Returns
    -------
    backend : str or None
        The back end's name when every metric uses the same one, else ``"metric: name; ..."``;
        ``None`` for no metric.
    backends : dict
        Metric -> back end name.
    """
    backends = {str(m): backend_name(metric=str(m)) for m in metrics}
    names = sorted(set(backends.values()))
    if not names:
        return None, backends
    if len(names) == 1:
        return names[0], backends
    return "; ".join(f"{m}: {b}" for m, b in backends.items()), backends


# ---------------------------------------------------------------------- inputs
def _inputs(
    data: Any,
    feature_ids: Sequence[str] | np.ndarray | None,
    ids: Sequence[str] | np.ndarray | None,
    source: str | None,
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    matrix, table_ids, _ = split_table(data)
    if feature_ids is None:
        feature_ids = getattr(data, "feature_ids", None)
    if feature_ids is None:
        raise InputError(source, "feature ids are needed to place features on the tree")
    csr = as_csr(matrix, source=source)
    fids = np.asarray(feature_ids, dtype=str)
    if fids.shape != (csr.shape[1],):
        raise InputError(
            source, f"{fids.size} feature ids given for a table of {csr.shape[1]} features"
        )
    sids = default_ids(csr.shape[0], ids if ids is not None else table_ids)
    empty = np.flatnonzero(np.diff(csr.indptr) == 0)
    if empty.size:
        raise InputError(
            source,
            f"{empty.size} sample(s) have no non-zero feature (e.g. {str(sids[empty[0]])!r}); "
            "phylogenetic diversity is undefined for them",
            hint="drop empty samples first (rarefaction does)",
        )
    return csr, fids, sids


def _dense_columns(csr: sp.csr_array) -> np.ndarray:
    return np.flatnonzero(np.bincount(csr.indices, minlength=csr.shape[1]) > 0)


def _as_integers(block: np.ndarray) -> np.ndarray:
    """Integer abundances for scikit-bio: counts as they are, other values as scaled proportions."""
    if np.all(block == np.floor(block)):
        return block.astype(np.int64)
    props = block / block.sum(axis=1, keepdims=True)
    out = np.rint(props * _SCALE).astype(np.int64)
    out[(block > 0) & (out == 0)] = 1
    return out


class _Engine:
    """A checked, pruned tree and the back ends that compute on it.

    The tree is checked and pruned once (:func:`prepare_tree`); later calls only map the table's
    features onto it (every back end accepts a tree with more tips than the table has features). For
    the ``unifrac`` back end the tree is written to a temporary Newick file once; for ``gutskin`` it
    is turned into postorder arrays once.
    """

    def __init__(
        self,
        tree: Any,
        feature_ids: np.ndarray,
        backend: str | None,
        source: str | Path | None,
    ) -> None:
        self.tree = prepare_tree(tree, feature_ids, source=source)
        self.requested = backend
        self.source = source
        backend_name(backend)  # an unknown or unavailable back end fails here, before any work
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._arrays: unifrac_gram.PostorderTree | None = None

    def __enter__(self) -> _Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- scikit-bio ---------------------------------------------------------------------------
    def _skbio_alpha(self, csr: sp.csr_array, fids: np.ndarray, sids: np.ndarray) -> np.ndarray:
        from skbio.diversity import alpha_diversity

        cols = _dense_columns(csr)
        presence = (csr[:, cols].toarray() > 0).astype(np.int64)
        res = alpha_diversity(
            "faith_pd", presence, list(sids), taxa=list(fids[cols]), tree=self.tree
        )
        return np.asarray(res.to_numpy(), dtype=np.float64)

    def _skbio_beta(
        self, csr: sp.csr_array, fids: np.ndarray, sids: np.ndarray, metric: str
    ) -> np.ndarray:
        from skbio.diversity import beta_diversity

        cols = _dense_columns(csr)
        block = csr[:, cols].toarray()
        taxa = list(fids[cols])
        if metric == "unweighted_unifrac":
            dm = beta_diversity(
                "unweighted_unifrac",
                (block > 0).astype(np.int64),
                list(sids),
                taxa=taxa,
                tree=self.tree,
            )
        else:
            dm = beta_diversity(
                "weighted_unifrac",
                _as_integers(block),
                list(sids),
                taxa=taxa,
                tree=self.tree,
                normalized=True,
            )
        return np.asarray(dm.condensed_form(), dtype=np.float64)

    # -- gutskin's kernels ----------------------------------------------------------------------
    def _postorder(self) -> unifrac_gram.PostorderTree:
        if self._arrays is None:
            # prepare_tree has checked the tree
            self._arrays = unifrac_gram.PostorderTree.from_tree(
                self.tree, source=self.source, checked=True
            )
        return self._arrays

    def _present(self, csr: sp.csr_array, fids: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
        """The columns of features present in some row (the pruned tree holds only those)."""
        cols = _dense_columns(csr)
        if cols.size == csr.shape[1]:
            return csr, fids
        return csr[:, cols], fids[cols]

    def _gutskin_alpha(self, csr: sp.csr_array, fids: np.ndarray) -> np.ndarray:
        csr, fids = self._present(csr, fids)
        return unifrac_gram.faith_pd(csr, self._postorder(), fids, source=self.source)

    def _gutskin_beta(self, csr: sp.csr_array, fids: np.ndarray, metric: str) -> np.ndarray:
        csr, fids = self._present(csr, fids)
        if metric == "unweighted_unifrac":
            return unifrac_gram.unweighted_unifrac(csr, self._postorder(), fids, source=self.source)
        return unifrac_gram.weighted_normalized_unifrac(
            csr, self._postorder(), fids, source=self.source
        )

    # -- Striped UniFrac ------------------------------------------------------------------------
    def _files(self, csr: sp.csr_array, fids: np.ndarray, sids: np.ndarray) -> tuple[str, str]:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gutskin-unifrac-")
            write_newick(self.tree, Path(self._tmp.name) / TREE_NWK)
        cols = _dense_columns(csr)
        sub = FeatureTable(counts=csr[:, cols], sample_ids=sids, feature_ids=fids[cols])
        table_path = Path(self._tmp.name) / TABLE_BIOM
        write_biom(sub, table_path)
        return str(table_path), str(Path(self._tmp.name) / TREE_NWK)

    def _unifrac_alpha(self, csr: sp.csr_array, fids: np.ndarray, sids: np.ndarray) -> np.ndarray:
        import unifrac as su

        series = su.faith_pd(*self._files(csr, fids, sids))
        return np.asarray(series.reindex([str(x) for x in sids]).to_numpy(), dtype=np.float64)

    def _unifrac_beta(
        self, csr: sp.csr_array, fids: np.ndarray, sids: np.ndarray, metric: str
    ) -> np.ndarray:
        import unifrac as su

        func = su.unweighted if metric == "unweighted_unifrac" else su.weighted_normalized
        dm = func(*self._files(csr, fids, sids))
        dm = dm.filter([str(x) for x in sids])
        return np.asarray(dm.condensed_form(), dtype=np.float64)

    # -- dispatch -------------------------------------------------------------------------------
    def backend(self, metric: str) -> str:
        """The back end that computes ``metric`` (:func:`backend_name`)."""
        return backend_name(self.requested, metric=metric)

    def _failed(self, backend: str, what: str, exc: Exception) -> InputError:
        return InputError(
            None,
            f"{backend} could not compute {what}: {type(exc).__name__}: {exc}",
            hint="check that the tree is rooted, has branch lengths and holds every feature",
        )

    def alpha(self, csr: sp.csr_array, fids: np.ndarray, sids: np.ndarray) -> np.ndarray:
        """Faith PD of every row of ``csr`` (rows non-empty; features on the tree)."""
        if csr.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        backend = self.backend("faith_pd")
        try:
            if backend == "unifrac":
                return self._unifrac_alpha(csr, fids, sids)
            if backend == "gutskin":
                return self._gutskin_alpha(csr, fids)
            return self._skbio_alpha(csr, fids, sids)
        except (ValueError, KeyError) as exc:
            raise self._failed(backend, "Faith PD", exc) from None

    def beta(
        self, csr: sp.csr_array, fids: np.ndarray, sids: np.ndarray, metric: str
    ) -> np.ndarray:
        """Condensed UniFrac distances between the rows of ``csr``."""
        if csr.shape[0] < 2:
            return np.zeros(0, dtype=np.float64)
        backend = self.backend(metric)
        try:
            if backend == "unifrac":
                return self._unifrac_beta(csr, fids, sids, metric)
            if backend == "gutskin":
                return self._gutskin_beta(csr, fids, metric)
            return self._skbio_beta(csr, fids, sids, metric)
        except (ValueError, KeyError) as exc:
            raise self._failed(backend, metric, exc) from None


def _check_beta_metric(metric: str) -> None:
    if metric not in PHYLO_BETA_METRICS:
        raise InputError(
            None,
            f"unknown phylogenetic beta metric {metric!r}",
            where="key beta_metrics",
            hint=f"choose from {list(PHYLO_BETA_METRICS)}",
        )


# ---------------------------------------------------------------------- metrics
def faith_pd(
    data: Any,
    tree: Any,
    *,
    feature_ids: Sequence[str] | np.ndarray | None = None,
    ids: Sequence[str] | np.ndarray | None = None,
    backend: str | None = None,
    source: str | None = None,
) -> np.ndarray:
    """Faith's phylogenetic diversity of every sample (row).

    Parameters
    ----------
    data
        A FeatureTable or a samples × features sparse matrix (any non-negative values; only presence
        matters).
    tree
        Rooted :class:`skbio.TreeNode` with branch lengths; every feature present in a sample must be
        one of its tips.
    feature_ids
        Feature ids (columns); taken from a FeatureTable when omitted.
    ids
        Sample ids (for messages and the ``unifrac`` back end).
    backend
        ``"unifrac"``, ``"gutskin"``, ``"skbio"`` or ``None`` (:func:`backend_name`: unifrac when
        importable, else gutskin).
    source
        File named in error messages.

    Returns
    -------
    numpy.ndarray
        float64, one value per sample, in row order.

    Raises
    ------
    InputError
        An empty sample, a feature that is not a tip, a tree without branch lengths.
    """
    csr, fids, sids = _inputs(data, feature_ids, ids, source)
    with _Engine(tree, fids[_dense_columns(csr)], backend, source) as engine:
        return engine.alpha(csr, fids, sids)


def unifrac(
    data: Any,
    tree: Any,
    metric: str,
    *,
    feature_ids: Sequence[str] | np.ndarray | None = None,
    ids: Sequence[str] | np.ndarray | None = None,
    backend: str | None = None,
    source: str | None = None,
) -> np.ndarray:
    """UniFrac distances between all samples (rows), condensed (``squareform`` order).

    Parameters
    ----------
    data, tree, feature_ids, ids, backend, source
        As :func:`faith_pd`.
    metric
        ``"unweighted_unifrac"`` or ``"weighted_unifrac"`` (normalised; see the module docs).

    Returns
    -------
    numpy.ndarray
        float64 condensed distances.
    """
    _check_beta_metric(metric)
    csr, fids, sids = _inputs(data, feature_ids, ids, source)
    if csr.shape[0] < 2:
        return np.zeros(0, dtype=np.float64)
    with _Engine(tree, fids[_dense_columns(csr)], backend, source) as engine:
        return engine.beta(csr, fids, sids, metric)


def _iterations(value: Any, key: str) -> int:
    return positive_int(value, key, f"key {key}")


def _feature_ids(data: Any, feature_ids: Any, source: str | None, n: int) -> np.ndarray:
    if feature_ids is None:
        feature_ids = getattr(data, "feature_ids", None)
    if feature_ids is None:
        raise InputError(source, "feature ids are needed to place features on the tree")
    fids = np.asarray(feature_ids, dtype=str)
    if fids.shape != (n,):
        raise InputError(source, f"{fids.size} feature ids given for a table of {n} features")
    return fids


def repeated_rarefaction_faith_pd(
    data: Any,
    tree: Any,
    depth: int,
    iterations: int,
    seed: int | np.random.SeedSequence,
    *,
    feature_ids: Sequence[str] | np.ndarray | None = None,
    backend: str | None = None,
    source: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faith PD averaged over repeated rarefactions (the draws of the other alpha metrics).

    Iteration ``i`` rarefies with ``numpy.random.SeedSequence(seed).spawn(iterations)[i]``, exactly
    as :func:`~gutskin.diversity.rarefy.repeated_rarefaction_alpha`.

    Returns
    -------
    kept : numpy.ndarray
        Row indices of the samples with at least ``depth`` reads.
    mean, sd : numpy.ndarray
        Mean and sample standard deviation (``ddof=1``; NaN for one iteration) per kept sample.
    """
    iterations = _iterations(iterations, "rarefaction.iterations")
    matrix, table_ids, _ = split_table(data)
    csr, _, depth, kept, _ = _prepare(matrix, depth, source=source, ids=table_ids)
    fids = _feature_ids(data, feature_ids, source, csr.shape[1])
    sids = default_ids(csr.shape[0], table_ids)[kept]
    if kept.size == 0:
        return kept, np.zeros(0), np.zeros(0)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    values = np.empty((iterations, kept.size), dtype=np.float64)
    with _Engine(tree, fids[_dense_columns(csr[kept])], backend, source) as engine:
        for i, child in enumerate(seq.spawn(iterations)):
            rare, kept_i = rarefy_counts(csr, depth, child, source=source)
            if not np.array_equal(kept_i, kept):  # pragma: no cover - same rows every time
                raise RuntimeError("rarefaction kept different samples across iterations")
            values[i] = engine.alpha(rare, fids, sids)
    mean = values.sum(axis=0) / iterations
    sd = values.std(axis=0, ddof=1) if iterations > 1 else np.full(kept.size, np.nan)
    return kept, mean, sd


def mean_rarefied_unifrac(
    data: Any,
    tree: Any,
    metric: str,
    depth: int,
    iterations: int,
    seed: int | np.random.SeedSequence,
    *,
    feature_ids: Sequence[str] | np.ndarray | None = None,
    ids: Sequence[str] | np.ndarray | None = None,
    backend: str | None = None,
    source: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """UniFrac averaged over rarefactions (the draws of Bray–Curtis with the same seed).

    Iteration ``i`` rarefies with ``numpy.random.SeedSequence(seed).spawn(iterations)[i]``, exactly
    as :func:`~gutskin.diversity.beta.mean_rarefied_beta`.

    Returns
    -------
    condensed : numpy.ndarray
        Mean distances over the samples with at least ``depth`` reads, ``squareform`` order.
    ids : numpy.ndarray
        Their ids.
    """
    _check_beta_metric(metric)
    iterations = _iterations(iterations, "rarefaction.beta_iterations")
    matrix, table_ids, _ = split_table(data)
    all_ids = default_ids(matrix.shape[0], ids if ids is not None else table_ids)
    csr, _, depth, kept, _ = _prepare(matrix, depth, source=source, ids=all_ids)
    fids = _feature_ids(data, feature_ids, source, csr.shape[1])
    kept_ids = all_ids[kept]
    n = kept.size
    out = np.zeros(n * (n - 1) // 2, dtype=np.float64)
    if n < 2:
        return out, kept_ids
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    with _Engine(tree, fids[_dense_columns(csr[kept])], backend, source) as engine:
        for child in seq.spawn(iterations):
            rare, _ = rarefy_counts(csr, depth, child, source=source)
            out += engine.beta(rare, fids, kept_ids, metric)
    out /= iterations
    return out, kept_ids
