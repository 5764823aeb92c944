"""``diversity._common.as_csr``: a bad entry of a sparse table is named by its cell."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from gutskin.diversity._common import as_csr
from tests.support.errors import refusal


@pytest.mark.parametrize(
    ("bad", "words", "cell"),
    [
        (np.nan, "NaN or infinite values", "sample row 1, feature column 2"),
        (np.inf, "NaN or infinite values", "sample row 1, feature column 2"),
        (-1.0, "negative values", "sample row 1, feature column 2"),
    ],
)
def test_bad_entry_is_named_by_row_and_column(bad: float, words: str, cell: str) -> None:
    # Stored entries in CSR order: (0,0)=1, (1,0)=2, (1,2)=bad, (2,1)=3 -> the bad one is entry 2,
    # in sample row 1 and feature column 2 (counted by hand from the dense matrix below).
    dense = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, bad], [0.0, 3.0, 0.0]])
    message = refusal(as_csr, sp.csr_array(dense), source="t.biom")
    assert words in message and cell in message and "t.biom" in message


def test_clean_table_passes() -> None:
    csr = as_csr(sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0]])))
    assert csr.has_canonical_format and csr.nnz == 2
