"""Tests of the HTML report (gutskin.report.html) and the provenance stamp (gutskin.report.provenance).

The report is built from hand-written claims/dataset dicts; the checks parse the HTML with the standard
library's ``html.parser`` so they do not depend on the code under test.
"""

from __future__ import annotations

import copy
import re
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gutskin.claims.contract import CohortRow
from gutskin.errors import InputError
from gutskin.report import ReportInputs, build_report, fmt_ci, fmt_num, fmt_p, write_report
from gutskin.report import provenance as prov
from gutskin.report.html import MAX_FIGURE_BYTES
from gutskin.stats.verdict import LABELS

SCRIPT = "<script>alert(1)</script>"
NASTY = 'Smith & Wesson <b>"bold"</b>'


# --------------------------------------------------------------------------------------------------------
# A small HTML inspector (standard library only)
# --------------------------------------------------------------------------------------------------------


class Inspector(HTMLParser):
    """Collects elements, attributes and text, and tracks the open element stack."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []
        self.svgs: list[dict[str, Any]] = []  # {"attrs", "title": str | None, "depth"}
        self.rows: list[dict[str, Any]] = []  # ledger rows: {"cells": [text], "classes"}
        self.text_by_section: dict[str, list[str]] = {}
        self.scripts: list[str] = []
        self._svg_depth = 0
        self._in_title_of_svg: dict[str, Any] | None = None
        self._in_ledger = False
        self._row: dict[str, Any] | None = None
        self._section: str | None = None
        self._in_script = False

    VOID = frozenset({"meta", "link", "img", "br", "hr", "input", "source", "col", "wbr"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "section" and a.get("id"):
            self._section = str(a["id"])
        if tag == "script":
            self._in_script = True
        if tag == "svg":
            self._svg_depth += 1
            if self._svg_depth == 1:
                self.svgs.append({"attrs": a, "title": None, "first_child": None})
        elif self._svg_depth and self.svgs[-1]["first_child"] is None:
            self.svgs[-1]["first_child"] = tag
        if tag == "title" and self._svg_depth:
            self._in_title_of_svg = self.svgs[-1]
            if self._in_title_of_svg["title"] is None:
                self._in_title_of_svg["title"] = ""
        if tag == "table" and "ledger" in (a.get("class") or ""):
            self._in_ledger = True
        if self._in_ledger and tag == "tr":
            self._row = {"cells": [], "class": a.get("class") or ""}
        if self._in_ledger and tag in {"td", "th"} and self._row is not None:
            self._row["cells"].append("")
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if self._svg_depth and tag != "svg" and self.svgs[-1]["first_child"] is None:
            self.svgs[-1]["first_child"] = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg_depth -= 1
        if tag == "title":
            self._in_title_of_svg = None
        if tag == "script":
            self._in_script = False
        if tag == "table" and self._in_ledger:
            self._in_ledger = False
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1][0] == tag, (
            f"</{tag}> closes <{self.stack[-1][0] if self.stack else None}>"
        )
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title_of_svg is not None:
            self._in_title_of_svg["title"] += data
        if self._row is not None and self._row["cells"]:
            self._row["cells"][-1] += data
        if self._section:
            self.text_by_section.setdefault(self._section, []).append(data)
        if self._in_script:
            self.scripts.append(data)

    def section_text(self, sid: str) -> str:
        return " ".join(" ".join(self.text_by_section.get(sid, [])).split())


def inspect(html: str) -> Inspector:
    p = Inspector()
    p.feed(html)
    p.close()
    return p


# --------------------------------------------------------------------------------------------------------
# Hand-written inputs
# --------------------------------------------------------------------------------------------------------

SVG_FIGURE = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"
  "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="100pt" height="50pt" viewBox="0 0 100 50"
 xmlns="http://www.w3.org/2000/svg" version="1.1" role="img" aria-labelledby="fig-title fig-desc">
 <title id="fig-title">Gut Shannon by condition</title>
 <desc id="fig-desc">Gut Shannon by condition</desc>
 <defs><path id="m1" d="M 0 0 L 0 3.5"/><clipPath id="p1"><rect x="0" y="0" width="100" height="50"/></clipPath></defs>
 <g id="figure_1" clip-path="url(#p1)"><use xlink:href="#m1" x="10" y="10"/></g>
</svg>
"""

# 1×1 transparent PNG
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def write_figures(root: Path) -> None:
    (root / "C8").mkdir(parents=True)
    (root / "C8" / "shannon.svg").write_text(SVG_FIGURE, encoding="utf-8")
    (root / "C8" / "forest.svg").write_text(SVG_FIGURE, encoding="utf-8")  # same ids on purpose
    (root / "C9").mkdir()
    (root / "C9" / "mantel.png").write_bytes(PNG_BYTES)
    (root / "C8" / "data.tsv").write_text(
        "sample_id\tshannon\tgroup\nS1\t3.14159\tnone\nS2\t2.5\teczema\n", encoding="utf-8"
    )


def make_claims() -> list[dict[str, Any]]:
    return [
        {
            "id": "C8",
            "title": "Gut diversity and skin conditions",
            "quote": "The diversity and balance of these microbes determine " + SCRIPT,
            "location": "The Microbiome Echo, paragraph 1",
            "hypothesis": "Gut Shannon diversity is lower in people with a skin condition.",
            "claim_type": "causal",
            "testable": "yes",
            "verdict": "inconclusive",
            "verdict_label": "Inconclusive: underpowered",
            "reason": "CI spans both 0 and the SESOI.",
            "estimate": -0.0512,
            "ci_low": -0.15,
            "ci_high": 0.048,
            "estimate_label": "Adjusted difference in gut Shannon (nats)",
            "effect_size": -0.084,
            "effect_size_ci": [-0.25, 0.08],
            "effect_size_label": "Hedges g (adjusted)",
            "sesoi": {"value": 0.2, "scale": "hedges_g"},
            "p_value": 0.0004,
            "p_adjusted": 0.0432,
            "tost_p": 0.09,
            "power": 0.43,
            "n": 1523,
            "n_groups": {"none": 1232, "eczema": 153, "psoriasis": 54, "rosacea": 84},
            "datasets": ["agp_2014"],
            "method": "OLS with HC3 standard errors.",
            "covariates": ["age", "sex", "bmi"],
            "holm_family": ["C8", "C9"],
            "primary": True,
            "tests": [
                {
                    "name": "eczema vs none",
                    "role": "secondary",
                    "estimate": -0.02,
                    "ci_low": -0.1,
                    "ci_high": 0.06,
                    "p_value": 0.6,
                    "p_adjusted": 1.0,
                    "n": 1385,
                    "note": "Holm within claim",
                },
                {
                    "name": "any condition vs none",
                    "role": "primary",
                    "estimate": -0.0512,
                    "ci_low": -0.15,
                    "ci_high": 0.048,
                    "p_value": 0.0004,
                    "p_adjusted": 0.0432,
                    "n": 1523,
                    "note": None,
                },
            ],
            "figures": [
                {"path": "C8/shannon.svg", "caption": "Shannon by group.", "alt": "Box plot"},
                {"path": "C8/forest.svg", "caption": "Forest plot.", "alt": "Forest plot"},
                {"path": "C8/missing.svg", "caption": "A figure that was never drawn.", "alt": "x"},
            ],
            "tables": [{"path": "C8/data.tsv", "caption": "Model data"}],
            "caveats": ["Self-reported diagnoses."],
            "robustness": "agrees",
            "sample_flow": [{"step": "fecal samples", "n": 1569}, {"step": "one per subject"}],
        },
        {
            "id": "C9",
            "title": "Gut mirrors skin",
            "quote": "Gut imbalances echo on the skin.",
            "location": "paragraph 2",
            "hypothesis": "Gut and skin distances are concordant.",
            "claim_type": "associational",
            "testable": "yes",
            "verdict": "not_supported",
            "verdict_label": "Not supported",
            "reason": "Mantel r within ±0.1 (TOST p < 0.05).",
            "effect_size": 0.012,
            "effect_size_ci": [-0.03, 0.05],
            "effect_size_label": "Mantel r",
            "sesoi": {"value": 0.1, "scale": "correlation"},
            "p_value": 0.51,
            "p_adjusted": 1.0,
            "tost_p": 0.0001,
            "power": 0.97,
            "n": 181,
            "datasets": ["hmp_v35"],
            "tests": [],
            "figures": [
                {"path": "C9/mantel.png", "caption": "Mantel.", "alt": "Scatter of distances"}
            ],
            "caveats": [],
        },
        {
            "id": "C4",
            "title": "70% of the immune system",
            "quote": "Your gut houses approximately 70% of your immune system.",
            "location": "paragraph 3",
            "claim_type": "factual",
            "testable": "no",
            "verdict": "not_testable",
            "verdict_label": "Not testable with this data",
            "reason": "Needs whole-body lymphocyte counts.",
            "external_evidence": {
                "rating": "overstated",
                "summary": "About 70 % holds for IgA plasma cells only.",
                "citations": [
                    "Ganusov & De Boer 2007, Trends Immunol 28:514, doi:10.1016/j.it.2007.08.009"
                ],
            },
        },
        {
            "id": "C26",
            "title": "Fermented foods",
            "verdict": "supported",
            "reason": "Significant and above SESOI.",
            "testable": "yes",
            "effect_size": 0.31,
            "effect_size_ci": [0.15, 0.47],
            "effect_size_label": "Hedges g (adjusted)",
            "sesoi": {"value": 0.2, "scale": "hedges_g"},
            "n": 900,
            "datasets": ["agp_2014"],
        },
        {
            "id": "C33",
            "title": "Inside-out healing",
            "verdict": "contradicted",
            "reason": "Opposite direction.",
            "testable": "yes",
            "effect_size": -0.4,
            "effect_size_ci": [-0.6, -0.2],
            "effect_size_label": "Hedges g (adjusted)",
            "n": 400,
        },
    ]


