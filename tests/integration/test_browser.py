"""The report in a real browser: the system's headless Chromium, driven by Playwright, renders it and we measure.

Playwright drives ``/usr/bin/chromium`` (or ``$GUTSKIN_CHROMIUM``) through ``executable_path``
(:mod:`gutskin.report.browser`); ``playwright install`` is never run. The checks (issue 13):

- the ledger and a section for every claim are in the rendered DOM; every image loads and every inline SVG is
  well-formed with a ``<title>``; the console shows no errors (the Content-Security-Policy would log any blocked
  script or resource);
- at 1,400 and 400 px wide the page does not overflow horizontally and no element sticks out past the right
  edge outside a scroll box (with every collapsed section open, too);
- the default view (sections collapsed) is under 20,000 px tall at 1,400 px wide;
- every text inside a figure renders at least as large as the smallest caption text, and at least 12 px;
- the plain-language bottom line is on the first screen;
- printed (print-media emulation at the A4 text width, and a real ``page.pdf``), no element is wider than the
  page.

The fast tests render a 33-claim report from the hand-written fixtures of ``tests/unit/test_report.py``; the
slow one runs the whole workflow on synthetic data. All skip, with the reason, when Playwright or Chromium is
missing (Debian: ``apt-get install chromium``; ``pip install -r requirements.txt``).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gutskin.plotting import figures
from gutskin.report.browser import PageResult, browser_missing, chromium, open_page
from gutskin.report.html import ReportInputs, build_report, write_report
from gutskin.report.qc import load_depth
from tests.unit import test_report as fx

MISSING = browser_missing()
needs_browser = pytest.mark.skipif(MISSING is not None, reason=f"browser tests: {MISSING}")

#: The default view (every claim collapsed) must fit in this many CSS px at 1,400 px wide (issue 13).
MAX_DEFAULT_HEIGHT = 20_000
#: No text in a figure may render smaller than this (CSS px), nor smaller than the smallest caption text.
MIN_FIGURE_TEXT_PX = 12.0
#: A4 (210 mm) minus the print CSS's 15 mm margins, in CSS px at 96 dpi.
A4_TEXT_WIDTH_PX = round((210 - 2 * 15) / 25.4 * 96)

SVG_BLOCK = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
DATA_URI = re.compile(r'<img\b[^>]*\bsrc="data:(image/[a-z+]+);base64,([^"]+)"')


def _outer_svgs(dom: str) -> list[str]:
    """Top-level ``<svg>`` elements of the DOM (nested ones stay inside their parent)."""
    out, pos = [], 0
    opener = re.compile(r"<svg\b")
    while True:
        m = opener.search(dom, pos)
        if not m:
            return out
        depth, i = 0, m.start()
        for tag in re.finditer(r"<(/?)svg\b[^>]*?(/?)>", dom[m.start() :]):
            if tag.group(1):
                depth -= 1
            elif not tag.group(2):
                depth += 1
            if depth == 0:
                i = m.start() + tag.end()
                break
        out.append(dom[m.start() : i])
        pos = i


def check_rendered_report(res: PageResult, claim_ids: list[str]) -> None:
    """The assertions every browser test makes on a rendered report."""
    dom = res.dom
    assert 'id="ledger"' in dom and '<table class="ledger' in dom
    for cid in claim_ids:
        assert re.search(rf'<details class="claim[^"]*" id="{re.escape(cid)}"', dom), cid
        assert re.search(rf'<th scope="row"><a href="#{re.escape(cid)}">', dom), (
            f"{cid} not in ledger"
        )
    # images: loaded by the browser, and decodable by Pillow
    for img in res.facts["images"]:
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, img["src"][
            :60
        ]
        assert img["alt"], "image without alt text"
    uris = DATA_URI.findall(dom)
    assert len(uris) == len(res.facts["images"])
    for mime, payload in uris:
        with Image.open(io.BytesIO(base64.b64decode(payload))) as im:
            im.load()
            assert im.size[0] > 0 and im.format.lower() in mime
    # inline SVGs: well-formed, titled, drawn at a non-zero size (every section is opened first)
    svgs = _outer_svgs(dom)
    assert len(svgs) == len(res.facts["svgs"]) and svgs
    for text, fact in zip(svgs, res.facts["svgs"], strict=True):
        root = ET.fromstring(text)
        first = next(iter(root))
        assert first.tag.endswith("title") and (first.text or "").strip(), text[:120]
        assert fact["box"][0] > 0 and fact["box"][1] > 0, fact
    assert not res.errors, [f"{m.level}: {m.text}" for m in res.errors]


def _write_inputs(root: Path) -> dict[str, object]:
    """Hand-written claims with real matplotlib figures (SVG and PNG) and QC inputs."""
    fx.write_figures(root)
    rows = [
        {"label": "any condition", "estimate": -0.08, "ci_low": -0.25, "ci_high": 0.08},
        {"label": "eczema", "estimate": 0.03, "ci_low": -0.15, "ci_high": 0.22},
    ]
    figures.save_figure(
        figures.forest(rows, "Hedges g", sesoi=0.2), root / "C8" / "forest.svg", alt="Forest plot"
    )
    figures.save_figure(
        figures.paired_scatter([1, 2, 3, 4], [2, 1, 4, 3], "gut", "skin", "C9"),
        root / "C9" / "mantel.png",
        alt="Scatter of distances",
    )
    (root / "depth.tsv").write_text(fx.DEPTH_TSV, encoding="utf-8")
    (root / "samples.tsv").write_text(fx.SAMPLES_TSV, encoding="utf-8")
    return {
        "depths": {"agp_2014": load_depth(root / "depth.tsv", root / "samples.tsv")},
        "coverage": copy.deepcopy(fx.COVERAGE),
        "calibration": copy.deepcopy(fx.CALIBRATION),
    }


def thirty_three_claims() -> list[dict[str, Any]]:
    """The article's 33 claims in size: the five fixture claims repeated, with long reasons (a network error
    in a "Why" cell), long sample-ID tables and the contract's per-cohort fields on some of them."""
    base = fx.make_claims()
    base[0]["cohorts"] = fx.CONTRACT_FIELDS["cohorts"]
    base[0]["k"] = 2
    base[0]["pooling"] = fx.CONTRACT_FIELDS["pooling"]
    base[0]["matched"] = fx.CONTRACT_FIELDS["matched"]
    base[0]["dataset_selection"] = fx.CONTRACT_FIELDS["dataset_selection"]
    base[3]["reason"] = (
        "data insufficient: [Errno -2] Name or service not known while fetching "
        "https://example.org/a/very/long/path/to/a/file/that/could/not/be/fetched.biom.gz " * 3
    )
    out = []
    for k in range(7):
        for c in copy.deepcopy(base):
            c["id"] = c["id"] + ("" if k == 0 else chr(ord("a") + k))
            out.append(c)
    return out[:33]


