"""Alpha diversity of every sample (row) of a sparse table.

Metrics
-------
``observed``
    Number of features with a value > 0 (observed features / richness).
``shannon``
    Shannon entropy with the **natural log**, H = −Σ p_i ln p_i over the sample's non-zero features.
    scikit-bio >= 0.6.1 also uses base e (earlier versions and QIIME 1 used base 2); convert with
    H_bits = H_nats / ln 2.
``simpson``
    Gini–Simpson index 1 − Σ p_i² (the probability that two reads drawn with replacement belong to
    different features), as ``skbio.diversity.alpha.simpson`` and vegan's ``diversity(x, "simpson")``.

All three are scale-invariant except ``observed``, so they apply to proportions as well as counts.
Values equal scikit-bio's ``alpha_diversity`` (to rounding). A sample whose values are all 0 gets
``observed`` 0 and NaN Shannon and Simpson (as scikit-bio).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _kernels
from ._common import as_csr, default_ids, split_table
from .rarefy import ALPHA_METRICS, check_alpha_metrics

__all__ = ["ALPHA_METRICS", "alpha_diversity", "alpha_table", "observed", "shannon", "simpson"]


def alpha_diversity(
    data: Any, metrics: Sequence[str] = ALPHA_METRICS, *, source: str | None = None
) -> dict[str, np.ndarray]:
    """Alpha diversity of every row of a sparse table (counts or proportions).

    Parameters
    ----------
    data
        A FeatureTable or a samples x features scipy sparse matrix with non-negative values.
    metrics
        Any of ``"observed"``, ``"shannon"`` (natural log), ``"simpson"`` (1 − Σp²).
    source
        File name for error messages.

    Returns
    -------
    dict of str to numpy.ndarray
        One float64 vector per metric, in row order.
    """
    matrix, _, _ = split_table(data)
    metrics = check_alpha_metrics(metrics)
    csr = as_csr(matrix, source=source)
    n = csr.shape[0]
    obs = np.empty(n)
    sha = np.empty(n)
    sim = np.empty(n)
    _kernels.alpha_rows(
        csr.indptr.astype(np.int64, copy=False),
        csr.data.astype(np.float64, copy=False),
        obs,
        sha,
        sim,
    )
    values = {"observed": obs, "shannon": sha, "simpson": sim}
    return {m: values[m] for m in metrics}


def observed(data: Any) -> np.ndarray:
    """Number of features with a value > 0 in each sample."""
    return alpha_diversity(data, ("observed",))["observed"]


def shannon(data: Any) -> np.ndarray:
    """Shannon entropy of each sample, natural log (nats). Bits: divide by ``numpy.log(2)``."""
    return alpha_diversity(data, ("shannon",))["shannon"]


def simpson(data: Any) -> np.ndarray:
    """Gini–Simpson index 1 − Σp² of each sample."""
    return alpha_diversity(data, ("simpson",))["simpson"]


def alpha_table(
    data: Any,
    metrics: Sequence[str] = ALPHA_METRICS,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Alpha diversity as a DataFrame indexed by sample id (one column per metric)."""
    matrix, table_ids, _ = split_table(data)
    values = alpha_diversity(matrix, metrics)
    n = matrix.shape[0]
    index = default_ids(n, ids if ids is not None else table_ids)
    return pd.DataFrame(values, index=pd.Index(index, name="sample_id"))
