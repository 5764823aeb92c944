"""Tests of gutskin.plotting.figures: valid SVG with the alt text as <title>, deterministic bytes, content.

Expected values (group sizes, medians, axis labels) are counted by hand from the tiny inputs below.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure

from gutskin.errors import InputError
from gutskin.plotting import figures as F

SVG_NS = "{http://www.w3.org/2000/svg}"

# 8 samples: none = 3 values (one NaN dropped), eczema = 4, psoriasis = 0 (only a NaN), rosacea absent
DF = pd.DataFrame(
    {
        "group": [
            "none",
            "none",
            "none",
            "none",
            "eczema",
            "eczema",
            "eczema",
            "eczema",
            "psoriasis",
        ],
        "shannon": [1.0, 2.0, 3.0, np.nan, 2.0, 4.0, 6.0, 100.0, np.nan],
    }
)


def make_alpha() -> Figure:
    return F.alpha_by_group(
        DF, "shannon", "group", ["none", "eczema", "psoriasis"], "Shannon (nats)", "C8"
    )


def make_paired() -> Figure:
    return F.paired_scatter(
        [1.0, 2.0, 3.0, np.nan], [2.0, 1.0, 4.0, 5.0], "gut Shannon", "skin Shannon", "C9"
    )


def make_distance() -> Figure:
    rng = np.random.default_rng(3)
    return F.distance_scatter(rng.random(50), rng.random(50), "gut BC", "skin BC", "Mantel")


def make_forest() -> Figure:
    rows = [
        {"label": "any condition", "estimate": -0.1, "ci_low": -0.3, "ci_high": 0.1},
        {"label": "eczema", "estimate": None, "ci_low": None, "ci_high": None},
        {"label": "psoriasis", "estimate": 0.5, "ci_low": 0.2, "ci_high": 0.8},
    ]
    return F.forest(rows, "Hedges g", sesoi=0.2, title="C8 effects")


def make_ordination() -> Figure:
    coords = pd.DataFrame(
        {"PC1": [0.1, -0.2, 0.3], "PC2": [0.0, 0.5, -0.5], "PC3": [1.0, 1.0, 1.0]},
        index=["s1", "s2", "s3"],
    )
    groups = pd.Series({"s1": "gut", "s2": "skin", "s3": "gut"})
    return F.ordination(coords, groups, "PCoA", [0.4, 0.125, 0.05])


MAKERS: dict[str, Callable[[], Figure]] = {
    "alpha_by_group": make_alpha,
    "paired_scatter": make_paired,
    "distance_scatter": make_distance,
    "forest": make_forest,
    "ordination": make_ordination,
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_valid_svg_with_alt_title_and_identical_bytes(name: str, tmp_path: Path) -> None:
    alt = f'{name}: gut & skin <diversity> "quoted"'
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    F.save_figure(MAKERS[name](), a, alt=alt)
    F.save_figure(MAKERS[name](), b, alt=alt)
    data = a.read_bytes()
    assert data == b.read_bytes(), "identical input must give identical bytes"
    root = ET.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    children = list(root)
    assert children[0].tag == f"{SVG_NS}title"
    assert children[0].text == alt
    assert children[1].tag == f"{SVG_NS}desc"
    assert root.get("role") == "img"
    assert b"<dc:date>" not in data  # no timestamp
    # no temp files left; every figure has its data twin, identical for identical input
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.data.tsv",
        "a.svg",
        "b.data.tsv",
        "b.svg",
    ]
    assert (tmp_path / "a.data.tsv").read_bytes() == (tmp_path / "b.data.tsv").read_bytes()


def test_svg_differs_when_input_differs(tmp_path: Path) -> None:
    F.save_figure(make_alpha(), tmp_path / "a.svg", alt="x")
    other = F.alpha_by_group(
        DF.assign(shannon=DF["shannon"] + 1), "shannon", "group", ["none", "eczema"], "S", "C8"
    )
    F.save_figure(other, tmp_path / "b.svg", alt="x")
    assert (tmp_path / "a.svg").read_bytes() != (tmp_path / "b.svg").read_bytes()


def test_alpha_by_group_counts_medians_and_no_fliers() -> None:
    fig = make_alpha()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    # counted by hand: none 1, 2, 3 (NaN dropped); eczema 2, 4, 6, 100; psoriasis only NaN
    assert labels == ["none\n(n = 3)", "eczema\n(n = 4)", "psoriasis\n(n = 0)"]
    flat = [tuple(line.get_ydata()) for line in ax.lines]
    assert (2.0, 2.0) in flat  # median of 1, 2, 3
    assert (5.0, 5.0) in flat  # median of 2, 4, 6, 100
    # no outlier markers: every line of the box plot is drawn without markers
    assert all(line.get_marker() in {"None", "", None} for line in ax.lines)
    # the points: 3 + 4 jittered, all values present
    pts = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert sorted(pts.tolist()) == [1.0, 2.0, 2.0, 3.0, 4.0, 6.0, 100.0]


def test_alpha_by_group_without_n_labels_and_errors() -> None:
    fig = F.alpha_by_group(DF, "shannon", "group", ["none"], "S", "t", n_label=False)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["none"]
    with pytest.raises(InputError, match="column 'simpson' not in the data frame"):
        F.alpha_by_group(DF, "simpson", "group", ["none"], "S", "t")
    with pytest.raises(InputError, match="no groups"):
        F.alpha_by_group(DF, "shannon", "group", [], "S", "t")


def test_paired_scatter_drops_incomplete_pairs() -> None:
    fig = make_paired()
    ax = fig.axes[0]
    assert ax.collections[0].get_offsets().tolist() == [[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]]
    assert [t.get_text() for t in ax.texts] == ["n = 3"]
    fig2 = F.paired_scatter([1, 2], [3, 4], "x", "y", "t", annotation="Spearman ρ = 1.00")
    assert [t.get_text() for t in fig2.axes[0].texts] == ["Spearman ρ = 1.00"]
    with pytest.raises(InputError, match="x has 2 values but y has 3"):
        F.paired_scatter([1, 2], [1, 2, 3], "x", "y", "t")


def test_distance_scatter_switches_to_hexbin() -> None:
    small = make_distance()
    assert isinstance(small.axes[0].collections[0], PathCollection)
    n = F.HEXBIN_THRESHOLD + 1
    x = np.linspace(0, 1, n)
    big = F.distance_scatter(x, x[::-1], "a", "b", "t")
    coll = big.axes[0].collections[0]
    assert isinstance(coll, PolyCollection) and not isinstance(coll, PathCollection)
    assert coll.get_array().sum() == n  # every pair counted in some hexagon
    assert [t.get_text() for t in big.axes[0].texts] == [f"{n:,} pairs"]


def test_forest_band_zero_line_and_missing_row() -> None:
    ax = make_forest().axes[0]
    band = [p for p in ax.patches if p.get_label().startswith("±SESOI")]
    assert len(band) == 1
    x0, x1 = band[0].get_x(), band[0].get_x() + band[0].get_width()
    assert (x0, x1) == pytest.approx((-0.2, 0.2))
    assert any(tuple(line.get_xdata()) == (0.0, 0.0) for line in ax.lines)  # zero line
    assert [t.get_text() for t in ax.get_yticklabels()] == ["any condition", "eczema", "psoriasis"]
    assert "not estimable" in [t.get_text() for t in ax.texts]
    lo, hi = ax.get_xlim()
    assert lo < -0.3 and hi > 0.8  # every CI end is inside the axis
    with pytest.raises(InputError, match="is not a number"):
        F.forest([{"label": "a", "estimate": "big"}], "g")


def test_ordination_axis_labels_and_legend() -> None:
    ax = make_ordination().axes[0]
    assert ax.get_xlabel() == "PC1 (40.0 %)"
    assert ax.get_ylabel() == "PC2 (12.5 %)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["gut (n = 2)", "skin (n = 1)"]
    with pytest.raises(InputError, match="not fractions"):
        F.ordination(pd.DataFrame({"a": [1.0], "b": [2.0]}), pd.Series(["x"]), "t", [40.0, 10.0])


def test_png_output_and_format_errors(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "fig.png"
    F.save_figure(make_forest(), out, alt="Forest plot")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"tEXtTitle\x00Forest plot" in data
    with pytest.raises(InputError, match="unsupported figure format"):
        F.save_figure(make_forest(), tmp_path / "fig.pdf", alt="x")
    with pytest.raises(InputError, match="no alt text"):
        F.save_figure(make_forest(), tmp_path / "fig.svg", alt="  ")
    assert not (tmp_path / "fig.pdf").exists() and not (tmp_path / "fig.svg").exists()


def test_overwrite_is_atomic_replace(tmp_path: Path) -> None:
    out = tmp_path / "fig.svg"
    out.write_text("old")
    F.save_figure(make_paired(), out, alt="new figure")
    assert out.read_text().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.data.tsv", "fig.svg"]


# --------------------------------------------------------------------------------------------------------
# Data twins: the numbers drawn, beside each figure
# --------------------------------------------------------------------------------------------------------


def _twin(tmp_path: Path, fig: Figure, **kw: object) -> pd.DataFrame:
    out = tmp_path / "fig.svg"
    F.save_figure(fig, out, alt="x", **kw)  # type: ignore[arg-type]
    assert F.data_path(out) == tmp_path / "fig.data.tsv"
    return pd.read_csv(F.data_path(out), sep="\t")


def test_alpha_twin_holds_the_plotted_points(tmp_path: Path) -> None:
    df = _twin(tmp_path, make_alpha())
    # none: 1, 2, 3 (the NaN is not drawn); eczema: 2, 4, 6, 100; psoriasis: only a NaN -> no row
    assert list(df.columns) == ["group", "shannon"]
    assert df["group"].tolist() == ["none"] * 3 + ["eczema"] * 4
    assert df["shannon"].tolist() == [1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 100.0]


def test_paired_and_forest_twins(tmp_path: Path) -> None:
    df = _twin(tmp_path, make_paired())
    assert list(df.columns) == ["gut Shannon", "skin Shannon"]
    assert df.to_numpy().tolist() == [
        [1.0, 2.0],
        [2.0, 1.0],
        [3.0, 4.0],
    ]  # the NaN pair is left out
    df = _twin(tmp_path, make_forest())
    assert df["label"].tolist() == ["any condition", "eczema", "psoriasis"]
    assert df["estimate"].tolist()[0] == -0.1 and np.isnan(df["estimate"].tolist()[1])
    assert df["ci_high"].tolist()[2] == 0.8
    assert df["sesoi"].tolist() == [0.2, 0.2, 0.2]


def test_ordination_twin_and_explicit_or_no_data(tmp_path: Path) -> None:
    df = _twin(tmp_path, make_ordination())
    assert df.to_dict("list") == {
        "sample_id": ["s1", "s2", "s3"],
        "PC1": [0.1, -0.2, 0.3],
        "PC2": [0.0, 0.5, -0.5],
        "group": ["gut", "skin", "gut"],
    }
    given = pd.DataFrame({"a": [1, 2]})
    assert _twin(tmp_path, make_forest(), data=given).to_dict("list") == {"a": [1, 2]}
    (tmp_path / "fig.data.tsv").unlink()
    F.save_figure(make_forest(), tmp_path / "fig.svg", alt="x", data=False)
    assert not (tmp_path / "fig.data.tsv").exists()
    with pytest.raises(InputError, match="data must be a DataFrame"):
        F.save_figure(make_forest(), tmp_path / "fig.svg", alt="x", data="yes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# Sequencing depth histogram
# --------------------------------------------------------------------------------------------------------


def _bar_heights(fig: Figure) -> tuple[list[float], list[float], list[str]]:
    ax = fig.axes[0]
    n = len(ax.patches) // 2
    kept = [p.get_height() for p in ax.patches[:n]]
    dropped = [p.get_height() for p in ax.patches[n:]]
    hatches = [p.get_hatch() or "" for p in ax.patches[n:]]
    return kept, dropped, hatches


def test_depth_histogram_counts_line_and_hatching() -> None:
    # 10 samples: 3 below depth 1,000 (0, 200, 900) and 7 at or above it; range 0..50,000 -> log axis
    reads = [0, 200, 900, 1000, 1500, 2000, 5000, 10000, 20000, 50000]
    fig = F.depth_histogram(reads, 1000, "depth")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"  # 50,000 / 200 > 30
    kept, dropped, hatches = _bar_heights(fig)
    assert sum(kept) == 7 and sum(dropped) == 3  # the 0-read sample is counted in the first bin
    assert all(h == "////" for h in hatches)  # dropped samples differ by hatching, not colour only
    lines = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [1000, 1000]]
    assert len(lines) == 1 and lines[0].get_linestyle() == "--"
    legend = fig.legends + ([ax.get_legend()] if ax.get_legend() else [])
    texts = [t.get_text() for lg in legend for t in lg.get_texts()]
    assert texts == ["used (n = 7)", "dropped, below depth (n = 3)"]
    assert "1 samples with 0 reads" in legend[0].get_title().get_text()
    data = F.figure_data(fig)
    assert data is not None and data["retained"].tolist() == [False] * 3 + [True] * 7


def test_depth_histogram_equal_depth_explicit_flags_and_errors() -> None:
    fig = F.depth_histogram([1000.0] * 5, None, "pre-rarefied")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    kept, dropped, _ = _bar_heights(fig)
    assert sum(kept) == 5 and sum(dropped) == 0
    assert not [ln for ln in ax.get_lines()]  # no depth line when not rarefied
    # explicit flags win over reads >= depth
    kept, dropped, _ = _bar_heights(F.depth_histogram([10, 20, 30], 15, "t", retained=[1, 1, 0]))
    assert sum(kept) == 2 and sum(dropped) == 1
    with pytest.raises(InputError, match="3 read counts but 2 retained flags"):
        F.depth_histogram([10, 20, 30], 15, "t", retained=[True, False])
    with pytest.raises(InputError, match="negative read counts"):
        F.depth_histogram([10, -1], 5, "t")


def test_svg_text_inlines_alt_and_releases_the_figure() -> None:
    fig = F.depth_histogram([100, 200, 300], 150, "t")
    text = F.svg_text(fig, alt='Depth & "reads" <3')
    root = ET.fromstring(text.encode("utf-8"))
    first = next(iter(root))
    assert first.tag == f"{SVG_NS}title"
    assert first.text == 'Depth & "reads" <3'
    assert not fig.axes  # released
    with pytest.raises(InputError, match="no alt text"):
        F.svg_text(F.depth_histogram([1, 2], 1, "t"), alt=" ")


def test_data_suffix_matches_the_report() -> None:
    from gutskin.report.html import FIGURE_DATA_SUFFIX

    assert F.DATA_SUFFIX == FIGURE_DATA_SUFFIX == ".data.tsv"


# --------------------------------------------------------------------------------------------------------
# Readable figures (issue 13): text size, labels, forest layout
# --------------------------------------------------------------------------------------------------------


def _drawn_texts(fig: Figure) -> list[object]:
    from matplotlib.text import Text

    _agg(fig).draw()  # tick labels exist only after a draw
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("name", list(MAKERS))
def test_no_text_smaller_than_the_floor(name: str) -> None:
    """Every visible text is at least 10 pt: 13.3 CSS px at the figure's natural size, as large as the
    report's smallest caption text (0.82 rem)."""
    fig = MAKERS[name]()
    texts = _drawn_texts(fig)
    assert texts
    sizes = {t.get_text(): t.get_fontsize() for t in texts}  # type: ignore[attr-defined]
    assert min(sizes.values()) >= 10.0, sizes


