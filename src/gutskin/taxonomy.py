"""Taxonomic lineages: parse them into ranks and collapse feature tables to one rank.

Public tables write lineages in several conventions; :func:`parse_lineage` turns each into the seven
ranks of :data:`RANKS` (``kingdom`` … ``species``), with ``None`` for a rank that is empty or absent:

``greengenes``
    ``"k__Bacteria; p__Firmicutes; c__Bacilli; o__; f__; g__; s__"`` — ``;``-separated, one-letter rank
    prefixes; also SILVA 138 / GTDB as written by QIIME 2 (``"d__Bacteria;p__…"``, ``d`` = kingdom) and
    QIIME 2's ``"__"`` placeholder for a rank left empty by ``taxa collapse``.
``silva``
    ``"D_0__Bacteria;D_1__Firmicutes;…;D_6__…"`` (SILVA 128/132 as released for QIIME): ``D_n`` is rank
    ``n``.
``metaphlan``
    ``"k__Bacteria|p__Firmicutes|…|s__Staphylococcus_aureus"`` — ``|``-separated; a strain level
    (``t__``) is ignored. Names are kept as written (``Staphylococcus_aureus``).
``ranks``
    A list of ranks, as in BIOM observation metadata (``["k__Bacteria", "p__Firmicutes", …]``).
``plain``
    ``"Bacteria;Firmicutes;Bacilli"`` — ``;``-separated names without prefixes, by position.
``auto``
    Detects one of the above from the value itself (``ranks`` for a list, ``metaphlan`` for ``|`` with
    rank prefixes, ``silva`` for ``D_0__``, ``greengenes`` for one-letter prefixes, else ``plain``).

A whole lineage of ``"Unassigned"``/``"Unclassified"`` (QIIME's label for reads without a hit) has no
rank. Names are kept as written (Greengenes brackets such as ``[Ruminococcus]`` included).

R-mangled level-7 names (``r_dotted``)
--------------------------------------
Tables exported from R often carry lineages as column names passed through ``make.names``: the rank
separator ``;``, spaces, brackets and hyphens all became ``.`` and the SILVA ``D_n__`` prefixes were
removed, e.g. ``Bacteria.Acidobacteria.Acidobacteriia.Acidobacteriales.Acidobacteriaceae..Subgroup.1..
Granulicella.__`` (the atopic-dermatitis cohort of Khadka et al. 2021). Where the ranks end is then not
written anywhere. :func:`parse_r_dotted` recovers it from the whole set of names of a table, never from
one name alone: a name with exactly seven dot-separated tokens has only one reading; those readings give
a vocabulary of names per rank; every other name takes the split into seven ranks with the most parts that
are known names at their rank, less one for each rank that would start with a bare number (numbers end
SILVA names, as in ``Corynebacterium 1``, and rarely start them); the vocabulary grows with the names
resolved, and this repeats until nothing changes. A rank on which the best splits still disagree is
``None`` — never a guess — and the report says how many names and ranks that left open. On the
atopic-dermatitis table (2,258 names) 531 have one reading, 1,896 are resolved in all seven ranks and 362
keep some ranks open (genus in 314 of them).

:func:`collapse` sums a :class:`~gutskin.io.table.FeatureTable` by rank (sparse), so that tables with
different feature ids (OTUs, ASVs, species) can be compared at, say, genus level.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "CONVENTIONS",
    "RANKS",
    "RANK_PREFIX",
    "collapse",
    "detect_convention",
    "format_lineage",
    "lineage_table",
    "parse_lineage",
    "parse_r_dotted",
]

#: The seven ranks, highest first.
RANKS: tuple[str, ...] = ("kingdom", "phylum", "class", "order", "family", "genus", "species")

#: Accepted values of ``convention``.
CONVENTIONS: tuple[str, ...] = ("auto", "greengenes", "silva", "metaphlan", "ranks", "plain")

_LETTER_RANK = {"k": 0, "d": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6}
_CANONICAL_PREFIX = ("k", "p", "c", "o", "f", "g", "s")
#: The lineage prefix of a rank named by a table's column (lower case; ``domain`` and
#: ``superkingdom`` are written as kingdoms): the R-data and wide-table readers' rank columns.
RANK_PREFIX: dict[str, str] = {
    "kingdom": "k__",
    "domain": "k__",
    "superkingdom": "k__",
    "phylum": "p__",
    "class": "c__",
    "order": "o__",
    "family": "f__",
    "genus": "g__",
    "species": "s__",
}
_UNASSIGNED = {"unassigned", "unclassified", "unknown", "no hit"}
_LETTER_RE = re.compile(r"^([a-zA-Z])__(.*)$")
_SILVA_RE = re.compile(r"^D_(\d+)__(.*)$")
_EMPTY_RE = re.compile(r"^_*$")

Ranks = tuple[str | None, ...]
_NONE7: Ranks = (None,) * 7


class Table(Protocol):
    """What :func:`collapse` needs of a table: a dataclass with these fields.

    :class:`gutskin.io.table.FeatureTable` is one. This module is on the ground floor of the package
    (it parses lineage text and imports nothing of gutskin), so it names the shape, not the class.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]
    counts: Any
    sample_ids: np.ndarray
    feature_ids: np.ndarray
    taxonomy: pd.Series | None


