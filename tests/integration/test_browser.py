"""The report in a real browser: headless Chromium opens it and reports what it rendered.

Chromium is driven through the DevTools protocol (``gutskin.report.browser``). The checks:

- the ledger and a section for every claim are in the rendered DOM;
- every image loads (``complete`` with a natural size in the browser; each ``data:`` URI also decodes with
  Pillow) and every inline SVG is well-formed XML with a ``<title>`` and a non-zero rendered size;
- the console shows no errors (the Content-Security-Policy would log any blocked script or resource);
- a screenshot can be taken.

The fast test renders a report from hand-written inputs; the slow one runs the whole workflow on synthetic
data, checks ``snakemake --report`` and opens the report the workflow wrote. Both skip, with the reason,
when no Chromium is installed (the Debian package ``chromium``; ``.ci/run`` installs it when it can).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from gutskin.plotting import figures
from gutskin.report.browser import PageResult, find_chromium, open_page
from gutskin.report.html import ReportInputs, build_report, write_report
from gutskin.report.qc import load_depth
from tests.unit import test_report as fx

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium; or set "
    "GUTSKIN_CHROMIUM to a Chromium/Chrome executable)",
)

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
        assert re.search(rf'<article class="claim[^"]*" id="{re.escape(cid)}"', dom), cid
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
    # inline SVGs: well-formed, titled, drawn at a non-zero size
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


@needs_chromium
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    root = tmp_path / "results"
    extra = _write_inputs(root)
    html = build_report(
        ReportInputs(
            claims=fx.make_claims(),
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
            **extra,  # type: ignore[arg-type]
        )
    )
    out = tmp_path / "report.html"
    write_report(html, out)
    res = open_page(out, width=1200, screenshot=900)
    check_rendered_report(res, ["C8", "C9", "C4", "C26", "C33"])
    assert len(res.facts["images"]) == 1  # the C9 PNG
    assert "<script>alert(1)</script>" not in res.dom  # the quote's script stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in res.dom
    assert res.screenshot is not None
    with Image.open(io.BytesIO(res.screenshot)) as shot:
        assert shot.size == (1200, 900)
        assert len(shot.convert("L").getcolors(maxcolors=65536) or []) > 10  # not a blank page


@needs_chromium
def test_console_errors_are_caught(tmp_path: Path) -> None:
    """The check above would see a problem: a page whose CSP blocks its own script logs an error."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src '
        "'none'\"></head><body><p>x</p><script>document.title = 'ran'</script>"
        '<img alt="broken" src="data:image/png;base64,AAAA"></body></html>',
        encoding="utf-8",
    )
    res = open_page(page, width=400, height=300)
    assert res.errors, "a CSP violation must show up as a console error"
    assert any("Content Security Policy" in m.text for m in res.errors)
    assert res.facts["images"][0]["naturalWidth"] == 0  # the broken image is seen as not loaded


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
@needs_chromium
def test_workflow_report_in_headless_chromium(synthetic_run: Path) -> None:
    claims = json.loads((synthetic_run / "results" / "claims.json").read_text(encoding="utf-8"))
    html = synthetic_run / "results" / "report.html"
    assert html.stat().st_size < 10_000_000  # light enough to e-mail
    res = open_page(html, width=1400)
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