def test_code_names_become_readable_labels() -> None:
    df = pd.DataFrame(
        {"g": ["types_of_plants", "none", "types_of_plants", "none"], "v": [1, 2, 3, 4.0]}
    )
    fig = F.alpha_by_group(df, "v", "g", ["types_of_plants", "none"], "braycurtis", "C8 braycurtis")
    texts = [t.get_text() for t in _drawn_texts(fig)]  # type: ignore[attr-defined]
    assert not [t for t in texts if "_" in t or "braycurtis" in t], texts
    assert "C8 Bray–Curtis" in texts and "Bray–Curtis" in texts
    assert any(t.startswith("types of plants") for t in texts), texts
    # the data twin keeps the names as they are in the data
    data = F.figure_data(fig)
    assert data is not None and "types_of_plants" in set(data.astype(str).to_numpy().ravel())


def _agg(fig: Figure) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return FigureCanvasAgg(fig)


def _bbox(artist: object, fig: Figure) -> Any:
    return artist.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]


@pytest.mark.parametrize("n_rows", [1, 3])
def test_forest_axis_label_inside_and_legend_clear_of_intervals(n_rows: int) -> None:
    rows = [
        {"label": f"cohort {i}", "estimate": 0.1 * i, "ci_low": -0.3, "ci_high": 0.4}
        for i in range(n_rows)
    ]
    fig = F.forest(rows, "Hedges g (adjusted)", sesoi=0.2)
    _agg(fig).draw()
    ax = fig.axes[0]
    whole = fig.bbox
    xl = _bbox(ax.xaxis.label, fig)
    assert xl.y0 >= whole.y0 - 0.5 and xl.x0 >= whole.x0 - 0.5 and xl.x1 <= whole.x1 + 0.5  # type: ignore[attr-defined]
    assert fig.legends, "the ±SESOI band needs a legend"
    leg = _bbox(fig.legends[0], fig)
    assert not leg.overlaps(ax.get_window_extent()), "the legend covers the plot area"  # type: ignore[attr-defined]
