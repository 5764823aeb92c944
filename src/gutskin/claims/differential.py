"""Runner ``differential_abundance``: gut taxa that differ between people with and without a skin condition.

Design (CLAIMS.md C10 (a), §3.1–3.2, §3.5):

Samples
    One sample per subject from the chosen body site (gut), in the case group (``case``, e.g. rosacea) or
    the reference group (e.g. ``none``) of ``exposure``, with at least ``min_reads`` reads and complete
    covariates. Counts are **not rarefied** (McMurdie & Holmes 2014).

Headline (the primary test, one number on one scale)
    The article's claim is directional: "beneficial gut bacteria diminish and problematic species
    proliferate". Before looking at the data we name the taxa (CLAIMS.md C10): the short-chain fatty acid
    producers *Faecalibacterium*, *Roseburia*, Lachnospiraceae and Ruminococcaceae (predicted lower) and
    Enterobacteriaceae (predicted higher). The headline is one log-ratio per sample,

    ``R = mean_i log(producer_i + ½) − mean_j log(Enterobacteriaceae_j + ½)``

    (reads of each named taxon summed over its features; natural log), i.e. the log of the ratio of the
    producers' geometric mean to the Enterobacteriaceae. ``R ~ case + covariates`` is fitted by OLS with HC3
    standard errors (:func:`gutskin.stats.regression.ols_hc3`), exactly as the alpha-diversity claims. The
    coefficient of ``case`` is the adjusted **log fold change of that ratio** between cases and reference
    (negative = as the article predicts), with a 95 % CI, TOST against the SESOI (``|LFC| = 1``, an e-fold
    ≈ 2.7× change; CLAIMS.md §3.7) and power at the SESOI (two-sample t approximation with the model's
    residual SD). Why a log-ratio: 16S counts are compositional, so a single taxon's fold change is only
    defined relative to a reference frame, which the DA methods must estimate (ANCOM-BC's bias term, the CLR
    mean of ALDEx2); the ratio of two sets of taxa from the same sample does not depend on the sampling
    fraction at all (Morton et al. 2019, *Nat Commun* 10:2719). One pre-registered test also keeps the claim
    at one p-value in the Holm family of primary tests. Sensitivity: Huber robust regression of the same
    model, and the same model on the log-ratio at each other positive pseudocount of ``pseudocounts`` (zeros
    and the pseudocount pull the log-ratio towards 0, the more the larger the pseudocount: at C10's design a
    true LFC of −1 reads about −0.89 at ½ and −0.98 at 0.1, so an equivalence shown at ½ alone is wrong
    about 13 % of the time at a true SESOI; see docs/PERFORMANCE.md); each is judged at the level of the
    verdict by the ledger.

Per-taxon differential abundance (secondary, exploratory)
    At each rank of ``ranks`` (genus, and family for the pre-registered families), taxa present in at least
    ``min_prevalence`` of the analysed samples are tested by two methods: ANCOM-BC2
    (``skbio.stats.composition.ancombc2``, the covariate formula, repeated at pseudocounts 0, 0.1, 0.5 and 1;
    a taxon counts only if every pseudocount gives the same significant call — the ANCOMBC authors'
    sensitivity analysis; without it ANCOM-BC2 made up to 12 calls per run on permuted AGP labels) and the
    ALDEx2-like Dirichlet-multinomial Welch test (``dirmult_ttest``; no covariates). q-values are
    Benjamini–Hochberg over every per-taxon test of the claim (all ranks and contrasts; one family per
    method). A **consensus** call is significant in both methods with the same sign. The pre-registered
    taxa's consensus directions are summarised as the share matching the prediction. A label-permutation
    check (``null_permutations`` runs with the case labels shuffled; default 40) measures the procedure's
    error rate when there is nothing to find: the share of shuffles with at least one consensus call (BH
    under the complete null controls exactly this family-wise rate at alpha), with its exact
    (Clopper–Pearson) 95 % CI, and the calls per shuffle.

Proxies
    ``proxies`` adds secondary contrasts (e.g. ``acne_medication`` yes vs no as an acne proxy, since acne is
    not a condition level in the 2014 American Gut release): the same log-ratio model and per-taxon tests.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._memo import code_version, content_key, memo
from ..errors import ConfigError
from ..io.table import FeatureTable, read_biom
from ..stats import da, equivalence, power, regression
from ..stats._util import StatsInputError, derive_rng
from ..taxonomy import OverlappingTaxaError
from . import sensitivity
from .bundle import DatasetBundle
from .common import Bundles, Claim, ClaimResult, Config, guarded
from .entries import (
    add_huber_sensitivity,
    add_sensitivity,
    effect_fields,
    estimate_test,
    headline_entry,
)
from .inputs import (
    covariate_term,
    first_dataset,
    first_or_random_per_subject,
    prepare_covariates,
)
from .outputs import add_figure, add_forest, add_table, forest_alt
from .register import power_alternative

ANALYSIS = "differential_abundance"

log = logging.getLogger("gutskin.claims.differential")

#: Parameters and their defaults (claims.yaml ``params``).
DEFAULTS: dict[str, Any] = {
    "body_site": "gut",
    "exposure": "condition",
    "reference": "none",
    "case": None,
    "proxies": [],
    "covariates": [],
    "one_sample_per_subject": "first",
    "min_group_size": 10,
    "min_reads": 1000,
    "ranks": ["genus", "family"],
    "min_prevalence": 0.1,
    "ancombc_method": "ancombc2",
    "pseudocounts": [0, 0.1, 0.5, 1],
    "dirmult_draws": 128,
    "log_ratio_pseudocount": 0.5,
    "taxa": [],
    "null_permutations": 40,
}

_RANK_WORD = {"genus": "genera", "family": "families"}


# ------------------------------------------------------------------------------------------------
# parameters and inputs
# ------------------------------------------------------------------------------------------------
def _params(claim: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    cid = claim["id"]
    src = config.get("claims_file", "config/claims.yaml")
    raw = dict(claim.get("params") or {})
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            src,
            f"unknown parameter(s) {unknown} for analysis {ANALYSIS}",
            where=f"claims/{cid}/params",
            hint=f"known parameters: {', '.join(DEFAULTS)}",
        )
    p = {**DEFAULTS, **raw}
    if not p["case"]:
        raise ConfigError(
            src,
            "the case level of the exposure is not set",
            where=f"claims/{cid}/params/case",
            hint="e.g. case: rosacea",
        )
    try:
        p["taxa"] = da.parse_taxa(p["taxa"], where=f"claims/{cid}/params/taxa")
    except StatsInputError as exc:
        raise ConfigError(src, exc.problem, where=exc.where, hint=exc.hint) from None
    lower = [t for t in p["taxa"] if t.direction == "lower"]
    higher = [t for t in p["taxa"] if t.direction == "higher"]
    if not lower or not higher:
        raise ConfigError(
            src,
            "the headline log-ratio needs pre-registered taxa of both directions (lower and higher)",
            where=f"claims/{cid}/params/taxa",
            hint="give each taxon a direction: lower or higher",
        )
    missing_ranks = sorted({t.rank for t in p["taxa"]} - set(p["ranks"]))
    if missing_ranks:
        raise ConfigError(
            src,
            f"pre-registered taxa are at rank(s) {missing_ranks} that are not in ranks {p['ranks']}",
            where=f"claims/{cid}/params/ranks",
            hint="add the ranks so the taxa are tested one by one",
        )
    for i, prox in enumerate(p["proxies"]):
        if not isinstance(prox, dict) or not {"exposure", "case", "reference"} <= set(prox):
            raise ConfigError(
                src,
                f"proxy contrast {prox!r} needs exposure, case and reference",
                where=f"claims/{cid}/params/proxies[{i}]",
                hint="e.g. {exposure: acne_medication, case: 'yes', reference: 'no', label: acne proxy}",
            )
    return p


def _feature_table(bundle: DatasetBundle) -> tuple[FeatureTable | None, str | None]:
    """The dataset's canonical (unrarefied) table, or the reason it cannot be had."""
    if bundle.table_path is None:
        return None, f"no feature table was given for {bundle.name}"
    path = Path(bundle.table_path)
    if not path.exists():
        return None, f"the feature table of {bundle.name} was not found ({path})"
    table = read_biom(path, values=bundle.import_info.get("values", "counts"))
    if table.values != "counts":
        return None, (
            f"dataset {bundle.name} holds {table.values} values, not read counts; differential "
            "abundance needs counts"
        )
    return table, None


