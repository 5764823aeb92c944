"""A cohort added by configuration only joins a claim: k, the pooled estimate, the forest plot and the
texts change, with no code change (issue 10, items 1 and 4).

Two synthetic American-Gut-like cohorts (different seeds and planted effects, so different URLs) and one
claim over "gut Shannon in psoriasis"; first run with one cohort, then the second cohort is added to the
claim's ``datasets`` in claims.yaml and the workflow is run again.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from gutskin.claims import contract
from gutskin.synthetic import Scenario, write_synthetic_mirror

from .workdir import REPO, make_workdir, run_snakemake

pytestmark = pytest.mark.slow


def _claim(datasets: list[str]) -> dict:
    with (REPO / "config" / "claims.yaml").open() as fh:
        c8b = next(c for c in yaml.safe_load(fh)["claims"] if c["id"] == "C8b")
    claim = copy.deepcopy(c8b)
    claim["id"] = "C8c"
    claim["datasets"] = datasets
    claim["params"].pop("per_dataset", None)
    claim["params"]["covariates"] = ["age", "sex", "bmi"]
    return claim


def _ledger(work: Path) -> dict:
    return {c["id"]: c for c in json.loads((work / "results" / "claims.json").read_text())}


def test_a_cohort_added_by_configuration_is_pooled(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    files = write_synthetic_mirror(mirror, Scenario(n_agp_subjects=250, n_hmp_subjects=20))
    second = write_synthetic_mirror(
        mirror, Scenario(seed=77, n_agp_subjects=250, n_hmp_subjects=20, condition_effect_g=-0.2)
    )
    with (REPO / "config" / "datasets.yaml").open() as fh:
        block = copy.deepcopy(yaml.safe_load(fh)["datasets"]["agp_2014"])
    block.pop("samples", None)
    work = make_workdir(
        tmp_path / "work",
        {"agp_like": files["agp_like"]},
        mirrors=[str(mirror)],
        extra_claims=[_claim(["agp_like"])],
        real_claims=False,
        config_overrides={"permutations": 99, "bootstrap": 99},
    )
    cfg = yaml.safe_load((work / "config" / "datasets.yaml").read_text())
    extra = copy.deepcopy(cfg["datasets"]["agp_like"])
    extra["files"] = second["agp_like"]
    extra["title"] = "A second synthetic American-Gut-like cohort"
    cfg["datasets"]["agp_like_b"] = extra
    (work / "config" / "datasets.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))

    proc = run_snakemake(work, "results/claims.json")
    assert proc.returncode == 0, proc.stderr[-6000:]
    one = _ledger(work)["C8c"]
    assert one["k"] == 1 and one["pooling"] is None
    assert one["title"].endswith("pooled over 1 cohort")
    assert not any(f["path"].endswith("pooled/forest.svg") for f in one["figures"])
    contract.validate_ledger(list(_ledger(work).values()))

    # add the cohort in claims.yaml only
    claims = yaml.safe_load((work / "config" / "claims.yaml").read_text())
    claims["claims"][0]["datasets"] = ["agp_like", "agp_like_b"]
    (work / "config" / "claims.yaml").write_text(yaml.safe_dump(claims, sort_keys=False))
    first_cohort = work / "results" / "claims" / "C8c" / "cohorts" / "agp_like.json"
    before = (first_cohort.stat().st_mtime_ns, first_cohort.read_bytes())
    proc = run_snakemake(work, "results/claims.json")  # default rerun triggers, as a user runs it
    assert proc.returncode == 0, proc.stderr[-6000:]
    # only the new cohort's job and the pooling ran: the first cohort's result was not rewritten
    assert (first_cohort.stat().st_mtime_ns, first_cohort.read_bytes()) == before
    assert (work / "results" / "claims" / "C8c" / "cohorts" / "agp_like_b.json").exists()
    two = _ledger(work)["C8c"]
    assert two["k"] == 2 and two["pooling"]["ci_method"] == "hksj"
    assert two["effect_size"] != one["effect_size"]
    assert [c["dataset"] for c in two["cohorts"]] == ["agp_like", "agp_like_b"]
    assert two["title"].endswith("pooled over 2 cohorts")
    assert any("Only 2 cohorts" in c for c in two["caveats"])
    forest = [f for f in two["figures"] if f["path"].endswith("pooled/forest.svg")]
    assert len(forest) == 1 and "2 cohorts" in forest[0]["caption"]
    assert (work / forest[0]["path"]).exists()
    assert "2 cohorts" in two["method"]
    contract.validate_ledger(list(_ledger(work).values()))
