"""The plotting layer: deterministic, accessible matplotlib figures, below both the claims and the report.

:mod:`gutskin.plotting.figures` draws every figure the claim analyses and the report's Data section show
(:func:`~gutskin.plotting.figures.alpha_by_group`, :func:`~gutskin.plotting.figures.forest`,
:func:`~gutskin.plotting.figures.depth_histogram`, …) and :func:`~gutskin.plotting.figures.save_figure` writes
each with its data twin ``<stem>.data.tsv``. It imports matplotlib, so it is not imported here: callers import
``gutskin.plotting.figures`` when they draw. It depends only on :mod:`gutskin.errors`.
"""
