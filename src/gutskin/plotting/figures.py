"""Figures for the claims report: matplotlib (Agg, no pyplot state), deterministic, accessible.

Every function returns a :class:`matplotlib.figure.Figure` built without :mod:`matplotlib.pyplot`, so no
global figure registry grows, nothing is drawn on screen and the caller's backend is left alone (saving
renders through matplotlib's SVG backend, or Agg for PNG, whatever the interactive backend is). :func:`save_figure` writes it as SVG (default)
or PNG, atomically; SVGs carry the alt text as ``<title>`` and ``<desc>`` and are byte-identical for
identical input (fixed ``svg.hashsalt``, no date, glyphs embedded as paths, seeded jitter).

Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies), and groups are also
told apart by marker shape or position, never by colour alone.

Every plotting function records the numbers it drew on the figure (:func:`figure_data`), and
:func:`save_figure` writes them beside the image as ``<stem>.data.tsv`` (:func:`data_path`): each figure has a
machine-readable twin that the report lists.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from xml.sax.saxutils import escape

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import InputError

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "DATA_SUFFIX",
    "HEXBIN_THRESHOLD",
    "OKABE_ITO",
    "alpha_by_group",
    "data_path",
    "depth_histogram",
    "distance_scatter",
    "figure_data",
    "forest",
    "ordination",
    "paired_scatter",
    "readable",
    "save_figure",
    "svg_text",
]

#: Okabe & Ito (2008) colour-blind-safe palette, black last.
OKABE_ITO: tuple[str, ...] = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Marker shapes paired with the palette so groups never differ by colour alone.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")

#: :func:`distance_scatter` switches from points to a hexbin density above this many pairs.
HEXBIN_THRESHOLD = 5000

#: Scatter layers with more points than this are rasterised inside the SVG (keeps files small).
RASTERISE_ABOVE = 800

#: Suffix of the data twin written beside each figure (``forest.svg`` -> ``forest.data.tsv``).
DATA_SUFFIX = ".data.tsv"

F = TypeVar("F", bound=Callable[..., Any])

_DATA_ATTR = "_gutskin_data"

_SALT = "gutskin"

#: Smallest text size in a figure (points). Figures are shown at their natural size (1 pt = 4/3 CSS px), so
#: 10 pt reads as 13.3 px — as large as the smallest caption text of the report.
SMALL_PT = 10.0

#: Code names that reach a figure (metric ids, column names) and how a reader should see them.
LABELS: dict[str, str] = {
    "braycurtis": "Bray–Curtis",
    "bray_curtis": "Bray–Curtis",
    "jaccard": "Jaccard",
    "robust_aitchison": "robust Aitchison",
    "aitchison": "Aitchison",
    "unweighted_unifrac": "unweighted UniFrac",
    "weighted_unifrac": "weighted UniFrac",
    "faith_pd": "Faith PD",
    "shannon": "Shannon",
    "simpson": "Simpson",
    "chao1": "Chao1",
    "hedges_g": "Hedges g",
    "bmi": "BMI",
}
_CODE_WORD = re.compile(
    r"(?<![\w$])([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+|[a-z][a-z0-9]*)(?![\w$])"
)


def readable(text: str) -> str:
    """A label for readers: known code names by :data:`LABELS`, other ``snake_case`` words with spaces.

    Examples
    --------
    >>> readable("Gut braycurtis by types_of_plants")
    'Gut Bray–Curtis by types of plants'
    >>> readable("$R^2$ of x_1")
    '$R^2$ of x_1'
    """
    if not text or "$" in text:
        return text

    def one(m: re.Match[str]) -> str:
        word = m.group(1)
        known = LABELS.get(word.lower())
        if known is not None:
            return known
        return word.replace("_", " ") if "_" in word else word

    return _CODE_WORD.sub(one, text)


def _readable_texts(fig: Figure) -> Figure:
    """Rewrite every text of a finished figure (titles, axis labels, tick and legend labels) with
    :func:`readable`; the figure's data twin keeps the original names."""
    from matplotlib.text import Text
    from matplotlib.ticker import FixedLocator

    for ax in fig.axes:  # categorical tick labels are drawn from their formatter at render time
        for axis in (ax.xaxis, ax.yaxis):
            if not isinstance(axis.get_major_locator(), FixedLocator):
                continue
            labels = [t.get_text() for t in axis.get_ticklabels()]
            new = [readable(x) for x in labels]
            if new != labels:
                axis.set_ticks(axis.get_ticklocs(), new)
    for t in fig.findobj(Text):
        old = t.get_text()
        text = readable(old)
        if text != old:
            t.set_text(text)
    return fig


_RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": _SALT,
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": SMALL_PT,
    "axes.titlesize": SMALL_PT + 1,
    "axes.labelsize": SMALL_PT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 150,
    "path.simplify": True,
}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_PNG_METADATA = {"Software": None}


def _where(name: str) -> str:
    return f"argument {name!r}"


def _with_rc(func: F) -> F:
    """Run a plotting function inside the package's rc settings (fonts, sizes, spines)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(_RC):
            fig = func(*args, **kwargs)
            return _readable_texts(fig) if isinstance(fig, Figure) else fig

    return wrapper  # type: ignore[return-value]


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _style_axes(ax: Any) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(labelsize=SMALL_PT)


def _finite_pairs(x: Any, y: Any, *, who: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        xa = np.asarray(x, dtype=float).ravel()
        ya = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(
            None, f"{who}: x and y must be numeric ({exc})", hint="pass numeric arrays"
        ) from None
    if xa.shape != ya.shape:
        raise InputError(
            None,
            f"{who}: x has {xa.size} values but y has {ya.size}",
            where="arguments 'x'/'y'",
            hint="pass paired values of equal length",
        )
    keep = np.isfinite(xa) & np.isfinite(ya)
    return xa[keep], ya[keep]


def _annotate(ax: Any, annotation: str | None) -> None:
    if annotation:
        ax.text(
            0.02,
            0.98,
            annotation,
            transform=ax.transAxes,
            ha="left",
            va="top",
            fontsize=SMALL_PT,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#999999"},
        )


def _attach_data(fig: Figure, data: pd.DataFrame) -> Figure:
    """Record the numbers drawn on ``fig`` (written as its data twin by :func:`save_figure`)."""
    setattr(fig, _DATA_ATTR, data.reset_index(drop=True))
    return fig


def figure_data(fig: Figure) -> pd.DataFrame | None:
    """The numbers a plotting function of this module drew on ``fig`` (one row per mark), or None."""
    data = getattr(fig, _DATA_ATTR, None)
    return data if isinstance(data, pd.DataFrame) else None


def data_path(figure_path: Path | str) -> Path:
    """Where the data twin of a figure file lives: ``dir/forest.svg`` -> ``dir/forest.data.tsv``."""
    p = Path(figure_path)
    return p.with_name(p.stem + DATA_SUFFIX)


def _xy_columns(xlabel: str, ylabel: str) -> tuple[str, str]:
    x = xlabel.strip() or "x"
    y = ylabel.strip() or "y"
    return (x, y) if x != y else (f"{x} (x)", f"{y} (y)")


@_with_rc
def alpha_by_group(
    df: pd.DataFrame,
    value: str,
    group: str,
    order: list[str],
    ylabel: str,
    title: str,
    n_label: bool = True,
    *,
    seed: int = 0,
) -> Figure:
    """Box plot (no outlier markers) with jittered points of one alpha metric per group.

    Parameters
    ----------
    df
        One row per sample.
    value
        Column with the alpha-diversity values (missing values are left out).
    group
        Column with the group labels.
    order
        Groups to draw, left to right; rows of other groups are not drawn. A group without values is still
        labelled (with n = 0) so an empty group is visible.
    ylabel, title
        Axis label and title.
    n_label
        Write the number of plotted values under each group label.
    seed
        Seed of the horizontal jitter (the same input always gives the same picture).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If a column is missing, ``order`` is empty or the values are not numeric.
    """
    for col, arg in ((value, "value"), (group, "group")):
        if col not in df.columns:
            raise InputError(
                None,
                f"alpha_by_group: column {col!r} not in the data frame",
                where=_where(arg),
                hint=f"available columns: {', '.join(map(str, df.columns))}",
            )
    if not order:
        raise InputError(None, "alpha_by_group: no groups to draw", where=_where("order"))
    try:
        vals = pd.to_numeric(df[value], errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            None,
            f"alpha_by_group: column {value!r} is not numeric ({exc})",
            where=_where("value"),
        ) from None
    labels = df[group].astype("string")
    data = [vals[(labels == str(g)).fillna(False).to_numpy()].dropna().to_numpy() for g in order]
    rng = np.random.default_rng(seed)

    fig = _new_figure(max(3.8, 1.2 + 1.0 * len(order)), 4.0)
    ax = fig.subplots()
    _style_axes(ax)
    positions = np.arange(1, len(order) + 1, dtype=float)
    drawn = [i for i, d in enumerate(data) if d.size]
    if drawn:
        ax.boxplot(
            [data[i] for i in drawn],
            positions=positions[drawn],
            widths=0.55,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "#000000", "linewidth": 1.6},
            boxprops={"facecolor": "#FFFFFF", "edgecolor": "#333333"},
            whiskerprops={"color": "#333333"},
            capprops={"color": "#333333"},
            zorder=1,
        )
    total = sum(d.size for d in data)
    for i, d in enumerate(data):
        if not d.size:
            continue
        jitter = rng.uniform(-0.18, 0.18, size=d.size)
        ax.scatter(
            positions[i] + jitter,
            d,
            s=9 if d.size > 200 else 16,
            color=OKABE_ITO[i % len(OKABE_ITO)],
            marker=MARKERS[i % len(MARKERS)],
            alpha=0.55 if d.size > 200 else 0.8,
            linewidths=0,
            zorder=2,
            rasterized=total > RASTERISE_ABOVE,
        )
    ticklabels = [
        f"{g}\n(n = {d.size:,})" if n_label else str(g) for g, d in zip(order, data, strict=True)
    ]
    ax.set_xticks(positions, ticklabels)
    ax.set_xlim(0.4, len(order) + 0.6)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    drawn_rows = pd.DataFrame(
        {
            group: np.repeat([str(g) for g in order], [d.size for d in data]),
            value: np.concatenate(data) if data else np.array([], dtype=float),
        }
    )
    return _attach_data(fig, drawn_rows)


def _points(ax: Any, xa: np.ndarray, ya: np.ndarray, *, size: float, alpha: float) -> None:
    """One colour of points, rasterised when there are many."""
    ax.scatter(
        xa,
        ya,
        s=size,
        color=OKABE_ITO[3],
        alpha=alpha,
        linewidths=0,
        rasterized=xa.size > RASTERISE_ABOVE,
    )


def _finish_xy(
    fig: Figure,
    ax: Any,
    xa: np.ndarray,
    ya: np.ndarray,
    labels: tuple[str, str, str],
    annotation: str,
) -> Figure:
    """Axis labels and title, the annotation box, and the drawn pairs as the figure's data twin."""
    xlabel, ylabel, title = labels
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _annotate(ax, annotation)
    cx, cy = _xy_columns(xlabel, ylabel)
    return _attach_data(fig, pd.DataFrame({cx: xa, cy: ya}))


