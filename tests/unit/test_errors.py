"""The shared wording of 'what did you mean' in error messages (gutskin.errors)."""

from __future__ import annotations

from gutskin.errors import close_matches, close_matches_note, did_you_mean


def test_close_matches_case_and_spelling() -> None:
    cols = ["#SampleID", "AGE", "Sex", "BMI"]
    assert close_matches("sampleid", cols) == []  # case counts unless told otherwise
    assert close_matches("#sampleid", cols, ignore_case=True) == ["#SampleID"]
    assert close_matches_note("sex", cols, ignore_case=True) == "; close matches: 'Sex'"
    assert close_matches_note("zzz", cols) == ""


def test_did_you_mean_one_name_and_several() -> None:
    known = ["braycurtis", "jaccard", "robust_aitchison"]
    assert did_you_mean("bray_curtis", known) == "did you mean braycurtis? "
    assert did_you_mean(["jacard", "braycurtsi"], known) == "did you mean braycurtis, jaccard? "
    assert did_you_mean("manhattan", known) == ""
