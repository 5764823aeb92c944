"""gutskin.layout is where the results layout is written down; the rules it serves hold no path literals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gutskin import layout

ROOT = Path(__file__).resolve().parents[2]
#: Rule files that take every path from gutskin.layout (claims, calibration and fetch are still literal).
RULES = ("import.smk", "diversity.smk", "coverage.smk", "report.smk")


@pytest.mark.parametrize("name", RULES)
def test_rules_take_their_paths_from_the_layout(name):
    text = (ROOT / "workflow" / "rules" / name).read_text(encoding="utf-8")
    literals = re.findall(r"""["'](?:results|logs)/[^"']*["']""", text)
    assert not literals, f"workflow/rules/{name}: use gutskin.layout instead of {literals}"
    assert "from gutskin.layout import" in text


def test_the_layout_the_docs_describe():
    assert layout.import_file(layout.SAMPLES_TSV, "agp") == "results/import/agp/samples.tsv"
    assert layout.diversity_file(layout.beta_npz("jaccard"), "agp") == (
        "results/diversity/agp/beta_jaccard.npz"
    )
    assert (
        layout.diversity_file(layout.pcoa_tsv()) == "results/diversity/{dataset}/pcoa_{metric}.tsv"
    )
    assert layout.fetch_manifest() == "results/fetch/{dataset}.json"
    assert layout.claim_result("C8") == "results/claims/C8.json"
    assert layout.claim_dir("C8") == "results/claims/C8"
    assert layout.log_file("diversity") == "logs/diversity/{dataset}.log"
    assert layout.log_file("report", None) == "logs/report.log"
    assert layout.import_dir("x", root="/scratch/r") == "/scratch/r/import/x"


def test_diversity_step_writes_the_layout_names(tmp_path):
    import numpy as np
    import scipy.sparse as sp

    from gutskin.diversity import run_diversity
    from gutskin.io.table import FeatureTable

    counts = sp.csr_array(np.array([[5, 3, 2, 0], [1, 4, 4, 1], [2, 2, 3, 3]], dtype=float))
    table = FeatureTable(counts, np.array(["a", "b", "c"]), np.array(["f1", "f2", "f3", "f4"]))
    summary = run_diversity(table, 8, 2, 2, 1, ["shannon"], ["braycurtis"], 2, tmp_path)
    want = [
        layout.DEPTH_TSV,
        layout.ALPHA_TSV,
        layout.beta_npz("braycurtis"),
        layout.pcoa_tsv("braycurtis"),
    ]
    assert summary["files"] == want
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(want)