def make_datasets() -> dict[str, dict[str, Any]]:
    return {
        "agp_2014": {
            "title": "American Gut Project, rounds 1–8",
            "citation": "McDonald et al. 2018, mSystems 3:e00031-18 " + NASTY,
            "doi": "10.1128/mSystems.00031-18",
            "licence": "Modified BSD",
            "files": {
                "table": {"url": "https://example.org/agp/table.biom.gz", "sha256": "a" * 64},
                "samples": {"url": "https://example.org/agp/map.txt", "sha256": "b" * 64},
            },
        },
        "hmp_v35": {
            "title": "Human Microbiome Project 16S V3–V5",
            "citation": "HMP Consortium 2012",
            "doi": "10.1038/nature11234",
            "licence": "Modified BSD",
            "files": {"table": {"url": "https://example.org/hmp/table.biom", "sha256": "c" * 64}},
        },
    }


def make_fetches() -> dict[str, dict[str, Any]]:
    return {
        "agp_2014": {
            "available": True,
            "reason": None,
            "files": {
                "table": {
                    "url": "https://example.org/agp/table.biom.gz",
                    "sha256": "a" * 64,
                    "path": "resources/cache/x",
                    "size": 2945567,
                    "source": "mirror",
                    "source_detail": "/mirror/dir",
                    "retrieved_at": "2026-01-02T03:04:05Z",
                },
                "samples": {
                    "url": "https://example.org/agp/map.txt",
                    "sha256": "b" * 64,
                    "path": "resources/cache/y",
                    "size": 3106906,
                    "source": "cache",
                    "source_detail": "network",
                    "retrieved_at": "2026-01-02T03:04:06Z",
                },
            },
        },
        "hmp_v35": {
            "available": False,
            "reason": "no cache, no mirror and the network is disabled",
            "files": {},
        },
    }


def make_imports() -> dict[str, dict[str, Any]]:
    return {
        "agp_2014": {
            "dataset": "agp_2014",
            "available": True,
            "reason": None,
            "n_samples": 1962,
            "n_features": 19236,
            "n_samples_mapping": 1970,
            "dropped": {"not_in_table": 8, "not_in_mapping": 0},
        },
        "hmp_v35": {
            "dataset": "hmp_v35",
            "available": False,
            "reason": "fetch failed",
            "n_samples": 0,
        },
    }


def make_diversity() -> dict[str, dict[str, Any]]:
    return {"agp_2014": {"depth": 5000, "n_retained": 1900, "n_dropped": 62, "rarefied": True}}


def make_config() -> dict[str, Any]:
    return {
        "seed": 20261126,
        "rarefaction": {"depth": 1000, "iterations": 100, "beta_iterations": 10},
        "alpha_metrics": ["observed", "shannon"],
        "beta_metrics": ["braycurtis", "robust_aitchison"],
        "pcoa_dimensions": 10,
        "permutations": 9999,
        "bootstrap": 999,
        "alpha": 0.05,
        "power_target": 0.8,
        "report": {"title": "gutskin test report", "previous_claims": ""},
    }


def make_provenance() -> dict[str, Any]:
    return {
        "config_hash": "0123456789ab",
        "config_files": [{"path": "config/config.yaml", "sha256": "d" * 64}],
        "git_commit": "f" * 40,
        "git_dirty": False,
        "versions": {"python": "3.11.7", "gutskin": "0.1.0", "numpy": "2.4.6", "meta": NASTY},
        "lockfile_sha256": "e" * 64,
        "seeds": {"seed": 20261126},
        "platform": "Linux " + NASTY,
        "timestamp": "2026-01-02T03:04:05Z",
    }


