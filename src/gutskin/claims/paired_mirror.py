"""Runner ``paired_mirror``: do gut and skin communities of the same people mirror each other?

Design (CLAIMS.md C9, H9a and H9c): subjects with a stool sample and a skin sample (first available of the
configured subsites) at the same visit, both retained at the rarefaction depth. The headline test is a Mantel
test (Spearman) between the subjects' gut and skin Bray–Curtis matrices, with permutations restricted within a
stratum (run centre) and a subject-bootstrap confidence interval.

Secondary tests (none enters the verdict or the Holm family; all permutations within the same strata, seeded
from the configuration):

* Spearman correlation of gut and skin alpha diversity (permutation p);
* PROTEST (symmetric Procrustes with a permutation test) between the subjects' gut and skin PCoA
  ordinations (first ``protest_axes`` axes) of the headline metric: m², r = sqrt(1 − m²), one-sided p;
* partial Mantel of gut vs skin distances given a processing-batch matrix: for two subjects, the number
  of ``partial_covariates`` (default run centre and visit) in which their gut samples, or their skin
  samples, differ; shared batches are the obvious source of spurious concordance;
* within- vs between-subject cross-site distances from the dataset's matrix over all samples: the mean of
  d(gut_i, skin_i) minus the mean of d(gut_i, skin_j), j ≠ i (negative: own skin closer to own gut);
  p by permuting the skin samples' subject labels, CI from subject bootstraps; per-subject distances are
  written to ``within_between_distances.tsv``.

Positive control: the ``control_pair`` subsites (left vs right retroauricular crease in HMP), which should be concordant if the method can detect
concordance at all. Ordering check (CLAIMS.md R15): stool is more diverse than skin within subjects (paired
Wilcoxon). Sensitivity: the Mantel test with the other beta metrics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.spatial.distance import squareform

from ..diversity.ordination import pcoa
from ..stats import paired, power
from ..stats._util import StatsInputError
from . import sensitivity
from .bundle import DatasetBundle
from .common import Bundles, Claim, ClaimResult, Config, guarded
from .entries import record_sensitivity
from .inputs import first_dataset
from .outputs import add_figure, add_table
from .register import SIDED_RULE, claim_sided

ANALYSIS = "paired_mirror"


def has_visits(samples: pd.DataFrame) -> bool:
    """Whether the sample table has a ``visit`` column with at least one value."""
    return "visit" in samples.columns and bool(samples["visit"].notna().any())


def _split_shared(a: str, b: str) -> tuple[list[str], list[str], int]:
    """The words of two subsite names and how many leading words they share (each keeps at least one)."""
    ta, tb = a.split("_"), b.split("_")
    n = 0
    while n < min(len(ta), len(tb)) - 1 and ta[n] == tb[n]:
        n += 1
    return ta, tb, n


def pair_words(a: str, b: str) -> str:
    """Two subsites in words, their shared leading words said once at the end:
    ``retroauricular_crease_left``, ``retroauricular_crease_right`` -> ``left vs right retroauricular crease``;
    ``palm``, ``stool`` -> ``palm vs stool``."""
    ta, tb, n = _split_shared(a, b)
    if n:
        return f"{' '.join(ta[n:])} vs {' '.join(tb[n:])} {' '.join(ta[:n])}"
    return f"{a.replace('_', ' ')} vs {b.replace('_', ' ')}"


def _site_alt(a: str, b: str) -> str:
    """``at the left crease versus the right crease`` (shared words: the last one names the site)."""
    ta, tb, n = _split_shared(a, b)
    if n:
        return f"at the {' '.join(ta[n:])} {ta[n - 1]} versus the {' '.join(tb[n:])} {ta[n - 1]}"
    return f"at the {a.replace('_', ' ')} versus the {b.replace('_', ' ')}"


def _no_pairs_reason(samples: pd.DataFrame, gut: str, skin: list[str]) -> str:
    """Why no subject could be paired, naming the missing column or subsite."""
    for col in ("subject_id", "body_subsite"):
        if col not in samples.columns or not samples[col].notna().any():
            return f"the sample table has no {col} column with values"
    sites = set(samples["body_subsite"].dropna().astype(str))
    if gut not in sites:
        return f"no {gut} samples (body_subsite) after filtering"
    if not sites.intersection(skin):
        return f"no samples of {' or '.join(skin)} (body_subsite) after filtering"
    return "no subject has both a gut and a skin sample" + (
        " at the same visit" if has_visits(samples) else ""
    )


def requires(claim: dict[str, Any]) -> Any:
    """Whether a dataset (an entry of :func:`gutskin.claims.selection.declared_entry`) can serve the
    claim: subjects and the claim's gut and skin subsites declared."""
    p = claim.get("params") or {}
    gut = p.get("gut_subsite", "stool")
    skin = list(p.get("skin_subsites", []))

    def ok(entry: dict[str, Any]) -> str | None:
        variables = entry.get("variables") or {}
        if "subject_id" not in variables:
            return "no subject_id column: gut and skin samples cannot be paired"
        subs = entry.get("body_subsites")
        if "body_subsite" not in variables:
            return "no body_subsite column"
        if subs is not None and gut not in subs:
            return f"no {gut} subsite declared"
        if subs is not None and not set(skin).intersection(subs):
            return f"none of the skin subsites {skin} declared"
        return None

    return ok


