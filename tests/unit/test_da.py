"""Differential abundance (gutskin.stats.da) and the C10 runner (gutskin.claims.differential).

Expected numbers are written out by hand below (BH q-values, log-ratios, taxon sums) or are the planted truth
of small synthetic tables built here (known fold changes, or none).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutskin.claims.bundle import DatasetBundle
from gutskin.claims.differential import run as run_differential
from gutskin.errors import ConfigError
from gutskin.io.table import FeatureTable, write_biom
from gutskin.stats import da
from gutskin.stats._util import StatsInputError

GG = "k__Bacteria;p__Firmicutes;c__Clostridia;o__Clostridiales"


# ------------------------------------------------------------------------------------------------
# synthetic tables
# ------------------------------------------------------------------------------------------------
def synthetic_counts(
    n_case: int, n_ref: int, n_taxa: int, planted: dict[int, float], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Logistic-normal multinomial counts; taxon j is multiplied by exp(planted[j]) in cases.

    Depths vary from 5,000 to 15,000 reads (the methods must not need rarefying). Up and down effects are
    balanced in the tests, so the geometric-mean reference of the CLR does not move.
    """
    rng = np.random.default_rng(seed)
    n = n_case + n_ref
    case = np.r_[np.ones(n_case), np.zeros(n_ref)]
    base = rng.normal(math.log(1 / n_taxa), 1.0, n_taxa)
    logs = base[None, :] + rng.normal(0, 0.5, (n, n_taxa))
    for j, lfc in planted.items():
        logs[:, j] += case * lfc
    p = np.exp(logs)
    p /= p.sum(axis=1, keepdims=True)
    depth = rng.integers(5000, 15001, n)
    counts = np.vstack([rng.multinomial(d, row) for d, row in zip(depth, p, strict=True)])
    ids = [f"s{i:03d}" for i in range(n)]
    frame = pd.DataFrame(counts, index=ids, columns=[f"t{j:02d}" for j in range(n_taxa)])
    meta = pd.DataFrame({"case": case, "age": rng.normal(40, 10, n)}, index=ids)
    return frame.astype(float), meta


