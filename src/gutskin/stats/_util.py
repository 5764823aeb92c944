"""Small helpers shared by the ``gutskin.stats`` modules (not public API)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError


class StatsInputError(InputError, ValueError):
    """Bad input to a statistics function.

    It is an :class:`~gutskin.errors.InputError` (so the Snakemake adapters print only its message)
    and a :class:`ValueError` (so generic callers can catch it as one).
    """

    def __init__(self, problem: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(None, problem, where=where, hint=hint)


def to_builtin(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and dataclasses into JSON-able Python objects.

    Non-finite floats (NaN, ±inf) become ``None`` so the output is valid JSON.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_builtin(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_builtin(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [to_builtin(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


class JsonMixin:
    """Gives a frozen dataclass a ``to_dict()`` with JSON-able values only."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a dict of plain Python values (floats, ints, str, lists, None)."""
        out = to_builtin(self)
        assert isinstance(out, dict)
        return out


@dataclass(frozen=True)
class Coefficient(JsonMixin):
    """One coefficient of a fitted model with its intervals: the fields every model result starts with.

    ``term`` (the exact coefficient name), ``estimate`` and ``se``, the two-sided 95 % and 90 %
    intervals ``ci95``, ``ci90`` (the 90 % one is the TOST interval) and the two-sided ``p_value`` of
    ``term = 0``. What each means for a model (scale, SE estimator, reference distribution) is said by
    the subclass.
    """

    term: str
    estimate: float
    se: float
    ci95: tuple[float, float]
    ci90: tuple[float, float]
    p_value: float


def wald_fields(
    term: str, est: float, se: float, p_value: float, quantile: Callable[[float], float]
) -> dict[str, Any]:
    """The :class:`Coefficient` fields of a Wald fit, to pass on with ``**`` to a result's constructor.

    The intervals are ``est ± q se`` with ``q = quantile(0.975)`` (95 %) and ``quantile(0.95)`` (90 %):
    ``scipy.stats.norm.ppf`` for z inference, the t quantile on the model's degrees of freedom for t.
    """
    q95 = float(quantile(0.975))
    q90 = float(quantile(0.95))
    return {
        "term": term,
        "estimate": est,
        "se": se,
        "ci95": (est - q95 * se, est + q95 * se),
        "ci90": (est - q90 * se, est + q90 * se),
        "p_value": p_value,
    }


def check_finite(name: str, value: float) -> float:
    """Return ``value`` as a float, raising :class:`StatsInputError` if it is not finite."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise StatsInputError(f"{name} must be a number, got {value!r}", where=name) from None
    if not math.isfinite(f):
        raise StatsInputError(f"{name} must be finite, got {value!r}", where=name)
    return f


def check_count(name: str, value: int) -> int:
    """``value`` as an int if it is a non-negative whole number (not a bool), else StatsInputError."""
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise StatsInputError(f"{name} must be a non-negative integer, got {value!r}", where=name)
    return int(value)


def as_vector(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    """A 1-D float64 array of finite values, or :class:`StatsInputError` naming the bad entry."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional, got shape {arr.shape}", where=name)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise StatsInputError(
            f"{name} has {bad.size} missing or non-finite value(s) (first at position {bad[0]})",
            where=name,
            hint="drop the incomplete observations (or pairs) before calling",
        )
    return arr


def derive_rng(seed: int | np.random.SeedSequence | None, stream: int) -> np.random.Generator:
    """An independent generator for one purpose (``stream``) derived from ``seed``.

    Permutations and bootstrap resamples use different streams so that changing the number of
    bootstrap draws never changes the permutation p-value.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.default_rng(ss.spawn(stream + 1)[stream])


def strata_codes(
    strata: Sequence[Any] | np.ndarray | None, n: int, name: str = "strata"
) -> np.ndarray | None:
    """Integer codes (0..k-1) for ``strata``; ``None`` when there are no strata."""
    if strata is None:
        return None
    arr = np.asarray(strata, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise StatsInputError(
            f"{name} must have one entry per observation ({n}), got shape {arr.shape}", where=name
        )
    missing = [
        i for i, v in enumerate(arr) if v is None or (isinstance(v, float) and math.isnan(v))
    ]
    if missing:
        raise StatsInputError(
            f"{name} has {len(missing)} missing value(s) (first at position {missing[0]})",
            where=name,
            hint="give every observation a stratum (e.g. its run centre), or drop it",
        )
    _, codes = np.unique(arr.astype(str), return_inverse=True)
    return codes.astype(np.int64)


def permutation_matrix(
    n: int, permutations: int, rng: np.random.Generator, codes: np.ndarray | None
) -> np.ndarray:
    """``permutations`` × ``n`` array of index permutations, restricted within strata if given.

    Row ``k`` is a permutation ``p``: the permuted data are ``y[p]``. With strata, ``p[i]`` is always
    in the same stratum as ``i``.
    """
    if codes is None:
        keys = rng.random((permutations, n))
        return np.argsort(keys, axis=1)
    order = np.argsort(codes, kind="stable")  # positions grouped by stratum
    keys = rng.random((permutations, n)) + 2.0 * codes[order][None, :]
    # argsort within each row sorts positions of `order` by (stratum, random key)
    ranked = np.argsort(keys, axis=1)
    perms = np.empty((permutations, n), dtype=np.int64)
    perms[:, order] = order[ranked]
    return perms
