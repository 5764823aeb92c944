"""Reading and writing the data gutskin works on.

.. autosummary::

   table.FeatureTable
   table.read_biom
   table.write_biom
   mapping.read_qiime_mapping
   mapping.read_delimited

Readers are registered by the ``format`` names of ``config/datasets.yaml``: :data:`TABLE_READERS`
(feature tables) and :data:`SAMPLE_READERS` (sample metadata). A table reader is called as
``reader(path, values=...)`` and returns a :class:`FeatureTable`; a sample reader is called as
``reader(path, id_column=..., missing_values=...)`` and returns the raw metadata (see
:mod:`gutskin.io.mapping`). To support a new format, add a function to the right dict and the name to
the ``format`` enum in ``workflow/schemas/datasets.schema.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError
from .mapping import SAMPLE_READERS, read_delimited, read_qiime_mapping, read_samples
from .table import VALUE_KINDS, FeatureTable, atomic_path, read_biom, write_biom

__all__ = [
    "SAMPLE_READERS",
    "TABLE_READERS",
    "VALUE_KINDS",
    "FeatureTable",
    "TableReader",
    "atomic_path",
    "read_biom",
    "read_delimited",
    "read_qiime_mapping",
    "read_samples",
    "read_table",
    "write_biom",
]

#: A feature-table reader: ``reader(path, *, values) -> FeatureTable``.
TableReader = Callable[..., FeatureTable]

#: Feature-table readers by the ``format`` name used in ``config/datasets.yaml``.
TABLE_READERS: dict[str, TableReader] = {
    "biom": read_biom,
}


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
    return reader(path, values=values, **kwargs)