TableT = TypeVar("TableT", bound=Table)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and np.isnan(value)


def detect_convention(value: Any) -> str:
    """Return the convention of one lineage (see the module docstring), as ``auto`` would choose it."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "ranks"
    text = str(value)
    if "|" in text and re.search(r"(^|\|)[a-z]__", text):
        return "metaphlan"
    if re.search(r"(^|;)\s*D_\d+__", text):
        return "silva"
    if re.search(r"(^|;)\s*[a-z]__", text) or re.search(r"(^|;)\s*__(;|$)", text):
        return "greengenes"
    return "plain"


def _clean(name: str) -> str | None:
    name = name.strip()
    return None if not name or _EMPTY_RE.match(name) else name


def _parse_prefixed(parts: Sequence[str], original: Any) -> Ranks:
    out: list[str | None] = [None] * 7
    for pos, raw in enumerate(parts):
        part = str(raw).strip()
        if not part:
            continue
        m = _SILVA_RE.match(part)
        if m:
            level = int(m.group(1))
            if level > 6:  # SILVA D_7+ (below species) is not a rank here
                continue
            out[level] = _clean(m.group(2))
            continue
        m = _LETTER_RE.match(part)
        if m:
            letter = m.group(1).lower()
            if letter == "t":  # MetaPhlAn strain level
                continue
            if letter not in _LETTER_RANK:
                raise ValueError(
                    f"unknown rank prefix {letter + '__'!r} in lineage {original!r} "
                    f"(known: {', '.join(p + '__' for p in _LETTER_RANK)}, t__, D_0__ … D_6__)"
                )
            out[_LETTER_RANK[letter]] = _clean(m.group(2))
            continue
        if _EMPTY_RE.match(part):  # QIIME 2 "__": an empty rank at this position
            continue
        if pos > 6:
            raise ValueError(f"lineage {original!r} has more than seven ranks")
        out[pos] = _clean(part)
    return tuple(out)


def parse_lineage(value: Any, convention: str = "auto") -> Ranks:
    """Parse one lineage into the seven ranks of :data:`RANKS`.

    Parameters
    ----------
    value
        The lineage: a string, a list of rank strings, or missing (``None``/NaN).
    convention
        One of :data:`CONVENTIONS` (see the module docstring).

    Returns
    -------
    tuple
        Seven names (``str``) or ``None`` where the rank is empty or absent; all ``None`` for a missing
        value or ``"Unassigned"``.

    Raises
    ------
    ValueError
        An unknown convention, an unknown rank prefix (e.g. ``x__``), or more than seven unprefixed
        ranks.

    Examples
    --------
    >>> parse_lineage("k__Bacteria; p__Firmicutes; c__Bacilli; o__; f__; g__; s__")
    ('Bacteria', 'Firmicutes', 'Bacilli', None, None, None, None)
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown lineage convention {convention!r}; use one of {CONVENTIONS}")
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [str(p) for p in value if not _is_missing(p)]
        if len(parts) == 1 and parts[0].strip().lower() in _UNASSIGNED:
            return _NONE7
        return _parse_prefixed(parts, value) if parts else _NONE7
    if _is_missing(value):
        return _NONE7
    text = str(value).strip()
    if not text or text.lower() in _UNASSIGNED:
        return _NONE7
    if convention == "auto":
        convention = detect_convention(text)
    if convention == "metaphlan":
        return _parse_prefixed(text.split("|"), value)
    parts = text.split(";")
    if convention == "plain":
        if len(parts) > 7:
            raise ValueError(f"lineage {value!r} has more than seven ranks")
        names = [_clean(p) for p in parts]
        return tuple(names + [None] * (7 - len(names)))
    return _parse_prefixed(parts, value)


