"""The Data view: each dataset's source, files, samples step by step, sequencing depth and notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from ..fmt import doi_url, fmt_bytes, fmt_num, fmt_scalar, slug
from ..qc import depth_view
from ..svg import inline_svg

__all__ = ["dataset_views"]


_IMPORT_LABELS = {
    "n_samples_table": "Samples in the table file",
    "n_samples_mapping": "Samples in the mapping file",
    "n_samples": "Samples imported (in table and mapping)",
    "n_features_table": "Features in the table file",
    "n_features_removed_empty": "Features removed (no reads left)",
    "n_features": "Features (taxa) imported",
}

#: Descriptive keys of import/diversity summaries that are not sample counts.
_SUMMARY_SKIP = {"dataset", "available", "reason", "title", "description", "data_type", "values"}

_DIVERSITY_LABELS = {
    "depth": "Rarefaction depth (reads)",
    "n_retained": "Samples at or above depth (used)",
    "n_dropped": "Samples below depth (dropped)",
    "rarefied": "Rarefied",
    "iterations": "Rarefaction iterations (alpha)",
    "beta_iterations": "Rarefaction iterations (beta)",
}


def _scalar_rows(
    obj: Mapping[str, Any] | None, labels: Mapping[str, str], skip: set[str]
) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if not obj:
        return rows
    for key, label in labels.items():
        if key in obj and not isinstance(obj[key], Mapping | list):
            rows.append((label, fmt_scalar(obj[key])))
    for key, val in obj.items():
        if key in labels or key in skip or isinstance(val, Mapping | list) or val is None:
            continue
        if "version" in str(key):  # software versions belong in Reproducibility
            continue
        rows.append((str(key).replace("_", " "), fmt_scalar(val)))
    return rows


def dataset_views(
    names: Sequence[str],
    datasets: Mapping[str, Any],
    imports: Mapping[str, Any],
    fetches: Mapping[str, Any],
    diversity: Mapping[str, Any],
    depths: Mapping[str, Any] | None = None,
    used_by: Mapping[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    out = []
    for name in names:
        block = datasets.get(name) or {}
        fetch = fetches.get(name) or {}
        imp = imports.get(name) or {}
        div = diversity.get(name) or {}
        if not fetch and not imp:
            available: bool | None = None
            reason = "no fetch manifest or import summary for this dataset in this run"
        elif fetch.get("available") is False or imp.get("available") is False:
            available = False
            reason = str(
                fetch.get("reason") or imp.get("reason") or "no reason recorded (see the logs)"
            )
        else:
            available = True
            reason = ""
        declared = block.get("files") or {}
        fetched = fetch.get("files") or {}
        files = []
        for role in list(dict.fromkeys([*declared, *fetched])):
            d = declared.get(role) or {}
            f = fetched.get(role) or {}
            want, got = d.get("sha256"), f.get("sha256")
            files.append(
                {
                    "role": str(role),
                    "url": str(f.get("url") or d.get("url") or ""),
                    "sha256": str(got or want or ""),
                    "mismatch": bool(want and got and str(want).lower() != str(got).lower()),
                    "verified": bool(got),
                    "source": str(f.get("source") or ""),
                    "source_detail": str(f.get("source_detail") or ""),
                    "retrieved_at": str(f.get("retrieved_at") or ""),
                    "size": fmt_bytes(f.get("size")) if f.get("size") is not None else "–",
                }
            )
        files = _merge_shared(files)
        steps, facts = _sample_steps(imp, div)
        notes = [str(x) for x in [*(imp.get("notes") or []), *(div.get("notes") or [])] if x]
        phylo = div.get("phylogeny") or {}
        if phylo.get("tree") and phylo.get("backend"):
            notes.append(
                "Phylogenetic metrics (Faith PD, UniFrac, as configured) computed on the dataset's "
                f"tree pruned to the {fmt_num(phylo.get('n_tips'))} features present; backend: "
                f"{phylo['backend']}."
            )
        depth_df = (depths or {}).get(name)
        qc = None
        if depth_df is not None:
            qc = depth_view(
                name,
                depth_df,
                div.get("depth") if isinstance(div.get("depth"), int | float) else None,
                rarefied=div.get("rarefied") is not False,
            )
            if qc["svg"]:
                try:
                    qc["svg"] = Markup(inline_svg(qc["svg"], qc["alt"], f"depth-{slug(name)}-"))
                except ValueError:  # pragma: no cover - our own matplotlib output
                    qc["svg"] = None
        doi = str(block.get("doi") or "")
        out.append(
            {
                "name": name,
                "anchor": f"data-{slug(name)}",
                "title": str(block.get("title") or name),
                "description": str(block.get("description") or ""),
                "citation": str(block.get("citation") or ""),
                "doi": doi,
                "doi_url": doi_url(doi) if doi else None,
                "licence": str(block.get("licence") or block.get("license") or ""),
                "available": available,
                "reason": reason,
                "files": files,
                "steps": steps,
                "facts": facts,
                "notes": notes,
                "qc": qc,
                "used_by": [c for c, dss in (used_by or {}).items() if name in dss],
            }
        )
    return out


def _merge_shared(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per file: roles served by the same file (one ``.rda`` holding table, samples and tree) are
    listed together instead of repeating the file."""
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for f in files:
        key = (f["url"], f["sha256"])
        if (f["url"] or f["sha256"]) and key in seen:
            seen[key]["role"] += f", {f['role']}"
            continue
        row = dict(f)
        seen[key] = row
        out.append(row)
    return out


