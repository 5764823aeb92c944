"""Benchmark cases: each gutskin kernel the DAG uses, side by side with its skbio/scipy baseline.

A case knows how to build its input from a seeded synthetic table (:mod:`bench.synth`), how to run
gutskin's kernel (``ours``) and the baseline, how to reduce either result to arrays, and how to
compare the two (``compare`` returns the largest difference and whether it is within tolerance).
Inputs are built outside the timed region; conversions a baseline needs (a dense matrix for
scikit-bio) are part of its setup, not of its time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import synth

#: Rarefaction depth of the benchmark tables (as in the issue: "depth 10,000").
DEPTH = 10_000


@dataclass
class Case:
    """One benchmark: a gutskin kernel and its baseline."""

    name: str
    what: str
    baseline_name: str
    prepare: Callable[[dict[str, Any]], dict[str, Any]]
    ours: Callable[[dict[str, Any]], Any]
    baseline: Callable[[dict[str, Any]], Any] | None
    arrays: Callable[[Any], dict[str, np.ndarray]]
    compare: Callable[[dict[str, np.ndarray], dict[str, np.ndarray]], dict[str, Any]] | None
    tolerance: str = "1e-9"
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# inputs (cached as .npz in the work directory: generating 30,000 x 100,000 takes a minute)
# ------------------------------------------------------------------------------------------------


def table(params: dict[str, Any]) -> sp.csr_array:
    """The seeded synthetic count table of ``params`` (cached in ``params['work']``)."""
    n, m = int(params["n"]), int(params["features"])
    share, seed = float(params["share"]), int(params["seed"])
    density = float(params.get("density", 0.01))
    path = Path(params["work"]) / f"table_{n}_{m}_{density}_{share}_{seed}.npz"
    if path.exists():
        return sp.csr_array(sp.load_npz(path))
    x = synth.synthetic_counts(n, m, density=density, share=share, depth=DEPTH, seed=seed)
    tmp = path.with_suffix(".tmp.npz")
    sp.save_npz(tmp, sp.csr_matrix(x), compressed=False)
    tmp.replace(path)
    return x


def rarefied(params: dict[str, Any]) -> sp.csr_array:
    """The table rarefied once to :data:`DEPTH` (seed 1), cached."""
    n, m = int(params["n"]), int(params["features"])
    path = Path(params["work"]) / (
        f"rare_{n}_{m}_{params.get('density', 0.01)}_{params['share']}_{params['seed']}.npz"
    )
    if path.exists():
        return sp.csr_array(sp.load_npz(path))
    from gutskin.diversity import rarefy_counts

    r, _ = rarefy_counts(table(params), DEPTH, 1)
    r = sp.csr_array(r, dtype=np.float64)
    tmp = path.with_suffix(".tmp.npz")
    sp.save_npz(tmp, sp.csr_matrix(r), compressed=False)
    tmp.replace(path)
    return r


def _ids(n: int) -> list[str]:
    return [f"S{i}" for i in range(n)]


def _condensed(result: Any) -> dict[str, np.ndarray]:
    return {"condensed": np.asarray(result, dtype=np.float64)}


def _max_abs(a: dict[str, np.ndarray], b: dict[str, np.ndarray], key: str, tol: float) -> dict:
    diff = float(np.max(np.abs(a[key] - b[key]))) if a[key].size else 0.0
    return {"max_abs_diff": diff, "agree": bool(diff <= tol)}


# ------------------------------------------------------------------------------------------------
# beta diversity
# ------------------------------------------------------------------------------------------------


def _prep_rarefied(params: dict[str, Any]) -> dict[str, Any]:
    x = rarefied(params)
    out: dict[str, Any] = {"csr": x, "ids": _ids(x.shape[0])}
    if params.get("impl") == "baseline":
        out["dense"] = x.toarray().astype(np.int64)
    return out


def _skbio_beta(metric: str, counts: np.ndarray, ids: list[str]) -> np.ndarray:
    from skbio.diversity import beta_diversity

    return beta_diversity(metric, counts, ids).condensed_form()


def _bc_ours(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity import braycurtis

    return braycurtis(d["csr"])


def _jac_ours(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity import jaccard

    return jaccard(d["csr"])


def _prep_raw(params: dict[str, Any]) -> dict[str, Any]:
    x = table(params)
    out: dict[str, Any] = {"csr": x, "ids": _ids(x.shape[0])}
    if params.get("impl") == "baseline":
        out["dense"] = x.toarray()
    return out


def _ra_ours(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity import robust_aitchison

    return robust_aitchison(d["csr"])


def _ra_baseline(d: dict[str, Any]) -> np.ndarray:
    """Dense rCLR (log of non-zeros minus their row mean; zeros stay 0) and scipy pdist."""
    from scipy.spatial.distance import pdist

    x = d["dense"]
    nz = x > 0
    logs = np.zeros_like(x)
    np.log(x, out=logs, where=nz)
    means = logs.sum(axis=1) / nz.sum(axis=1)
    r = np.where(nz, logs - means[:, None], 0.0)
    return pdist(r, "euclidean")


# ------------------------------------------------------------------------------------------------
# PCoA
# ------------------------------------------------------------------------------------------------


def _prep_pcoa(params: dict[str, Any]) -> dict[str, Any]:
    from gutskin.diversity import braycurtis

    x = rarefied(params)
    return {"cond": braycurtis(x), "ids": _ids(x.shape[0]), "k": 10}


def _pcoa_ours(d: dict[str, Any]) -> Any:
    from gutskin.diversity import pcoa

    coords, prop = pcoa(d["cond"], d["ids"], d["k"], seed=0)
    return coords.to_numpy(), prop.to_numpy()


def _pcoa_baseline(d: dict[str, Any]) -> Any:
    from skbio import DistanceMatrix
    from skbio.stats.ordination import pcoa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = pcoa(DistanceMatrix(d["cond"], d["ids"]), method="eigh", dimensions=d["k"])
    return res.samples.to_numpy()[:, : d["k"]], res.proportion_explained.to_numpy()[: d["k"]]


def _pcoa_skbio_fsvd(d: dict[str, Any]) -> Any:
    from skbio import DistanceMatrix
    from skbio.stats.ordination import pcoa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = pcoa(DistanceMatrix(d["cond"], d["ids"]), method="fsvd", dimensions=d["k"], seed=0)
    return res.samples.to_numpy()[:, : d["k"]], res.proportion_explained.to_numpy()[: d["k"]]


def _pcoa_arrays(result: Any) -> dict[str, np.ndarray]:
    return {"coords": np.asarray(result[0]), "prop": np.asarray(result[1])}


def _pcoa_compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    """Largest coordinate difference per axis (after matching the axis sign), relative to the
    axis' largest coordinate; and the largest difference in proportion explained."""
    errs = []
    for k in range(a["coords"].shape[1]):
        x, y = a["coords"][:, k], b["coords"][:, k]
        sign = 1.0 if float(np.dot(x, y)) >= 0 else -1.0
        errs.append(float(np.max(np.abs(x - sign * y)) / max(np.max(np.abs(y)), 1e-300)))
    prop = float(np.max(np.abs(a["prop"] - b["prop"])))
    worst = max(errs) if errs else 0.0
    return {
        "max_abs_diff": worst,
        "max_prop_diff": prop,
        "agree": bool(worst <= 1e-9 and prop <= 1e-9),
    }