# ------------------------------------------------------------------------------------------------
# one contrast
# ------------------------------------------------------------------------------------------------
class _Contrast:
    """Samples of one two-group comparison with their covariates, counts and log-ratio."""

    def __init__(
        self,
        name: str,
        label: str,
        exposure: str,
        case: str,
        reference: str,
        data: pd.DataFrame,
        covariates: list[str],
    ) -> None:
        self.name = name
        self.label = label
        self.exposure = exposure
        self.case_level = case
        self.reference = reference
        #: index sample_id; columns: exposure, covariates, case, reads, log_depth, log_ratio
        self.data = data
        self.covariates = covariates

    @property
    def n_case(self) -> int:
        return int(self.data["case"].sum())

    @property
    def n_reference(self) -> int:
        return int(len(self.data) - self.data["case"].sum())

    def rhs(self) -> str:
        return _rhs(self.data, self.covariates)


def _rhs(data: pd.DataFrame, covariates: list[str]) -> str:
    """``case`` and the covariate terms (a categorical one with its most frequent level as reference)."""
    return " + ".join(["case", *(covariate_term(c, data, preferred=None) for c in covariates)])


def fit_log_ratio(
    data: pd.DataFrame, covariates: list[str], robust: bool = False
) -> regression.RegressionResult:
    """The headline model: ``log_ratio ~ case + covariates``, OLS with HC3 (or Huber with ``robust``).

    Parameters
    ----------
    data
        One row per sample with ``log_ratio``, ``case`` (0/1) and the covariates; a covariate is
        categorical when it is a known categorical name (``sex``, ``antibiotics`` …) or not numeric, with its
        most frequent level as reference.
    covariates
        Covariate columns.
    robust
        Fit Huber's robust regression instead (the sensitivity analysis).

    Returns
    -------
    RegressionResult
        The ``case`` coefficient: the adjusted log fold change of the ratio (natural log).
    """
    formula = f"log_ratio ~ {_rhs(data, covariates)}"
    fit = regression.rlm_huber if robust else regression.ols_hc3
    return fit(data, formula, "case")