def format_lineage(ranks: Sequence[str | None], depth: int | None = None) -> str:
    """Write ranks as a canonical lineage ``"k__Bacteria;p__Firmicutes;…"`` (empty ranks: ``"g__"``).

    Parameters
    ----------
    ranks
        Up to seven names (``None`` = empty), highest rank first.
    depth
        Write this many ranks (default: all seven); shorter ``ranks`` are padded with empty ranks.
    """
    depth = 7 if depth is None else depth
    padded = list(ranks)[:depth] + [None] * max(0, depth - len(ranks))
    return ";".join(f"{_CANONICAL_PREFIX[i]}__{name or ''}" for i, name in enumerate(padded))


def lineage_table(
    lineages: pd.Series | Mapping[str, Any], convention: str = "auto"
) -> pd.DataFrame:
    """Parse many lineages: feature id → row of :data:`RANKS` (``None`` where empty).

    Parameters
    ----------
    lineages
        Lineage per feature id (a :class:`pandas.Series` such as ``FeatureTable.taxonomy``, or a dict).
    convention
        As in :func:`parse_lineage`.

    Raises
    ------
    ValueError
        Naming the feature whose lineage cannot be parsed.
    """
    series = (
        lineages if isinstance(lineages, pd.Series) else pd.Series(dict(lineages), dtype=object)
    )
    rows = []
    for fid, value in series.items():
        try:
            rows.append(parse_lineage(value, convention))
        except ValueError as exc:
            raise ValueError(f"feature {fid!r}: {exc}") from None
    return pd.DataFrame(
        rows if rows else np.empty((0, 7), dtype=object),
        index=pd.Index([str(i) for i in series.index], name="feature_id"),
        columns=list(RANKS),
        dtype=object,
    )


# ---------------------------------------------------------------------- R-mangled names
def _splits(tokens: Sequence[str], n_ranks: int) -> list[tuple[tuple[str, ...], int]]:
    """Every valid split of ``tokens`` into ``n_ranks`` dotted names, with its numeric-start count."""
    n = len(tokens)
    out = []
    for cuts in itertools.combinations(range(1, n), n_ranks - 1):
        bounds = (0, *cuts, n)
        groups = [tokens[bounds[i] : bounds[i + 1]] for i in range(n_ranks)]
        # an empty-rank marker is a rank of its own; a rank is never only empty tokens
        if any(("__" in g and len(g) > 1) or not any(g) for g in groups):
            continue
        numeric = sum(1 for g in groups[1:] if g[0].isdigit())
        out.append((tuple(".".join(g) for g in groups), numeric))
    return out