# ------------------------------------------------------------------------------------------------
# rarefaction and alpha
# ------------------------------------------------------------------------------------------------


def _prep_rarefy(params: dict[str, Any]) -> dict[str, Any]:
    x = table(params)
    out: dict[str, Any] = {"csr": x}
    if params.get("impl") == "baseline":
        out["dense"] = x.toarray().astype(np.int64)
    return out


def _rarefy_ours(d: dict[str, Any]) -> Any:
    from gutskin.diversity import rarefy_counts

    r, kept = rarefy_counts(d["csr"], DEPTH, 7)
    return r, kept


def _rarefy_baseline(d: dict[str, Any]) -> Any:
    from skbio.stats import subsample_counts

    x = d["dense"]
    kept = np.flatnonzero(x.sum(axis=1) >= DEPTH)
    rng = np.random.default_rng(7)
    rows = [subsample_counts(x[i], DEPTH, seed=rng) for i in kept]
    return sp.csr_array(np.vstack(rows)) if rows else sp.csr_array((0, x.shape[1])), kept


def _rarefy_arrays(result: Any) -> dict[str, np.ndarray]:
    r, kept = result
    r = sp.csr_array(r)
    return {
        "kept": np.asarray(kept),
        "row_sums": np.asarray(r.sum(axis=1)).ravel(),
        "col_sums": np.asarray(r.sum(axis=0)).ravel(),
        "observed": np.diff(sp.csr_array(r).indptr).astype(np.float64),
    }


