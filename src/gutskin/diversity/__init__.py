"""Diversity of sparse feature tables: rarefaction, alpha, beta and PCoA.

Everything works on a ``scipy.sparse`` samples x features matrix (``FeatureTable.counts``) and never
densifies a whole table; hot loops are numba kernels (:mod:`gutskin.diversity._kernels`). Every
stochastic step takes a seed and gives the same result for the same seed whatever the thread count.

Rarefaction
-----------
.. autosummary::

   rarefy_counts
   rarefy
   repeated_rarefaction_alpha

Alpha diversity (``observed``, ``shannon`` with the natural log, ``simpson`` = 1 − Σp²)
----------------------------------------------------------------------------------------
.. autosummary::

   alpha_diversity
   alpha_table

Beta diversity (condensed vectors in ``scipy.spatial.distance.squareform`` order)
-------------------------------------------------------------------------------
Every metric name maps to its functions and what it needs (tree, rarefaction, PCoA) in
:mod:`gutskin.diversity.registry` (:data:`ALPHA`, :data:`BETA`); :func:`beta_diversity` and
:func:`mean_rarefied_beta` dispatch through it.

.. autosummary::

   braycurtis
   jaccard
   robust_aitchison
   beta_diversity
   mean_rarefied_beta

Ordination and the pipeline step
--------------------------------
.. autosummary::

   pcoa
   run_diversity
"""

from .alpha import alpha_diversity, alpha_table, observed, shannon, simpson
from .beta import braycurtis, condensed_index, jaccard, rclr, robust_aitchison
from .ordination import pcoa
from .pipeline import run_diversity
from .rarefy import rarefy, rarefy_counts, repeated_rarefaction_alpha
from .registry import (
    ALPHA,
    ALPHA_METRICS,
    BETA,
    BETA_METRICS,
    RAREFIED_METRICS,
    beta_diversity,
    mean_rarefied_beta,
)

__all__ = [
    "ALPHA",
    "ALPHA_METRICS",
    "BETA",
    "BETA_METRICS",
    "RAREFIED_METRICS",
    "alpha_diversity",
    "alpha_table",
    "beta_diversity",
    "braycurtis",
    "condensed_index",
    "jaccard",
    "mean_rarefied_beta",
    "observed",
    "pcoa",
    "rarefy",
    "rarefy_counts",
    "rclr",
    "repeated_rarefaction_alpha",
    "robust_aitchison",
    "run_diversity",
    "shannon",
    "simpson",
]