def other_pseudocount_ratios(
    tcounts: pd.DataFrame,
    taxa: list[da.TaxonSpec],
    pseudocounts: list[float],
    headline: float,
) -> dict[float, np.ndarray]:
    """The headline log-ratio of ``tcounts`` (samples × the claim's taxa, :func:`da.taxon_counts`) at each
    positive pseudocount of ``pseudocounts`` other than the ``headline`` one, for the declared
    :data:`~gutskin.claims.sensitivity.OTHER_PSEUDOCOUNT` analysis; empty when it does not apply."""
    if not sensitivity.applies(ANALYSIS, sensitivity.OTHER_PSEUDOCOUNT):
        return {}
    lower = [t.label for t in taxa if t.direction == "lower"]
    higher = [t.label for t in taxa if t.direction == "higher"]
    return {
        pc: da.log_ratio(tcounts, lower, higher, pseudocount=pc).to_numpy()
        for pc in sorted({float(x) for x in pseudocounts if float(x) > 0} - {float(headline)})
    }


def record_log_ratio_headline(
    res: ClaimResult,
    data: pd.DataFrame,
    covariates: list[str],
    label: str,
    sesoi: float,
    alpha: float,
    claim: Claim,
    other_ratios: dict[float, np.ndarray] | None = None,
) -> None:
    """The headline of the primary contrast, recorded in ``res``: the log-ratio model
    (:func:`fit_log_ratio`), its TOST against ±``sesoi`` and its power at the SESOI (sided as the claim
    is tested), the primary test entry and, where declared, the Huber sensitivity analysis and the
    same model on the log-ratio at each other pseudocount (``other_ratios``, from
    :func:`other_pseudocount_ratios`, aligned with the rows of ``data``).

    ``data`` holds one row per sample with ``log_ratio``, ``case`` (0/1) and ``covariates``; ``label``
    names the contrast (e.g. "rosacea vs none"). The verdict calibration calls this on simulated cohorts,
    so the calibrated headline is the analysed one.
    """
    prim = fit_log_ratio(data, covariates)
    n_case = int(data["case"].sum())
    n_ref = len(data) - n_case
    tost = equivalence.tost(prim.estimate, prim.se, prim.df_resid, sesoi, alpha=alpha)
    pw = power.regression_term_power(
        sesoi / prim.resid_sd, n_case, n_ref, alpha=alpha, alternative=power_alternative(claim)
    )
    res.n = prim.n
    res.headline = headline_entry(
        prim, tost_p=tost.p_value, power=pw, n=prim.n, resid_sd=prim.resid_sd
    )
    res.se, res.scale = prim.se, "log_fold_change"  # for pooling over cohorts
    res.tests.append(
        estimate_test(
            f"pre-registered log-ratio, {label} (OLS, HC3)",
            "primary",
            prim,
            effect_fields(prim),
            n=prim.n,
            power=pw,
            note=(
                f"{n_case} cases, {n_ref} reference; residual SD {prim.resid_sd:.3g} (natural log); "
                f"TOST p against ±{sesoi:g}: {tost.p_value:.3g}"
            ),
        )
    )
    if sensitivity.applies(ANALYSIS, sensitivity.HUBER):
        rob = fit_log_ratio(data, covariates, robust=True)
        add_huber_sensitivity(
            res, rob, f"pre-registered log-ratio, {label} (Huber robust regression)"
        )
    for pc, values in (other_ratios or {}).items():
        alt = fit_log_ratio(data.assign(log_ratio=values), covariates)
        add_sensitivity(
            res,
            sensitivity.OTHER_PSEUDOCOUNT,
            alt,
            name=f"pseudocount {pc:g}",
            sensitivity_note=(
                f"log-ratio with pseudocount {pc:g}: {alt.estimate:+.3g} (95% CI {alt.ci95[0]:.3g} to "
                f"{alt.ci95[1]:.3g}), p = {alt.p_value:.3g}"
            ),
            test_name=f"pre-registered log-ratio, {label}, pseudocount {pc:g} (OLS, HC3)",
            effect=effect_fields(alt),
            n=alt.n,
        )