@_with_rc
def paired_scatter(
    x: Sequence[float] | np.ndarray | pd.Series,
    y: Sequence[float] | np.ndarray | pd.Series,
    xlabel: str,
    ylabel: str,
    title: str,
    annotation: str | None = None,
) -> Figure:
    """Scatter of paired values (e.g. gut vs skin diversity of the same subject).

    Pairs with a missing or non-finite value are left out. ``annotation`` (e.g. "Spearman ρ = 0.05") is
    written in a box in the upper-left corner.
    """
    xa, ya = _finite_pairs(x, y, who="paired_scatter")
    fig = _new_figure(4.4, 4.0)
    ax = fig.subplots()
    _style_axes(ax)
    _points(ax, xa, ya, size=14, alpha=0.7)
    return _finish_xy(fig, ax, xa, ya, (xlabel, ylabel, title), annotation or f"n = {xa.size:,}")


@_with_rc
def distance_scatter(
    dx: Sequence[float] | np.ndarray,
    dy: Sequence[float] | np.ndarray,
    xlabel: str,
    ylabel: str,
    title: str,
    annotation: str | None = None,
) -> Figure:
    """Distance-vs-distance plot (Mantel-style); a hexbin density above :data:`HEXBIN_THRESHOLD` pairs.

    ``dx``/``dy`` are matching condensed distance vectors; non-finite pairs are left out.
    """
    xa, ya = _finite_pairs(dx, dy, who="distance_scatter")
    fig = _new_figure(4.8, 4.0)
    ax = fig.subplots()
    _style_axes(ax)
    if xa.size > HEXBIN_THRESHOLD:
        hb = ax.hexbin(
            xa, ya, gridsize=40, cmap="cividis", mincnt=1, linewidths=0.2, rasterized=True
        )
        cb = fig.colorbar(hb, ax=ax)
        cb.set_label("pairs per hexagon")
    else:
        _points(ax, xa, ya, size=8, alpha=0.5)
    return _finish_xy(fig, ax, xa, ya, (xlabel, ylabel, title), annotation or f"{xa.size:,} pairs")