def _pairs(samples: pd.DataFrame, first: list[str], second: list[str]) -> pd.DataFrame:
    """One row per subject: the first visit with a sample in ``first`` and one in ``second`` subsites.

    Within a visit, the earliest-listed subsite wins (then the smallest sample id), so the choice is
    deterministic.
    """
    s = samples.copy()
    # A dataset without visits pairs on subject alone (one visit per subject); ``pairing_note`` says so.
    s["visit"] = s["visit"].astype(str) if has_visits(s) else ""
    rows = []
    for (subj, visit), grp in s.sort_values(["subject_id", "visit", "sample_id"]).groupby(
        ["subject_id", "visit"], sort=True
    ):
        a = next((grp[grp.body_subsite == x] for x in first if (grp.body_subsite == x).any()), None)
        b = next(
            (grp[grp.body_subsite == x] for x in second if (grp.body_subsite == x).any()), None
        )
        if a is None or b is None:
            continue
        sa = a.iloc[0]
        sb = b.iloc[0]
        if sa.sample_id == sb.sample_id:
            continue
        rows.append(
            {
                "subject_id": subj,
                "visit": visit,
                "x_sample": sa.sample_id,
                "y_sample": sb.sample_id,
                "x_subsite": sa.body_subsite,
                "y_subsite": sb.body_subsite,
                "stratum": sa.get("run_center", None),
            }
        )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.drop_duplicates("subject_id", keep="first").reset_index(drop=True)


def mantel_alternative(claim: Claim) -> str:
    """The headline Mantel test's alternative by the one sidedness rule (:mod:`gutskin.claims.register`):
    ``"greater"`` for a one-sided claim of positive concordance (H9a's r > 0), else ``"two-sided"``."""
    one_sided = claim_sided(claim) == "one" and claim.get("expected_direction") == "positive"
    return "greater" if one_sided else "two-sided"


def mantel_test(
    dx: np.ndarray,
    dy: np.ndarray,
    config: Config,
    strata: np.ndarray | None,
    alternative: str = "two-sided",
) -> paired.MantelResult:
    """The claim's Mantel test of two subject-matched distance matrices: Spearman, the configuration's
    ``permutations`` (within ``strata``), ``seed`` and ``bootstrap`` (subject bootstraps for the CIs)."""
    return paired.mantel(
        dx,
        dy,
        method="spearman",
        permutations=int(config["permutations"]),
        seed=int(config["seed"]),
        strata=strata,
        alternative=alternative,
        n_boot=int(config.get("bootstrap", 999)),
    )


def mantel_headline(mt: paired.MantelResult, n: int, alternative: str) -> dict[str, Any]:
    """The ``headline`` of a result from the Mantel test ``mt`` of ``n`` subjects."""
    ci95 = list(mt.ci95) if mt.ci95 is not None else [None, None]
    ci90 = list(mt.ci90) if mt.ci90 is not None else [None, None]
    return {
        "estimate": mt.r,
        "ci_low": ci95[0],
        "ci_high": ci95[1],
        "p_value": mt.p_value,
        "effect_size": mt.r,
        "effect_size_ci": ci95,
        "effect_size_ci90": ci90,
        # Mantel distances are not independent, so no Fisher-z TOST: equivalence is judged from the
        # subject-bootstrap 90% CI by the rubric.
        "tost_p": None,
        "power": None,
        "n": n,
        "sided": "one" if alternative == "greater" else "two",
    }