def _select(
    samples: pd.DataFrame,
    exposure: str,
    case: str,
    reference: str,
    covariates: list[str],
    depth: pd.Series,
    p: dict[str, Any],
    seed: int,
    flow: list[dict[str, Any]] | None,
) -> pd.DataFrame:
    def step(text: str, df: pd.DataFrame, **extra: Any) -> None:
        if flow is not None:
            flow.append({"step": text, "n": len(df), **extra})

    if exposure not in samples.columns:
        raise StatsInputError(
            f"column {exposure!r} is not in the canonical sample table",
            where=f"column {exposure!r}",
            hint="map it in config/datasets.yaml or remove the contrast",
        )
    missing_cov = [c for c in covariates if c not in samples.columns]
    if missing_cov:
        raise StatsInputError(
            f"covariate column(s) {missing_cov} are not in the canonical sample table",
            where=f"columns {missing_cov}",
            hint="map them in config/datasets.yaml or drop them from the claim's covariates",
        )
    s = samples[samples["body_site"] == p["body_site"]]
    step(f"body site {p['body_site']}", s)
    s = s[s.index.isin(depth.index)]
    step("in the feature table", s)
    low = depth.reindex(s.index) < p["min_reads"]
    step(
        f"at least {p['min_reads']} reads",
        s[~low],
        dropped_by_group=s.loc[low, exposure].fillna("missing").value_counts().to_dict(),
    )
    s = s[~low]
    s = first_or_random_per_subject(s, p["one_sample_per_subject"], seed)
    step("one sample per subject", s)
    s = s[s[exposure].astype(str).isin([str(case), str(reference)])]
    step(f"{exposure} is {case} or {reference}", s)
    s = s.dropna(subset=covariates)
    step("complete covariates " + (", ".join(covariates) or "(none)"), s)
    out = prepare_covariates(
        s[["sample_id", "subject_id", exposure, *covariates]], covariates, numeric_as_float=False
    )
    out["case"] = (s[exposure].astype(str) == str(case)).astype(float)
    out["reads"] = depth.reindex(s.index).to_numpy(float)
    return out


def _fit_log_ratio(contrast: _Contrast, robust: bool = False) -> regression.RegressionResult:
    return fit_log_ratio(contrast.data, contrast.covariates, robust=robust)


def _da_rows(
    contrast: _Contrast,
    collapsed: FeatureTable,
    rank: str,
    p: dict[str, Any],
    rng: np.random.Generator,
    case: pd.Series | None = None,
) -> pd.DataFrame:
    """Both DA methods on one contrast at one rank (raw p-values; adjust with :func:`da.call_taxa`)."""
    ids = contrast.data.index.to_numpy()
    sub = collapsed.subset_samples(ids)
    counts = da.counts_frame(sub)
    counts = da.prevalence_filter(counts, float(p["min_prevalence"]))
    nonempty = counts.sum(axis=1) > 0
    counts = counts.loc[nonempty]
    meta = contrast.data.loc[counts.index, ["case", *contrast.covariates]].copy()
    if case is not None:
        meta["case"] = case.loc[counts.index].to_numpy(float)
    anc = da.ancombc_test(
        counts,
        meta,
        contrast.rhs(),
        "case",
        method=p["ancombc_method"],
        pseudocounts=p["pseudocounts"],
    )
    dm = da.dirmult_test(
        counts, meta["case"] > 0.5, draws=int(p["dirmult_draws"]), seed=rng, pseudocount=0.5
    )
    # collapse_to_rank always sets a taxonomy; raise what `.reindex` on None would (AttributeError)
    if sub.taxonomy is None:
        raise AttributeError(f"the table collapsed to {rank!r} has no taxonomy")
    labels = da.taxon_labels(sub.taxonomy.reindex(counts.columns), rank)
    props = counts.div(counts.sum(axis=1), axis=0)
    rows = pd.DataFrame(
        {
            "contrast": contrast.name,
            "rank": rank,
            "taxon": counts.columns,
            "label": labels.to_numpy(),
            "n_case": int((meta["case"] > 0.5).sum()),
            "n_reference": int((meta["case"] <= 0.5).sum()),
            "prevalence": (counts > 0).mean(axis=0).to_numpy(),
            "mean_proportion": props.mean(axis=0).to_numpy(),
        }
    )
    for col in anc.columns:
        rows[f"ancombc_{col}"] = anc[col].to_numpy()
    for col in dm.columns:
        rows[f"dirmult_{col}"] = dm[col].to_numpy()
    return rows


def _find_taxon(
    rows: pd.DataFrame, collapsed: FeatureTable, taxon: da.TaxonSpec
) -> pd.Series | None:
    cand = rows[rows["rank"] == taxon.rank]
    if cand.empty:
        return None
    from ..taxonomy import lineage_table

    # collapse_to_rank always sets a taxonomy; raise what `.reindex` on None would (AttributeError)
    if collapsed.taxonomy is None:
        raise AttributeError(f"the table collapsed to {taxon.rank!r} has no taxonomy")
    parsed = lineage_table(collapsed.taxonomy.reindex(cand["taxon"].astype(str)))
    match = [
        not pd.isna(v) and str(v).casefold() == taxon.name.casefold() for v in parsed[taxon.rank]
    ]
    hits = cand[np.asarray(match, dtype=bool)]
    if hits.empty:
        return None
    return hits.sort_values("mean_proportion", ascending=False).iloc[0]


