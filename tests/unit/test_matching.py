"""Matched case–control sets against R MatchIt (issue 11 item 2): sets, weights, balance, estimate."""

from __future__ import annotations

import pandas as pd
import pytest

from gutskin.stats._util import StatsInputError
from gutskin.stats.matching import balance, match_nearest, matched_difference
from tests.support.fixtures import reference

REF = reference("matchit_nearest.json")


def _data() -> pd.DataFrame:
    d = REF["data"]
    return pd.DataFrame(
        {k: d[k] for k in ("case", "sex", "age", "bmi", "y")}, index=pd.Index(d["id"])
    )


def _match():
    return match_nearest(
        _data(),
        "case",
        exact=["sex"],
        nearest=["age", "bmi"],
        calipers={"age": 6, "bmi": 3},
        ratio=2,
    )


def test_matched_sets_are_matchits() -> None:
    m = _match()
    expected = {}
    for s in REF["sets"]:
        ctl = s["controls"]
        ctl = [ctl] if isinstance(ctl, str) else list(ctl)
        if ctl:
            expected[s["case"]] = ctl
    assert m.sets == expected
    assert m.n_cases == len(expected) and m.n_cases_unmatched == 12 - len(expected)


def test_weights_are_matchits() -> None:
    m = _match()
    ref = pd.Series(REF["weights"])
    assert sorted(m.weights.index) == sorted(ref.index)
    assert m.weights.loc[ref.index].to_numpy() == pytest.approx(ref.to_numpy(), abs=1e-12)


def test_balance_and_matched_difference_are_matchits() -> None:
    m = _match()
    bal = {b["covariate"]: b for b in balance(_data(), "case", ["age", "bmi"], m)}
    for c in ("age", "bmi"):
        assert bal[c]["smd_before"] == pytest.approx(REF["smd_before"][c], abs=1e-10)
        assert bal[c]["smd_after"] == pytest.approx(REF["smd_after"][c], abs=1e-10)
    r = matched_difference(_data(), "case", "y", m)
    assert r["estimate"] == pytest.approx(REF["estimate"], abs=1e-10)
    assert r["se"] == pytest.approx(REF["se"], rel=1e-8)


def test_bad_input_is_named() -> None:
    d = _data()
    with pytest.raises(StatsInputError, match="column"):
        match_nearest(d, "case", nearest=["height"])
    with pytest.raises(StatsInputError, match="cases and controls"):
        match_nearest(d.assign(case=1), "case", nearest=["age"])