@pytest.fixture
def figure_root(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    write_figures(root)
    return root


def render(figure_root: Path, **kw: Any) -> str:
    args: dict[str, Any] = {
        "claims": make_claims(),
        "datasets": make_datasets(),
        "imports": make_imports(),
        "fetches": make_fetches(),
        "diversity": make_diversity(),
        "config": make_config(),
        "provenance": make_provenance(),
        "figure_root": figure_root,
    }
    args.update(kw)
    return build_report(ReportInputs(**args))


@pytest.fixture
def report(figure_root: Path) -> str:
    return render(figure_root)


# --------------------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------------------


def test_parses_and_has_a_section_per_claim(report: str) -> None:
    p = inspect(report)
    assert report.lstrip().startswith("<!DOCTYPE html>")
    assert p.stack == [], f"unclosed elements: {[t for t, _ in p.stack]}"
    for cid in ("C8", "C9", "C4", "C26", "C33"):
        assert cid in p.ids, f"no element with id {cid}"
        assert ("a", {"href": f"#{cid}"}) in p.tags, f"no link to #{cid}"
    assert len(p.ids) == len(set(p.ids)), "duplicate ids: " + ", ".join(
        sorted({i for i in p.ids if p.ids.count(i) > 1})
    )
    for sid in ("ledger", "claims", "data", "methods", "reproducibility"):
        assert sid in p.ids


def test_ledger_row_per_claim_with_verdict_text_and_symbol(report: str) -> None:
    p = inspect(report)
    body = [r for r in p.rows if r["cells"] and r["cells"][0].strip().startswith("C")]
    expected = {
        "C8": ("?", "Inconclusive"),
        "C9": ("≈", LABELS["not_supported"]),
        "C26": ("✔", "Supported"),
        "C33": ("✖", "Contradicted"),
        "C4": ("—", LABELS["not_testable"]),  # untestable claims: own (collapsed) table
    }
    assert [r["cells"][0].strip() for r in body] == list(expected)
    refinement = {"C8": " Inconclusive: underpowered"}  # the claim's own verdict_label
    for row in body:
        cid = row["cells"][0].strip()
        symbol, word = expected[cid]
        verdict_cell = " ".join(row["cells"][2].split())
        assert verdict_cell == f"{symbol} {word}{refinement.get(cid, '')}"
    c8 = next(r for r in body if r["cells"][0].strip() == "C8")
    assert (
        c8["cells"][4].strip() == "1,523"
    )  # n, thousands separator (ID, claim, verdict, effect, n)
    # effect column of C8: g = -0.084 -> "−0.0840", CI [−0.250, 0.0800], on its own scale
    assert "−0.0840 [−0.250, 0.0800]; SESOI ±0.2" in " ".join(c8["cells"][3].split())
    assert c8["cells"][6].strip() == "sensitivity agrees"
    c26 = next(r for r in body if r["cells"][0].strip() == "C26")
    assert c26["cells"][6].strip() == "not assessed"
    c4 = next(r for r in body if r["cells"][0].strip() == "C4")
    assert " ".join(c4["cells"][3].split()) == "Needs whole-body lymphocyte counts."
    assert c4["cells"][4].strip() == "overstated"  # the literature rating, in its labelled column
    assert "Literature rating (external, not a pipeline result)" in p.section_text("ledger")


@pytest.mark.fault(
    "H7 HTML escaping in the report",
    "claim text with <script> is escaped, never executed",
    before="held",
)
def test_quote_script_is_escaped(report: str) -> None:
    p = inspect(report)
    assert SCRIPT not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert not [t for t, _ in p.tags if t == "script"]
    assert "<script>alert(1)</script>" in p.section_text("claims")  # shown as text


@pytest.mark.fault(
    "H7 HTML escaping in the report",
    "metadata values with <, >, & and quotes are escaped",
    before="held",
)
def test_metadata_special_characters_are_escaped(report: str) -> None:
    assert NASTY not in report
    assert "Smith &amp; Wesson &lt;b&gt;&#34;bold&#34;&lt;/b&gt;" in report
    p = inspect(report)
    assert not [t for t, _ in p.tags if t == "b"]
    assert NASTY in p.section_text("data")
    assert NASTY in p.section_text("reproducibility")


RESOURCE_ATTRS = {"src", "href", "xlink:href", "data", "poster", "srcset", "action", "formaction"}


def test_no_network_resources(report: str) -> None:
    p = inspect(report)
    for tag, attrs in p.tags:
        for name, value in attrs.items():
            if name not in RESOURCE_ATTRS or value is None:
                continue
            v = value.strip().lower()
            if tag == "a" and name == "href":
                continue  # a link the reader may follow, not loaded
            assert not v.startswith(("http:", "https:", "//", "ftp:")), (tag, name, value)
            if tag in {"img", "image", "use"}:
                assert v.startswith(("data:", "#")), (tag, name, value)
    assert not [a for t, a in p.tags if t in {"link", "iframe", "object", "embed", "base"}]
    # CSS cannot fetch either
    assert not re.search(r"@import|url\(\s*['\"]?(https?:|//)", report, re.IGNORECASE)
    # links to dataset URLs and DOIs are fine and present
    assert ("a", {"href": "https://example.org/agp/table.biom.gz"}) in p.tags
    assert ("a", {"href": "https://doi.org/10.1128/mSystems.00031-18"}) in p.tags


def test_every_img_has_alt_and_every_svg_a_title(report: str) -> None:
    p = inspect(report)
    imgs = [a for t, a in p.tags if t == "img"]
    assert len(imgs) == 1  # the C9 PNG
    assert imgs[0]["alt"] == "Scatter of distances"
    assert imgs[0]["src"].startswith("data:image/png;base64,")
    assert len(p.svgs) >= 2 + 4  # two C8 figures + 4 inline effect bars (C8, C9, C26, C33)
    for svg in p.svgs:
        assert svg["title"] and svg["title"].strip(), svg["attrs"]
        assert svg["first_child"] == "title"


def test_figure_ids_are_unique_and_references_rewritten(report: str) -> None:
    p = inspect(report)
    # both C8 figures come from files with identical ids; after embedding they must differ
    assert len([i for i in p.ids if i.endswith("m1")]) == 2
    for _tag, attrs in p.tags:
        for name in ("href", "xlink:href"):
            ref = attrs.get(name)
            if ref and ref.startswith("#") and _tag in {"use"}:
                assert ref[1:] in p.ids, ref
        cp = attrs.get("clip-path")
        if cp:
            assert cp[5:-1] in p.ids
    assert "<?xml" not in report
    assert "<!DOCTYPE svg" not in report


def test_missing_figure_is_a_visible_note(report: str) -> None:
    p = inspect(report)
    assert "Figure file not found: C8/missing.svg." in p.section_text("claims")


def test_external_evidence_is_labelled_and_causal_box_only_for_testable(report: str) -> None:
    p = inspect(report)
    text = p.section_text("claims")
    assert text.count("External evidence (not a pipeline result)") == 1
    assert "Rating from the literature: overstated" in text
    assert ("a", {"href": "https://doi.org/10.1016/j.it.2007.08.009"}) in p.tags
    # C8, C9, C26, C33 are testable; C4 is not
    assert text.count("Association is not causation") == 4
    c4 = report[report.index('id="C4"') : report.index('id="C26"')]
    assert "Association is not causation" not in c4


def test_unavailable_dataset_is_prominent(report: str) -> None:
    p = inspect(report)
    alerts = [a for t, a in p.tags if a.get("role") == "alert"]
    assert len(alerts) == 1
    assert "Unavailable: no cache, no mirror and the network is disabled" in p.section_text("data")


def test_numbers_power_and_tables(report: str) -> None:
    p = inspect(report)
    text = p.section_text("claims")
    assert "< 0.001" in text  # p = 0.0004
    assert "0.0432" in text  # Holm-adjusted
    assert "0.430" in text and "below the 0.8 target" in text  # power 0.43 < 0.8
    assert "equivalence is not shown" in text  # C8: TOST p = 0.09 > 0.05
    assert "the effect is shown to be smaller than the SESOI" in text  # C9: TOST p = 0.0001
    assert "3.14" in text  # TSV cell 3.14159 at 3 significant digits
    data = p.section_text("data")
    assert "2.95 MB" in data  # 2,945,567 bytes
    assert "19,236" in data
    methods = p.section_text("methods")
    assert "90 % confidence interval" in methods  # 1 − 2 × 0.05
    assert "Holm correction across the primary tests (2: C8, C9)" in methods
    assert "20261126" in methods


def test_changelog_only_with_previous_claims(figure_root: Path, report: str) -> None:
    assert 'id="changelog"' not in report
    previous = copy.deepcopy(make_claims())
    previous[0]["verdict"] = "supported"  # C8 was supported, is inconclusive now
    previous = [c for c in previous if c["id"] != "C33"] + [{"id": "C99", "verdict": "supported"}]
    html = render(figure_root, previous_claims=previous)
    p = inspect(html)
    assert "changelog" in p.ids
    text = p.section_text("changelog")
    assert "C8 ✔ Supported → ? Inconclusive" in text
    assert "C9" not in text.split("New claims")[0]  # unchanged claims are not listed as changed
    assert "New claims: C33." in text
    assert "Claims no longer in the ledger: C99." in text
    same = render(figure_root, previous_claims=make_claims())
    assert "No verdict changed since the previous run (5 claims compared)." in inspect(
        same
    ).section_text("changelog")


def test_size_and_atomic_write(tmp_path: Path, report: str) -> None:
    assert len(report.encode("utf-8")) < 1_000_000  # small fixtures; 10 MB is the hard limit
    out = tmp_path / "out" / "report.html"
    write_report(report, out)
    assert out.read_text(encoding="utf-8") == report
    assert [f.name for f in out.parent.iterdir()] == ["report.html"]


def test_oversized_figure_is_not_embedded(figure_root: Path) -> None:
    big = figure_root / "C9" / "mantel.png"
    big.write_bytes(PNG_BYTES + b"\0" * (MAX_FIGURE_BYTES + 1))
    html = render(figure_root)
    assert "data:image/png" not in html
    assert "more than the" in inspect(html).section_text("claims")


def test_svg_with_active_content_is_not_embedded(figure_root: Path) -> None:
    (figure_root / "C8" / "shannon.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><title>t</title><rect onload="alert(1)"/></svg>'
    )
    (figure_root / "C8" / "forest.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><title>t</title>'
        '<image href="https://evil.example/x.png"/><script>alert(2)</script></svg>'
    )
    html = render(figure_root)
    assert "onload" not in html
    assert "alert(2)" not in html
    assert "evil.example" not in html
    assert "could not be read" in inspect(html).section_text("claims")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"verdict": "maybe"}, "claim 'C26', key 'verdict'"),
        ({"p_value": "small"}, "claim 'C26', key 'p_value'"),
        ({"p_value": 1.5}, "claim 'C26', key 'p_value'"),
        ({"n": 12.5}, "claim 'C26', key 'n'"),
        ({"effect_size_ci": [0.1]}, "claim 'C26', key 'effect_size_ci'"),
        ({"id": "C8"}, "claim #4"),
    ],
)
def test_bad_claims_raise_input_error(
    figure_root: Path, change: dict[str, Any], where: str
) -> None:
    claims = make_claims()
    claims[3].update(change)
    with pytest.raises(InputError) as exc:
        render(figure_root, claims=claims, claims_source="results/claims.json")
    assert exc.value.path == "results/claims.json"
    assert exc.value.where == where


