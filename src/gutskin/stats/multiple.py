"""Multiple-testing adjustment: Holm (family-wise error) and Benjamini–Hochberg (FDR).

Both match R's ``stats::p.adjust(method = "holm")`` and ``p.adjust(method = "BH")``. ``None``
entries (tests that could not be run) are passed through untouched and do not count towards the
family size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ._util import StatsInputError

__all__ = ["bh", "holm"]


def _collect(pvalues: Sequence[float | None]) -> tuple[list[int], np.ndarray]:
    idx: list[int] = []
    vals: list[float] = []
    for i, p in enumerate(pvalues):
        if p is None:
            continue
        try:
            f = float(p)
        except (TypeError, ValueError):
            raise StatsInputError(
                f"p-value at position {i} is not a number: {p!r}", where=f"pvalues[{i}]"
            ) from None
        if math.isnan(f) or not 0.0 <= f <= 1.0:
            raise StatsInputError(
                f"p-value at position {i} must be in [0, 1], got {p!r}",
                where=f"pvalues[{i}]",
                hint="use None for a test that could not be run",
            )
        idx.append(i)
        vals.append(f)
    return idx, np.asarray(vals, dtype=np.float64)


def _adjust(
    pvalues: Sequence[float | None],
    step: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> list[float | None]:
    """Adjusted p-values in the order of ``pvalues``, ``None`` kept where it stands.

    ``step(p)`` gets the m non-missing p-values and returns ``(order, adjusted)``: the positions of
    ``p`` in the order it walks them and the adjusted value at each.
    """
    n = len(pvalues)
    idx, p = _collect(pvalues)
    m = p.size
    if m == 0:
        return [None] * n
    order, adj_sorted = step(p)
    adj = np.empty(m)
    adj[order] = adj_sorted
    out: list[float | None] = [None] * n
    for i, v in zip(idx, adj, strict=True):
        out[i] = float(v)
    return out


def _holm_step(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = p.size
    order = np.argsort(p, kind="stable")
    factors = m - np.arange(m)  # m, m-1, ..., 1
    return order, np.minimum(1.0, np.maximum.accumulate(factors * p[order]))


def _bh_step(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = p.size
    order = np.argsort(p, kind="stable")[::-1]  # descending
    ranks = m - np.arange(m)  # rank j of each descending entry: m, m-1, ..., 1
    return order, np.minimum(1.0, np.minimum.accumulate(m / ranks * p[order]))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values.

    Parameters
    ----------
    pvalues
        Raw p-values of one family; ``None`` passes through untouched.

    Returns
    -------
    list of float or None
        Same length and order. With the m non-missing p-values sorted ascending,
        ``p_adj(i) = max_{j <= i} min(1, (m - j + 1) p(j))``.
    """
    return _adjust(pvalues, _holm_step)


def bh(pvalues: Sequence[float | None]) -> list[float | None]:
    """Benjamini–Hochberg step-up adjusted p-values (q-values).

    Takes and returns p-values as :func:`holm` does (same length and order, ``None`` passed through);
    with the m non-missing p-values sorted ascending, ``q(i) = min_{j >= i} min(1, m p(j) / j)``.
    """
    return _adjust(pvalues, _bh_step)