# ------------------------------------------------------------------------------------------------
# the runner
# ------------------------------------------------------------------------------------------------
@guarded("the analysis could not be run")
def run(claim: Claim, bundles: Bundles, config: Config, out_dir: Path) -> ClaimResult:
    """Run the analysis for ``claim``; figures and tables go to ``out_dir``.

    Bad parameters raise :class:`~gutskin.errors.ConfigError`. Data that cannot answer (dataset
    unavailable, too few cases, a model that cannot be fitted) give a result with a ``data_problem``
    instead of failing the workflow.
    """
    return _run(claim, _params(claim, config), bundles, config, out_dir)


def _null_check(
    primary: _Contrast,
    collapsed: FeatureTable,
    rank: str,
    p: dict[str, Any],
    seed: int,
    alpha_level: float,
    config: Config,
) -> dict[str, list[Any]]:
    """Consensus calls per label shuffle (``calls``) and the shuffles that could not be fitted (``notes``).

    The shuffles are the run's costliest step (about 14 CPU-s each on the 2014 American Gut release)
    and a function of the samples' counts and covariates, the parameters, the seed and the code only:
    memoised under ``<cache_dir>/da_null/`` by the hash of exactly those (:mod:`gutskin._memo`), so a
    rerun on the same data reads them. ``cache_dir`` absent from ``config``: no cache.
    """
    k_null = int(p["null_permutations"])
    if k_null <= 0:
        return {"calls": [], "notes": []}

    def shuffles() -> dict[str, list[Any]]:
        calls: list[int] = []
        notes: list[str] = []
        prng = derive_rng(seed, 1)
        for k in range(k_null):
            shuffled = pd.Series(
                prng.permutation(primary.data["case"].to_numpy()), index=primary.data.index
            )
            try:
                rows = _da_rows(primary, collapsed, rank, p, derive_rng(seed, 1000 + k), shuffled)
            except StatsInputError as exc:
                notes.append(f"null check, shuffle {k + 1}: {exc}")
                continue
            calls.append(int((da.call_taxa(rows, alpha=alpha_level)["consensus"] != "").sum()))
        return {"calls": calls, "notes": notes}

    cache_dir = config.get("cache_dir")
    if not cache_dir:
        return shuffles()
    sub = collapsed.subset_samples(primary.data.index.to_numpy())
    data = primary.data[["case", *primary.covariates]]
    digest = hashlib.sha256()
    for part in (
        sub.counts.data,
        sub.counts.indices,
        sub.counts.indptr,
        np.asarray(sub.sample_ids, dtype=str),
        np.asarray(sub.feature_ids, dtype=str),
        pd.util.hash_pandas_object(data, index=True).to_numpy(),
        np.asarray(data.columns, dtype=str),
    ):
        digest.update(np.ascontiguousarray(part).tobytes())
    if sub.taxonomy is not None:
        digest.update(pd.util.hash_pandas_object(sub.taxonomy, index=True).to_numpy().tobytes())
    key = content_key(
        {
            "data": digest.hexdigest(),
            "rank": rank,
            "params": {k: v for k, v in p.items() if k != "taxa"},
            "seed": seed,
            "alpha": alpha_level,
            "code": code_version(),
        }
    )
    return memo(Path(cache_dir) / "da_null" / f"{key}.json", shuffles)


def _null_check_entry(
    calls: list[int], rank_word: str, exposure: str, alpha: float
) -> dict[str, Any]:
    """The label-shuffle null check as a control test: the share of shuffles with any consensus call (the
    family-wise false-call rate, which BH holds at ``alpha`` under the complete null) with its exact
    Clopper–Pearson 95 % CI, so the number of shuffles shows in the width of the interval."""
    n = len(calls)
    hits = sum(1 for c in calls if c > 0)
    ci = stats.binomtest(hits, n).proportion_ci(confidence_level=0.95, method="exact")
    counts = ", ".join(f"{v} call(s) in {calls.count(v)}" for v in sorted(set(calls)))
    return {
        "name": f"null check: consensus {rank_word} with shuffled {exposure} labels ({n} shuffles)",
        "role": "control",
        "estimate": hits / n,
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "n": n,
        "note": (
            f"share of {n} label shuffles with at least one consensus call: {hits}/{n} (95% CI "
            f"{ci.low:.3f}–{ci.high:.3f}; BH keeps it at or below {alpha:g} when nothing differs); "
            f"calls per shuffle: {counts}; mean {float(np.mean(calls)):.2f}"
        ),
    }