def test_untestable_claim_with_nothing_but_id_and_verdict(figure_root: Path) -> None:
    html = render(figure_root, claims=[{"id": "C1", "verdict": "not_testable"}], previous_claims=[])
    p = inspect(html)
    assert "C1" in p.ids
    assert "Association is not causation" not in html  # verdict not_testable, no testable flag


def test_robustness_score_in_ledger_and_section(figure_root: Path) -> None:
    """Several sensitivity analyses: the ledger shows the score, the section a sentence and each one."""
    claims = make_claims()
    c8 = next(c for c in claims if c["id"] == "C8")
    c8["robustness"] = "2/3 agree (disagrees: minimal covariates)"
    c8["sensitivity"] = "minimal covariates disagrees (2 of 3 agree); …"
    c8["sensitivity_analyses"] = [
        {
            "name": "minimal covariates",
            "agrees": False,
            "note": "minimal covariates: age, sex: -0.3 (95% CI -0.5 to -0.1), p = 0.01 — disagrees "
            "with the fully adjusted model",
        },
        {
            "name": "Huber robust regression",
            "agrees": True,
            "note": "Huber robust regression: -0.1",
        },
        {
            "name": "observed features",
            "agrees": True,
            "note": "observed features instead of Shannon: -2",
        },
    ]
    html = render(figure_root, claims=claims, previous_claims=[])
    row = next(r for r in inspect(html).rows if r["cells"] and r["cells"][0].strip() == "C8")
    assert row["cells"][6].strip() == "2/3 agree (disagrees: minimal covariates)"
    start = html.index('id="C8"')
    section = html[start : html.index("</aside>", start)]
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert (
        "2 of 3 pre-specified sensitivity analyses reach the same conclusion as the primary "
        "analysis; minimal covariates does not." in text
    )
    assert text.count("— disagrees") == 1  # not repeated after a note that already says so
    assert "Huber robust regression: -0.1 — agrees" in text
    assert "observed features instead of Shannon: -2 — agrees" in text
    # the runner's summary note is not repeated under the list
    assert "(2 of 3 agree)" not in text
    # a wrong type names the key
    c8["sensitivity_analyses"] = [{"name": "x", "agrees": "yes", "note": ""}]
    with pytest.raises(InputError, match="sensitivity_analyses"):
        render(figure_root, claims=claims, previous_claims=[])


def test_intervention_design_gets_its_own_caution(figure_root: Path) -> None:
    """A before/after trial is not called cross-sectional; it is told it measured no skin outcome."""
    base = {"verdict": "inconclusive", "testable": "proxy", "claim_type": "causal"}
    claims = [
        {**base, "id": "C20", "analysis": "longitudinal_mixed", "design": "group_by_time"},
        {**base, "id": "C18b", "analysis": "longitudinal_mixed", "design": "group"},
        {**base, "id": "C8", "analysis": "alpha_condition"},
    ]
    html = render(figure_root, claims=claims, previous_claims=[])

    def section(cid: str) -> str:
        start = html.index(f'id="{cid}"')
        return html[start : html.index("</aside>", start)]

    trial = section("C20")
    assert "before/after comparison" in trial and "no skin outcome was measured" in trial
    assert "cross-sectional" not in trial
    assert "observational comparisons (repeated visits" in section("C18b")
    assert "These are cross-sectional observations" in section("C8")


# --------------------------------------------------------------------------------------------------------
# Number formatting (expected strings written out by hand)
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.012345, "0.0123"),
        (0.2, "0.200"),
        (-0.084, "−0.0840"),
        (3.14159, "3.14"),
        (9.996, "10.0"),  # rounds up to 10.0, still 3 significant digits
        (1234.5, "1,230"),
        (1523, "1,523"),  # ints in full
        (2945567.0, "2,945,567"),  # whole-number float: a count
        (0.00001234, "1.23 × 10⁻⁵"),
        (None, "–"),
        (float("nan"), "–"),
        (0.0, "0"),
        (-0.0001, "−0.000100"),
    ],
)
def test_fmt_num(x: Any, expected: str) -> None:
    assert fmt_num(x) == expected


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.0004, "< 0.001"), (0.001, "0.00100"), (0.0432, "0.0432"), (1.0, "1.00"), (None, "–")],
)
def test_fmt_p(p: Any, expected: str) -> None:
    assert fmt_p(p) == expected


def test_fmt_ci() -> None:
    assert fmt_ci(-0.25, 0.08) == "[−0.250, 0.0800]"
    assert fmt_ci(None, 0.08) == "–"


# --------------------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_provenance_outside_git(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("seed: 7\n", encoding="utf-8")
    out = prov.collect_provenance(
        {"seed": 7, "rarefaction": {"depth": 10}, "claims": [{"perm_seed": 3}]},
        [cfg],
        tmp_path,
        now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert out["git_commit"] == "unknown"
    assert out["git_dirty"] is None
    assert out["timestamp"] == "2026-01-02T03:04:05Z"
    assert out["seeds"] == {"seed": 7, "claims[0].perm_seed": 3}
    # sha256 of b"seed: 7\n", from `printf 'seed: 7\n' | sha256sum`
    assert out["config_files"] == [
        {
            "path": "config.yaml",
            "sha256": "d9681d39bb2fa92577a01cb9bb51fceaef4376a9d9b2893ac2da0468b9c30a3e",
        }
    ]
    assert out["versions"]["numpy"] == np.__version__
    assert out["lockfile_sha256"] == "unknown"
    assert len(out["config_hash"]) == 12


def test_provenance_git_commit_and_dirty(tmp_path: Path) -> None:
    if subprocess.run(["git", "--version"], capture_output=True, check=False).returncode != 0:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "src").mkdir()
    (repo / "src" / "a.py").write_text("x = 1\n")
    _git(repo, "add", "src/a.py")
    _git(repo, "commit", "-q", "-m", "init")
    head = _git(repo, "rev-parse", "HEAD")
    assert prov.git_state(repo) == {"commit": head, "dirty": False}
    (repo / "notes.txt").write_text("untracked, outside code dirs\n")
    assert prov.git_state(repo)["dirty"] is False
    (repo / "src" / "b.py").write_text("untracked code\n")
    assert prov.git_state(repo)["dirty"] is True
    (repo / "src" / "b.py").unlink()
    # a tracked document edited: results cannot change, the tree is not dirty
    (repo / "README.md").write_text("v1\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-q", "-m", "readme")
    head = _git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("v2\n")
    assert prov.git_state(repo) == {"commit": head, "dirty": False}
    (repo / "src" / "a.py").write_text("x = 2\n")
    assert prov.git_state(repo) == {"commit": head, "dirty": True}


def test_package_versions_missing_package() -> None:
    out = prov.package_versions(["numpy", "surely-not-a-real-distribution-xyz"])
    assert out["numpy"] == np.__version__
    assert out["surely-not-a-real-distribution-xyz"] == "not installed"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", out["python"])


def test_provenance_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        prov.collect_provenance({}, [tmp_path / "nope.yaml"], tmp_path)
    assert exc.value.path == str(tmp_path / "nope.yaml")


def test_real_matplotlib_figures_embed_with_unique_ids(figure_root: Path) -> None:
    from gutskin.plotting import figures

    rows = [{"label": "any", "estimate": -0.1, "ci_low": -0.3, "ci_high": 0.1}]
    for name in ("shannon.svg", "forest.svg"):  # two identical matplotlib SVGs: identical raw ids
        figures.save_figure(
            figures.forest(rows, "Hedges g", sesoi=0.2), figure_root / "C8" / name, alt="Forest"
        )
    html = render(figure_root)
    p = inspect(html)
    assert p.stack == []
    assert len(p.ids) == len(set(p.ids))
    glyphs = [i for i in p.ids if "DejaVuSans" in i]
    assert glyphs and len(glyphs) % 2 == 0  # each glyph defined once per figure, under two prefixes
    for tag, attrs in p.tags:
        ref = attrs.get("xlink:href") or attrs.get("href")
        if tag == "use":
            assert ref is not None and ref[1:] in p.ids, ref
    titled = [s for s in p.svgs if s["title"] == "Forest"]
    assert len(titled) == 2