def parse_r_dotted(
    names: Sequence[str], *, n_ranks: int = 7, max_splits: int = 200_000
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Recover the ranks of R-mangled lineages (see "R-mangled level-7 names" above).

    Parameters
    ----------
    names
        All feature names of one table (the vocabulary is learned from the whole set).
    n_ranks
        Ranks per name (7 for level-7 SILVA tables; each written, ``__`` when empty).
    max_splits
        Names with more possible splits than this are not split (all their ranks below the first are
        ``None``); a guard against pathological names.

    Returns
    -------
    ranks : pandas.DataFrame
        Index = the names, columns = the first ``n_ranks`` of :data:`RANKS`; dotted rank names as in the
        input (``"Acidobacteriaceae..Subgroup.1."``); ``None`` for empty (``__``) or undecidable ranks.
    report : dict
        ``n_names``; ``n_single_reading`` (exactly ``n_ranks`` tokens); ``n_resolved`` (one best split,
        including the single readings); ``n_ambiguous`` (names with at least one rank left ``None``
        because the best splits disagree); ``ambiguous_ranks`` (rank → number of names where it was
        left open); ``n_unsplittable`` (fewer tokens than ranks, or too many splits); ``iterations``;
        ``examples`` (up to five ambiguous names).
    """
    if n_ranks < 1 or n_ranks > 7:
        raise ValueError("n_ranks must be between 1 and 7")
    names = [str(n) for n in names]
    tokens = {n: n.split(".") for n in names}
    fixed: dict[str, tuple[str, ...]] = {}
    unsplittable: set[str] = set()
    candidates: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for name, toks in tokens.items():
        n_comb = math.comb(len(toks) - 1, n_ranks - 1) if len(toks) >= n_ranks else 0
        if len(toks) == n_ranks:
            fixed[name] = tuple(toks)
        elif n_comb == 0 or n_comb > max_splits:
            unsplittable.add(name)
        else:
            splits = _splits(toks, n_ranks)
            if splits:
                candidates[name] = splits
            else:
                unsplittable.add(name)

    def vocab_from(resolved: Mapping[str, tuple[str, ...]]) -> list[set[str]]:
        vocab: list[set[str]] = [set() for _ in range(n_ranks)]
        for groups in resolved.values():
            for i, g in enumerate(groups):
                if g != "__":
                    vocab[i].add(g)
        return vocab

    resolved: dict[str, tuple[str, ...]] = dict(fixed)
    partial: dict[str, list[str | None]] = {}
    iterations = 0
    while True:
        iterations += 1
        vocab = vocab_from(resolved)
        new_resolved: dict[str, tuple[str, ...]] = dict(fixed)
        partial = {}
        for name, splits in candidates.items():
            scores = [
                sum(1 for i, g in enumerate(groups) if g != "__" and g in vocab[i]) - numeric
                for groups, numeric in splits
            ]
            best = max(scores)
            top = [groups for (groups, _), sc in zip(splits, scores, strict=True) if sc == best]
            if len(top) == 1:
                new_resolved[name] = top[0]
                continue
            agreed: list[str | None] = []
            for i in range(n_ranks):
                options = {groups[i] for groups in top}
                agreed.append(next(iter(options)) if len(options) == 1 else "\0")
            partial[name] = agreed
        if new_resolved == resolved or iterations >= 20:
            resolved = new_resolved
            break
        resolved = new_resolved

    ambiguous_ranks: Counter[str] = Counter()
    rows: list[list[str | None]] = []
    for name in names:
        if name in resolved:
            rows.append([None if g == "__" else g for g in resolved[name]])
        elif name in partial:
            row = partial[name]
            for i, v in enumerate(row):
                if v == "\0":
                    ambiguous_ranks[RANKS[i]] += 1
            rows.append([None if v in ("\0", "__") else v for v in row])
        else:  # unsplittable: only the first token is certain
            first = tokens[name][0]
            rows.append([None if first == "__" else first] + [None] * (n_ranks - 1))
    frame = pd.DataFrame(
        rows, index=pd.Index(names, name="feature_id"), columns=list(RANKS[:n_ranks]), dtype=object
    )
    report = {
        "n_names": len(names),
        "n_single_reading": len(fixed),
        "n_resolved": len(resolved),
        "n_ambiguous": len(partial),
        "ambiguous_ranks": {r: int(ambiguous_ranks[r]) for r in RANKS if ambiguous_ranks[r]},
        "n_unsplittable": len(unsplittable),
        "iterations": iterations,
        "examples": sorted(partial)[:5],
    }
    return frame, report


# ---------------------------------------------------------------------- collapsing
def collapse(table: TableT, rank: str, *, convention: str = "auto", by: str = "lineage") -> TableT:
    """Sum the features of ``table`` that share their lineage down to ``rank`` (sparse).

    Parameters
    ----------
    table
        A :class:`~gutskin.io.table.FeatureTable` (any :class:`Table`) with ``taxonomy`` (one lineage
        per feature).
    rank
        One of :data:`RANKS`.
    convention
        How the lineages are written (:func:`parse_lineage`).
    by
        ``"lineage"`` (default): features are grouped by their whole lineage down to ``rank``, written
        canonically (``"k__Bacteria;…;g__Staphylococcus"``; an empty rank stays empty, ``"…;f__X;g__"``,
        as QIIME's ``collapse`` does), so that homonyms in different families (SILVA's many genera
        called ``uncultured``) stay apart. ``"name"``: grouped by the name at ``rank`` alone, for
        comparing tables whose higher ranks are written differently; features without a name at
        ``rank`` go to ``"unassigned"``.

    Returns
    -------
    FeatureTable
        Same samples and ``values``; one feature per group (ids sorted), ``taxonomy`` = the group's
        canonical lineage. Features without any lineage go to ``"Unassigned"``.

    Raises
    ------
    ValueError
        If ``table`` has no taxonomy, ``rank``/``by`` is unknown, or a lineage cannot be parsed.
    """
    if rank not in RANKS:
        raise ValueError(f"unknown rank {rank!r}; use one of {RANKS}")
    if by not in ("lineage", "name"):
        raise ValueError("by must be 'lineage' or 'name'")
    if table.taxonomy is None:
        raise ValueError(
            "the table has no taxonomy, so it cannot be collapsed by rank; read a table whose features "
            "carry lineages (BIOM observation metadata 'taxonomy', a lineage column, lineage ids)"
        )
    depth = RANKS.index(rank) + 1
    parsed = lineage_table(table.taxonomy.reindex(table.feature_ids.astype(str)), convention)
    keys: list[str] = []
    lineages: dict[str, str | None] = {}
    for values in parsed.itertuples(index=False, name=None):
        if all(v is None for v in values):
            key, lin = "Unassigned", None
        elif by == "lineage":
            key = lin = format_lineage(values[:depth], depth)
        else:
            name = values[depth - 1]
            key = name if name is not None else "unassigned"
            lin = format_lineage([None] * (depth - 1) + [name], depth) if name else None
        keys.append(key)
        lineages.setdefault(key, lin)
    groups = sorted(set(keys))
    index = {k: i for i, k in enumerate(groups)}
    cols = np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))
    indicator = sp.csr_array(
        (np.ones(len(keys)), (np.arange(len(keys)), cols)), shape=(len(keys), len(groups))
    )
    counts = sp.csr_array(table.counts @ indicator, dtype=np.float64)
    counts.eliminate_zeros()
    taxonomy = pd.Series([lineages[g] for g in groups], index=groups, dtype=object)
    return dataclasses.replace(
        table,
        counts=counts,
        sample_ids=table.sample_ids.copy(),
        feature_ids=np.array(groups, dtype=object),
        taxonomy=taxonomy,
    )


class OverlappingTaxaError(ValueError):
    """Two named taxon sets share features (e.g. a genus listed with its own family)."""

    def __init__(self, first: str, second: str, n_features: int) -> None:
        self.first, self.second, self.n_features = first, second, n_features
        super().__init__(
            f"taxon sets {first} and {second} share {n_features} feature(s): a feature would be "
            "counted twice"
        )

    def __reduce__(self) -> tuple[Any, tuple[str, str, int]]:
        # picklable with its own arguments: raised in a calibration worker, it must reach the parent
        return (type(self), (self.first, self.second, self.n_features))


def disjoint_sets(
    masks: dict[str, Any], excludes: dict[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """Resolve named feature sets into disjoint ones, or fail.

    Parameters
    ----------
    masks
        Set label -> boolean mask over the features (numpy array), in declaration order.
    excludes
        Set label -> labels of other sets whose features this set gives up (e.g. Ruminococcaceae
        without Faecalibacterium), declared in the configuration.

    Returns
    -------
    dict
        The masks after the declared exclusions, pairwise disjoint.

    Raises
    ------
    OverlappingTaxaError
        Naming the first two sets that still share a feature.
    KeyError
        When an exclusion names a set that is not defined.
    """
    import numpy as np

    out = {k: np.asarray(v, dtype=bool).copy() for k, v in masks.items()}
    for label, others in (excludes or {}).items():
        for other in others:
            if other not in masks:
                raise KeyError(other)
            out[label] &= ~np.asarray(masks[other], dtype=bool)
    labels = list(out)
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            shared = int(np.sum(out[a] & out[b]))
            if shared:
                raise OverlappingTaxaError(a, b, shared)
    return out
