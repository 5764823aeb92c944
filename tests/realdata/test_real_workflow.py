"""The whole workflow on the real public files, served from the mirror (GUTSKIN_MIRROR or ../shared/mirror).

Skipped, with the reason, when the mirror is absent. The configuration is the repository's own
(config/*.yaml) with fewer rarefactions and permutations so the suite stays quick; the data facts asserted
come from DATASETS.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.integration.workdir import REPO, run_snakemake

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    work = tmp_path_factory.mktemp("real_run")
    (work / "config").mkdir()
    shutil.copy(REPO / "config" / "datasets.yaml", work / "config" / "datasets.yaml")
    claims = yaml.safe_load((REPO / "config" / "claims.yaml").read_text())
    for claim in claims["claims"]:
        # C10's DA null check (40 label shuffles, ~14 CPU-s each on this data) is pinned elsewhere
        # (tests/unit/test_da.py); two shuffles keep this run within the suite's time limit
        if "null_permutations" in claim.get("params", {}):
            claim["params"]["null_permutations"] = 2
    (work / "config" / "claims.yaml").write_text(yaml.safe_dump(claims, sort_keys=False))
    with (REPO / "config" / "config.yaml").open() as fh:
        config = yaml.safe_load(fh)
    config.update(
        cache_dir=str(work / "cache"),
        mirrors=[str(mirror_dir)],
        network={"enabled": False},
        rarefaction={"depth": 1000, "iterations": 20, "beta_iterations": 2},
        permutations=999,
        bootstrap=199,
        calibration={
            "alpha_ols": {"replicates": 20},
            "mantel": {"replicates": 10, "permutations": 19},
            "log_ratio": {"replicates": 10},
        },
    )
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(work)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return work


def test_real_agp_facts(real_run: Path) -> None:
    info = json.loads((real_run / "results/import/agp_2014/import.json").read_text())
    assert info["available"] is True
    assert info["n_samples"] == 1962
    import pandas as pd

    samples = pd.read_csv(real_run / "results/import/agp_2014/samples.tsv", sep="\t")
    assert (samples["body_site"] == "gut").sum() == 1569  # DATASETS.md §1: UBERON:feces 1,569


def test_real_hmp_pairs_found(real_run: Path) -> None:
    c9 = {c["id"]: c for c in json.loads((real_run / "results/claims.json").read_text())}["C9"]
    assert c9["n"] is not None and c9["n"] >= 100  # subjects with stool + crease at the same visit


def test_both_claims_get_verdicts(real_run: Path) -> None:
    claims = {c["id"]: c for c in json.loads((real_run / "results/claims.json").read_text())}
    for cid in ("C8", "C9"):
        assert claims[cid]["verdict"] in {
            "supported",
            "not_supported",
            "contradicted",
            "inconclusive",
        }
        assert claims[cid]["reason"]
    html = (real_run / "results/report.html").read_text()
    assert "American Gut" in html and "Human Microbiome Project" in html


def test_all_seven_datasets_in_the_run_and_the_coverage_map(real_run: Path) -> None:
    datasets = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())["datasets"]
    cov = json.loads((real_run / "results/coverage.json").read_text())
    assert set(cov["datasets"]) == set(datasets)
    assert (
        len(datasets) >= 8
    )  # DATASETS.md's seven sources (HITChip counts as three tables) and more
    for name in datasets:
        info = json.loads((real_run / f"results/import/{name}/import.json").read_text())
        assert info["available"] is True, (name, info.get("reason"))
    # the HITChip tables are signal: never rarefied
    for name in ("hitchip_peerj32", "hitchip_dietswap", "hitchip_atlas1006"):
        div = json.loads((real_run / f"results/diversity/{name}/diversity.json").read_text())
        assert div["values"] == "signal" and div["rarefied"] is False


def test_tree_metrics_where_a_tree_exists(real_run: Path) -> None:
    import numpy as np
    import pandas as pd

    gp = json.loads((real_run / "results/diversity/global_patterns/diversity.json").read_text())
    assert gp["phylogeny"]["tree"] is True and gp["phylogeny"]["skipped"] == []
    alpha = pd.read_csv(real_run / "results/diversity/global_patterns/alpha.tsv", sep="\t")
    assert len(alpha) == 26 and (alpha["faith_pd_mean"] > 0).all()
    for metric in ("unweighted_unifrac", "weighted_unifrac"):
        with np.load(real_run / f"results/diversity/global_patterns/beta_{metric}.npz") as npz:
            assert npz["ids"].size == 26
    # a dataset without a tree says so instead of inventing numbers
    agp = json.loads((real_run / "results/diversity/agp_2014/diversity.json").read_text())
    assert agp["phylogeny"]["tree"] is False
    assert set(agp["phylogeny"]["skipped"]) == {
        "faith_pd",
        "unweighted_unifrac",
        "weighted_unifrac",
    }
