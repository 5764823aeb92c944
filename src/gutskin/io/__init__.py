"""Reading and writing the data gutskin works on.

.. autosummary::

   table.FeatureTable
   table.read_biom
   table.write_biom
   mapping.read_qiime_mapping
   mapping.read_delimited

Readers are registered by the ``format`` names of ``config/datasets.yaml``: :data:`TABLE_READERS`
(feature tables), :data:`SAMPLE_READERS` (sample metadata) and :data:`TREE_READERS` (phylogenies of the
features, ``files.tree``; ``reader(path, **options) -> skbio.TreeNode``). A table reader is called as
``reader(path, values=...)`` and returns a :class:`FeatureTable`; a sample reader is called as
``reader(path, id_column=..., missing_values=...)`` and returns the raw metadata (see
:mod:`gutskin.io.mapping`). These dicts are the one list of formats: the datasets schema names none,
and :func:`check_formats` checks ``config/datasets.yaml`` against them when the workflow is planned.
To support a new format, write the reader in a module of this package and add it to the right dict
here (walk-through in ``docs/ARCHITECTURE.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError, did_you_mean
from . import rdata as _rdata
from ._compressed import get_inflate_limit, inflate_limit, set_inflate_limit
from .hmp_dacc import read_dacc_map, read_dacc_otu_table
from .mapping import SAMPLE_READERS, read_delimited, read_qiime_mapping, read_samples
from .mgnify_tsv import read_taxonomy_tsv
from .newick import read_newick
from .table import VALUE_KINDS, FeatureTable, atomic_path, read_biom, write_biom
from .wide import read_wide, read_wide_csv, read_wide_tsv, round_counts

__all__ = [
    "READERS_BY_ROLE",
    "SAMPLE_READERS",
    "TABLE_READERS",
    "TREE_READERS",
    "VALUE_KINDS",
    "FeatureTable",
    "TableReader",
    "atomic_path",
    "check_formats",
    "get_inflate_limit",
    "inflate_limit",
    "read_biom",
    "read_delimited",
    "read_qiime_mapping",
    "read_samples",
    "read_table",
    "read_tree",
    "read_wide",
    "round_counts",
    "set_inflate_limit",
    "write_biom",
]

#: A feature-table reader: ``reader(path, *, values) -> FeatureTable``.
TableReader = Callable[..., FeatureTable]

#: Feature-table readers by the ``format`` name used in ``config/datasets.yaml``.
TABLE_READERS: dict[str, TableReader] = {
    "biom": read_biom,
}

# Wide CSV/TSV matrices and HMP DACC files (gutskin.io.wide, gutskin.io.hmp_dacc).
TABLE_READERS["wide_csv"] = read_wide_csv
TABLE_READERS["wide_tsv"] = read_wide_tsv
TABLE_READERS["dacc_otu_table"] = read_dacc_otu_table
SAMPLE_READERS["dacc_map"] = read_dacc_map


TABLE_READERS["mgnify_tsv"] = read_taxonomy_tsv

# R data files: phyloseq objects in .rds / .rda, MicrobiomeData lists in .rds (gutskin.io.rdata).
TABLE_READERS.update(_rdata.TABLE_READERS)
SAMPLE_READERS.update(_rdata.SAMPLE_READERS)


def _read_newick(path: str | Path, **options: Any) -> Any:
    """Newick tree (:func:`gutskin.io.newick.read_newick`), rejecting reader options."""
    if options:
        raise InputError(
            path,
            f"option(s) {', '.join(sorted(options))} do not apply to format 'newick'",
            hint="remove them from the file's options in config/datasets.yaml",
        )
    return read_newick(path)


#: Tree readers (``files.tree`` role) by ``format``: ``reader(path, **options) -> skbio.TreeNode``.
TREE_READERS: dict[str, Callable[..., Any]] = {"newick": _read_newick, **_rdata.TREE_READERS}


#: The reader dict of each file role of a dataset block (``files.<role>.format``).
READERS_BY_ROLE: dict[str, Mapping[str, Callable[..., Any]]] = {
    "table": TABLE_READERS,
    "samples": SAMPLE_READERS,
    "tree": TREE_READERS,
}


def check_formats(
    datasets: Mapping[str, Any], *, source: str | Path = "config/datasets.yaml"
) -> None:
    """Every ``files.<role>.format`` of ``datasets`` (table, samples, tree) names a registered reader.

    Raises
    ------
    ConfigError
        Naming the file, the key path, close matches and the known formats of that role.
    """
    for name, block in datasets.items():
        files = block.get("files") if isinstance(block, Mapping) else None
        for role, readers in READERS_BY_ROLE.items():
            entry = files.get(role) if isinstance(files, Mapping) else None
            fmt = entry.get("format") if isinstance(entry, Mapping) else None
            if fmt is None or fmt in readers:
                continue
            raise ConfigError(
                source,
                f"dataset {name}: unknown {role} format {fmt!r}",
                where=f"key datasets/{name}/files/{role}/format",
                hint=did_you_mean(str(fmt), readers, n=2)
                + f"use one of {', '.join(readers)} (the readers of gutskin.io)",
            )


def read_tree(path: str | Path, fmt: str, **kwargs: Any) -> Any:
    """Read a phylogenetic tree with the reader registered for ``fmt`` in :data:`TREE_READERS`."""
    try:
        reader = TREE_READERS[fmt]
    except KeyError:
        raise InputError(
            path,
            f"unknown tree format {fmt!r}",
            where="files.tree.format",
            hint=f"use one of {', '.join(sorted(TREE_READERS))} in config/datasets.yaml",
        ) from None
    return reader(path, **kwargs)


def read_table(
    path: str | Path, fmt: str, *, values: str = "counts", **kwargs: Any
) -> FeatureTable:
    """Read a feature table with the reader registered for ``fmt`` in :data:`TABLE_READERS`."""
    try:
        reader = TABLE_READERS[fmt]
    except KeyError:
        raise InputError(
            path,
            f"unknown feature-table format {fmt!r}",
            where="files.table.format",
            hint=f"use one of {', '.join(sorted(TABLE_READERS))} in config/datasets.yaml",
        ) from None
    table = reader(path, values=values, **kwargs)
    _check_not_empty(Path(path), fmt, table)
    return table


def _check_not_empty(path: Path, fmt: str, table: FeatureTable) -> None:
    """A table without samples, without features or without a single read cannot be analysed: say so
    here, naming the file, rather than with an empty id list or a rarefaction-depth error later."""
    what = None
    if table.n_samples == 0:
        what = "has no samples (0 sample columns)"
    elif table.n_features == 0:
        what = f"has no features (0 rows for its {table.n_samples} samples)"
    elif table.counts.nnz == 0 or not float(table.counts.sum()) > 0:
        what = f"holds only zeros ({table.n_samples} samples × {table.n_features} features)"
    if what is not None:
        raise InputError(
            path,
            f"the {fmt} table {what}",
            hint="check that the url/sha256 in config/datasets.yaml name the full table (not an empty "
            "template or a filtered subset) and that the reader options match the file's layout",
        )
