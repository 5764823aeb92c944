"""Tables and figures a claim runner writes next to its result and lists in it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .common import ClaimResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def add_table(
    res: ClaimResult, df: pd.DataFrame, path: Path, caption: str, *, atomic: bool = False
) -> None:
    """Write ``df`` as a TSV without index to ``path`` and list it in ``res.tables``.

    ``atomic`` writes a hidden temporary file next to ``path`` first and then renames it.
    """
    if atomic:
        tmp = path.with_name(f".{path.name}.tmp")
        df.to_csv(tmp, sep="\t", index=False)
        tmp.replace(path)
    else:
        df.to_csv(path, sep="\t", index=False)
    res.tables.append({"path": str(path), "caption": caption})


def add_figure(res: ClaimResult, fig: Figure, path: Path, caption: str, alt: str) -> None:
    """Save ``fig`` to ``path`` with its ``alt`` text and list it in ``res.figures``."""
    from ..plotting import figures  # matplotlib is only imported when a figure is drawn

    figures.save_figure(fig, path, alt=alt)
    res.figures.append({"path": str(path), "caption": caption, "alt": alt})


def add_forest(
    res: ClaimResult,
    rows: list[dict[str, Any]],
    path: Path,
    *,
    xlabel: str,
    sesoi: float,
    title: str,
    caption: str,
    alt: str,
) -> None:
    """Draw a forest plot of ``rows`` (see :func:`gutskin.plotting.figures.forest`), save it to ``path``
    and list it in ``res.figures`` (``alt`` usually from :func:`forest_alt`)."""
    from ..plotting import figures  # matplotlib is only imported when a figure is drawn

    fig = figures.forest(rows, xlabel=xlabel, sesoi=sesoi, title=title)
    add_figure(res, fig, path, caption, alt)


def forest_row(label: str, test: dict[str, Any]) -> dict[str, Any]:
    """A row of a forest plot from an entry of ``tests``: its effect size and 95 % CI."""
    ci = test.get("effect_size_ci") or [None, None]
    return {"label": label, "estimate": test.get("effect_size"), "ci_low": ci[0], "ci_high": ci[1]}


def forest_alt(prefix: str, rows: Sequence[dict[str, Any]]) -> str:
    """Alt text of a forest plot: ``prefix`` then each estimable row as ``label +0.12``."""
    return prefix + "; ".join(
        f"{r['label']} {r['estimate']:+.2f}" for r in rows if r.get("estimate") is not None
    )
