"""Everything one dataset contributes to a claim: canonical samples, diversity results and status."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..importer import read_samples_tsv


@dataclass
class DatasetBundle:
    """The imported and diversity outputs of one dataset, loaded lazily where large.

    Attributes
    ----------
    name
        Dataset name (key of ``datasets.yaml``).
    available
        False when the dataset could not be fetched; ``reason`` then says why.
    samples
        Canonical sample table (index ``sample_id``).
    alpha
        Per-sample alpha diversity means over rarefactions (index ``sample_id``); only retained samples.
    depth
        Per-sample read counts and whether the sample was retained by rarefaction (index ``sample_id``).
    beta_files
        Metric name -> ``.npz`` file holding ``ids`` and the condensed distance vector (metrics the
        diversity step skipped, e.g. UniFrac without a tree, are left out).
    table_path
        The imported (unrarefied) feature table, ``table.biom`` of the import directory.
    """

    name: str
    available: bool
    reason: str | None
    samples: pd.DataFrame
    alpha: pd.DataFrame
    depth: pd.DataFrame
    beta_files: dict[str, Path] = field(default_factory=dict)
    import_info: dict = field(default_factory=dict)
    diversity_info: dict = field(default_factory=dict)
    table_path: Path | None = None
    _beta_cache: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def beta(self, metric: str, ids: list[str] | np.ndarray) -> np.ndarray:
        """Square distance matrix of ``metric`` for ``ids``, in that order.

        Raises
        ------
        InputError
            If the metric was not computed or an id is missing (e.g. dropped by rarefaction).
        """
        if metric not in self.beta_files:
            raise InputError(
                None,
                f"beta metric {metric!r} was not computed for dataset {self.name!r}",
                hint="add it to beta_metrics in config/config.yaml",
            )
        if metric not in self._beta_cache:
            with np.load(self.beta_files[metric], allow_pickle=False) as npz:
                self._beta_cache[metric] = (npz["ids"].astype(str), npz["condensed"])
        all_ids, condensed = self._beta_cache[metric]
        return subset_condensed(condensed, all_ids, np.asarray(ids, dtype=str))


def subset_condensed(condensed: np.ndarray, all_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Extract the square sub-matrix for ``ids`` from a condensed matrix over ``all_ids``.

    Only the requested entries are read: no square matrix of the whole table is built.
    """
    pos = {sid: i for i, sid in enumerate(all_ids)}
    missing = [s for s in ids if s not in pos]
    if missing:
        raise InputError(
            None,
            f"{len(missing)} sample(s) have no beta-diversity entry (e.g. {missing[:3]})",
            hint="they were probably dropped by rarefaction; filter on retained samples first",
        )
    idx = np.array([pos[s] for s in ids], dtype=np.int64)
    n = len(all_ids)
    m = len(idx)
    out = np.zeros((m, m), dtype=np.float64)
    if m < 2:
        return out
    iu, ju = np.triu_indices(m, k=1)
    a = np.minimum(idx[iu], idx[ju])
    b = np.maximum(idx[iu], idx[ju])
    # Index of (a, b), a < b, in scipy's condensed order.
    k = n * a - a * (a + 1) // 2 + (b - a - 1)
    vals = condensed[k]
    out[iu, ju] = vals
    out[ju, iu] = vals
    return out


def _read_json(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def load_bundle(name: str, import_dir: Path, diversity_dir: Path) -> DatasetBundle:
    """Load the outputs of the import and diversity steps of one dataset."""
    import_dir = Path(import_dir)
    diversity_dir = Path(diversity_dir)
    info = _read_json(import_dir / "import.json")
    div_info_path = diversity_dir / "diversity.json"
    div_info = _read_json(div_info_path) if div_info_path.exists() else {}
    # The one samples.tsv dialect (gutskin.importer): no quote handling, only empty cells are missing
    # (a subject "NA" or a value starting with '"' is data). Ordinal columns stay plain values here.
    types = {
        c: ({**t, "type": "string"} if isinstance(t, dict) and t.get("type") == "ordinal" else t)
        for c, t in (info.get("columns") or {}).items()
    }
    samples = read_samples_tsv(import_dir / "samples.tsv", types)
    # Index by sample id but keep the column; an unnamed index avoids pandas' ambiguity errors.
    samples.index = pd.Index(samples["sample_id"].astype(str).to_numpy())
    alpha_path = diversity_dir / "alpha.tsv"
    alpha = (
        pd.read_csv(alpha_path, sep="\t", dtype={"sample_id": str}).set_index("sample_id")
        if alpha_path.exists()
        else pd.DataFrame()
    )
    depth_path = diversity_dir / "depth.tsv"
    depth = (
        pd.read_csv(depth_path, sep="\t", dtype={"sample_id": str}).set_index("sample_id")
        if depth_path.exists()
        else pd.DataFrame()
    )
    skipped = set((div_info.get("phylogeny") or {}).get("skipped") or [])
    beta_files = {
        metric: p
        for p in sorted(diversity_dir.glob("beta_*.npz"))
        if (metric := p.stem.removeprefix("beta_")) not in skipped
    }
    return DatasetBundle(
        name=name,
        available=bool(info.get("available", False)),
        reason=info.get("reason"),
        samples=samples,
        alpha=alpha,
        depth=depth,
        beta_files=beta_files,
        import_info=info,
        diversity_info=div_info,
        table_path=import_dir / "table.biom",
    )