def _run(
    claim: Claim, p: dict[str, Any], bundles: Bundles, config: Config, out_dir: Path
) -> ClaimResult:
    t_start = time.perf_counter()
    cid = claim["id"]
    seed = int(config["seed"])
    alpha_level = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    covariates = list(p["covariates"])
    taxa: list[da.TaxonSpec] = p["taxa"]
    lower = [t for t in taxa if t.direction == "lower"]
    higher = [t for t in taxa if t.direction == "higher"]
    res = ClaimResult(id=cid)
    res.covariates = list(covariates)
    ratio_words = (
        f"({' · '.join(t.name for t in lower)})^(1/{len(lower)}) : "
        f"{' · '.join(t.name for t in higher)}"
    )
    res.estimate_label = (
        f"Adjusted log fold change (natural log), {p['case']} vs {p['reference']}, of the ratio of "
        f"predicted-lower to predicted-higher taxa, {ratio_words}"
    )
    res.effect_size_label = "log fold change of the pre-registered taxon ratio (natural log)"

    ds, bundle = first_dataset(res, claim, bundles, not_loaded="unavailable: not configured")
    if bundle is None:
        return res
    table, problem = _feature_table(bundle)
    if problem:
        res.data_problem = problem
        return res
    assert table is not None
    depth = pd.Series(table.depths(), index=table.sample_ids.astype(str))

    # ----- samples of each contrast
    flow: list[dict[str, Any]] = [
        {"step": "samples in table and metadata", "n": len(bundle.samples)}
    ]
    specs = [
        {
            "name": "primary",
            "label": f"{p['case']} vs {p['reference']}",
            "exposure": p["exposure"],
            "case": p["case"],
            "reference": p["reference"],
        }
    ]
    for prox in p["proxies"]:
        specs.append(
            {
                "name": f"{prox['exposure']}={prox['case']}",
                "label": prox.get("label")
                or f"{prox['exposure']} {prox['case']} vs {prox['reference']}",
                "exposure": prox["exposure"],
                "case": prox["case"],
                "reference": prox["reference"],
            }
        )
    contrasts: list[_Contrast] = []
    skipped: list[str] = []
    for i, spec in enumerate(specs):
        try:
            data = _select(
                bundle.samples,
                spec["exposure"],
                spec["case"],
                spec["reference"],
                covariates,
                depth,
                p,
                seed,
                flow if i == 0 else None,
            )
        except StatsInputError as exc:
            if i == 0:
                raise
            skipped.append(f"{spec['label']} left out: {exc}")
            continue
        n_case = int(data["case"].sum())
        n_ref = len(data) - n_case
        if i == 0:
            res.sample_flow = flow
            res.n = len(data)
            res.n_groups = {str(p["case"]): n_case, str(p["reference"]): n_ref}
        if min(n_case, n_ref) < int(p["min_group_size"]):
            msg = (
                f"too few samples for {spec['label']}: {n_case} cases and {n_ref} reference "
                f"(minimum {p['min_group_size']} per group)"
            )
            if i == 0:
                res.data_problem = msg
                return res
            skipped.append(msg)
            continue
        cov = list(covariates)
        if data["reads"].nunique() > 1:
            data["log_depth"] = np.log10(data["reads"])
            cov.append("log_depth")
        contrasts.append(
            _Contrast(
                spec["name"],
                spec["label"],
                spec["exposure"],
                spec["case"],
                spec["reference"],
                data,
                cov,
            )
        )
    res.notes.extend(skipped)
    primary = contrasts[0]

    # ----- headline: pre-registered log-ratio
    all_ids = sorted(set().union(*(c.data.index for c in contrasts)))
    sub = table.subset_samples(all_ids)
    try:
        tcounts = da.taxon_counts(sub, taxa)
    except OverlappingTaxaError as exc:
        raise ConfigError(
            "config/claims.yaml",
            f"claim {cid}: {exc}",
            where=f"claim {cid}, params.taxa",
            hint=f"give the broader of {exc.first} and {exc.second} an 'exclude' list naming the "
            "nested taxon, or drop one of the two, so the log-ratio counts each read once",
        ) from None
    for c in contrasts:
        c.data["log_ratio"] = da.log_ratio(
            tcounts.loc[c.data.index],
            [t.label for t in lower],
            [t.label for t in higher],
            pseudocount=float(p["log_ratio_pseudocount"]),
        ).to_numpy()
    record_log_ratio_headline(
        res,
        primary.data,
        primary.covariates,
        primary.label,
        sesoi,
        alpha_level,
        claim,
        other_pseudocount_ratios(
            tcounts.loc[primary.data.index],
            taxa,
            list(p["pseudocounts"]),
            float(p["log_ratio_pseudocount"]),
        ),
    )
    for c in list(contrasts[1:]):
        try:
            r = _fit_log_ratio(c)
        except StatsInputError as exc:
            res.notes.append(f"{c.label} left out: {exc}")
            contrasts.remove(c)
            continue
        res.tests.append(
            estimate_test(
                f"pre-registered log-ratio, {c.label} (OLS, HC3)",
                "secondary",
                r,
                effect_fields(r),
                n=r.n,
                power=power.regression_term_power(
                    sesoi / r.resid_sd, c.n_case, c.n_reference, alpha=alpha_level
                ),
                note=f"{c.n_case} cases, {c.n_reference} reference",
            )
        )

    # ----- per-taxon DA, both methods, every contrast and rank
    collapsed = {rank: da.collapse_to_rank(sub, rank) for rank in p["ranks"]}
    mname = "ANCOM-BC2" if p["ancombc_method"] == "ancombc2" else "ANCOM-BC"
    parts = []
    for ci, c in enumerate(contrasts):
        # the primary contrast at every rank; proxies at the first (finest) rank only
        for ri, rank in enumerate(p["ranks"] if ci == 0 else p["ranks"][:1]):
            t0 = time.perf_counter()
            try:
                parts.append(
                    _da_rows(c, collapsed[rank], rank, p, derive_rng(seed, 10 + 10 * ci + ri))
                )
            except StatsInputError as exc:
                if ci == 0:
                    raise
                res.notes.append(f"per-taxon tests of {c.label} at {rank} level left out: {exc}")
                continue
            log.info("DA %s at %s: %.1f s", c.label, rank, time.perf_counter() - t0)
    called = da.call_taxa(pd.concat(parts, ignore_index=True), alpha=alpha_level)

    # pre-registered taxa, one by one (primary contrast) and their share matching the prediction
    prim_rows = called[called["contrast"] == primary.name]
    matches = 0
    lines = []
    found: dict[str, pd.Series] = {}
    for taxon in taxa:
        row = _find_taxon(prim_rows, collapsed[taxon.rank], taxon)
        if row is None:
            lines.append(f"{taxon.name}: not tested (below {p['min_prevalence']:.0%} prevalence)")
            continue
        found[taxon.label] = row
        cons = row["consensus"] or "no consensus call"
        ok = bool(row["consensus"]) and row["consensus"] == taxon.direction
        matches += int(ok)
        lines.append(
            f"{taxon.name}: predicted {taxon.direction}, {cons}" + (" (match)" if ok else "")
        )
        res.tests.append(
            {
                "name": f"{taxon.label}, {primary.label}: {mname} log fold change",
                "role": "secondary",
                "estimate": row["ancombc_lfc"],
                "ci_low": row["ancombc_ci_low"],
                "ci_high": row["ancombc_ci_high"],
                "p_value": row["ancombc_p"],
                "p_adjusted": row["ancombc_q"],
                "n": int(row["n_case"] + row["n_reference"]),
                "note": (
                    f"predicted {taxon.direction}; Dirichlet-multinomial LFC {row['dirmult_lfc']:+.2f} "
                    f"(q = {row['dirmult_q']:.3g}); consensus: {cons}; p_adjusted is the BH q within "
                    "the claim"
                ),
            }
        )
    res.tests.append(
        {
            "name": f"pre-registered taxa whose consensus call matches the prediction, {primary.label}",
            "role": "secondary",
            "estimate": matches / len(taxa),
            "n": len(taxa),
            "note": f"{matches} of {len(taxa)}: " + "; ".join(lines),
        }
    )
    for ci, c in enumerate(contrasts):
        for rank in p["ranks"] if ci == 0 else p["ranks"][:1]:
            rows = called[(called["contrast"] == c.name) & (called["rank"] == rank)]
            if rows.empty:
                continue
            cons = rows[rows["consensus"] != ""]
            desc = ", ".join(
                f"{r.label} {'↑' if r.consensus == 'higher' else '↓'}"
                for r in cons.sort_values("ancombc_q").itertuples()
            )
            res.tests.append(
                {
                    "name": f"{_RANK_WORD.get(rank, rank)} called by both methods, {c.label}",
                    "role": "secondary",
                    "estimate": float(len(cons)),
                    "n": len(rows),
                    "note": (
                        f"{len(cons)} of {len(rows)} {_RANK_WORD.get(rank, rank)} tested "
                        f"({mname} alone {int(rows['ancombc_signif'].sum())}, Dirichlet-multinomial "
                        f"alone {int(rows['dirmult_signif'].sum())}); BH q < {alpha_level:g}"
                        + (f": {desc}" if desc else "")
                    ),
                }
            )

    # ----- null check: the same per-taxon procedure on shuffled case labels
    rank = p["ranks"][0]
    null = _null_check(primary, collapsed[rank], rank, p, seed, alpha_level, config)
    res.notes.extend(null["notes"])
    if null["calls"]:
        res.tests.append(
            _null_check_entry(
                null["calls"], _RANK_WORD.get(rank, rank), primary.exposure, alpha_level
            )
        )

    rank_text = " and ".join(p["ranks"])
    res.method = (
        f"One {p['body_site']} sample per subject (dataset {ds}) with ≥ {p['min_reads']} reads, not "
        f"rarefied; {primary.label}. Headline: per-sample log-ratio of the geometric mean of "
        f"{', '.join(t.name for t in lower)} (predicted lower) to {', '.join(t.name for t in higher)} "
        f"(predicted higher), reads + {p['log_ratio_pseudocount']}, natural log; log-ratio ~ case + "
        f"{' + '.join(primary.covariates) or 'no covariates'} by OLS with HC3 standard errors; "
        f"sensitivity: Huber robust regression and the log-ratio at each other positive pseudocount of "
        f"{', '.join(f'{x:g}' for x in p['pseudocounts'])}; equivalence: TOST against ±{sesoi:g}; power: "
        "two-sample t "
        f"approximation at LFC {sesoi:g} with the residual SD. Per taxon at {rank_text} level (prevalence "
        f"≥ {p['min_prevalence']:.0%}): {p['ancombc_method'].upper()} (scikit-bio, same covariates, "
        f"pseudocounts {', '.join(f'{x:g}' for x in p['pseudocounts'])}; a call must hold at every "
        f"pseudocount) and the Dirichlet-multinomial Welch test (ALDEx2-like, {p['dirmult_draws']} draws, "
        f"no covariates); BH q over every per-taxon test of the claim; consensus = significant in both "
        f"with the same sign."
    )
    # Timing goes to the log, not into claims.json: identical inputs must give identical outputs.
    log.info("C10 analysis took %.0f s", time.perf_counter() - t_start)

    # ----- outputs
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_outputs(
        res, cid, primary, contrasts, called, tcounts, taxa, found, mname, sesoi, out_dir
    )
    return res