def _opt_float(row: Mapping[str, Any], key: str, i: int) -> float | None:
    v = row.get(key)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(
            None,
            f"forest: {key} = {v!r} is not a number",
            where=f"rows[{i}]",
            hint="use a number or null",
        ) from None
    return f if math.isfinite(f) else None


@_with_rc
def forest(
    rows: list[dict[str, Any]],
    xlabel: str,
    sesoi: float | None = None,
    title: str = "",
) -> Figure:
    """Forest plot: one point estimate with its CI per row, a zero line and a shaded ±SESOI band.

    Parameters
    ----------
    rows
        ``{"label", "estimate", "ci_low", "ci_high"}``, drawn top to bottom. A row whose estimate is missing
        is labelled "not estimable"; a missing CI end is drawn as the point only.
    xlabel
        Axis label (the effect-size scale).
    sesoi
        Smallest effect size of interest; the band ``[-|sesoi|, |sesoi|]`` is shaded.
    title
        Axes title.
    """
    if not rows:
        raise InputError(None, "forest: no rows to draw", where=_where("rows"))
    parsed = []
    for i, row in enumerate(rows):
        if "label" not in row:
            raise InputError(None, "forest: row without a 'label'", where=f"rows[{i}]")
        parsed.append(
            (
                str(row["label"]),
                _opt_float(row, "estimate", i),
                _opt_float(row, "ci_low", i),
                _opt_float(row, "ci_high", i),
            )
        )
    fig = _new_figure(5.6, max(2.4, 1.5 + 0.45 * len(parsed)))
    ax = fig.subplots()
    _style_axes(ax)
    ax.spines["left"].set_visible(False)
    ys = np.arange(len(parsed), 0, -1, dtype=float)
    if sesoi is not None and math.isfinite(float(sesoi)) and float(sesoi) != 0:
        s = abs(float(sesoi))
        ax.axvspan(-s, s, color="#DDDDDD", alpha=0.8, lw=0, zorder=0, label=f"±SESOI ({s:g})")
    ax.axvline(0.0, color="#555555", lw=0.9, ls="--", zorder=1)
    extent: list[float] = [0.0]
    if sesoi is not None and math.isfinite(float(sesoi)):
        extent += [-abs(float(sesoi)), abs(float(sesoi))]
    for y, (_label, est, lo, hi) in zip(ys, parsed, strict=True):
        if est is None:
            ax.text(
                0.0,
                y,
                "not estimable",
                ha="center",
                va="center",
                fontsize=SMALL_PT,
                color="#555555",
            )
            continue
        if lo is not None and hi is not None:
            ax.hlines(y, lo, hi, color="#000000", lw=1.4, zorder=2)
            extent += [lo, hi]
        ax.plot([est], [y], marker="s", ms=6, color=OKABE_ITO[3], mec="#000000", zorder=3)
        extent.append(est)
    lo_x, hi_x = min(extent), max(extent)
    pad = 0.08 * (hi_x - lo_x) if hi_x > lo_x else 0.5
    ax.set_xlim(lo_x - pad, hi_x + pad)
    ax.set_yticks(ys, [p[0] for p in parsed])
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(0.4, len(parsed) + 0.6)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    if sesoi is not None and float(sesoi) != 0:
        # outside the axes (above them), so the band's legend never covers an interval
        fig.legend(loc="outside upper right", fontsize=SMALL_PT, frameon=False)
    drawn = pd.DataFrame(parsed, columns=["label", "estimate", "ci_low", "ci_high"])
    drawn["sesoi"] = abs(float(sesoi)) if sesoi is not None else np.nan
    return _attach_data(fig, drawn)