def _mantel(
    bundle: DatasetBundle,
    metric: str,
    pairs: pd.DataFrame,
    config: dict,
    strata: np.ndarray | None,
    alternative: str = "two-sided",
) -> Any:
    dx = bundle.beta(metric, pairs["x_sample"].to_numpy())
    dy = bundle.beta(metric, pairs["y_sample"].to_numpy())
    return mantel_test(dx, dy, config, strata, alternative), dx, dy


def _test_entry(
    name: str,
    role: str,
    estimate: float | None,
    ci95: Sequence[float | None] | None,
    p_value: float | None,
    n: int,
    **extra: Any,
) -> dict[str, Any]:
    """An entry of ``tests``: estimate, 95% CI (``None`` ends when there is none), p-value, n, extras."""
    low, high = ci95 or (None, None)
    return {
        "name": name,
        "role": role,
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "n": n,
        **extra,
    }


def _mantel_test(name: str, role: str, m: Any, n: int, **extra: Any) -> dict[str, Any]:
    """An entry of ``tests`` for a Mantel result ``m`` (its bootstrap CI may be missing)."""
    return _test_entry(name, role, m.r, m.ci95, m.p_value, n, **extra)


def _batch_distance(
    samples: pd.DataFrame, pairs: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray | None, list[str]]:
    """Subjects × subjects count of batch factors in which two subjects' samples differ.

    For each column of ``columns`` in ``samples``, the gut samples of two subjects either share the value
    or not, and so do their skin samples; each distinct 0/1 mismatch matrix counts once (the visit is the
    same for both sites by construction). Missing values are a category of their own. Returns ``None``
    (and no labels) when no column is present or varies.
    """
    mats: list[np.ndarray] = []
    labels: list[str] = []
    for col in columns:
        if col not in samples.columns:
            continue
        for site, key in (("gut", "x_sample"), ("skin", "y_sample")):
            v = samples.loc[pairs[key], col].astype(object).where(lambda x: x.notna(), "missing")
            codes = v.astype(str).to_numpy()
            mm = (codes[:, None] != codes[None, :]).astype(float)
            if not mm.any() or any(np.array_equal(mm, m) for m in mats):
                continue
            mats.append(mm)
            labels.append(f"{site} {col}")
    if not mats:
        return None, []
    return np.sum(mats, axis=0), labels


def _protest(
    dx: np.ndarray,
    dy: np.ndarray,
    pairs: pd.DataFrame,
    axes: int,
    config: dict,
    strata: np.ndarray | None,
) -> tuple[paired.ProcrustesResult, float, float]:
    """PROTEST between PCoA ordinations (first ``axes`` axes) of the gut and skin matrices.

    Also returns the share of the total inertia the axes explain for gut and skin.
    """
    ids = pairs["subject_id"].astype(str).to_numpy()
    seed = int(config["seed"])
    cx, px = pcoa(squareform(dx, checks=False), ids, axes, seed=seed)
    cy, py = pcoa(squareform(dy, checks=False), ids, axes, seed=seed)
    r = paired.protest(
        cx.to_numpy(float),
        cy.to_numpy(float),
        permutations=int(config["permutations"]),
        seed=seed,
        strata=strata,
        # No bootstrap CI: resampled subjects appear twice with identical coordinates in both
        # configurations, which inflates r, so the percentile interval need not even contain it.
        n_boot=0,
    )
    return r, float(px.sum()), float(py.sum())


