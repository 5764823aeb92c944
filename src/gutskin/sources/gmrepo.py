"""GMrepo (https://gmrepo.humangut.info): gut runs by phenotype and their taxonomic profiles.

All calls are ``POST <base_url>/<endpoint>`` with a JSON body:

- ``get_all_phenotypes`` ``{}`` → ``{"phenotypes": [{"disease": <MeSH id>, "term": …}, …]}``: every MeSH id
  of the source block is checked against it first; an unknown id is a configuration error (or, with
  ``skip_unknown_phenotypes: true``, left out and reported);
- ``countAssociatedRunsByPhenotypeMeshID`` ``{"mesh_id"}`` → ``[{"nr_assoc_runs": N}]``;
- ``getAssociatedRunsByPhenotypeMeshIDLimit`` ``{"mesh_id", "skip", "limit"}`` → one page of runs (each a
  mapping with ``run_id``, ``QCStatus``, ``experiment_type``, host metadata …), paged until done;
- ``getFullTaxonomicProfileByRunID`` ``{"run_id"}`` → ``{"run": …, "species": [...], "genus": [...]}``
  with ``ncbi_taxon_id``, ``scientific_name`` and ``relative_abundance`` in **percent**.

Declared in ``config/datasets.yaml`` as::

    source:
      type: gmrepo
      phenotypes: {D006262: none, D011565: psoriasis, D004485: eczema}   # MeSH id → canonical condition
      level: genus                    # or species
      max_runs_per_phenotype: 300     # seeded random subset of the runs that pass the filters
      experiment_type: Metagenomics   # do not mix amplicon and shotgun profiles

The feature table (``values: relative``: proportions = percent / 100, not re-normalised) is written as BIOM
2.1 HDF5 and the sample sheet (``run_id``, ``mesh_id``, ``phenotype``, ``condition``, then every scalar
field of the run listing) as TSV under ``<cache_dir>/sources/gmrepo/<hash>/``. Runs listed under more than
one of the requested phenotypes are dropped (their condition is ambiguous) and counted, as are runs
without a profile at the chosen level.

MeSH ids: Health D006262, Psoriasis D011565, Eczema D004485 are documented; acne (D000152) and rosacea
(D012393) are not verified and are checked against ``get_all_phenotypes`` like any other id.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataUnavailable
from ..harmonise import vocabulary
from ..io import FeatureTable, write_biom
from ._common import Options, artefact_dir, build_once, content_hash, derived_entry, write_rows_tsv
from .http import ApiClient, ApiSettings, Paged, paged_skip_limit

__all__ = [
    "DEFAULT_BASE_URL",
    "DOCUMENTED_MESH",
    "SOURCE_TYPE",
    "UNVERIFIED_MESH",
    "GMrepo",
    "fetch_gmrepo",
]

log = logging.getLogger("gutskin.sources")

SOURCE_TYPE = "gmrepo"
DEFAULT_BASE_URL = "https://gmrepo.humangut.info/api"
#: MeSH ids documented in DATASETS.md.
DOCUMENTED_MESH = {"D006262": "Health", "D011565": "Psoriasis", "D004485": "Eczema"}
#: MeSH ids that may or may not be GMrepo phenotypes (checked against get_all_phenotypes).
UNVERIFIED_MESH = {"D000152": "Acne Vulgaris", "D012393": "Rosacea"}
ALLOWED_KEYS = (
    "phenotypes",
    "level",
    "max_runs_per_phenotype",
    "qc_only",
    "experiment_type",
    "page_size",
    "seed",
    "trailing_slash",
    "skip_unknown_phenotypes",
)
#: Percentages may add up to slightly over 100 through rounding.
_PERCENT_TOLERANCE = 100.5


class GMrepo:
    """The GMrepo endpoints gutskin uses, over an :class:`~gutskin.sources.http.ApiClient`.

    Parameters
    ----------
    client
        The API client (caching, retries, rate limiting).
    base_url
        The API root, e.g. ``https://gmrepo.humangut.info/api``.
    trailing_slash
        Append ``/`` to endpoint names (the Django server behind GMrepo has required it).
    """

    def __init__(
        self, client: ApiClient, base_url: str = DEFAULT_BASE_URL, *, trailing_slash: bool = True
    ) -> None:
        self.client = client
        self.base = base_url.rstrip("/")
        self.slash = "/" if trailing_slash else ""

    def url(self, endpoint: str) -> str:
        """The URL of ``endpoint``."""
        return f"{self.base}/{endpoint}{self.slash}"

    def phenotypes(self) -> dict[str, str]:
        """MeSH id → term of every GMrepo phenotype (``get_all_phenotypes``)."""
        url = self.url("get_all_phenotypes")
        doc = self.client.post_json(url, {})
        items = doc.get("phenotypes") if isinstance(doc, Mapping) else doc
        if not isinstance(items, list):
            raise DataUnavailable(url, "the answer has no 'phenotypes' list")
        out = {}
        for p in items:
            if isinstance(p, Mapping) and p.get("disease"):
                out[str(p["disease"])] = str(p.get("term") or "")
        return out

    def count_runs(self, mesh_id: str) -> int:
        """Number of runs associated with ``mesh_id``."""
        url = self.url("countAssociatedRunsByPhenotypeMeshID")
        doc = self.client.post_json(url, {"mesh_id": mesh_id})
        value: Any = doc
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, Mapping):
            value = value.get("nr_assoc_runs")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DataUnavailable(
                url,
                f"unexpected answer for {mesh_id}: expected [{{'nr_assoc_runs': N}}], got {doc!r:.200}",
            )
        return value

    def runs(self, mesh_id: str, *, total: int | None, page_size: int, max_pages: int) -> Paged:
        """Every run associated with ``mesh_id``, read ``page_size`` at a time."""
        url = self.url("getAssociatedRunsByPhenotypeMeshIDLimit")

        def page(skip: int, limit: int) -> Sequence[Any]:
            doc = self.client.post_json(url, {"mesh_id": mesh_id, "skip": skip, "limit": limit})
            if isinstance(doc, Mapping):
                lists = [v for v in doc.values() if isinstance(v, list)]
                doc = lists[0] if len(lists) == 1 else None
            if not isinstance(doc, list):
                raise DataUnavailable(url, f"the page of runs (skip {skip}) is not a list")
            return doc

        return paged_skip_limit(
            page, limit=page_size, total=total, max_pages=max_pages, what=f"runs of {mesh_id}"
        )

    def profile(self, run_id: str) -> Mapping[str, Any]:
        """The full taxonomic profile of ``run_id``."""
        url = self.url("getFullTaxonomicProfileByRunID")
        doc = self.client.post_json(url, {"run_id": run_id})
        if not isinstance(doc, Mapping):
            raise DataUnavailable(url, f"the profile of {run_id} is not a JSON object")
        return doc


def _passes_qc(run: Mapping[str, Any]) -> bool | None:
    value = run.get("QCStatus")
    if value is None:
        return None
    return str(value).strip().lower() in ("1", "true", "pass", "passed")


def _profile_vector(
    profile: Mapping[str, Any], level: str
) -> tuple[dict[str, float], dict[str, str]] | str:
    """taxid → proportion at ``level`` and taxid → name; or a reason the profile cannot be used."""
    entries = profile.get(level)
    if not isinstance(entries, list) or not entries:
        return f"no {level}-level profile"
    values: dict[str, float] = {}
    names: dict[str, str] = {}
    for e in entries:
        if not isinstance(e, Mapping):
            return "a profile entry is not an object"
        rank = e.get("taxon_rank_level")
        if rank is not None and str(rank) != level:
            continue
        taxid = e.get("ncbi_taxon_id")
        ab = e.get("relative_abundance")
        if taxid is None or ab is None or isinstance(ab, bool):
            return "an entry lacks ncbi_taxon_id or relative_abundance"
        try:
            x = float(ab)
        except (TypeError, ValueError):
            return f"relative_abundance {ab!r} is not a number"
        if not math.isfinite(x) or x < 0:
            return f"relative_abundance {ab!r} is negative or not finite"
        key = str(taxid).strip()
        values[key] = values.get(key, 0.0) + x
        names.setdefault(key, str(e.get("scientific_name") or key))
    if not values:
        return f"no {level}-level profile"
    total = sum(values.values())
    if total > _PERCENT_TOLERANCE:
        return f"relative abundances add up to {total:.3g} %, more than 100 %"
    return {k: v / 100.0 for k, v in values.items()}, names


def _subsample(ids: list[str], k: int, seed: int, mesh_id: str) -> list[str]:
    if len(ids) <= k:
        return ids
    ss = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(mesh_id.encode()),))
    rng = np.random.default_rng(ss)
    pick = rng.choice(len(ids), size=k, replace=False)
    return sorted(ids[i] for i in pick)


def fetch_gmrepo(
    name: str,
    block: Mapping[str, Any],
    settings: ApiSettings,
    *,
    config_path: str | Path = "config/datasets.yaml",
) -> dict[str, Any]:
    """Fetch runs and profiles for the block's phenotypes; build the table and sample sheet.

    Returns
    -------
    dict
        The fetch manifest (``files.table``: BIOM, ``files.samples``: TSV with id column ``run_id``;
        ``api``: per-phenotype counts of runs announced, listed, kept and selected, and of runs dropped).

    Raises
    ------
    ConfigError
        A bad source block, or a MeSH id GMrepo does not know (unless ``skip_unknown_phenotypes``).
    DataUnavailable
        An answer could not be had, or no run has a usable profile.
    """
    opts = Options(name, block, ALLOWED_KEYS, config_path)
    phen = opts.get("phenotypes")
    if not isinstance(phen, Mapping) or not phen:
        raise opts.error(
            "phenotypes",
            "phenotypes must map MeSH ids to canonical conditions, e.g. {D006262: none, D011565: psoriasis}",
        )
    allowed_conditions = set(vocabulary("condition") or ())
    wanted: dict[str, str] = {}
    for mesh, cond in phen.items():
        mesh_s = str(mesh).strip()
        if not mesh_s or not mesh_s[0].isalpha():
            raise opts.error(f"phenotypes/{mesh}", f"{mesh!r} is not a MeSH id (e.g. D011565)")
        if not isinstance(cond, str) or (allowed_conditions and cond not in allowed_conditions):
            raise opts.error(
                f"phenotypes/{mesh}",
                f"condition {cond!r} is not a canonical condition",
                hint=f"use one of {', '.join(sorted(allowed_conditions))}",
            )
        wanted[mesh_s] = cond
    level = opts.string("level", "species") or "species"
    if level not in ("species", "genus"):
        raise opts.error("level", f"level must be species or genus, got {level!r}")
    max_runs = opts.integer("max_runs_per_phenotype", minimum=1)
    qc_only = opts.boolean("qc_only", True)
    experiment_type = opts.string("experiment_type")
    page_size = opts.integer("page_size", 100, minimum=1) or 100
    seed = opts.integer("seed", 20261126, minimum=0)
    assert seed is not None
    trailing = opts.boolean("trailing_slash", True)
    skip_unknown = opts.boolean("skip_unknown_phenotypes", False)
    base = opts.string("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    api_settings = opts.api_settings(settings)
    notes: list[str] = []
    complete = True

    with ApiClient(api_settings) as client:
        gm = GMrepo(client, base, trailing_slash=trailing)
        known = gm.phenotypes()
        unknown = [m for m in wanted if m not in known]
        if unknown:
            labels = ", ".join(
                f"{m}" + (f" ({UNVERIFIED_MESH[m]}, unverified)" if m in UNVERIFIED_MESH else "")
                for m in unknown
            )
            if not skip_unknown:
                raise opts.error(
                    "phenotypes",
                    f"MeSH id(s) {labels} are not GMrepo phenotypes (get_all_phenotypes lists "
                    f"{len(known)} phenotypes)",
                    hint="remove them, or set skip_unknown_phenotypes: true to leave them out and go on",
                )
            notes.append(f"MeSH id(s) {labels} are not GMrepo phenotypes: left out")
            log.warning("%s: %s", name, notes[-1])
            for m in unknown:
                wanted.pop(m)
        if not wanted:
            raise DataUnavailable(
                gm.url("get_all_phenotypes"), "none of the requested phenotypes is in GMrepo"
            )

        listed: dict[str, list[Mapping[str, Any]]] = {}
        per: dict[str, dict[str, Any]] = {}
        for mesh in wanted:
            total = gm.count_runs(mesh)
            paged = gm.runs(
                mesh, total=total, page_size=page_size, max_pages=api_settings.max_pages
            )
            if not paged.complete:
                complete = False
                notes.append(
                    f"the runs of {mesh} were cut at max_pages ({len(paged.items)} of {total} listed)"
                )
            runs = [r for r in paged.items if isinstance(r, Mapping) and r.get("run_id")]
            listed[mesh] = runs
            per[mesh] = {
                "term": known.get(mesh, ""),
                "condition": wanted[mesh],
                "announced": total,
                "listed": len(runs),
                "pages": paged.pages,
                "complete": paged.complete,
            }
            if paged.complete and len(runs) != total:
                notes.append(f"{mesh}: {total} runs announced, {len(runs)} listed")

        # runs under several of the requested phenotypes have no single condition
        owners: dict[str, set[str]] = {}
        for mesh, runs in listed.items():
            for r in runs:
                owners.setdefault(str(r["run_id"]), set()).add(mesh)
        ambiguous = {rid for rid, ms in owners.items() if len(ms) > 1}

        dropped = {
            "ambiguous": len(ambiguous),
            "qc_failed": 0,
            "qc_unknown_kept": 0,
            "experiment_type": 0,
            "no_profile": 0,
            "invalid_profile": 0,
        }
        selected: list[tuple[str, str, Mapping[str, Any]]] = []
        for mesh, runs in listed.items():
            keep: dict[str, Mapping[str, Any]] = {}
            for r in runs:
                rid = str(r["run_id"])
                if rid in ambiguous or rid in keep:
                    continue
                if qc_only:
                    qc = _passes_qc(r)
                    if qc is False:
                        dropped["qc_failed"] += 1
                        continue
                    if qc is None:
                        dropped["qc_unknown_kept"] += 1
                if (
                    experiment_type
                    and str(r.get("experiment_type") or "").lower() != experiment_type.lower()
                ):
                    dropped["experiment_type"] += 1
                    continue
                keep[rid] = r
            chosen = sorted(keep)
            if max_runs is not None:
                chosen = _subsample(chosen, max_runs, seed, mesh)
            per[mesh]["after_filters"] = len(keep)
            per[mesh]["selected"] = len(chosen)
            selected.extend((rid, mesh, keep[rid]) for rid in chosen)

        columns: dict[str, int] = {}
        names: dict[str, str] = {}
        rows_i: list[int] = []
        cols_j: list[int] = []
        vals: list[float] = []
        sample_rows: list[dict[str, Any]] = []
        run_ids: list[str] = []
        for rid, mesh, run in selected:
            got = _profile_vector(gm.profile(rid), level)
            if isinstance(got, str):
                key = "no_profile" if got.startswith("no ") else "invalid_profile"
                dropped[key] += 1
                log.info("%s: run %s dropped: %s", name, rid, got)
                continue
            vec, nm = got
            i = len(run_ids)
            run_ids.append(rid)
            for taxid, value in vec.items():
                j = columns.setdefault(taxid, len(columns))
                names.setdefault(taxid, nm[taxid])
                if value > 0:
                    rows_i.append(i)
                    cols_j.append(j)
                    vals.append(value)
            row: dict[str, Any] = {
                "run_id": rid,
                "mesh_id": mesh,
                "phenotype": known.get(mesh, ""),
                "condition": wanted[mesh],
            }
            for key, value in run.items():
                if isinstance(value, Mapping | list):
                    continue
                out_key = key if key not in row else f"gmrepo_{key}"
                row[out_key] = value
            sample_rows.append(row)
        if dropped["invalid_profile"]:
            notes.append(
                f"{dropped['invalid_profile']} run(s) with an invalid profile were dropped"
            )
        if not run_ids:
            raise DataUnavailable(
                gm.url("getFullTaxonomicProfileByRunID"),
                f"none of the {len(selected)} selected runs has a {level}-level profile",
            )
        taxids = list(columns)
        table = FeatureTable(
            counts=sp.csr_array(
                sp.coo_array(
                    (np.asarray(vals, dtype=np.float64), (np.asarray(rows_i), np.asarray(cols_j))),
                    shape=(len(run_ids), len(taxids)),
                )
            ),
            sample_ids=np.array(run_ids, dtype=object),
            feature_ids=np.array(taxids, dtype=object),
            taxonomy=pd.Series(
                [f"{level[0]}__{names[t]}" for t in taxids], index=pd.Index(taxids), dtype="str"
            ),
            values="relative",
        )
        out_dir = artefact_dir(api_settings.cache_dir, SOURCE_TYPE, opts.key())
        table_path = out_dir / "table.biom"
        samples_path = out_dir / "samples.tsv"
        build_once(
            table_path,
            content_hash([level, run_ids, taxids, rows_i, cols_j, vals, names]),
            lambda p: write_biom(table, p, generated_by="gutskin (GMrepo profiles)"),
        )
        write_rows_tsv(sample_rows, ["run_id", "mesh_id", "phenotype", "condition"], samples_path)
        files = {
            "table": derived_entry(
                gm.url("getFullTaxonomicProfileByRunID"),
                table_path,
                "biom",
                client,
                f"{len(run_ids)} {level}-level profiles",
            ),
            "samples": derived_entry(
                gm.url("getAssociatedRunsByPhenotypeMeshIDLimit"),
                samples_path,
                "tsv",
                client,
                f"{len(sample_rows)} runs of {', '.join(wanted)}",
            ),
        }
        stats = dict(client.stats)

    return {
        "dataset": name,
        "available": True,
        "reason": None,
        "files": files,
        "api": {
            "type": SOURCE_TYPE,
            "level": level,
            "phenotypes": per,
            "dropped": dropped,
            "n_runs": len(run_ids),
            "n_features": len(taxids),
            "requests": stats["requests"],
            "cache_hits": stats["cache_hits"],
            "complete": complete,
            "notes": notes,
        },
    }