# --------------------------------------------------------------------------------------------------------
# Ledger: one line per claim, effect bars on one scale (multiples of the SESOI)
# --------------------------------------------------------------------------------------------------------

MINI_SVG = re.compile(r'<svg class="mini"[^>]*aria-label="([^"]*)"[^>]*>(.*?)</svg>', re.DOTALL)


def _ledger_bars(html: str) -> dict[str, str]:
    """Inline effect bars of the tested-claims ledger, by claim id (taken from the row)."""
    table = html[html.index('<table class="ledger tested">') : html.index("</table>")]
    rows = re.findall(
        r'<tr class="v-[a-z_]+">\s*<th scope="row"><a href="#(C\d+)">(.*?)</tr>', table, re.S
    )
    out = {}
    for cid, row in rows:
        m = MINI_SVG.search(row)
        if m:
            out[cid] = m.group(0)
    return out


def test_effect_bars_share_one_scale_in_sesoi_units(report: str) -> None:
    bars = _ledger_bars(report)
    # C33 has no SESOI: no bar (its numbers are still shown)
    assert sorted(bars) == ["C26", "C8", "C9"]
    # In SESOI units: C8 -0.42 [-1.25, 0.40]; C9 0.12 [-0.3, 0.5]; C26 1.55 [0.75, 2.35].
    # Largest |end| 2.35 x 1.05 = 2.47 -> axis +-3; x(u) = 8 + (u + 3) / 6 * 184 (200 px wide, 8 px pad).
    c8 = bars["C8"]
    assert (
        '<rect class="band" x="69.3" y="2" width="61.3"' in c8
    )  # x(-1) = 69.33, x(1) - x(-1) = 61.33
    assert '<line class="null" x1="100.0"' in c8  # x(0) = 100
    assert 'x1="61.7" y1="11" x2="112.3"' in c8  # CI: x(-1.25) = 61.67, x(0.4) = 112.27
    assert '<rect class="pt" x="83.6"' in c8  # x(-0.42) = 87.12, minus half the 7 px square
    assert '<rect class="pt" x="144.0"' in bars["C26"]  # x(1.55) = 147.53 - 3.5
    assert "the estimate is −0.420 SESOIs (CI −1.25 to 0.400)" in c8  # the label says it in words
    assert 'class="arrow"' not in report  # nothing is clipped on a +-3 axis
    axis = report[report.index('<svg class="mini axis"') :]
    axis = axis[: axis.index("</svg>")]
    assert re.findall(r">([−+]?\d)</text>", axis) == ["−3", "−2", "−1", "0", "+1", "+2", "+3"]
    c33_row = inspect(report).rows
    c33 = next(r for r in c33_row if r["cells"] and r["cells"][0].strip() == "C33")
    assert "−0.400 [−0.600, −0.200]" in " ".join(c33["cells"][3].split())


def test_effect_bar_axis_is_capped_and_clipped_ends_are_marked(figure_root: Path) -> None:
    claims = make_claims()
    claims[3]["effect_size_ci"] = [0.15, 1.5]  # C26: up to 7.5 SESOIs -> axis capped at +-5
    bars = _ledger_bars(render(figure_root, claims=claims))
    # x(5) = 8 + 10 / 10 * 184 = 192: the CI is cut there and an arrow head points outwards
    assert '<path class="arrow" d="M192.0 7 L197.0 11 L192.0 15 Z">' in bars["C26"]
    assert 'class="arrow"' not in bars["C8"]


@pytest.mark.parametrize(
    ("reason", "verdict", "expected"),
    [
        (
            "equivalence shown: 90% CI -0.181 to 0.067 lies within ±SESOI (±0.200); estimate -0.057 "
            "(95% CI -0.204 to 0.091), p = 0.453, n = 1215.",
            "not_supported",
            "Equivalence shown: 90% CI -0.181 to 0.067 lies within ±SESOI (±0.200).",
        ),
        (
            "underpowered: power 0.26 at the SESOI (target 0.80); the result is not statistically "
            "significant and equivalence is not shown: estimate 0.079 (95% CI -0.07 to 0.23), n = 171.",
            "inconclusive",
            "Underpowered: power 0.26 at the SESOI (target 0.80); the result is not statistically "
            "significant and equivalence is not shown.",
        ),
        ("data insufficient: no samples", "inconclusive", "Data insufficient: no samples."),
        (
            "Microbiome tables say nothing about where immune cells are (e.g. gut vs. spleen). It would "
            "need whole-body counts.",
            "not_testable",
            "Microbiome tables say nothing about where immune cells are (e.g. gut vs. spleen).",
        ),
        ("", "inconclusive", ""),
    ],
)
def test_short_reason(reason: str, verdict: str, expected: str) -> None:
    from gutskin.report.html import short_reason

    assert short_reason(reason, verdict) == expected


# --------------------------------------------------------------------------------------------------------
# Claim sections: plain-language power, sample flow, figure data, tables with identifiers
# --------------------------------------------------------------------------------------------------------


def test_power_and_equivalence_in_plain_words(report: str) -> None:
    text = inspect(report).section_text("claims")
    assert (
        "Power: if the true effect were exactly as large as the smallest effect of interest (±0.2 on "
        "the Hedges g scale), this analysis, with its sample size, would detect it at α = 0.05 with "
        "probability 0.430. That is below the 0.8 target, so a non-significant result here cannot be "
        "read as “no effect”."
    ) in text
    assert "Equivalence (TOST, two one-sided tests) asks the reverse question" in text
    assert "It holds when the 90 % confidence interval lies entirely inside that band." in text
    # C9: power 0.97 >= 0.8 and TOST p = 0.0001
    assert "That meets the 0.8 target." in text
    assert "Here p < 0.001: the effect is shown to be smaller than the SESOI" in text


def test_sample_flow_table_and_data_blocks(figure_root: Path) -> None:
    claims = make_claims()
    claims[0]["sample_flow"] = [
        {"step": "fecal samples", "n": 1569, "dropped_by_group": {}},
        {"step": "one per subject", "n": 1523, "dropped_by_group": {"eczema": 3, "none": 43}},
    ]
    html = render(figure_root, claims=claims)
    c8 = html[html.index('<details class="claim v-inconclusive" id="C8"') : html.index('id="C9"')]
    p = inspect(c8)
    heads = [t for t, _ in p.tags if t == "th"]
    assert heads  # parsed
    flow = c8[c8.index('<table class="flow">') :]
    flow = flow[: flow.index("</table>")]
    cells = re.findall(r"<t[hd](?:\s[^>]*)?>(.*?)</t[hd]>", flow)
    assert cells == [
        "Step",
        "n",
        "Dropped, by group",
        "fecal samples",
        "1,569",
        "none",
        "one per subject",
        "1,523",
        "eczema: 3; none: 43",
    ]
    # which data and why: the dataset's title, linked to its Data entry
    assert '<a href="#data-agp_2014">American Gut Project, rounds 1–8</a>' in c8


def test_figure_data_twins_are_named_and_listed(figure_root: Path) -> None:
    (figure_root / "C8" / "shannon.data.tsv").write_text("group\tshannon\nnone\t3.1\n")
    html = render(figure_root)
    p = inspect(html)
    claims_text = p.section_text("claims")
    assert "Shannon by group. Data drawn: C8/shannon.data.tsv" in claims_text
    assert "Forest plot. No data file was written for this figure." in claims_text
    files = p.section_text("files")
    assert "results/claims.json — the claims ledger" in files
    assert "results/claims.tsv — one row per claim" in files
    assert "C8 Shannon by group. C8/shannon.svg C8/shannon.data.tsv" in files
    assert "C8 Forest plot. C8/forest.svg none written" in files
    assert "C8 Model data – C8/data.tsv" in files  # a table is its own data
    # 3 C8 figures + 1 C9 figure, one with a twin
    assert "(3 without a data file)" in files


def test_identifier_columns_are_not_reformatted(figure_root: Path) -> None:
    (figure_root / "C8" / "data.tsv").write_text(
        "sample_id\tvisit\tage\tshannon\tcount\n000011224.1210932\t1.0\t26.0\t3.14159\t12345\n",
        encoding="utf-8",
    )
    html = render(figure_root)
    table = html[html.index("<h4>Model data</h4>") :]
    cells = re.findall(r"<td>(.*?)</td>", table[: table.index("</table>")])
    # ids and whole numbers as written; a measurement at 3 significant digits
    assert cells == ["000011224.1210932", "1.0", "26.0", "3.14", "12345"]


