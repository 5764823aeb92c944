"""The Methods, Limitations and changelog views: settings of the run, what limits its answers, what changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import InputError
from ..fmt import fmt_num, fmt_plain, fmt_scalar
from ..verdict_style import styles
from .ledger import short_reason

__all__ = ["changelog", "limitations", "methods_view"]


def methods_view(
    config: Mapping[str, Any],
    claims: list[dict[str, Any]],
    datasets: Mapping[str, Any],
    diversity: Mapping[str, Any],
    names: Sequence[str],
) -> dict[str, Any]:
    rare = config.get("rarefaction") or {}
    depth_rows = []
    for name in names:
        block = datasets.get(name) or {}
        configured = block.get("rarefaction_depth", rare.get("depth"))
        used = (diversity.get(name) or {}).get("depth")
        depth_rows.append(
            {
                "name": name,
                "configured": fmt_scalar(configured) if configured is not None else "–",
                "used": fmt_scalar(used) if used is not None else "–",
            }
        )
    family: list[str] = []
    for c in claims:
        for cid in c["holm_family"]:
            if cid not in family:
                family.append(cid)
    if not family:
        family = [c["id"] for c in claims if c["primary"] and c["verdict"] != "not_testable"]
    sesoi = [
        {"id": c["id"], "value": c["sesoi_value"], "scale": c["sesoi_scale"]}
        for c in claims
        if c["sesoi_value"] is not None
    ]
    analyses = [
        {
            "id": c["id"],
            "title": c["title"],
            "method": c["method"],
            "covariates": c["covariates"],
            "datasets": c["datasets"],
            "primary": c["id"] in family,
            "direction": c["expected_direction"],
        }
        for c in claims
        if c["testable"] and (c["method"] or c["datasets"])
    ]
    return {
        "analyses": analyses,
        "depth": rare.get("depth"),
        "iterations": rare.get("iterations"),
        "beta_iterations": rare.get("beta_iterations"),
        "seed": config.get("seed"),
        "alpha_metrics": list(config.get("alpha_metrics") or []),
        "beta_metrics": list(config.get("beta_metrics") or []),
        "pcoa_dimensions": config.get("pcoa_dimensions"),
        "permutations": config.get("permutations"),
        "bootstrap": config.get("bootstrap"),
        "alpha": config.get("alpha"),
        "power_target": config.get("power_target"),
        "depth_rows": depth_rows,
        "family": family,
        "sesoi": sesoi,
    }


def changelog(
    claims: list[dict[str, Any]], previous: list[dict[str, Any]], source: str
) -> dict[str, Any]:
    old: dict[str, str] = {}
    for i, c in enumerate(previous):
        if not isinstance(c, Mapping) or not isinstance(c.get("id"), str):
            raise InputError(
                source,
                "previous claim without an id",
                where=f"claim #{i + 1}",
                hint="check the file",
            )
        old[c["id"]] = str(c.get("verdict"))
    new = {c["id"]: c["verdict"] for c in claims}

    def lab(v: str) -> dict[str, str]:
        st = styles().get(v)
        return {"symbol": st.symbol, "label": st.label} if st else {"symbol": "", "label": v}

    changed = [
        {"id": cid, "old": lab(old[cid]), "new": lab(v)}
        for cid, v in new.items()
        if cid in old and old[cid] != v
    ]
    return {
        "changed": changed,
        "added": [cid for cid in new if cid not in old],
        "removed": [cid for cid in old if cid not in new],
        "n_same": sum(1 for cid, v in new.items() if old.get(cid) == v),
    }


def limitations(
    claims: list[dict[str, Any]],
    data_views: list[dict[str, Any]],
    coverage: Mapping[str, Any] | None,
    calibration: dict[str, Any] | None,
) -> list[str]:
    """Limitations that follow from this run's data and results (the general ones are in the template)."""
    out: list[str] = []
    for d in data_views:
        if d["available"] is False:
            users = ", ".join(d["used_by"]) or "no claim"
            out.append(
                f"Dataset {d['name']} was unavailable in this run ({d['reason']}); {users} could not use it."
            )
        qc = d.get("qc")
        if qc and qc["equal"] and qc["n"]:
            out.append(
                f"{d['name']}: the published table was already rarefied to {fmt_num(qc['max'])} reads per "
                "sample by its authors, so samples with fewer reads were removed before this pipeline saw "
                "them and their number is unknown."
            )
    for c in claims:
        if not c["testable"]:
            continue
        if c["data_problem"]:
            out.append(f"{c['id']}: {short_reason(c['data_problem'], 'inconclusive')}")
        elif c["underpowered"] and not c["equivalent"]:
            out.append(
                f"{c['id']}: power to detect the smallest effect of interest is {fmt_num(c['power'])}; a "
                "non-significant result there is weak evidence either way."
            )
        elif c["power"] is None and c["tost_p"] is None and c["verdict"] == "inconclusive":
            out.append(
                f"{c['id']}: neither power nor an equivalence test is available for the headline test."
            )
    if coverage:
        cov_ds = coverage.get("datasets") if isinstance(coverage.get("datasets"), Mapping) else {}
        for c in claims:
            for ds in c["datasets"]:
                info = cov_ds.get(ds) if isinstance(cov_ds, Mapping) else None
                variables = info.get("variables") if isinstance(info, Mapping) else None
                if not isinstance(variables, Mapping):
                    continue
                for var in c["covariates"]:
                    entry = variables.get(var)
                    frac = entry.get("fraction") if isinstance(entry, Mapping) else None
                    if isinstance(frac, int | float) and not isinstance(frac, bool) and frac < 0.8:
                        out.append(
                            f"{c['id']} adjusts for {var}, which is recorded for only "
                            f"{100 * frac:.0f} % of {ds} samples; samples without it are left out of the "
                            "model, which can bias the comparison if missingness differs between groups."
                        )
    if calibration:
        for row in calibration["rows"]:
            if row["fpr_ok"] is False and row["fpr_ci"][0] is not None:
                lo, hi = row["fpr_ci"]
                assert lo is not None and hi is not None
                out.append(
                    f"Calibration of {row['claim']} ({row['test']}): the false-positive rate on simulated "
                    f"null data was {fmt_num(row['fpr'])} (95 % CI {fmt_num(lo)} to {fmt_num(hi)}), not the "
                    f"nominal α = {fmt_plain(calibration['alpha'])}; read its p-value with that in mind."
                )
    return out