@_with_rc
def ordination(
    coords: pd.DataFrame,
    groups: pd.Series,
    title: str,
    explained: list[float],
) -> Figure:
    """PC1 vs PC2 of a PCoA, coloured and shaped by group.

    Parameters
    ----------
    coords
        Samples × axes; the first two columns are drawn. Indexed by sample id.
    groups
        Group label per sample id (aligned on the index; samples without a label are drawn as "missing").
    title
        Axes title.
    explained
        Proportion of variance explained per axis, as fractions in [0, 1] (scikit-bio's
        ``proportion_explained``); the first two label the axes as percentages.
    """
    if coords.shape[1] < 2:
        raise InputError(
            None,
            f"ordination: need at least 2 axes, got {coords.shape[1]}",
            where=_where("coords"),
        )
    if len(explained) < 2:
        raise InputError(
            None, "ordination: need the explained proportion of 2 axes", where=_where("explained")
        )
    ex = [float(e) for e in explained[:2]]
    if any(not (0.0 <= e <= 1.0) for e in ex):
        raise InputError(
            None,
            f"ordination: explained proportions {ex} are not fractions in [0, 1]",
            where=_where("explained"),
            hint="pass proportion_explained (e.g. 0.12), not percentages",
        )
    xy = coords.iloc[:, :2].astype(float)
    lab = groups.reindex(xy.index).astype("string").fillna("missing")
    levels = list(dict.fromkeys(sorted(lab.unique())))
    fig = _new_figure(5.2, 4.2)
    ax = fig.subplots()
    _style_axes(ax)
    big = len(xy) > RASTERISE_ABOVE
    for i, lv in enumerate(levels):
        m = (lab == lv).to_numpy()
        ax.scatter(
            xy.iloc[m, 0],
            xy.iloc[m, 1],
            s=12,
            color=OKABE_ITO[i % len(OKABE_ITO)],
            marker=MARKERS[i % len(MARKERS)],
            alpha=0.75,
            linewidths=0,
            label=f"{lv} (n = {int(m.sum()):,})",
            rasterized=big,
        )
    ax.set_xlabel(f"PC1 ({100 * ex[0]:.1f} %)")
    ax.set_ylabel(f"PC2 ({100 * ex[1]:.1f} %)")
    ax.set_title(title)
    ax.legend(fontsize=SMALL_PT, frameon=False, loc="best", markerscale=1.3)
    drawn = pd.DataFrame(
        {
            "sample_id": xy.index.astype(str),
            "PC1": xy.iloc[:, 0].to_numpy(),
            "PC2": xy.iloc[:, 1].to_numpy(),
            "group": lab.to_numpy(dtype=object),
        }
    )
    return _attach_data(fig, drawn)