# --------------------------------------------------------------------------------------------------------
# Data: sequencing depth, coverage map; calibration; limitations; reproducibility
# --------------------------------------------------------------------------------------------------------

DEPTH_TSV = "sample_id\treads\tretained\nS1\t100\tFalse\nS2\t2500\tTrue\nS3\t3000\tTrue\nS4\t50\tFalse\nS5\t8000\tTrue\n"
SAMPLES_TSV = "sample_id\tsubject_id\tbody_site\nS1\tA\tgut\nS2\tB\tgut\nS3\tC\tskin\nS4\tD\tskin\nS5\tE\tgut\n"


@pytest.fixture
def depth_files(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "depth.tsv"
    s = tmp_path / "samples.tsv"
    d.write_text(DEPTH_TSV, encoding="utf-8")
    s.write_text(SAMPLES_TSV, encoding="utf-8")
    return d, s


def test_load_depth_joins_body_sites(depth_files: tuple[Path, Path]) -> None:
    from gutskin.report.qc import load_depth

    df = load_depth(*depth_files)
    assert df["reads"].tolist() == [100.0, 2500.0, 3000.0, 50.0, 8000.0]
    assert df["retained"].tolist() == [False, True, True, False, True]
    assert df["body_site"].tolist() == ["gut", "gut", "skin", "skin", "gut"]
    assert df.attrs["path"] == str(depth_files[0])
    alone = load_depth(depth_files[0])
    assert set(alone["body_site"]) == {""}


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("sample_id\treads\nS1\t10\n", "header", "column 'retained' is missing"),
        (
            "sample_id\treads\tretained\nS1\t10\tTrue\nS2\tmany\tTrue\n",
            "column 'reads', line 3",
            "'many'",
        ),
        ("sample_id\treads\tretained\nS1\t-4\tTrue\n", "column 'reads', line 2", "non-negative"),
        ("sample_id\treads\tretained\nS1\t10\tmaybe\n", "column 'retained', line 2", "'maybe'"),
    ],
)
def test_load_depth_errors_name_file_column_and_line(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    from gutskin.report.qc import load_depth

    f = tmp_path / "depth.tsv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_depth(f)
    assert exc.value.path == str(f)
    assert exc.value.where is not None and exc.value.where.startswith(where)
    assert problem in str(exc.value)
    with pytest.raises(InputError, match="file not found"):
        load_depth(tmp_path / "nope.tsv")


def test_depth_qc_in_data_section(figure_root: Path, depth_files: tuple[Path, Path]) -> None:
    from gutskin.report.qc import load_depth

    diversity = {"agp_2014": {"depth": 1000, "n_retained": 3, "n_dropped": 2, "rarefied": True}}
    html = render(figure_root, diversity=diversity, depths={"agp_2014": load_depth(*depth_files)})
    p = inspect(html)
    assert p.stack == []
    data = p.section_text("data")
    # 5 samples; sorted reads 50, 100, 2500, 3000, 8000 -> median 2,500
    assert (
        "5 samples; reads per sample: median 2,500, range 50 to 8,000. Rarefied to 1,000 reads: 3 used, "
        "2 dropped below the depth."
    ) in data
    # by body site: gut S1 (100, dropped), S2, S5 -> 3, 1 dropped, 2 used, median 2,500;
    # skin S3, S4 (50, dropped) -> 2, 1, 1, median (50 + 3000) / 2 = 1,525
    assert "gut 3 1 2 2,500" in data and "skin 2 1 1 1,525" in data
    assert "Data drawn: " in data and str(depth_files[0]) in data
    # the steps table: imported, dropped below depth, used
    assert "− Below the rarefaction depth (1,000 reads) 2" in data
    assert "Used for diversity 3" in data
    svgs = [s for s in p.svgs if "figure-svg" in (s["attrs"].get("class") or "")]
    titles = [s["title"] for s in svgs]
    assert any(t.startswith("Histogram of reads per sample in agp_2014: 5 samples") for t in titles)
    assert "Sequencing depth: no depth table for this dataset in this run." not in data


def test_coverage_and_calibration_not_computed(report: str) -> None:
    p = inspect(report)
    assert (
        "Covariate coverage Not computed in this run (no results/coverage.json"
        in p.section_text("data")
    )
    assert "Not computed in this run (no results/calibration.json" in p.section_text("calibration")


COVERAGE = {
    "variables": ["condition", "age", "bmi", SCRIPT],
    "datasets": {
        "agp_2014": {
            "available": True,
            "n_samples": 2000,
            "body_sites": {"gut": 1500, "skin": 500},
            "paired_gut_skin_subjects": 12,
            "variables": {
                "condition": {"n_non_missing": 1700, "fraction": 0.85},
                "age": {"n_non_missing": 500, "fraction": 0.25},
                "bmi": {"n_non_missing": 1200, "fraction": 0.6},
            },
            "claims": ["C8"],
        },
        "hmp_v35": {
            "available": False,
            "n_samples": 0,
            "body_sites": {},
            "paired_gut_skin_subjects": 0,
            "variables": {"condition": {"n_non_missing": 0, "fraction": 0.0}},
            "claims": ["C9"],
        },
    },
}


def test_coverage_map_grid(figure_root: Path) -> None:
    html = render(figure_root, coverage=copy.deepcopy(COVERAGE))
    assert SCRIPT not in html
    grid = html[html.index('<table class="coverage">') :]
    grid = grid[: grid.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", grid, re.S)

    def cells(row: str) -> list[str]:
        return [
            re.sub(r"<[^>]+>", " ", c).split()
            for c in re.findall(r"<t[hd](?:\s[^>]*)?>(.*?)</t[hd]>", row)
        ]

    table = {" ".join(c[0]): [" ".join(x) for x in c[1:]] for c in map(cells, rows[1:])}
    assert table["Samples"] == ["2,000", "0"]
    assert table["Body sites (samples)"] == ["gut 1,500; skin 500", "–"]
    assert table["Subjects with paired gut and skin samples"] == ["12", "0"]
    assert table["Claims using it"] == ["C8", "C9"]
    assert table["condition"] == ["85 % 1,700", "0 % 0"]
    assert table["age"] == ["25 % 500", "–"]
    assert table["bmi"] == ["60 % 1,200", "–"]
    # shading follows the fraction (the number is always written too)
    assert re.search(r'class="num cov cov4"[^>]*>85 %', grid)
    assert re.search(r'class="num cov cov2"[^>]*>25 %', grid)
    assert re.search(r'class="num cov cov3"[^>]*>60 %', grid)
    assert re.search(r'class="num cov cov0"[^>]*>0 %', grid)
    assert "(unavailable)" in grid
    assert "&lt;script&gt;" in grid  # a variable name from data is text


def test_coverage_with_a_wrong_type_names_the_key(figure_root: Path) -> None:
    bad = copy.deepcopy(COVERAGE)
    bad["datasets"]["agp_2014"]["variables"]["age"]["fraction"] = 1.5
    with pytest.raises(InputError) as exc:
        render(figure_root, coverage=bad, coverage_source="results/coverage.json")
    assert exc.value.path == "results/coverage.json"
    assert exc.value.where == "datasets.agp_2014.variables.age.fraction"


CALIBRATION = {
    "alpha": 0.05,
    "tests": [
        {
            "claim": "C8",
            "test": "OLS HC3",
            "replicates": 1000,
            "null_rejections": 52,
            "fpr": 0.052,
            "fpr_ci": [0.039, 0.068],
            "planted": [
                {
                    "effect": "g = 0.2",
                    "power": 0.77,
                    "power_ci": [0.74, 0.8],
                    "analytic_power": 0.771,
                }
            ],
            "design": "n = 1215",
            "seconds": 3.2,
        },
        {
            "claim": "C9",
            "test": "Mantel",
            "replicates": 400,
            "null_rejections": 34,
            "fpr": 0.085,
            "fpr_ci": [0.06, 0.116],
            "planted": [],
            "design": "171 subjects",
            "seconds": 9.0,
        },
        {"claim": "C10", "test": "DA", "replicates": 200, "fpr": 0.01, "fpr_ci": [0.002, 0.036]},
    ],
}


def test_calibration_table(figure_root: Path) -> None:
    html = render(figure_root, calibration=copy.deepcopy(CALIBRATION))
    p = inspect(html)
    text = p.section_text("calibration")
    assert "0.0520 [0.0390, 0.0680] — consistent with α" in text
    assert "0.0850 [0.0600, 0.116] — too many false positives" in text
    assert "0.0100 [0.00200, 0.0360] — conservative (fewer false positives than α)" in text
    assert "g = 0.2: 0.770 [0.740, 0.800] (formula used in the claim: 0.771)" in text
    # the dot of C8: x = 5 + 0.052 / 0.15 * 140 = 53.53 on the 0-15 % scale; alpha line at 51.67
    assert '<circle class="pt" cx="53.5" cy="10" r="3.5">' in html
    assert '<line class="null" x1="51.7"' in html
    limits = p.section_text("limitations")
    assert (
        "Calibration of C9 (Mantel): the false-positive rate on simulated null data was 0.0850 (95 % CI "
        "0.0600 to 0.116), not the nominal α = 0.05" in limits
    )
    assert "Calibration of C8" not in limits


def test_calibration_with_a_bad_interval_names_the_key(figure_root: Path) -> None:
    bad = copy.deepcopy(CALIBRATION)
    bad["tests"][1]["fpr_ci"] = [0.06]
    with pytest.raises(InputError) as exc:
        render(figure_root, calibration=bad)
    assert exc.value.where == "tests[1].fpr_ci"


def test_limitations_follow_from_the_run(figure_root: Path) -> None:
    html = render(figure_root, coverage=copy.deepcopy(COVERAGE))
    limits = inspect(html).section_text("limitations")
    assert (
        "Dataset hmp_v35 was unavailable in this run (no cache, no mirror and the network is "
        "disabled); C9 could not use it."
    ) in limits
    # C8: power 0.43 < 0.8 and no equivalence (TOST p = 0.09)
    assert "C8: power to detect the smallest effect of interest is 0.430" in limits
    # C9 is underpowered? no: power 0.97; it is not listed
    assert "C9: power" not in limits
    # coverage: C8 adjusts for age (25 %) and bmi (60 %) in agp_2014; sex is not in the map
    assert "C8 adjusts for age, which is recorded for only 25 % of agp_2014 samples" in limits
    assert "C8 adjusts for bmi, which is recorded for only 60 % of agp_2014 samples" in limits
    assert "adjusts for sex" not in limits


def test_reproducibility_lists_data_sha256(report: str) -> None:
    text = inspect(report).section_text("reproducibility")
    assert f"agp_2014 table {'a' * 64} mirror" in text
    assert f"agp_2014 samples {'b' * 64} cache" in text


def test_read_json_errors(tmp_path: Path) -> None:
    from gutskin.report.qc import read_json

    f = tmp_path / "x.json"
    f.write_text('{"a": 1,\n "b": }', encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_json(f)
    assert exc.value.where == "line 2, column 7"
    with pytest.raises(InputError, match="file not found"):
        read_json(tmp_path / "missing.json")
    f.write_text('[{"id": "C1"}]', encoding="utf-8")
    assert read_json(f) == [{"id": "C1"}]


# --------------------------------------------------------------------------------------------------------
# Issue 13 layout and the claim-result contract (CONTRACT.md)
# --------------------------------------------------------------------------------------------------------

#: The contract's per-claim fields, as branch synth/verdicts write them (hand-written numbers).
CONTRACT_FIELDS: dict[str, Any] = {
    "cohorts": [
        {
            "dataset": "agp_2014",
            "n": 1200,
            "estimate": -0.1,
            "se": 0.06,
            "ci": [-0.22, 0.02],
            "weight": 0.7,
            "p_value": 0.1,
            "status": "analysed",
            "reason": "",
        },
        {
            "dataset": "hmp_v35",
            "n": 323,
            "estimate": 0.05,
            "se": 0.1,
            "ci": [-0.15, 0.25],
            "weight": 0.3,
            "p_value": 0.62,
            "status": "analysed",
            "reason": "",
        },
        CohortRow(
            dataset="qiita_10317", status="failed", reason="no skin-condition column"
        ).to_dict(),
    ],
    "pooling": {
        "method": "REML",
        "ci_method": "hksj",
        "hksj_below_k": 10,
        "tau2": 0.0042,
        "i2": 37.5,
        "q": 1.6,
        "q_p": 0.206,
        "prediction_interval": None,
    },
    "dataset_selection": [
        {"dataset": "agp_2014", "used": True, "reason": "records skin conditions"},
        {"dataset": "ravel_2011", "used": False, "reason": "vaginal samples only"},
    ],
    "matched": {
        "verdict": "inconclusive",
        "estimate": -0.07,
        "ci": [-0.3, 0.16],
        "n_cases": 150,
        "n_controls": 600,
        "balance": [{"covariate": "age", "smd_before": 0.41, "smd_after": 0.03}],
        "note": "1:4 nearest neighbour on the propensity score.",
    },
    "population": "adults (age >= 18); 29 implausible records excluded",
    "deviations": [{"what": "BMI as a spline", "reason": "non-linear in the pilot"}],
    "sensitivity_analyses": [
        {
            "name": "leave out agp_2014",
            "kind": "leave_one_cohort_out",
            "estimate": 0.05,
            "ci": [-0.15, 0.25],
            "ci90": None,
            "p_value": 0.62,
            "outcome": "agrees",
            "verdict": "inconclusive",
            "note": "",
        },
        {
            "name": "second rarefaction depth",
            "kind": "depth",
            "estimate": None,
            "ci": None,
            "ci90": None,
            "p_value": None,
            "outcome": "uninformative",
            "verdict": None,
            "note": "",
        },
    ],
}


def _with_contract(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    c8 = claims[0]
    c8.update(copy.deepcopy(CONTRACT_FIELDS))
    c8["k"] = 2
    return claims


def test_contract_fields_are_rendered(figure_root: Path) -> None:
    html = render(figure_root, claims=_with_contract(make_claims()))
    text = inspect(html).section_text("claims")
    # per-cohort rows with estimate, CI and weight; the failed cohort says why; the pooled row
    cohorts = html[html.index('<table class="cohorts">') :]
    cohorts = cohorts[: cohorts.index("</table>")]
    assert "agp_2014" in cohorts and "−0.100 [−0.220, 0.0200]" in cohorts and "70.0 %" in cohorts
    assert "no skin-condition column" in cohorts and "failed" in cohorts
    assert cohorts.count('<svg class="mini"') == 3  # two cohorts and the pooled estimate
    assert "Cohorts (2 with an estimate)" in text
    assert "τ² = 0.00420; I² = 37.5 %; Q = 1.60 (p = 0.206)" in text
    assert "no prediction interval (fewer than 3 cohorts)" in text
    assert "Hartung–Knapp–Sidik–Jonkman" in text
    # why each dataset serves the claim or not
    assert "<li><code>ravel_2011</code>: not used — vaginal samples only</li>" in html
    # each sensitivity analysis with its outcome and its own verdict; uninformative is not counted
    assert (
        "leave out agp_2014 — agrees (0.0500 [−0.150, 0.250], p = 0.620) — on its own: ? inconclusive"
        in text
    )
    assert "second rarefaction depth is uninformative (could not disagree) and not counted." in text
    # matched analysis with its balance table
    assert "150 cases matched to 600 controls" in text
    bal = html[html.index('<table class="balance">') :]
    assert re.search(r"<td>age</td><td class=\"num\">0.410</td><td class=\"num\">0.0300</td>", bal)
    assert "adults (age &gt;= 18); 29 implausible records excluded" in html
    # deviations: in the claim and listed in Methods
    methods = inspect(html).section_text("methods")
    assert "Deviations from the register" in methods
    assert "C8 : BMI as a spline — non-linear in the pilot" in methods


def test_contract_fields_absent_degrade_gracefully(report: str) -> None:
    assert '<table class="cohorts">' not in report and '<table class="balance">' not in report
    methods = inspect(report).section_text("methods")
    assert "None recorded: every analysis is as registered in CLAIMS.md." in methods


def test_sensitivity_outcome_must_be_a_contract_word(figure_root: Path) -> None:
    claims = make_claims()
    claims[0]["sensitivity_analyses"] = [{"name": "x", "outcome": "maybe"}]
    with pytest.raises(InputError, match="outcome"):
        render(figure_root, claims=claims)


def test_bottom_line_counts_and_legend_beside_the_counts(report: str) -> None:
    p = inspect(report)
    ledger = p.section_text("ledger")
    assert ledger.startswith(
        "Claims ledger Bottom line. Of 5 claims, 4 could be tested with microbiome data in this run: "
        "1 supported, 1 not supported (equivalence shown), 1 contradicted and 1 inconclusive. 1 is not "
        "testable with microbiome data at all."
    ), ledger[:300]
    # the legend comes right after the counts, before the first ledger table
    i_legend = report.index('<dl class="legend"')
    assert report.index('<p class="chips">') < i_legend < report.index('<table class="ledger')


def test_data_unavailable_is_counted_apart(
    figure_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data_unavailable is a word of the rubric; the report takes its label from LABELS."""
    from gutskin.stats import verdict as rubric

    monkeypatch.setitem(rubric.LABELS, "data_unavailable", "Data unavailable")
    claims = make_claims()
    claims[3]["verdict"] = "data_unavailable"
    claims[3]["reason"] = "no configured dataset could be fetched (offline, no mirror)"
    html = render(figure_root, claims=claims)
    ledger = inspect(html).section_text("ledger")
    assert "Of 5 claims, 3 could be tested" in ledger
    assert (
        "1 could not be tested because no configured dataset with the needed fields was available"
        in ledger
    )
    assert "∅ 1 data unavailable" in ledger and "? 1 inconclusive" in ledger
    group = html[html.index('<details class="group" id="ledger-unavailable">') :]
    assert '<a href="#C26">C26</a>' in group[: group.index("</details>")]
    tested = html[html.index('<table class="ledger tested">') :]
    assert "#C26" not in tested[: tested.index("</table>")]


def test_untestable_claims_and_claim_sections_are_collapsed(report: str) -> None:
    assert '<details class="group" id="ledger-untested">' in report
    assert re.search(r'<details class="claim[^"]*" id="C8">', report)
    assert not re.search(r"<details[^>]*\bopen\b", report)  # the default view is collapsed
    assert report.count('<p class="back"><a href="#ledger">') >= 5  # every claim leads back


def test_sample_rows_are_collapsed(figure_root: Path) -> None:
    claims = make_claims()
    claims[0]["sample_flow"] = [{"step": "fecal samples", "n": 1569}]
    html = render(figure_root, claims=claims)
    flow = html.index('<table class="flow">')
    assert html.rfind('<details class="sub">', 0, flow) > html.rfind("</details>", 0, flow)
    data = html.index('<th scope="col">sample_id</th>')
    assert html.rfind('<details class="sub">', 0, data) > html.rfind("</details>", 0, data)


def test_why_is_one_line_in_the_ledger(figure_root: Path) -> None:
    claims = make_claims()
    long = "data insufficient: [Errno -2] Name or service not known for https://x.org/a " * 6
    claims[3]["reason"] = long
    html = render(figure_root, claims=claims)
    row = next(r for r in inspect(html).rows if r["cells"] and r["cells"][0].strip() == "C26")
    why = " ".join(row["cells"][5].split())
    assert len(why) <= 90 and why.endswith("…"), why
    assert long.split(":")[0].capitalize() in inspect(html).section_text(
        "claims"
    )  # full text in section


def test_no_power_sentence_when_calibration_has_power(figure_root: Path) -> None:
    """C9-style contradiction: no analytic power, but the calibration simulated one for the same design."""
    claims = make_claims()
    claims[1]["power"] = None
    cal = copy.deepcopy(CALIBRATION)
    cal["tests"][1]["planted"] = [{"effect": "r = 0.1", "power": 0.645, "power_ci": [0.6, 0.69]}]
    html = render(figure_root, claims=claims, calibration=cal)
    c9 = html[html.index('id="C9"') : html.index('id="C4"')]
    text = " ".join(re.sub("<[^>]+>", "", c9).split())
    assert "No power calculation is available" not in text
    assert (
        "Power from the calibration (simulated data with the design of this analysis, see Calibration): r = 0.1: 0.645."
        in text
    )


def test_power_printed_is_the_simulated_one_and_says_so(figure_root: Path) -> None:
    """Issue 11 item 8: where the calibration simulated the claim's power, the report prints that one
    (with its Monte-Carlo CI) and names the analytic value beside it; "analytic" only where no simulation
    exists. The fields are the ledger's (``power``, ``power_source``, ``power_analytic``)."""
    import html as html_lib

    claims = make_claims()
    claims[0].update(
        power=0.62,
        power_analytic=0.854,
        power_source=(
            "simulated: the claim's own analysis and verdict on 200 simulated cohorts with a true "
            "effect at the SESOI; 95% CI 0.55–0.69"
        ),
    )
    claims[1].update(power=0.97, power_source="analytic")
    html = render(figure_root, claims=claims)

    def text_of(a: str, b: str) -> str:
        part = html[html.index(a) : html.index(b)]
        return " ".join(html_lib.unescape(re.sub("<[^>]+>", "", part)).split())

    c8 = text_of('id="C8"', 'id="C9"')
    assert (
        "would detect it at α = 0.05 with probability 0.620 (simulated: the claim's own analysis and "
        "verdict on 200 simulated cohorts with a true effect at the SESOI; 95% CI 0.55–0.69; the "
        "analytic formula gives 0.854)."
    ) in c8
    c9 = text_of('id="C9"', 'id="C4"')
    assert "with probability 0.970 (analytic; this analysis was not simulated)." in c9


def test_no_effect_warning_only_for_non_significant_results(figure_root: Path) -> None:
    claims = make_claims()
    claims[3].update(power=0.5, p_value=0.001, p_adjusted=0.01)  # C26: supported, underpowered
    html = render(figure_root, claims=claims)
    c26 = html[html.index('id="C26"') : html.index('id="C33"')]
    assert "That is below the 0.8 target." in c26
    assert "cannot be read as" not in c26
    c8 = html[html.index('id="C8"') : html.index('id="C9"')]
    assert "so a non-significant result here cannot be read as “no effect”" in c8


def test_datasets_used_by_claims_come_first_and_files_once(figure_root: Path) -> None:
    datasets = make_datasets()
    datasets = {"unused_ds": {"title": "Nobody uses me", "files": {}}, **datasets}
    fetches = make_fetches()
    fetches["unused_ds"] = {"available": True, "files": {}}
    # one .rda holding two roles
    shared = {"url": "https://example.org/hmp/all.rda", "sha256": "f" * 64}
    datasets["hmp_v35"]["files"] = {"table": dict(shared), "samples": dict(shared)}
    html = render(figure_root, datasets=datasets, fetches=fetches)
    order = re.findall(r'<details class="dataset" id="data-([^"]+)"', html)
    assert order.index("unused_ds") > order.index("agp_2014")
    assert order.index("unused_ds") > order.index("hmp_v35")
    hmp = html[html.index('id="data-hmp_v35"') :]
    hmp = hmp[: hmp.index("</details>")]
    assert hmp.count("https://example.org/hmp/all.rda</a>") == 1
    assert "<td>table, samples</td>" in hmp


def test_figures_enlarge_on_click_and_data_files_are_links(figure_root: Path) -> None:
    (figure_root / "C8" / "shannon.data.tsv").write_text("group\tshannon\nnone\t3.1\n")
    html = build_report(
        ReportInputs(
            claims=make_claims(),
            datasets=make_datasets(),
            imports=make_imports(),
            fetches=make_fetches(),
            diversity=make_diversity(),
            config=make_config(),
            provenance=make_provenance(),
            figure_root=figure_root,
            report_dir=figure_root,
        )
    )
    m = re.search(
        r'<figure id="([^"]+)">\s*<div class="figbox"><a class="zoom" href="#([^"]+)"', html
    )
    assert m and m.group(1) == m.group(
        2
    )  # the link targets its own figure (CSS :target enlarges it)
    assert '<a href="C8/shannon.data.tsv"><code>C8/shannon.data.tsv</code></a>' in html