def _rarefy_compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    """Exact: the same samples kept, every one at exactly DEPTH reads. Statistical: both are
    draws from the same distribution, so per-feature totals over all samples differ by noise only
    (|Δ| ≤ 5 SE under a Poisson bound, SE = sqrt(a + b)), as do the features observed per sample."""
    same_kept = bool(np.array_equal(a["kept"], b["kept"]))
    exact = bool(same_kept and np.all(a["row_sums"] == DEPTH) and np.all(b["row_sums"] == DEPTH))
    ca, cb = a["col_sums"], b["col_sums"]
    se = np.sqrt(np.maximum(ca + cb, 1.0))
    z = float(np.max(np.abs(ca - cb) / se))
    oa, ob = a["observed"], b["observed"]
    zo = float(abs(oa.mean() - ob.mean()) / np.sqrt((oa.var() + ob.var()) / max(oa.size, 1)))
    return {
        "same_samples_and_depth": exact,
        "max_feature_total_z": z,
        "observed_mean_z": zo,
        "max_abs_diff": float("nan"),
        "agree": bool(exact and z <= 6.0 and zo <= 5.0),
    }


def _alpha_ours(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity import alpha_diversity

    v = alpha_diversity(d["csr"], ("observed", "shannon", "simpson"))
    return np.vstack([v["observed"], v["shannon"], v["simpson"]])


def _alpha_baseline(d: dict[str, Any]) -> np.ndarray:
    from skbio.diversity import alpha_diversity

    x, ids = d["dense"], d["ids"]
    return np.vstack(
        [
            alpha_diversity("observed_features", x, ids).to_numpy(dtype=np.float64),
            alpha_diversity("shannon", x, ids).to_numpy(dtype=np.float64),
            alpha_diversity("simpson", x, ids).to_numpy(dtype=np.float64),
        ]
    )


def _alpha_compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    out = _max_abs(a, b, "alpha", 1e-9)
    out["observed_exact"] = bool(np.array_equal(a["alpha"][0], b["alpha"][0]))
    out["agree"] = out["agree"] and out["observed_exact"]
    return out


REPEATED_ITERATIONS = 10


def _repeated_ours(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity import repeated_rarefaction_alpha

    kept, means, sds = repeated_rarefaction_alpha(d["csr"], DEPTH, REPEATED_ITERATIONS, 11)
    return np.vstack([means["shannon"], sds["shannon"], kept.astype(np.float64)])


def _repeated_baseline(d: dict[str, Any]) -> np.ndarray:
    """skbio's subsample_counts per sample and iteration, then skbio's Shannon."""
    from skbio.diversity import alpha_diversity
    from skbio.stats import subsample_counts

    x = d["dense"]
    kept = np.flatnonzero(x.sum(axis=1) >= DEPTH)
    rng = np.random.default_rng(11)
    vals = np.empty((REPEATED_ITERATIONS, kept.size))
    for it in range(REPEATED_ITERATIONS):
        rows = np.vstack([subsample_counts(x[i], DEPTH, seed=rng) for i in kept])
        vals[it] = alpha_diversity("shannon", rows).to_numpy()
    return np.vstack([vals.mean(axis=0), vals.std(axis=0, ddof=1), kept.astype(np.float64)])


def _repeated_compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    """Different random streams: per-sample mean Shannon must agree within Monte-Carlo error
    (|Δ| ≤ 6 SE with SE from both runs' SDs over the iterations)."""
    ma, sa, ka = a["alpha"]
    mb, sb, kb = b["alpha"]
    if not np.array_equal(ka, kb):
        return {"agree": False, "max_abs_diff": float("nan"), "same_samples": False}
    se = np.sqrt((sa**2 + sb**2) / REPEATED_ITERATIONS)
    z = np.abs(ma - mb) / np.maximum(se, 1e-12)
    return {
        "same_samples": True,
        "max_abs_diff": float(np.max(np.abs(ma - mb))),
        "max_z": float(np.max(z)),
        "agree": bool(np.max(z) <= 6.0),
    }


# ------------------------------------------------------------------------------------------------
# reading a table
# ------------------------------------------------------------------------------------------------


def _prep_read(params: dict[str, Any]) -> dict[str, Any]:
    n, m = int(params["n"]), int(params["features"])
    work = Path(params["work"])
    h5 = work / f"read_{n}_{m}_{params['share']}_{params['seed']}.biom"
    tsv = h5.with_suffix(".tsv")
    if not h5.exists() or not tsv.exists():
        x = table(params)
        synth.write_table(x, h5.with_suffix(".tmp.biom"), fmt="hdf5")
        synth.write_table(x, tsv.with_suffix(".tmp.tsv"), fmt="tsv")
        h5.with_suffix(".tmp.biom").replace(h5)
        tsv.with_suffix(".tmp.tsv").replace(tsv)
    return {"h5": h5, "tsv": tsv}


def _read_ours(d: dict[str, Any]) -> sp.csr_array:
    from gutskin.io.table import read_biom

    return read_biom(d["h5"]).counts


def _read_baseline(d: dict[str, Any]) -> sp.csr_array:
    import pandas as pd

    df = pd.read_csv(d["tsv"], sep="\t", index_col=0)
    return sp.csr_array(df.to_numpy(dtype=np.float64).T)


def _read_arrays(result: Any) -> dict[str, np.ndarray]:
    r = sp.csr_array(result)
    r.sort_indices()
    return {"indptr": r.indptr, "indices": r.indices, "data": r.data}


def _read_compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    same = all(np.array_equal(a[k], b[k]) for k in ("indptr", "indices", "data"))
    return {"identical_counts": same, "max_abs_diff": 0.0 if same else float("nan"), "agree": same}


# ------------------------------------------------------------------------------------------------
# UniFrac: gutskin's compiled kernels (gutskin.diversity.unifrac_gram) and the workflow's route
# (gutskin.diversity.phylogeny.unifrac, which uses them when Striped UniFrac is not installed) vs
# scikit-bio's two engines
# ------------------------------------------------------------------------------------------------


def _prep_unifrac(params: dict[str, Any]) -> dict[str, Any]:
    x = rarefied(params)
    tree, fids = synth.random_tree(x.shape[1], seed=int(params["seed"]))
    return {
        "csr": x,
        "ids": _ids(x.shape[0]),
        "fids": fids,
        "tree": tree,
        "dense": (x.toarray() > 0).astype(np.int64),
    }


def _prep_unifrac_weighted(params: dict[str, Any]) -> dict[str, Any]:
    d = _prep_unifrac(params)
    d["dense"] = d["csr"].toarray().astype(np.int64)
    return d


def _unifrac_ours(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity.unifrac_gram import unweighted_unifrac

    return unweighted_unifrac(d["csr"], d["tree"], d["fids"])


def _unifrac_weighted_ours(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity.unifrac_gram import weighted_normalized_unifrac

    return weighted_normalized_unifrac(d["csr"], d["tree"], d["fids"])


def _unifrac_skbio(
    engine: str, metric: str = "unweighted_unifrac"
) -> Callable[[dict[str, Any]], np.ndarray]:
    def run(d: dict[str, Any]) -> np.ndarray:
        from skbio.diversity import beta_diversity

        kw = {"normalized": True} if metric == "weighted_unifrac" else {}
        return beta_diversity(
            metric,
            d["dense"],
            d["ids"],
            taxa=list(d["fids"]),
            tree=d["tree"],
            engine=engine,
            **kw,
        ).condensed_form()

    return run


def _unifrac_gutskin(d: dict[str, Any]) -> np.ndarray:
    from gutskin.diversity.phylogeny import unifrac

    return unifrac(d["csr"], d["tree"], "unweighted_unifrac", feature_ids=d["fids"])


# ------------------------------------------------------------------------------------------------

CASES: dict[str, Case] = {
    c.name: c
    for c in [
        Case(
            "braycurtis",
            "Bray–Curtis, all pairs (rarefied counts)",
            "skbio.diversity.beta_diversity('braycurtis')",
            _prep_rarefied,
            _bc_ours,
            lambda d: _skbio_beta("braycurtis", d["dense"], d["ids"]),
            _condensed,
            lambda a, b: _max_abs(a, b, "condensed", 1e-9),
        ),
        Case(
            "jaccard",
            "Jaccard (presence/absence), all pairs",
            "skbio.diversity.beta_diversity('jaccard')",
            _prep_rarefied,
            _jac_ours,
            lambda d: _skbio_beta("jaccard", d["dense"] > 0, d["ids"]),
            _condensed,
            lambda a, b: _max_abs(a, b, "condensed", 1e-9),
        ),
        Case(
            "robust_aitchison",
            "robust Aitchison (rCLR + Euclidean), all pairs",
            "dense rCLR + scipy.spatial.distance.pdist",
            _prep_raw,
            _ra_ours,
            _ra_baseline,
            _condensed,
            lambda a, b: _max_abs(a, b, "condensed", 1e-9),
        ),
        Case(
            "pcoa",
            "PCoA, 10 axes, of the Bray–Curtis matrix",
            "skbio pcoa(method='eigh')",
            _prep_pcoa,
            _pcoa_ours,
            _pcoa_baseline,
            _pcoa_arrays,
            _pcoa_compare,
            tolerance="1e-9 relative to the axis scale",
        ),
        Case(
            "pcoa_skbio_fsvd",
            "PCoA, 10 axes: scikit-bio's own fsvd (for comparison)",
            "skbio pcoa(method='eigh')",
            _prep_pcoa,
            _pcoa_skbio_fsvd,
            _pcoa_baseline,
            _pcoa_arrays,
            _pcoa_compare,
            tolerance="1e-9 relative to the axis scale",
        ),
        Case(
            "rarefy",
            "one rarefaction to 10,000 reads",
            "skbio.stats.subsample_counts, sample by sample",
            _prep_rarefy,
            _rarefy_ours,
            _rarefy_baseline,
            _rarefy_arrays,
            _rarefy_compare,
            tolerance="exact depth and samples; same distribution (z ≤ 6)",
        ),
        Case(
            "alpha",
            "observed, Shannon, Simpson of every sample",
            "skbio.diversity.alpha_diversity x 3 metrics",
            _prep_rarefied,
            _alpha_ours,
            _alpha_baseline,
            lambda r: {"alpha": np.asarray(r)},
            _alpha_compare,
            tolerance="1e-9; observed exact",
        ),
        Case(
            "alpha_repeated",
            f"{REPEATED_ITERATIONS} rarefactions + Shannon mean/SD",
            "skbio subsample_counts + alpha_diversity per iteration",
            _prep_rarefy,
            _repeated_ours,
            _repeated_baseline,
            lambda r: {"alpha": np.asarray(r)},
            _repeated_compare,
            tolerance="same samples; means within 6 Monte-Carlo SE",
        ),
        Case(
            "read",
            "read a table (BIOM 2.1 HDF5)",
            "pandas.read_csv of the same table as TSV",
            _prep_read,
            _read_ours,
            _read_baseline,
            _read_arrays,
            _read_compare,
            tolerance="identical counts",
        ),
        Case(
            "unifrac",
            "unweighted UniFrac, gutskin's compiled kernel (gutskin.diversity.unifrac_gram)",
            "skbio beta_diversity('unweighted_unifrac'), default engine",
            _prep_unifrac,
            _unifrac_ours,
            _unifrac_skbio("cython"),
            _condensed,
            lambda a, b: _max_abs(a, b, "condensed", 1e-9),
        ),
        Case(
            "unifrac_skbio_numba",
            "unweighted UniFrac, skbio engine='numba'",
            "skbio beta_diversity('unweighted_unifrac'), default engine",
            _prep_unifrac,
            _unifrac_skbio("numba"),
            _unifrac_skbio("cython"),
            _condensed,
            lambda a, b: _max_abs(a, b, "condensed", 1e-9),
        ),
        Case(
            "unifrac_gutskin",
            "unweighted UniFrac, the workflow's route (gutskin.diversity.phylogeny.unifrac: checks, "
            "pruning, then Striped UniFrac if installed, else gutskin's kernel)",
            "skbio beta_diversity('unweighted_unifrac'), default engine",
            _prep_unifrac,
            _unifrac_gutskin,
            _unifrac_skbio("cython"),
            _condensed,
            lambda a, b: _max_abs(a, b, "condensed", 1e-9),
        ),
        Case(
            "unifrac_weighted",
            "normalised weighted UniFrac, gutskin's compiled kernel (gutskin.diversity.unifrac_gram)",
            "skbio beta_diversity('weighted_unifrac', normalized=True), default engine",
            _prep_unifrac_weighted,
            _unifrac_weighted_ours,
            _unifrac_skbio("cython", "weighted_unifrac"),
            _condensed,
            lambda a, b: _max_abs(a, b, "condensed", 1e-9),
        ),
    ]
}

# Claim-level rows (bench.claim_cases): the statistics the claims call, beside their baselines.
from .claim_cases import cases as _claim_cases  # noqa: E402

CASES.update({c.name: c for c in _claim_cases(Case)})
