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

        float64 for a dataset of up to :data:`FLOAT32_ABOVE` samples (exactly the stored values);
        above it float32, read from the file in chunks (the stored condensed vector is never held as
        float64), so a claim at American-Gut scale holds one float32 n × n matrix (3.6 GB at 30,000
        samples, not 7.2 GB) plus the float32 condensed vector it is cut from (half of that).

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
            self._beta_cache[metric] = read_condensed(self.beta_files[metric])
        all_ids, condensed = self._beta_cache[metric]
        return subset_condensed(condensed, all_ids, np.asarray(ids, dtype=str))


#: Datasets with more samples than this get float32 distance matrices from :meth:`DatasetBundle.beta`
#: (a float64 one would be 800 MB here and 7.2 GB at 30,000 samples); up to it, float64 as stored.
FLOAT32_ABOVE = 10_000

#: Elements per chunk when streaming the condensed vector, and per row block of :func:`subset_condensed`.
_CHUNK = 1 << 22


def read_condensed(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, condensed)`` of a ``beta_<metric>.npz`` file (diversity step).

    The condensed vector is returned as stored (float64) for up to :data:`FLOAT32_ABOVE` samples; for
    more, it is converted to float32 chunk by chunk while being read from the archive, so the float64
    vector (3.6 GB at 30,000 samples) never exists in memory.
    """
    import zipfile

    with np.load(path, allow_pickle=False) as npz:
        ids = npz["ids"].astype(str)
        if len(ids) <= FLOAT32_ABOVE:
            return ids, npz["condensed"]
    fmt = np.lib.format
    with zipfile.ZipFile(path) as zf, zf.open("condensed.npy") as fh:
        version = fmt.read_magic(fh)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        if len(shape) != 1 or fortran or dtype.hasobject:
            raise InputError(
                Path(path),
                f"condensed must be a plain 1-d array, got shape {shape} and dtype {dtype}",
                hint="rerun the diversity step of this dataset",
            )
        out = np.empty(shape[0], dtype=np.float32)
        for start in range(0, shape[0], _CHUNK):
            count = min(_CHUNK, shape[0] - start)
            buf = fh.read(count * dtype.itemsize)
            if len(buf) != count * dtype.itemsize:
                raise InputError(
                    Path(path), "condensed is truncated", hint="rerun the diversity step"
                )
            out[start : start + count] = np.frombuffer(buf, dtype=dtype)
    return ids, out


def subset_condensed(condensed: np.ndarray, all_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Extract the square sub-matrix for ``ids`` from a condensed matrix over ``all_ids``.

    The result has the condensed vector's dtype (float32 or float64). It is filled in blocks of rows
    (a few MB of index arithmetic each), so besides the result no array of the size of the square
    matrix is made; only the requested entries are read. A repeated id gets distance 0 to itself.
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
    dtype = condensed.dtype if condensed.dtype in (np.float32, np.float64) else np.float64
    out = np.zeros((m, m), dtype=dtype)
    if m < 2:
        return out
    rows_per_block = max(1, _CHUNK // m)
    for start in range(0, m, rows_per_block):
        r = idx[start : start + rows_per_block, None]
        a = np.minimum(r, idx[None, :])
        b = np.maximum(r, idx[None, :])
        same = a == b
        # Index of (a, b), a < b, in scipy's condensed order (0 where a == b, overwritten below).
        k = np.where(same, 0, n * a - a * (a + 1) // 2 + (b - a - 1))
        block = condensed[k]
        block[same] = 0.0
        out[start : start + rows_per_block] = block
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