def both_methods(counts: pd.DataFrame, meta: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    anc = da.ancombc_test(counts, meta, "case + age", "case")
    dm = da.dirmult_test(counts, meta["case"] > 0.5, draws=64, seed=seed)
    table = pd.concat([anc.add_prefix("ancombc_"), dm.add_prefix("dirmult_")], axis=1)
    return da.call_taxa(table.reset_index(), alpha=0.05)


# ------------------------------------------------------------------------------------------------
# BH and the consensus rule
# ------------------------------------------------------------------------------------------------
def _table(**cols: list[float]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "ancombc_lfc": [1.0] * n,
        "ancombc_p": [0.5] * n,
        "dirmult_lfc": [1.0] * n,
        "dirmult_p": [0.5] * n,
        "dirmult_ci_low": [0.1] * n,
        "dirmult_ci_high": [2.0] * n,
    }
    base.update(cols)
    return pd.DataFrame(base)


def test_bh_q_values_match_a_hand_computation() -> None:
    # p = 0.01, 0.04, 0.03, 0.20 (m = 4). Sorted: 0.01, 0.03, 0.04, 0.20 with m·p/rank =
    # 0.04, 0.06, 0.05333…, 0.20; step-up minima from the largest: 0.20, 0.05333, 0.05333, 0.04.
    # Back in the input order: 0.04, 0.05333, 0.05333, 0.20.
    t = _table(ancombc_p=[0.01, 0.04, 0.03, 0.20], dirmult_p=[0.20, 0.03, 0.04, 0.01])
    out = da.call_taxa(t)
    assert out["ancombc_q"].tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert out["dirmult_q"].tolist() == pytest.approx([0.20, 0.16 / 3, 0.16 / 3, 0.04])
    # only the first is below 0.05 for ANCOM-BC, only the last for the Dirichlet-multinomial test
    assert out["ancombc_signif"].tolist() == [True, False, False, False]
    assert out["dirmult_signif"].tolist() == [False, False, False, True]


def test_bh_leaves_missing_p_values_out_of_the_family() -> None:
    # A NaN p (a taxon a method could not test) does not count: m = 2 for [0.02, NaN, 0.04]:
    # q = 0.04, NaN, 0.04 (0.02·2/1 = 0.04; 0.04·2/2 = 0.04).
    t = _table(ancombc_p=[0.02, float("nan"), 0.04])
    q = da.call_taxa(t)["ancombc_q"].tolist()
    assert q[0] == pytest.approx(0.04) and q[2] == pytest.approx(0.04)
    assert math.isnan(q[1])


def test_consensus_needs_both_methods_the_same_sign_and_every_pseudocount() -> None:
    tiny = 1e-8
    t = _table(
        # A: both significant, up -> higher. B: methods disagree in sign. C: ANCOM-BC significant at the
        # main pseudocount only. D: Dirichlet-multinomial CI crosses 0. E: both significant, down -> lower.
        # F: ANCOM-BC significant at both pseudocounts but the sign flips.
        ancombc_lfc=[2.0, -2.0, 2.0, 2.0, -2.0, 2.0],
        ancombc_p=[tiny, tiny, tiny, tiny, tiny, tiny],
        ancombc_p_pc1=[tiny, tiny, 0.9, tiny, tiny, tiny],
        ancombc_lfc_pc1=[1.9, -1.9, 0.1, 1.9, -1.9, -0.5],
        dirmult_lfc=[1.5, 1.5, 1.5, 1.5, -1.5, 1.5],
        dirmult_p=[tiny] * 6,
        dirmult_ci_low=[0.5, 0.5, 0.5, -0.2, -2.5, 0.5],
        dirmult_ci_high=[2.5, 2.5, 2.5, 3.0, -0.5, 2.5],
    )
    out = da.call_taxa(t)
    assert out["consensus"].tolist() == ["higher", "", "", "", "lower", ""]
    assert out["ancombc_robust"].tolist() == [True, True, False, True, True, False]
    assert out["ancombc_signif"].tolist() == [True, True, False, True, True, False]
    assert out["dirmult_signif"].tolist() == [True, True, True, False, True, True]


def test_call_taxa_rejects_missing_columns() -> None:
    with pytest.raises(StatsInputError, match="missing"):
        da.call_taxa(pd.DataFrame({"ancombc_p": [0.1]}))


# ------------------------------------------------------------------------------------------------
# the two methods on planted and null tables
# ------------------------------------------------------------------------------------------------
def test_planted_taxa_are_recovered_with_the_right_sign() -> None:
    # 40 taxa; t00–t02 up 2 (×7.4) and t03–t05 down 2 in 60 cases vs 60 controls.
    planted = {0: 2.0, 1: 2.0, 2: 2.0, 3: -2.0, 4: -2.0, 5: -2.0}
    counts, meta = synthetic_counts(60, 60, 40, planted, seed=11)
    out = both_methods(counts, meta).set_index("taxon")
    for j, lfc in planted.items():
        row = out.loc[f"t{j:02d}"]
        assert row["consensus"] == ("higher" if lfc > 0 else "lower"), row
        # both log fold changes are on the natural-log scale and near the truth
        assert row["ancombc_ci_low"] < lfc < row["ancombc_ci_high"]
        assert row["dirmult_ci_low"] < lfc < row["dirmult_ci_high"]
    nulls = out.drop(index=[f"t{j:02d}" for j in planted])
    assert (nulls["consensus"] != "").sum() <= 1


def test_a_null_table_gives_few_calls() -> None:
    counts, meta = synthetic_counts(40, 80, 40, {}, seed=12)
    out = both_methods(counts, meta)
    assert (out["consensus"] != "").sum() <= 1
    assert out["ancombc_signif"].sum() <= 2
    assert out["dirmult_signif"].sum() <= 2


def test_dirmult_log_fold_change_is_converted_to_natural_log() -> None:
    # scikit-bio reports log2; one taxon up by ln-fold 2 must come back near 2, not 2/ln 2 = 2.885
    counts, meta = synthetic_counts(80, 80, 20, {0: 2.0, 1: -2.0}, seed=13)
    dm = da.dirmult_test(counts, meta["case"] > 0.5, draws=64, seed=3)
    assert dm.loc["t00", "lfc"] == pytest.approx(2.0, abs=0.3)
    assert dm.loc["t01", "lfc"] == pytest.approx(-2.0, abs=0.3)


def test_ancombc_needs_positive_pseudocounts_for_version_one() -> None:
    counts, meta = synthetic_counts(10, 10, 5, {}, seed=1)
    with pytest.raises(StatsInputError, match="pseudocount"):
        da.ancombc_test(counts, meta, "case", "case", method="ancombc", pseudocounts=[0, 1])
    with pytest.raises(StatsInputError, match="term 'sick'"):
        da.ancombc_test(counts, meta, "case", "sick", pseudocounts=[0])


def test_prevalence_filter_keeps_taxa_present_in_enough_samples() -> None:
    counts = pd.DataFrame({"a": [1, 0, 0, 0], "b": [1, 1, 0, 0], "c": [3, 3, 3, 3]}, dtype=float)
    # prevalences 0.25, 0.5, 1.0
    assert da.prevalence_filter(counts, 0.5).columns.tolist() == ["b", "c"]
    with pytest.raises(StatsInputError, match="only 1 taxa"):
        da.prevalence_filter(counts, 0.75)


# ------------------------------------------------------------------------------------------------
# named taxa and the log-ratio
# ------------------------------------------------------------------------------------------------
def small_table() -> FeatureTable:
    lineages = {
        "f1": f"{GG};f__Ruminococcaceae;g__Faecalibacterium;s__prausnitzii",
        "f2": f"{GG};f__Ruminococcaceae;g__;s__",
        "f3": f"{GG};f__Lachnospiraceae;g__Roseburia;s__",
        "f4": "k__Bacteria;p__Proteobacteria;c__Gammaproteobacteria;o__Enterobacteriales;"
        "f__Enterobacteriaceae;g__Escherichia;s__coli",
    }
    counts = np.array([[10, 5, 3, 0], [0, 7, 1, 4]], dtype=float)
    return FeatureTable(counts, ["a", "b"], list(lineages), taxonomy=pd.Series(lineages))


def test_taxon_counts_sum_features_of_a_named_taxon() -> None:
    specs = da.parse_taxa(
        [
            {"name": "Ruminococcaceae", "rank": "family"},
            {"name": "enterobacteriaceae", "rank": "family"},  # case-insensitive
        ]
    )
    tc = da.taxon_counts(small_table(), specs)
    # Ruminococcaceae = f1 + f2 (its unclassified genus included): 10 + 5 and 0 + 7
    assert tc["Ruminococcaceae (family)"].tolist() == [15, 7]
    assert tc["enterobacteriaceae (family)"].tolist() == [0, 4]


def test_nested_taxa_must_be_made_disjoint() -> None:
    """Issue 11 item 5: a genus listed with its own family counted its reads twice in a log-ratio."""
    from gutskin.taxonomy import OverlappingTaxaError

    nested = [
        {"name": "Faecalibacterium", "rank": "genus"},
        {"name": "Ruminococcaceae", "rank": "family"},
    ]
    with pytest.raises(OverlappingTaxaError) as err:
        da.taxon_counts(small_table(), da.parse_taxa(nested))
    assert (err.value.first, err.value.second) == (
        "Faecalibacterium (genus)",
        "Ruminococcaceae (family)",
    )
    assert "share 1 feature" in str(err.value)
    nested[1]["exclude"] = ["Faecalibacterium"]
    tc = da.taxon_counts(small_table(), da.parse_taxa(nested))
    # the family keeps only f2 (its unclassified genus): each read counted once
    assert tc["Faecalibacterium (genus)"].tolist() == [10, 0]
    assert tc["Ruminococcaceae (family)"].tolist() == [5, 7]
    with pytest.raises(StatsInputError, match="not listed"):
        da.taxon_counts(
            small_table(),
            da.parse_taxa([{"name": "Ruminococcaceae", "rank": "family", "exclude": ["Nope"]}]),
        )


def test_taxon_counts_names_a_taxon_that_matches_nothing() -> None:
    with pytest.raises(StatsInputError, match="Bifidobacterium"):
        da.taxon_counts(small_table(), [da.TaxonSpec("Bifidobacterium", "genus")])


def test_log_ratio_matches_a_hand_computation() -> None:
    counts = pd.DataFrame({"n1": [3.0, 0.0], "n2": [0.0, 9.5], "d": [1.0, 0.0]})
    lr = da.log_ratio(counts, ["n1", "n2"], ["d"], pseudocount=0.5)
    # sample 1: (log 3.5 + log 0.5) / 2 − log 1.5; sample 2: (log 0.5 + log 10) / 2 − log 0.5
    assert lr.iloc[0] == pytest.approx((math.log(3.5) + math.log(0.5)) / 2 - math.log(1.5))
    assert lr.iloc[1] == pytest.approx((math.log(0.5) + math.log(10.0)) / 2 - math.log(0.5))
    with pytest.raises(StatsInputError, match="both"):
        da.log_ratio(counts, ["n1", "d"], ["d"])


def test_parse_taxa_names_the_bad_entry() -> None:
    with pytest.raises(StatsInputError, match="unknown rank"):
        da.parse_taxa([{"name": "X", "rank": "tribe"}])
    with pytest.raises(StatsInputError, match="direction"):
        da.parse_taxa([{"name": "X", "rank": "genus", "direction": "down"}])
    with pytest.raises(StatsInputError, match="twice"):
        da.parse_taxa([{"name": "X", "rank": "genus"}, {"name": "X", "rank": "genus"}])


def test_taxon_labels_name_unclassified_groups() -> None:
    collapsed = da.collapse_to_rank(small_table(), "genus")
    labels = da.taxon_labels(collapsed.taxonomy, "genus")
    assert sorted(labels.tolist()) == [
        "Escherichia",
        "Faecalibacterium",
        "Roseburia",
        "Ruminococcaceae (unclassified genus)",
    ]


# ------------------------------------------------------------------------------------------------
# the runner, end to end on a synthetic dataset
# ------------------------------------------------------------------------------------------------
PRODUCERS = {
    "faec": f"{GG};f__Ruminococcaceae;g__Faecalibacterium;s__",
    "osc": f"{GG};f__Ruminococcaceae;g__Oscillospira;s__",
    "rose": f"{GG};f__Lachnospiraceae;g__Roseburia;s__",
    "blau": f"{GG};f__Lachnospiraceae;g__Blautia;s__",
}
ENTERO = {
    "esch": "k__Bacteria;p__Proteobacteria;c__Gammaproteobacteria;o__Enterobacteriales;"
    "f__Enterobacteriaceae;g__Escherichia;s__",
}
NEUTRAL = {
    f"n{j:02d}": f"k__Bacteria;p__Bacteroidetes;c__Bacteroidia;o__Bacteroidales;f__Fam{j % 4};g__Gen{j};s__"
    for j in range(20)
}

C10 = {
    "id": "C10",
    "datasets": ["syn"],
    "sesoi": {"value": 1.0, "scale": "log_fold_change"},
    "expected_direction": "negative",
    "params": {
        "case": "rosacea",
        "reference": "none",
        "covariates": ["age", "sex"],
        "proxies": [{"exposure": "acne_medication", "case": "yes", "reference": "no"}],
        "null_permutations": 1,
        "dirmult_draws": 32,
        "taxa": [
            {"name": "Faecalibacterium", "rank": "genus", "direction": "lower"},
            {"name": "Roseburia", "rank": "genus", "direction": "lower"},
            {
                "name": "Lachnospiraceae",
                "rank": "family",
                "direction": "lower",
                "exclude": ["Roseburia"],
            },
            {
                "name": "Ruminococcaceae",
                "rank": "family",
                "direction": "lower",
                "exclude": ["Faecalibacterium"],
            },
            {"name": "Enterobacteriaceae", "rank": "family", "direction": "higher"},
        ],
    },
}


def synthetic_bundle(tmp_path: Path, n_case: int, n_ref: int, ratio_lfc: float) -> DatasetBundle:
    """Cases: every producer × e^(ratio_lfc/2), Escherichia × e^(−ratio_lfc/2): the ratio moves by ratio_lfc."""
    rng = np.random.default_rng(5)
    lineages = {**PRODUCERS, **ENTERO, **NEUTRAL}
    fids = list(lineages)
    n = n_case + n_ref
    case = np.r_[np.ones(n_case), np.zeros(n_ref)]
    base = np.array(
        [math.log(0.08)] * len(PRODUCERS)
        + [math.log(0.01)]
        + list(rng.normal(math.log(0.03), 0.8, len(NEUTRAL)))
    )
    logs = base[None, :] + rng.normal(0, 0.7, (n, len(fids)))
    logs[:, : len(PRODUCERS)] += case[:, None] * ratio_lfc / 2
    logs[:, len(PRODUCERS)] -= case * ratio_lfc / 2
    p = np.exp(logs)
    p /= p.sum(axis=1, keepdims=True)
    counts = np.vstack([rng.multinomial(8000, row) for row in p]).astype(float)
    ids = [f"S{i:03d}" for i in range(n)]
    table = FeatureTable(counts, ids, fids, taxonomy=pd.Series(lineages))
    path = tmp_path / "table.biom"
    write_biom(table, path)
    samples = pd.DataFrame(
        {
            "sample_id": ids,
            "subject_id": [f"P{i:03d}" for i in range(n)],
            "dataset": "syn",
            "body_site": "gut",
            "condition": np.where(case == 1, "rosacea", "none"),
            "age": rng.normal(45, 12, n).round(),
            "sex": rng.choice(["female", "male"], n),
            "acne_medication": np.where(rng.random(n) < 0.2, "yes", "no"),
        },
        index=ids,
    )
    bundle = DatasetBundle(
        name="syn",
        available=True,
        reason=None,
        samples=samples,
        alpha=pd.DataFrame(),
        depth=pd.DataFrame(),
        import_info={"values": "counts"},
        table_path=path,
    )
    return bundle


def test_runner_recovers_a_planted_ratio_shift(tmp_path: Path) -> None:
    bundle = synthetic_bundle(tmp_path, 40, 80, ratio_lfc=-2.0)
    res = run_differential(C10, {"syn": bundle}, {"seed": 3, "alpha": 0.05}, tmp_path / "out")
    assert res.data_problem is None
    h = res.headline
    assert res.n_groups == {"rosacea": 40, "none": 80}
    assert h["n"] == 120
    # the true log fold change of the ratio is −2; the estimate is negative, significant, CI covers −2
    assert h["effect_size"] < 0 and h["p_value"] < 0.001
    assert h["ci_low"] < -2.0 < h["ci_high"]
    assert h["effect_size_ci90"][0] > h["ci_low"]
    # sensitivity: Huber, and the log-ratio at each other positive pseudocount of the claim (0.1 and 1;
    # 0 is not a log-ratio's, 0.5 is the headline's); zeros and the pseudocount pull it towards 0, the
    # more the larger the pseudocount
    sens = {o["name"]: o for o in res.sensitivity_analyses}
    assert list(sens) == ["Huber robust regression", "pseudocount 0.1", "pseudocount 1"]
    assert sens["pseudocount 0.1"]["kind"] == "model"
    assert (
        sens["pseudocount 0.1"]["estimate"]
        < h["effect_size"]
        < sens["pseudocount 1"]["estimate"]
        < 0
    )
    names = [t["name"] for t in res.tests]
    assert "pre-registered log-ratio, rosacea vs none, pseudocount 0.1 (OLS, HC3)" in names
    assert any("acne_medication yes vs no" in n for n in names)
    share = next(t for t in res.tests if t["name"].startswith("pre-registered taxa whose"))
    # the producers are each 1 ln-unit lower and Escherichia 1 higher: the consensus should find most
    assert share["estimate"] >= 0.6
    assert (tmp_path / "out" / "differential_taxa.tsv").exists()
    assert (tmp_path / "out" / "forest.svg").exists()
    da_table = pd.read_csv(tmp_path / "out" / "differential_taxa.tsv", sep="\t")
    assert set(da_table["rank"]) == {"genus", "family"}
    assert {"ancombc_q", "dirmult_q", "consensus"} <= set(da_table.columns)


def test_runner_rejects_overlapping_taxon_sets(tmp_path: Path) -> None:
    from gutskin.errors import ConfigError

    bundle = synthetic_bundle(tmp_path, 40, 80, ratio_lfc=-2.0)
    taxa = [dict(t) for t in C10["params"]["taxa"]]
    taxa[3].pop("exclude")  # Ruminococcaceae again holds Faecalibacterium's features
    claim = {**C10, "params": {**C10["params"], "taxa": taxa}}
    with pytest.raises(ConfigError) as err:
        run_differential(claim, {"syn": bundle}, {"seed": 3}, tmp_path / "out")
    text = str(err.value)
    assert "claim C10" in text
    assert "Faecalibacterium (genus)" in text and "Ruminococcaceae (family)" in text


def test_runner_reports_too_few_cases_as_a_data_problem(tmp_path: Path) -> None:
    bundle = synthetic_bundle(tmp_path, 5, 60, ratio_lfc=0.0)
    res = run_differential(C10, {"syn": bundle}, {"seed": 3}, tmp_path / "out")
    assert res.data_problem is not None and "too few" in res.data_problem
    assert res.n_groups == {"rosacea": 5, "none": 60}


def test_runner_rejects_unknown_parameters() -> None:
    claim = {**C10, "params": {**C10["params"], "min_prevalance": 0.1}}
    with pytest.raises(ConfigError, match="min_prevalance"):
        run_differential(claim, {}, {"seed": 1}, Path("unused"))


def test_runner_needs_taxa_of_both_directions() -> None:
    params = {
        **C10["params"],
        "taxa": [{"name": "Roseburia", "rank": "genus", "direction": "lower"}],
    }
    with pytest.raises(ConfigError, match="both directions"):
        run_differential({**C10, "params": params}, {}, {"seed": 1}, Path("unused"))


def test_null_check_reports_its_error_rate_with_an_exact_ci() -> None:
    """Issue 11 item 8: the DA null check measures an error rate — the share of label shuffles with any
    consensus call — with its Clopper–Pearson 95 % CI (R: binom.test(1, 40)$conf.int = 0.0006327449,
    0.1315858585; binom.test(0, 40) → 0, 0.0880973029), so the number of shuffles shows."""
    from gutskin.claims.differential import DEFAULTS, _null_check_entry

    e = _null_check_entry([0] * 39 + [2], "genera", "condition", 0.05)
    assert e["role"] == "control" and e["n"] == 40 and "(40 shuffles)" in e["name"]
    assert e["estimate"] == pytest.approx(1 / 40)
    assert [e["ci_low"], e["ci_high"]] == pytest.approx([0.0006327449, 0.1315858585], abs=1e-9)
    assert "1/40" in e["note"] and "0 call(s) in 39, 2 call(s) in 1" in e["note"]
    z = _null_check_entry([0] * 40, "genera", "condition", 0.05)
    assert z["estimate"] == 0 and z["ci_high"] == pytest.approx(0.0880973029, abs=1e-9)
    # the default measures a rate: 40 clean shuffles bound it below 0.10
    assert DEFAULTS["null_permutations"] >= 40


def test_null_check_is_memoised_by_the_data_it_shuffles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the label shuffles (the real run's costliest step) are stored under
    <cache_dir>/da_null/ keyed by the counts, covariates, parameters, seed and code. A rerun on the same
    data reads them (no shuffle is refitted) and gives the same result; other data compute anew; a
    corrupt entry is recomputed, never used."""
    import gutskin.claims.differential as dif

    claim = {**C10, "params": {**C10["params"], "null_permutations": 3}}
    bundle = synthetic_bundle(tmp_path, 40, 80, ratio_lfc=0.0)
    cfg = {"seed": 3, "alpha": 0.05, "cache_dir": str(tmp_path / "cache")}
    first = run_differential(claim, {"syn": bundle}, cfg, tmp_path / "o1").to_dict()
    entries = list((tmp_path / "cache" / "da_null").glob("*.json"))
    assert len(entries) == 1
    null = [t for t in first["tests"] if t["name"].startswith("null check")]
    assert null and null[0]["n"] == 3

    shuffled_fits: list[int] = []
    real_rows = dif._da_rows

    def counting(*args: object, **kw: object) -> pd.DataFrame:
        if len(args) > 5 or "case" in kw:  # only the null check passes shuffled labels
            shuffled_fits.append(1)
        return real_rows(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(dif, "_da_rows", counting)
    again = run_differential(claim, {"syn": bundle}, cfg, tmp_path / "o2").to_dict()
    assert shuffled_fits == []
    assert again["tests"] == first["tests"] and again["notes"] == first["notes"]

    # no cache configured: the same numbers, computed
    plain = run_differential(claim, {"syn": bundle}, {"seed": 3, "alpha": 0.05}, tmp_path / "o3")
    assert len(shuffled_fits) == 3
    assert plain.to_dict()["tests"] == first["tests"]

    # other data (one more case shifted) → another key, computed and stored beside the first
    (tmp_path / "b").mkdir()
    other = synthetic_bundle(tmp_path / "b", 41, 79, ratio_lfc=0.0)
    run_differential(claim, {"syn": other}, cfg, tmp_path / "o4")
    assert len(shuffled_fits) == 6
    assert len(list((tmp_path / "cache" / "da_null").glob("*.json"))) == 2

    # a corrupt entry is removed and recomputed
    entries[0].write_text("{not json", encoding="utf-8")
    fixed = run_differential(claim, {"syn": bundle}, cfg, tmp_path / "o5").to_dict()
    assert len(shuffled_fits) == 9 and fixed["tests"] == first["tests"]
    stored = json.loads(entries[0].read_text(encoding="utf-8"))
    assert len(stored["calls"]) + len(stored["notes"]) == 3
