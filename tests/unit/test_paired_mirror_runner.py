"""The ``paired_mirror`` runner (C9) on hand-built HMP-like bundles: gut and skin communities of the same
subjects either share a subject signature (planted coupling) or are generated independently.

The secondary tests (PROTEST, partial Mantel given batch, within- vs between-subject cross-site distances)
must detect the planted coupling and stay quiet without it; the headline Mantel test must be exactly what
``gutskin.stats.paired.mantel`` gives on the subjects' matrices (the new tests do not touch it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform

from gutskin.claims import RUNNERS
from gutskin.claims.bundle import DatasetBundle
from gutskin.stats import paired
from tests.support.bundles import ready_bundle

CONFIG = {"alpha": 0.05, "seed": 5, "permutations": 999, "bootstrap": 199, "pcoa_dimensions": 10}
SKIN = "retroauricular_crease_left"


def _mirror_bundle(tmp: Path, *, n: int = 40, coupled: bool, seed: int = 3) -> DatasetBundle:
    """``n`` subjects, one stool and one left-crease sample each, at visit 1 or 2, in 2 run centres.

    Log-abundances over 60 taxa: a site profile (stool on taxa 0-39, skin on 20-59, so taxa 20-39 are
    shared) + a subject signature N(0, 1) + noise N(0, 0.5²). Coupled: the skin sample carries the
    subject's own gut signature; uncoupled: an independent one.
    """
    rng = np.random.default_rng(seed)
    taxa = 60
    base_gut = np.r_[np.full(40, 2.0), np.zeros(20)]
    base_skin = base_gut[::-1]
    sig_gut = rng.normal(0, 1, (n, taxa))
    sig_skin = sig_gut if coupled else rng.normal(0, 1, (n, taxa))
    log_gut = base_gut + sig_gut + rng.normal(0, 0.5, (n, taxa))
    log_skin = base_skin + sig_skin + rng.normal(0, 0.5, (n, taxa))
    props = np.exp(np.vstack([log_gut, log_skin]))
    props /= props.sum(axis=1, keepdims=True)
    subjects = [f"S{i:02d}" for i in range(n)]
    ids = [f"g{i:02d}" for i in range(n)] + [f"k{i:02d}" for i in range(n)]
    centre = np.where(np.arange(n) % 2 == 0, "BCM", "WUGSC")
    visit = np.where(np.arange(n) % 3 == 0, 2, 1)
    samples = pd.DataFrame(
        {
            "sample_id": ids,
            "subject_id": subjects * 2,
            "body_site": ["gut"] * n + ["skin"] * n,
            "body_subsite": ["stool"] * n + [SKIN] * n,
            "visit": np.r_[visit, visit],
            "run_center": np.r_[centre, centre],
        }
    )
    samples.index = pd.Index(ids)
    shannon = -(props * np.log(props)).sum(axis=1)
    alpha = pd.DataFrame({"shannon_mean": shannon}, index=pd.Index(ids, name="sample_id"))
    beta = tmp / "beta_braycurtis.npz"
    np.savez(beta, ids=np.array(ids), condensed=pdist(props, "braycurtis"))
    return ready_bundle("hmp_like", samples, alpha, beta_files={"braycurtis": beta})


def _claim(**params: Any) -> dict[str, Any]:
    base = {
        "gut_subsite": "stool",
        "skin_subsites": [SKIN],
        "control_pair": [],
        "metric": "shannon",
        "beta_metric": "braycurtis",
        "strata": "run_center",
        "min_subjects": 10,
        "protest_axes": 5,
        "partial_covariates": ["run_center", "visit"],
    }
    base.update(params)
    return {
        "id": "C9",
        "datasets": ["hmp_like"],
        "params": base,
        "sesoi": {"value": 0.1, "scale": "correlation"},
        "expected_direction": "positive",
        "mirror_claim": True,
    }


def _run(tmp_path: Path, coupled: bool) -> tuple[dict[str, Any], DatasetBundle]:
    bundle = _mirror_bundle(tmp_path, coupled=coupled)
    res = RUNNERS["paired_mirror"](_claim(), {"hmp_like": bundle}, CONFIG, tmp_path / "out")
    out = res.to_dict()
    assert out["data_problem"] is None, out["data_problem"]
    return out, bundle


def _test(out: dict[str, Any], prefix: str) -> dict[str, Any]:
    found = [t for t in out["tests"] if t["name"].startswith(prefix)]
    assert len(found) == 1, [t["name"] for t in out["tests"]]
    return found[0]


NEW = ("PROTEST", "Partial Mantel", "Within- minus between-subject")


def test_planted_coupling_is_detected_by_the_new_secondary_tests(tmp_path: Path) -> None:
    out, bundle = _run(tmp_path, coupled=True)
    assert out["n"] == 40
    for prefix in NEW:
        t = _test(out, prefix)
        assert t["role"] == "secondary"
        assert t["p_value"] < 0.05, t
        assert t["n"] == 40
        if prefix != "PROTEST":  # PROTEST has no CI (see the runner)
            assert t["ci_low"] <= t["estimate"] <= t["ci_high"]
    pr = _test(out, "PROTEST")
    assert pr["ci_low"] is None and pr["ci_high"] is None
    assert pr["estimate"] == pytest.approx(math.sqrt(1 - pr["m2"]))
    assert pr["estimate"] > 0.3
    pm = _test(out, "Partial Mantel")
    assert pm["estimate"] > 0.2
    assert "gut run_center" in pm["note"] and "gut visit" in pm["note"]
    # The skin run centre and visit equal the gut ones here, so they are not counted twice.
    assert "skin run_center" not in pm["note"] and "skin visit" not in pm["note"]
    ws = _test(out, "Within- minus between-subject")
    # Hand computation from the matrix over all samples: d(g_i, k_i) vs d(g_i, k_j), j != i.
    full = squareform(np.load(bundle.beta_files["braycurtis"])["condensed"])
    cross = full[:40, 40:]
    within = np.mean(np.diag(cross))
    between = cross[~np.eye(40, dtype=bool)].mean()
    assert ws["estimate"] == pytest.approx(within - between)
    assert ws["estimate"] < 0 and ws["ci_high"] < 0  # own skin closer to own gut
    closer = int(np.sum(np.diag(cross) < (cross.sum(axis=1) - np.diag(cross)) / 39))
    assert f"{closer} of 40 subjects' own skin is closer" in ws["note"]
    table = pd.read_csv(tmp_path / "out" / "within_between_distances.tsv", sep="\t")
    assert len(table) == 40
    assert table["within_braycurtis"].mean() == pytest.approx(within)
    assert table["mean_between_braycurtis"].mean() == pytest.approx(between)
    for word in ("PROTEST", "partial Mantel", "within- minus between-subject"):
        assert word in out["method"]


def test_uncoupled_sites_are_not_flagged_by_the_new_tests(tmp_path: Path) -> None:
    out, _ = _run(tmp_path, coupled=False)
    for prefix in NEW:
        t = _test(out, prefix)
        assert t["p_value"] > 0.05, t


def _expected_mantel(bundle: Any, alternative: str) -> Any:
    """The runner's headline test computed directly: Spearman Mantel of the 40 gut vs skin Bray–Curtis
    matrices, permuted within sequencing centres, as the claim registers it."""
    gut = [f"g{i:02d}" for i in range(40)]
    skin = [f"k{i:02d}" for i in range(40)]
    return paired.mantel(
        bundle.beta("braycurtis", gut),
        bundle.beta("braycurtis", skin),
        method="spearman",
        permutations=999,
        seed=5,
        strata=np.where(np.arange(40) % 2 == 0, "BCM", "WUGSC"),
        alternative=alternative,
        n_boot=199,
    )


@pytest.mark.parametrize("coupled", [True, False])
def test_headline_is_the_plain_mantel_test(tmp_path: Path, coupled: bool) -> None:
    out, bundle = _run(tmp_path, coupled=coupled)
    # H9a: r > 0, one-sided by the sidedness rule (issue 11 item 7)
    mt = _expected_mantel(bundle, "greater")
    h = out["headline"]
    assert h["estimate"] == mt.r and h["p_value"] == mt.p_value
    assert h["sided"] == "one" and "one-sided (upper tail" in out["method"]
    assert h["effect_size_ci"] == list(mt.ci95 or [])
    primary = [t for t in out["tests"] if t["role"] == "primary"]
    assert len(primary) == 1 and primary[0]["estimate"] == mt.r
    if coupled:
        assert mt.p_value is not None and mt.p_value < 0.05
    else:
        assert mt.p_value is not None and mt.p_value > 0.05


def test_batch_matrix_that_does_not_vary_is_a_note_not_a_problem(tmp_path: Path) -> None:
    bundle = _mirror_bundle(tmp_path, coupled=True)
    claim = _claim(partial_covariates=["no_such_column"])
    out = RUNNERS["paired_mirror"](claim, {"hmp_like": bundle}, CONFIG, tmp_path / "o").to_dict()
    assert out["data_problem"] is None
    assert not [t for t in out["tests"] if t["name"].startswith("Partial Mantel")]
    assert any("partial Mantel not computed" in n for n in out["notes"])
    assert _test(out, "PROTEST")["p_value"] < 0.05


def test_registered_two_sided_mantel_stays_two_sided(tmp_path: Path) -> None:
    bundle = _mirror_bundle(tmp_path, coupled=False)
    claim = {**_claim(), "sided": "two"}
    out = RUNNERS["paired_mirror"](claim, {"hmp_like": bundle}, CONFIG, tmp_path / "o").to_dict()
    two = _expected_mantel(bundle, "two-sided")
    assert out["headline"]["p_value"] == two.p_value and out["headline"]["sided"] == "two"


def test_no_visit_column_pairs_on_subject_alone_and_says_so(tmp_path: Path) -> None:
    bundle = _mirror_bundle(tmp_path, coupled=True)
    bundle.samples = bundle.samples.drop(columns=["visit"])
    claim = _claim(partial_covariates=["run_center"])
    out = RUNNERS["paired_mirror"](claim, {"hmp_like": bundle}, CONFIG, tmp_path / "out").to_dict()
    assert out["data_problem"] is None and out["n"] == 40
    assert "paired on subject alone" in out["sample_flow"][-1]["step"]
    assert "paired on subject alone" in out["method"]
    assert any("no visit column" in n for n in out["notes"])
    assert out["scale"] == "fisher_z" and out["se"] > 0


def test_zero_pairs_names_what_is_missing(tmp_path: Path) -> None:
    bundle = _mirror_bundle(tmp_path, coupled=True)
    claim = _claim(skin_subsites=["palm"])
    out = RUNNERS["paired_mirror"](claim, {"hmp_like": bundle}, CONFIG, tmp_path / "out").to_dict()
    assert out["data_problem"].startswith("too few paired subjects: 0")
    assert "palm" in out["data_problem"]


def test_positive_control_caption_names_the_paired_sites() -> None:
    from gutskin.claims.paired_mirror import pair_words

    assert (
        pair_words("retroauricular_crease_left", "retroauricular_crease_right")
        == "left vs right retroauricular crease"
    )
    assert pair_words("palm_left", "palm_right") == "left vs right palm"
    assert pair_words("volar_forearm", "palm") == "volar forearm vs palm"
