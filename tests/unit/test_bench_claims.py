"""The claim-level benchmark rows (bench/claim_cases.py) agree with their baselines, and their checks bite.

Run at tiny sizes (the benchmark itself uses n = 2,000): each row's gutskin function and its baseline
(statsmodels, scikit-bio) on the same seeded input, compared by the row's own comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.cases import CASES
from bench.run import CLAIM_CASES


@pytest.mark.parametrize("name", CLAIM_CASES)
def test_claim_row_agrees_with_its_baseline(name: str) -> None:
    case = CASES[name]
    data = case.prepare({"n": 120, "seed": 3})
    ours, base = case.arrays(case.ours(data)), case.arrays(case.baseline(data))
    assert case.compare is not None
    verdict = case.compare(ours, base)
    assert verdict["agree"], verdict


@pytest.mark.parametrize("name", ["ols_hc3", "meta", "permanova"])
def test_claim_row_comparison_detects_a_difference(name: str) -> None:
    case = CASES[name]
    data = case.prepare({"n": 120, "seed": 3})
    ours = case.arrays(case.ours(data))
    shifted = {"v": ours["v"] * np.r_[1 + 1e-6, np.ones(ours["v"].size - 1)]}
    assert case.compare is not None
    assert not case.compare(shifted, ours)["agree"]
