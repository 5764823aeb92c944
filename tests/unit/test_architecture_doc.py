"""docs/ARCHITECTURE.md names only paths and modules that exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from gutskin import layout

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
#: Top-level directories and files of the repository a backticked path may start with.
REPO_ROOTS = ("src/", "workflow/", "scripts/", "tests/", "docs/", "config/", "profiles/", "bench/")
REPO_FILES = ("Makefile", "pyproject.toml", "README.md", "environment.yml", "requirements.lock")
SPAN = re.compile(r"`([^`\n]+)`")


def _spans() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # code blocks are pictures
    return SPAN.findall(text)


def _repo_paths() -> list[str]:
    out = []
    for span in _spans():
        if span.startswith(REPO_ROOTS) or span in REPO_FILES:
            if not re.search(r"[{}*<>…\s]", span):  # patterns and placeholders are not paths
                out.append(span)
    return out


def _layout_patterns() -> list[re.Pattern[str]]:
    """Every file `gutskin.layout` knows, as regular expressions over its wildcards."""
    names = [
        layout.import_file(n)
        for n in (layout.TABLE_BIOM, layout.SAMPLES_TSV, layout.IMPORT_JSON, layout.TREE_NWK)
    ]
    names += [
        layout.diversity_file(n)
        for n in (
            layout.ALPHA_TSV,
            layout.DEPTH_TSV,
            layout.DIVERSITY_JSON,
            layout.beta_npz(),
            layout.pcoa_tsv(),
        )
    ]
    names += [
        layout.import_dir() + "/",
        layout.diversity_dir() + "/",
        layout.claim_dir(),
        layout.claim_result(),
    ]
    names += [layout.fetch_manifest(), layout.CLAIMS_JSON, layout.CLAIMS_TSV, layout.COVERAGE_JSON]
    names += [
        layout.COVERAGE_TSV,
        layout.CALIBRATION_JSON,
        layout.REPORT_HTML,
        layout.RESULTS + "/",
        layout.BENCHMARKS + "/",
    ]
    out = []
    for name in names:
        rx = re.escape(name)
        rx = re.sub(r"\\\{[a-z]+\\\}", r"(\\{[a-z]+\\}|[A-Za-z0-9_.-]+)", rx)
        out.append(re.compile(rx + "$"))
    return out


def test_the_doc_names_paths():
    assert len(_repo_paths()) > 20  # the test reads the doc it is meant to read


@pytest.mark.parametrize("path", sorted(set(_repo_paths())))
def test_named_path_exists(path):
    assert (ROOT / path.rstrip("/")).exists(), (
        f"docs/ARCHITECTURE.md names `{path}`, which does not exist"
    )


def test_named_results_files_are_in_the_layout():
    patterns = _layout_patterns()
    named = [s for s in _spans() if s.startswith("results/")]
    assert named
    unknown = [s for s in named if not any(p.match(s) for p in patterns)]
    assert not unknown, (
        f"results files named in docs/ARCHITECTURE.md but unknown to gutskin.layout: {unknown}"
    )


def test_named_modules_exist():
    """Backticked dotted names ``gutskin.x.y`` are modules or attributes of modules."""
    missing = []
    for span in sorted(set(_spans())):
        if not re.fullmatch(r"gutskin(\.[A-Za-z_][A-Za-z0-9_]*)+", span):
            continue
        parts = span.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                missing.append(span)
            break
        else:
            missing.append(span)
    assert not missing, f"docs/ARCHITECTURE.md names {missing}, which gutskin does not have"