def build_big_report(root: Path, out: Path) -> Path:
    extra = _write_inputs(root)
    html = build_report(
        ReportInputs(
            claims=thirty_three_claims(),
            datasets=fx.make_datasets(),
            imports=fx.make_imports(),
            fetches=fx.make_fetches(),
            diversity={
                "agp_2014": {"depth": 1000, "n_retained": 3, "n_dropped": 2, "rarefied": True}
            },
            config=fx.make_config(),
            provenance=fx.make_provenance(),
            figure_root=root,
            previous_claims=fx.make_claims()[:2],
            report_dir=out.parent,
            **extra,  # type: ignore[arg-type]
        )
    )
    write_report(html, out)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if MISSING is not None:
        pytest.skip(f"browser tests: {MISSING}")
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("big_report")
    return build_big_report(base / "results", base / "results" / "report.html")


@needs_browser
def test_report_in_headless_chromium(big_report: Path, browser: Any) -> None:
    res = open_page(big_report, width=1200, screenshot=900, open_details=True, browser=browser)
    ids = [c["id"] for c in thirty_three_claims()]
    check_rendered_report(res, ids)
    assert len(res.facts["images"]) == 7  # the C9 PNG, once per copy of C9
    assert "<script>alert(1)</script>" not in res.dom  # the quote's script stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in res.dom
    assert res.screenshot is not None
    with Image.open(io.BytesIO(res.screenshot)) as shot:
        assert shot.size == (1200, 900)
        assert len(shot.convert("L").getcolors(maxcolors=65536) or []) > 10  # not a blank page


@needs_browser
@pytest.mark.parametrize("width", [1400, 400])
@pytest.mark.parametrize("opened", [False, True], ids=["default", "all-open"])
def test_no_horizontal_overflow(big_report: Path, browser: Any, width: int, opened: bool) -> None:
    """The page is no wider than the window, and nothing sticks out past its right edge except inside a
    scroll box (a wide table or a figure at its natural size scrolls in its own box)."""
    f = open_page(big_report, width=width, open_details=opened, browser=browser).facts
    assert f["width"] <= f["viewport"], f"page {f['width']} px wide in a {f['viewport']} px window"
    assert f["offscreen"] == [], (
        f"{len(f['offscreen'])} elements past the edge: {f['offscreen'][:10]}"
    )