def _secondary_beta_tests(
    res: ClaimResult,
    bundle: DatasetBundle,
    s: pd.DataFrame,
    pairs: pd.DataFrame,
    dx: np.ndarray,
    dy: np.ndarray,
    p: dict[str, Any],
    config: dict,
    strata: np.ndarray | None,
    strata_col: str | None,
    out_dir: Path,
) -> list[str]:
    """PROTEST, partial Mantel and within- vs between-subject distances (secondary tests).

    Appends to ``res.tests`` (each failing test becomes a note, never a data problem) and returns the
    method sentences describing them.
    """
    beta_metric = p.get("beta_metric", "braycurtis")
    perms = int(config["permutations"])
    seed = int(config["seed"])
    n_boot = int(config.get("bootstrap", 999))
    n = len(pairs)
    within = f" within {strata_col}" if strata is not None else ""
    method: list[str] = []
    # the permutation and bootstrap settings of the two-sided secondary tests
    two_sided: dict[str, Any] = {
        "permutations": perms,
        "seed": seed,
        "strata": strata,
        "alternative": "two-sided",
        "n_boot": n_boot,
    }

    # PROTEST between the gut and skin ordinations.
    axes = int(p.get("protest_axes", config.get("pcoa_dimensions", 10)))
    try:
        pr, ex_gut, ex_skin = _protest(dx, dy, pairs, axes, config, strata)
    except StatsInputError as exc:
        res.notes.append(f"PROTEST not computed: {exc}")
    else:
        res.tests.append(
            _test_entry(
                f"PROTEST gut vs skin PCoA ({beta_metric}, {pr.dims_x} axes)",
                "secondary",
                pr.r,
                None,
                pr.p_value,
                n,
                m2=pr.m2,
                note=(
                    f"Procrustes r = sqrt(1 − m²), m² = {pr.m2:.3f}; axes explain "
                    f"{100 * ex_gut:.0f}% (gut) and {100 * ex_skin:.0f}% (skin) of the inertia; "
                    f"{perms} permutations{within}, one-sided (concordance); no CI (a subject "
                    "bootstrap inflates Procrustes r)"
                ),
            )
        )
        method.append(
            f"PROTEST (symmetric Procrustes, {perms} permutations{within}) between the first "
            f"{pr.dims_x} PCoA axes of the gut and skin {beta_metric} matrices"
        )

    # Partial Mantel given shared processing batches.
    covs = list(p.get("partial_covariates", ["run_center", "visit"]))
    dz, labels = _batch_distance(s, pairs, covs)
    if dz is None:
        res.notes.append(f"partial Mantel not computed: none of {', '.join(covs)} varies")
    else:
        try:
            pm = paired.partial_mantel(dx, dy, dz, method="spearman", **two_sided)
        except StatsInputError as exc:
            res.notes.append(f"partial Mantel not computed: {exc}")
        else:
            res.tests.append(
                _mantel_test(
                    f"Partial Mantel gut vs skin ({beta_metric}, Spearman) given batch",
                    "secondary",
                    pm,
                    n,
                    note=(
                        "third matrix: for two subjects, the number of batch factors in which they "
                        f"differ ({', '.join(labels)}; same = 0); {perms} permutations{within}, "
                        f"two-sided; 95% CI from {n_boot} subject bootstraps"
                    ),
                )
            )
            method.append(
                f"partial Mantel (Spearman) of the gut and skin {beta_metric} matrices given a "
                f"batch-mismatch matrix ({', '.join(labels)})"
            )

    # Within- vs between-subject cross-site distances.
    ids = np.concatenate([pairs["x_sample"].to_numpy(str), pairs["y_sample"].to_numpy(str)])
    cross = bundle.beta(beta_metric, ids)[:n, n:]
    try:
        ws = paired.cross_site_distances(cross, **two_sided)
    except StatsInputError as exc:
        res.notes.append(f"within- vs between-subject distances not computed: {exc}")
    else:
        off = ~np.eye(n, dtype=bool)
        own = np.diag(cross)
        others = np.where(off, cross, 0.0).sum(axis=1) / (n - 1)
        closer = int(np.sum(own < others))
        res.tests.append(
            _test_entry(
                f"Within- minus between-subject gut–skin {beta_metric} distance",
                "secondary",
                ws.difference,
                ws.ci95,
                ws.p_value,
                n,
                note=(
                    f"mean d(gut_i, skin_i) = {ws.within_mean:.4f} vs mean d(gut_i, skin_j), j ≠ i = "
                    f"{ws.between_mean:.4f} (negative: own skin closer to own gut); {closer} of {n} "
                    "subjects' own skin is closer than their mean distance to others'; skin subject labels "
                    f"permuted{within} ({'all ' if ws.exact else ''}{ws.permutations} permutations, "
                    f"two-sided about the permutation mean {ws.null_mean:+.4f}); 95% CI from "
                    f"{n_boot} subject bootstraps"
                ),
            )
        )
        method.append(
            f"within- minus between-subject gut–skin {beta_metric} distance, skin subject labels "
            f"permuted{within}"
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        add_table(
            res,
            pd.DataFrame(
                {
                    "subject_id": pairs["subject_id"].to_numpy(),
                    "gut_sample": pairs["x_sample"].to_numpy(),
                    "skin_sample": pairs["y_sample"].to_numpy(),
                    "stratum": pairs["stratum"].to_numpy(),
                    f"within_{beta_metric}": own,
                    f"mean_between_{beta_metric}": others,
                }
            ),
            out_dir / "within_between_distances.tsv",
            f"Per subject: {beta_metric} distance between their own gut and skin samples, and the mean "
            "distance from their gut sample to the other subjects' skin samples.",
        )
    return method


@guarded()
def run(claim: Claim, bundles: Bundles, config: Config, out_dir: Path) -> ClaimResult:
    """Run the analysis for ``claim``; figures and tables go to ``out_dir``.

    A model that cannot be fitted on these data (e.g. a singular design) gives a result with a
    ``data_problem`` instead of failing the workflow.
    """
    from ..plotting import figures

    p = claim.get("params", {})
    cid = claim["id"]
    res = ClaimResult(id=cid)
    gut = p.get("gut_subsite", "stool")
    skin = list(p.get("skin_subsites", []))
    control = list(p.get("control_pair", []))
    metric = p.get("metric", "shannon")
    beta_metric = p.get("beta_metric", "braycurtis")
    strata_col = p.get("strata")
    min_subjects = int(p.get("min_subjects", 10))
    alpha_level = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    # one sidedness rule (claims.register): H9a's r > 0 is tested with the upper-tail permutation p
    alternative = mantel_alternative(claim)
    one_sided = alternative == "greater"
    res.estimate_label = f"Mantel r (Spearman) between gut and skin {beta_metric} distances"
    res.effect_size_label = "Mantel r"
    res.covariates = [f"permutations within {strata_col}"] if strata_col else []

    ds, bundle = first_dataset(res, claim, bundles, not_loaded="unavailable: not configured")
    if bundle is None:
        return res

    s = bundle.samples
    flow: list[dict[str, Any]] = [{"step": "samples in table and metadata", "n": len(s)}]
    s = s[s["body_subsite"].isin([gut, *skin, *control])]
    flow.append(
        {"step": f"subsites {', '.join(dict.fromkeys([gut, *skin, *control]))}", "n": len(s)}
    )
    s = s.loc[s.index.intersection(bundle.alpha.index)]
    flow.append(
        {"step": f"retained at rarefaction depth {bundle.diversity_info.get('depth')}", "n": len(s)}
    )
    visits = has_visits(s)
    pairs = _pairs(s, [gut], skin)
    flow.append(
        {
            "step": f"subjects with {gut} and skin at the same visit"
            if visits
            else f"subjects with {gut} and skin (no visit column: paired on subject alone)",
            "n": len(pairs),
        }
    )
    res.sample_flow = flow
    res.n = len(pairs)
    res.n_groups = {"subjects (gut + skin)": len(pairs)}
    if not visits:
        res.notes.append(
            f"{ds} has no visit column: gut and skin samples are paired on subject alone."
        )
    if len(pairs) < min_subjects:
        res.data_problem = f"too few paired subjects: {len(pairs)} (minimum {min_subjects})"
        if not len(pairs):
            res.data_problem += f": {_no_pairs_reason(s, gut, skin)}"
        return res

    strata = None
    if strata_col and strata_col in s.columns:
        st = pairs["stratum"]
        strata = st.fillna("missing").astype(str).to_numpy() if st.notna().any() else None

    # Headline: Mantel between gut and skin distance matrices.
    mt, dx, dy = _mantel(bundle, beta_metric, pairs, config, strata, alternative)
    res.headline = mantel_headline(mt, len(pairs), alternative)
    res.se, res.scale = _fisher_z_se(mt.ci95), "fisher_z"  # for pooling over cohorts
    res.tests.append(
        _mantel_test(
            f"Mantel gut vs skin ({beta_metric}, Spearman)",
            "primary",
            mt,
            len(pairs),
            note=(
                f"{config['permutations']} permutations"
                + (f" within {strata_col}" if strata is not None else "")
                + ("; one-sided (upper tail)" if one_sided else "; two-sided")
                + f"; 95% CI from {config.get('bootstrap', 999)} subject bootstraps"
            ),
        )
    )

    # Secondary: Spearman of alpha diversity.
    col = f"{metric}_mean"
    ax = bundle.alpha.loc[pairs["x_sample"], col].to_numpy(float)
    ay = bundle.alpha.loc[pairs["y_sample"], col].to_numpy(float)
    sp = paired.spearman_permutation(
        ax, ay, permutations=int(config["permutations"]), seed=int(config["seed"]), strata=strata
    )
    res.tests.append(
        _test_entry(
            f"Spearman gut vs skin {metric}",
            "secondary",
            sp.rho,
            sp.ci95,
            sp.p_value,
            sp.n,
            power=power.correlation_power(sesoi, sp.n, alpha=alpha_level),
        )
    )

    # Secondary: PROTEST, partial Mantel, within- vs between-subject cross-site distances.
    beta_method = _secondary_beta_tests(
        res, bundle, s, pairs, dx, dy, p, config, strata, strata_col, out_dir
    )

    # Sensitivity: other beta metrics, one pre-specified analysis each.
    others = [m for m in ("braycurtis", "jaccard", "robust_aitchison") if m != beta_metric]
    if not sensitivity.applies(ANALYSIS, sensitivity.OTHER_BETA_METRIC):
        others = []
    for other in others:
        if other not in bundle.beta_files:
            continue
        mo, _, _ = _mantel(bundle, other, pairs, config, strata, alternative)
        res.tests.append(
            _mantel_test(f"Mantel gut vs skin ({other}, Spearman)", "sensitivity", mo, len(pairs))
        )
        record_sensitivity(
            res,
            sensitivity.OTHER_BETA_METRIC,
            f"Mantel r = {mo.r:+.3f}, p = {mo.p_value:.3g}",
            name=f"{other.replace('_', ' ')} instead of {beta_metric.replace('_', ' ')}",
            numbers={
                "estimate": mo.r,
                "ci": list(mo.ci95) if mo.ci95 is not None else None,
                "ci90": list(mo.ci90) if mo.ci90 is not None else None,
                "p_value": mo.p_value,
                "sided": "one" if one_sided else "two",
            },
        )

    # Positive control: left vs right crease.
    if len(control) == 2:
        cpairs = _pairs(s, [control[0]], [control[1]])
        if len(cpairs) >= min_subjects:
            cstrata = None
            if strata is not None:
                cstrata = cpairs["stratum"].fillna("missing").astype(str).to_numpy()
            cm, cdx, cdy = _mantel(bundle, beta_metric, cpairs, config, cstrata, alternative)
            res.positive_control_ok = bool(cm.p_value < alpha_level and cm.r >= sesoi)
            res.tests.append(
                _mantel_test(
                    f"Positive control: Mantel {control[0]} vs {control[1]} ({beta_metric})",
                    "control",
                    cm,
                    len(cpairs),
                    note="should be clearly concordant"
                    + ("" if res.positive_control_ok else " — it is NOT"),
                )
            )
            fig = figures.distance_scatter(
                squareform_upper(cdx),
                squareform_upper(cdy),
                xlabel=f"{control[0]} {beta_metric}",
                ylabel=f"{control[1]} {beta_metric}",
                title=f"{cid} positive control: {pair_words(control[0], control[1])}",
                annotation=f"Mantel r = {cm.r:.2f}, n = {len(cpairs)} subjects",
            )
            out_dir.mkdir(parents=True, exist_ok=True)
            add_figure(
                res,
                fig,
                out_dir / "control_left_right.svg",
                f"Positive control: {pair_words(control[0], control[1])}.",
                f"Scatter of pairwise {beta_metric} distances between subjects "
                f"{_site_alt(control[0], control[1])}; Mantel r = {cm.r:.2f}",
            )
        else:
            res.notes.append(
                f"positive control: only {len(cpairs)} subjects with both "
                f"{control[0].replace('_', ' ')} and {control[1].replace('_', ' ')}"
            )

    # Ordering check (R15): stool more diverse than skin within subjects.
    if len(ax) >= 5:
        w = sps.wilcoxon(ax, ay, alternative="two-sided")
        res.tests.append(
            {
                "name": f"Ordering check: stool vs skin {metric} within subjects (Wilcoxon signed-rank)",
                "role": "control",
                "estimate": float(np.median(ax - ay)),
                "p_value": float(w.pvalue),
                "n": len(ax),
                "note": "median paired difference; expected > 0 (HMP 2012)",
            }
        )

    res.method = (
        f"Subjects of {ds} with a {gut} sample and a skin sample ({' or '.join(skin)}, first available) "
        + (
            "at the same visit"
            if visits
            else "(paired on subject alone: the dataset has no visit column)"
        )
        + f", rarefied to {bundle.diversity_info.get('depth')} reads. Headline: Mantel test "
        f"(Spearman) between the subjects' gut and skin {beta_metric} matrices, {config['permutations']} "
        f"permutations"
        + (f" restricted within {strata_col}" if strata is not None else "")
        + (
            ", one-sided (upper tail: H1 r > 0; the same for the other metrics and the positive control)"
            if one_sided
            else ", two-sided"
        )
        + f"; 95%/90% CIs from {config.get('bootstrap', 999)} subject bootstraps. {SIDED_RULE} Secondary: "
        f"Spearman correlation of gut and skin {metric}"
        + "".join(f"; {m}" for m in beta_method)
        + f". Positive control: {' vs '.join(control)}. "
        f"Equivalence: 90% CI within ±{sesoi}."
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    add_table(
        res,
        pairs.assign(**{f"gut_{metric}": ax, f"skin_{metric}": ay}),
        out_dir / "paired_subjects.tsv",
        "Paired subjects, their samples and alpha diversity.",
    )
    fig = figures.paired_scatter(
        ax,
        ay,
        xlabel=f"Gut {metric}",
        ylabel=f"Skin {metric}",
        title=f"{cid}: gut vs skin {metric}, same subject and visit",
        annotation=f"Spearman ρ = {sp.rho:.2f}, n = {sp.n}",
    )
    add_figure(
        res,
        fig,
        out_dir / f"gut_vs_skin_{metric}.svg",
        f"Gut vs skin {metric}, one point per subject.",
        f"Scatter of gut versus skin {metric} for {sp.n} subjects; Spearman rho = {sp.rho:.2f}",
    )
    fig = figures.distance_scatter(
        squareform_upper(dx),
        squareform_upper(dy),
        xlabel=f"Gut {beta_metric} between subjects",
        ylabel=f"Skin {beta_metric} between subjects",
        title=f"{cid}: gut vs skin community distances",
        annotation=f"Mantel r = {mt.r:.2f}",
    )
    add_figure(
        res,
        fig,
        out_dir / f"gut_vs_skin_{beta_metric}.svg",
        "Each point is a pair of subjects.",
        f"Scatter of between-subject gut versus skin {beta_metric} distances; Mantel r = {mt.r:.2f}",
    )
    return res


def squareform_upper(dm: np.ndarray) -> np.ndarray:
    """Upper-triangle entries of a square matrix (condensed order)."""
    iu = np.triu_indices(dm.shape[0], k=1)
    return dm[iu]


def _fisher_z_se(ci95: tuple[float, float] | None) -> float | None:
    """SE of Fisher z(r) from the subject-bootstrap 95 % CI of Mantel r (normal approximation on z)."""
    if ci95 is None or None in ci95 or not all(-1 < float(c) < 1 for c in ci95):
        return None
    lo, hi = (math.atanh(float(c)) for c in ci95)
    return (hi - lo) / (2 * 1.959963984540054) if hi > lo else None