def _write_outputs(
    res: ClaimResult,
    cid: str,
    primary: _Contrast,
    contrasts: list[_Contrast],
    called: pd.DataFrame,
    tcounts: pd.DataFrame,
    taxa: list[da.TaxonSpec],
    found: dict[str, pd.Series],
    mname: str,
    sesoi: float,
    out_dir: Path,
) -> None:
    from ..plotting import figures

    da_path = out_dir / "differential_taxa.tsv"
    contrast_order = {c.name: i for i, c in enumerate(contrasts)}
    first = [
        "contrast",
        "rank",
        "label",
        "consensus",
        "ancombc_lfc",
        "ancombc_ci_low",
        "ancombc_ci_high",
        "ancombc_q",
        "ancombc_robust",
        "dirmult_lfc",
        "dirmult_ci_low",
        "dirmult_ci_high",
        "dirmult_q",
        "prevalence",
        "mean_proportion",
        "n_case",
        "n_reference",
    ]
    rank_order = {r: i for i, r in enumerate(dict.fromkeys(called["rank"]))}
    table = called.assign(
        _c=called["contrast"].map(contrast_order),
        _r=called["rank"].map(rank_order),
        _called=called["consensus"] == "",
    ).sort_values(["_c", "_r", "_called", "ancombc_p"], kind="stable")
    table = table[first + [c for c in called.columns if c not in first]]
    add_table(
        res,
        table,
        da_path,
        f"Per-taxon differential abundance: {mname} and Dirichlet-multinomial log fold changes "
        "(natural log) with 95% CIs, raw p and BH q within the claim, and the consensus call.",
        atomic=True,
    )
    frames = []
    for c in contrasts:
        d = c.data.drop(columns=["case"]).copy()
        d.insert(0, "contrast", c.name)
        d["group"] = np.where(c.data["case"] > 0.5, str(c.case_level), str(c.reference))
        frames.append(d.join(tcounts, how="left"))
    add_table(
        res,
        pd.concat(frames, ignore_index=True),
        out_dir / "analysis_data.tsv",
        "Samples, covariates, reads of the pre-registered taxa and the log-ratio.",
        atomic=True,
    )

    plot = primary.data.assign(
        group=np.where(primary.data["case"] > 0.5, str(primary.case_level), str(primary.reference))
    )
    order = [str(primary.reference), str(primary.case_level)]
    fig = figures.alpha_by_group(
        plot,
        value="log_ratio",
        group="group",
        order=order,
        ylabel="log(predicted-lower : predicted-higher taxa)",
        title=f"{cid}: pre-registered log-ratio by group",
    )
    add_figure(
        res,
        fig,
        out_dir / "log_ratio_by_group.svg",
        "Per-sample log-ratio (natural log), unadjusted; boxes show quartiles.",
        f"Box and point plot of the per-sample log-ratio of predicted-lower to predicted-higher taxa for "
        f"{order[0]} (n = {primary.n_reference}) and {order[1]} (n = {primary.n_case})",
    )

    rows = [
        {
            "label": "log-ratio (headline)",
            "estimate": res.headline["estimate"],
            "ci_low": res.headline["ci_low"],
            "ci_high": res.headline["ci_high"],
        }
    ]
    for taxon in taxa:
        r = found.get(taxon.label)
        if r is None:
            rows.append({"label": f"{taxon.name} (not tested)", "estimate": None})
            continue
        rows.append(
            {
                "label": f"{taxon.name}, {mname}",
                "estimate": r["ancombc_lfc"],
                "ci_low": r["ancombc_ci_low"],
                "ci_high": r["ancombc_ci_high"],
            }
        )
        rows.append(
            {
                "label": f"{taxon.name}, Dirichlet-mult.",
                "estimate": r["dirmult_lfc"],
                "ci_low": r["dirmult_ci_low"],
                "ci_high": r["dirmult_ci_high"],
            }
        )
    add_forest(
        res,
        rows,
        out_dir / "forest.svg",
        xlabel=f"log fold change, {primary.label} (natural log; 95% CI)",
        sesoi=sesoi,
        title=f"{cid}: pre-registered taxa",
        caption=f"Headline log-ratio and each pre-registered taxon by both methods; the shaded band "
        f"is ±SESOI ({sesoi:g}).",
        alt=forest_alt("Forest plot of log fold changes with 95% confidence intervals: ", rows),
    )