@needs_browser
def test_default_view_height_and_bottom_line_first(big_report: Path, browser: Any) -> None:
    res = open_page(big_report, width=1400, height=900, browser=browser)
    assert res.facts["height"] < MAX_DEFAULT_HEIGHT, res.facts["height"]
    # everything is still one click away: every claim's section is in the page, collapsed
    assert res.dom.count('<details class="claim') == 33
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(big_report.resolve().as_uri())
        line = page.locator("p.bottom-line")
        assert line.count() == 1
        text = " ".join(line.inner_text().split())
        assert text.startswith("Bottom line. Of 33 claims, 26 could be tested"), text
        box = line.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, (
            "bottom line below the first screen"
        )
        legend = page.locator(".summary dl.legend").bounding_box()
        assert legend is not None and legend["y"] < 1400, (
            "the verdict legend is not beside the counts"
        )
        # a ledger row stays one line of "Why" even for a 120-word reason
        why = page.locator("table.ledger.tested tr", has_text="C26").first.locator("td.why")
        assert len(why.inner_text()) <= 91
    finally:
        page.close()


@needs_browser
def test_phone_ledger_keeps_id_verdict_effect_and_n(big_report: Path, browser: Any) -> None:
    """At 400 px the ledger's key columns are on screen without scrolling its box."""
    page = browser.new_page(viewport={"width": 400, "height": 900})
    try:
        page.goto(big_report.resolve().as_uri())
        edges = page.evaluate(
            """[...document.querySelectorAll('table.ledger.tested tbody tr')].map((tr) =>
                 [...tr.children].filter((c) => getComputedStyle(c).display !== 'none')
                   .map((c) => Math.ceil(c.getBoundingClientRect().right)))"""
        )
    finally:
        page.close()
    assert edges and all(len(row) == 4 for row in edges), edges[:2]  # ID, verdict, effect, n
    assert max(max(row) for row in edges) <= 400, max(max(row) for row in edges)


@needs_browser
@pytest.mark.parametrize("width", [1400, 400])
def test_figure_text_is_as_large_as_the_captions(
    big_report: Path, browser: Any, width: int
) -> None:
    f = open_page(big_report, width=width, open_details=True, browser=browser).facts
    sizes = f["figure_text"]
    assert sizes, "no figure text measured"
    floor = max(MIN_FIGURE_TEXT_PX, float(f["caption_min_px"]) - 0.01)
    small = [t for t in sizes if t["px"] < floor]
    assert not small, f"{len(small)} figure texts below {floor:.1f} px, e.g. {small[:3]}"