@_with_rc
def depth_histogram(
    reads: Sequence[float] | np.ndarray | pd.Series,
    depth: float | None,
    title: str,
    *,
    retained: Sequence[bool] | np.ndarray | pd.Series | None = None,
    xlabel: str = "Reads per sample",
) -> Figure:
    """Histogram of sequencing depth (reads per sample) with the rarefaction depth marked.

    Samples kept for diversity are drawn as plain bars, dropped samples (below the depth) as hatched bars, so
    the two are told apart without colour. The x axis is logarithmic when depths span more than a factor of
    30; samples with 0 reads are then counted in the first bin (and stated in the annotation).

    Parameters
    ----------
    reads
        Reads per sample (missing values are left out).
    depth
        Rarefaction depth, drawn as a dashed vertical line; ``None`` when the table is not rarefied.
    title
        Axes title.
    retained
        Whether each sample was kept; default ``reads >= depth`` (all kept when ``depth`` is None).
    xlabel
        Axis label.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        For non-numeric or negative reads, or ``retained`` of another length.
    """
    try:
        r = np.asarray(reads, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(
            None, f"depth_histogram: reads must be numeric ({exc})", where=_where("reads")
        ) from None
    if retained is None:
        kept = np.ones(r.shape, dtype=bool) if depth is None else r >= float(depth)
    else:
        kept = np.asarray(retained, dtype=bool).ravel()
        if kept.shape != r.shape:
            raise InputError(
                None,
                f"depth_histogram: {r.size} read counts but {kept.size} retained flags",
                where=_where("retained"),
                hint="pass one flag per sample",
            )
    finite = np.isfinite(r)
    r, kept = r[finite], kept[finite]
    if (r < 0).any():
        raise InputError(
            None,
            "depth_histogram: negative read counts",
            where=_where("reads"),
            hint="check depth.tsv",
        )
    fig = _new_figure(6.4, 3.0)
    ax = fig.subplots()
    _style_axes(ax)
    positive = r[r > 0]
    lo = float(positive.min()) if positive.size else 1.0
    hi = float(r.max()) if r.size else 1.0
    log = positive.size > 0 and hi / lo > 30
    n_zero = int((r == 0).sum())
    if not r.size:
        bins = np.linspace(0.0, 1.0, 2)
    elif hi == float(
        r.min()
    ):  # every sample has the same depth (e.g. a table rarefied by its authors)
        bins = np.linspace(hi * 0.95 if hi else -0.5, hi * 1.05 if hi else 0.5, 4)
    elif log:
        bins = np.geomspace(lo, hi * 1.0001, 41)
    else:
        bins = np.linspace(float(r.min()), hi, 41)
    plotted = np.clip(r, bins[0], bins[-1]) if r.size else r
    ax.hist(
        [plotted[kept], plotted[~kept]],
        bins=cast("Sequence[float]", bins),  # matplotlib's stub omits arrays, which hist accepts
        stacked=True,
        color=[OKABE_ITO[3], OKABE_ITO[4]],
        edgecolor="#000000",
        linewidth=0.4,
        hatch=None,
        label=[
            f"used (n = {int(kept.sum()):,})",
            f"dropped, below depth (n = {int((~kept).sum()):,})",
        ],
    )
    for patch in ax.patches[len(ax.patches) // 2 :] if (~kept).any() else []:
        patch.set_hatch("////")
    if log:
        ax.set_xscale("log")
    if depth is not None:
        ax.axvline(float(depth), color="#000000", ls="--", lw=1.2)
        ax.text(
            float(depth),
            0.5,
            f"rarefaction depth {float(depth):,.0f} ",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="right",
            va="center",
            fontsize=SMALL_PT,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )
    ax.set_xlabel(xlabel + (" (log scale)" if log else ""))
    ax.set_ylabel("Samples")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if not (~kept).any():
        handles, labels = handles[:1], labels[:1]
    ax.legend(
        handles,
        labels,
        fontsize=SMALL_PT,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(0.0, -0.22),
        ncols=2,
        title=(
            f"{n_zero:,} samples with 0 reads are counted in the first bin"
            if log and n_zero
            else None
        ),
        title_fontsize=SMALL_PT,
        borderaxespad=0.0,
    )
    return _attach_data(fig, pd.DataFrame({"reads": r, "retained": kept}))


_SVG_OPEN = re.compile(rb"<svg\b[^>]*>")


def _svg_with_alt(svg: bytes, alt: str, desc: str) -> bytes:
    m = _SVG_OPEN.search(svg)
    if m is None:  # pragma: no cover - matplotlib always writes an <svg> element
        raise RuntimeError("matplotlib wrote an SVG without an <svg> element")
    open_tag = m.group(0)
    new_open = open_tag[:-1] + b' role="img" aria-labelledby="fig-title fig-desc">'
    inner = (
        f'\n <title id="fig-title">{escape(alt)}</title>\n <desc id="fig-desc">{escape(desc)}</desc>'
    ).encode()
    return svg[: m.start()] + new_open + inner + svg[m.end() :]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _render_svg(fig: Figure, alt: str, desc: str | None) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata=_SVG_METADATA)
    return _svg_with_alt(buf.getvalue(), alt.strip(), (desc or alt).strip())


def _release(fig: Figure) -> None:
    fig.clear()
    # Figures made here are not registered with pyplot; a caller's pyplot figure is closed there.
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def svg_text(fig: Figure, *, alt: str, desc: str | None = None) -> str:
    """Render ``fig`` as an SVG string with ``alt`` as its ``<title>`` (for inlining), then release it.

    Raises
    ------
    InputError
        For an empty ``alt``.
    """
    if not alt or not alt.strip():
        raise InputError(None, "figure has no alt text", hint="describe what the figure shows")
    try:
        return _render_svg(fig, alt, desc).decode("utf-8")
    finally:
        _release(fig)


def save_figure(
    fig: Figure,
    path: Path,
    *,
    alt: str,
    desc: str | None = None,
    data: pd.DataFrame | bool | None = None,
) -> None:
    """Write ``fig`` to ``path`` (SVG, or PNG for a ``.png`` suffix) atomically, then close it.

    Parameters
    ----------
    fig
        The figure; it is released afterwards (do not reuse it).
    path
        Output file; the suffix picks the format (``.svg`` or ``.png``). The directory is created.
    alt
        Text alternative. SVGs get it as ``<title>`` (and ``<desc>``), PNGs as their ``Title`` and
        ``Description`` text chunks.
    desc
        Longer description for the SVG ``<desc>``; defaults to ``alt``.
    data
        The numbers drawn, written as a tab-separated twin at :func:`data_path` (``<stem>.data.tsv``). Default
        (``None``): the data recorded by the plotting function (:func:`figure_data`), if any; ``False``: no
        twin.

    Raises
    ------
    InputError
        For another suffix or an empty ``alt``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".svg", ".png"}:
        raise InputError(
            path,
            f"unsupported figure format {path.suffix or '(none)'!r}",
            hint="name the figure *.svg (default) or *.png",
        )
    if not alt or not alt.strip():
        raise InputError(path, "figure has no alt text", hint="describe what the figure shows")
    if data is None:
        table = figure_data(fig)
    elif isinstance(data, pd.DataFrame):
        table = data
    elif data is False:
        table = None
    else:
        raise InputError(
            path, f"data must be a DataFrame, None or False, not {data!r}", where=_where("data")
        )
    buf = io.BytesIO()
    try:
        if suffix == ".svg":
            image = _render_svg(fig, alt, desc)
        else:
            meta = dict(_PNG_METADATA, Title=alt.strip(), Description=(desc or alt).strip())
            with matplotlib.rc_context(_RC):
                fig.savefig(buf, format="png", metadata=meta)
            image = buf.getvalue()
    finally:
        _release(fig)
    if table is not None:
        _atomic_write(
            data_path(path),
            table.to_csv(sep="\t", index=False, lineterminator="\n", na_rep="").encode("utf-8"),
        )
    _atomic_write(path, image)