#: Diversity summary keys shown elsewhere (methods, reproducibility) or not meant for readers.
_DIVERSITY_HIDDEN = {
    "seed",
    "n_samples_in",
    "metrics",
    "pcoa",
    "files",
    "notes",
    "seconds",
    "values",
    "dataset",
}


def _sample_steps(
    imp: Mapping[str, Any], div: Mapping[str, Any]
) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """Samples of one dataset from the files to the diversity tables, as (step, n, kind) rows."""
    steps: list[dict[str, str]] = []

    def add(label: str, value: Any, kind: str = "count") -> None:
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return
        steps.append({"label": label, "n": fmt_scalar(value), "kind": kind})

    dropped_raw = imp.get("dropped")
    dropped: Mapping[str, Any] = dropped_raw if isinstance(dropped_raw, Mapping) else {}
    add("Samples in the mapping (metadata) file", imp.get("n_samples_mapping"))
    add("Samples in the table file", imp.get("n_samples_table"))
    add("In the mapping but not in the table", dropped.get("not_in_table"), "drop")
    add("In the table but not in the mapping", dropped.get("not_in_mapping"), "drop")
    for key, val in dropped.items():
        if key not in {"not_in_table", "not_in_mapping"}:
            add(str(key).replace("_", " ").capitalize(), val, "drop")
    add("Imported (in both)", imp.get("n_samples"), "total")
    depth = div.get("depth")
    if div.get("rarefied") is False:
        steps.append({"label": "Not rarefied (relative or signal values)", "n": "", "kind": "note"})
    elif isinstance(depth, int | float) and not isinstance(depth, bool):
        add(
            f"Below the rarefaction depth ({fmt_scalar(depth)} reads)",
            div.get("n_dropped"),
            "drop",
        )
    add("Used for diversity", div.get("n_retained"), "total")
    facts = _scalar_rows(
        imp,
        {k: v for k, v in _IMPORT_LABELS.items() if not k.startswith("n_samples")},
        _SUMMARY_SKIP | {"rarefaction_depth", "n_samples", "n_samples_mapping", "n_samples_table"},
    )
    facts += _scalar_rows(  # keys a future diversity step adds; the known ones are in Methods
        {k: v for k, v in div.items() if k not in _DIVERSITY_HIDDEN and k not in _DIVERSITY_LABELS},
        {},
        _SUMMARY_SKIP,
    )
    return steps, facts
