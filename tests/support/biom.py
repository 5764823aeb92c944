"""A BIOM 1.0 JSON document written by hand, for tests of the readers and of the import step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def biom_json_doc(
    obs_by_sample: Sequence[Sequence[float]],
    feature_ids: Sequence[str],
    sample_ids: Sequence[str],
    *,
    element_type: str = "int",
    taxonomy: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The sparse BIOM 1.0 document of a features × samples table (entries ``[row, column, value]``).

    ``taxonomy`` (one lineage per feature) goes into each row's metadata; without it the metadata is
    ``None``.
    """
    data = [[r, c, v] for r, row in enumerate(obs_by_sample) for c, v in enumerate(row) if v != 0]
    rows = [
        {"id": f, "metadata": None if taxonomy is None else {"taxonomy": list(taxonomy[i])}}
        for i, f in enumerate(feature_ids)
    ]
    return {
        "id": None,
        "format": "Biological Observation Matrix 1.0.0",
        "format_url": "http://biom-format.org",
        "type": "OTU table",
        "generated_by": "hand",
        "date": "2024-01-01T00:00:00",
        "matrix_type": "sparse",
        "matrix_element_type": element_type,
        "shape": [len(feature_ids), len(sample_ids)],
        "data": data,
        "rows": rows,
        "columns": [{"id": s, "metadata": None} for s in sample_ids],
    }