@needs_browser
def test_click_enlarges_a_figure(big_report: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(big_report.resolve().as_uri())
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        fig = page.locator("figure", has=page.locator("svg.figure-svg")).first
        before = fig.locator("svg.figure-svg").bounding_box()
        fig.locator("a.zoom").click()
        after = fig.locator("svg.figure-svg").bounding_box()
        assert before is not None and after is not None
        assert after["width"] > 1.5 * before["width"], (before, after)
        assert fig.locator("a.close").is_visible()
    finally:
        page.close()


@needs_browser
def test_printed_report_fits_the_page(big_report: Path, browser: Any, tmp_path: Path) -> None:
    """Print-media emulation at the A4 text width: no element wider than the page; Chromium's own PDF too."""
    res = open_page(big_report, width=A4_TEXT_WIDTH_PX, media="print", browser=browser)
    f = res.facts
    opened = open_page(
        big_report, width=A4_TEXT_WIDTH_PX, media="print", open_details=True, browser=browser
    ).facts
    assert f["height"] == opened["height"], "collapsed sections must print open"
    assert f["width"] <= f["viewport"], f"printed page {f['width']} px wide in {f['viewport']} px"
    assert f["offscreen"] == [], (
        f"{len(f['offscreen'])} elements wider than the page: {f['offscreen'][:10]}"
    )
    page = browser.new_page()
    try:
        page.goto(big_report.resolve().as_uri())
        pdf = page.pdf(format="A4", print_background=True)
    finally:
        page.close()
    assert pdf[:5] == b"%PDF-"
    out = tmp_path / "report.pdf"
    out.write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages > 1


@needs_browser
def test_console_errors_are_caught(tmp_path: Path, browser: Any) -> None:
    """The check above would see a problem: a page whose CSP blocks its own script logs an error."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src '
        "'none'\"></head><body><p>x</p><script>document.title = 'ran'</script>"
        '<img alt="broken" src="data:image/png;base64,AAAA"></body></html>',
        encoding="utf-8",
    )
    res = open_page(page, width=400, height=300, browser=browser)
    assert res.errors, "a CSP violation must show up as a console error"
    assert any("Content Security Policy" in m.text for m in res.errors)
    assert res.facts["images"][0]["naturalWidth"] == 0  # the broken image is seen as not loaded


def test_browser_missing_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without Chromium the browser tests skip with a reason that says what to install."""
    monkeypatch.setenv("GUTSKIN_CHROMIUM", str(tmp_path / "no-such-chromium"))
    why = browser_missing()
    assert why is not None and ("Chromium" in why or "Playwright" in why)


# --------------------------------------------------------------------------------------------------------
# The whole workflow: its report in the browser, and `snakemake --report`
# --------------------------------------------------------------------------------------------------------


def _lean_overrides() -> dict[str, object]:
    """Config overrides that keep the whole-DAG run short: the schema's minimum iterations everywhere."""
    import yaml

    from .workdir import REPO

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    props = schema.get("properties", {})
    out: dict[str, object] = {
        "rarefaction": {"depth": 1000, "iterations": 3, "beta_iterations": 2},
        "permutations": props.get("permutations", {}).get("minimum", 99),
        "bootstrap": props.get("bootstrap", {}).get("minimum", 99),
    }
    calib = props.get("calibration", {}).get("properties", {})
    lean: dict[str, dict[str, int]] = {}
    for name, block in calib.items():
        sub = block.get("properties", {}) if isinstance(block, dict) else {}
        for key in ("replicates", "permutations"):
            if "minimum" in sub.get(key, {}):
                lean.setdefault(name, {})[key] = int(sub[key]["minimum"])
    if lean:
        out["calibration"] = lean
    return out


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gutskin.synthetic import Scenario, write_synthetic_mirror

    from .workdir import make_workdir, run_snakemake

    root = tmp_path_factory.mktemp("browser_run")
    files = write_synthetic_mirror(root / "mirror", Scenario())
    work = make_workdir(
        root / "work",
        files,
        mirrors=[str(root / "mirror")],
        config_overrides=_lean_overrides(),
    )
    proc = run_snakemake(work)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return work


@pytest.mark.slow
@needs_browser
def test_workflow_report_in_headless_chromium(synthetic_run: Path, browser: Any) -> None:
    # the module's browser: a second sync Playwright started while it is open would fail
    claims = json.loads((synthetic_run / "results" / "claims.json").read_text(encoding="utf-8"))
    html = synthetic_run / "results" / "report.html"
    assert html.stat().st_size < 10_000_000  # light enough to e-mail
    res = open_page(html, width=1400, open_details=True, browser=browser)
    check_rendered_report(res, [c["id"] for c in claims])
    # every figure a claim runner drew is embedded and has its data twin listed
    n_figures = sum(len(c.get("figures") or []) for c in claims)
    assert n_figures > 0
    assert res.dom.count("Data drawn: ") >= n_figures
    assert "No data file was written for this figure." not in res.dom


@pytest.mark.slow
def test_snakemake_report_zip(synthetic_run: Path) -> None:
    from .workdir import run_snakemake

    target = synthetic_run / "results" / "snakemake-report.zip"
    proc = run_snakemake(synthetic_run, "--report", str(target))
    assert proc.returncode == 0, proc.stderr[-4000:]
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        # the browsable index, and the user-facing outputs themselves (stored under data/raw/<hash>/)
        assert any(n.count("/") == 1 and n.endswith("/report.html") for n in names), names
        outputs = sorted(Path(n).name for n in names if "/data/raw/" in n)
        assert {"claims.tsv", "report.html"} <= set(outputs), names
        blob = b"".join(
            zf.read(n)
            for n in names
            if n.endswith((".js", ".html"))
            and "/data/raw/" not in n
            and zf.getinfo(n).file_size < 5e7
        )
    for caption in ("The gutskin report", "The claims ledger"):
        assert caption.encode() in blob, caption
