"""The claims registry (``config/claims.yaml``): schema, order, verbatim quotes, completeness.

Each check is a small function returning a list of problems, so that the same function is run on the real
registry and, as a negative control, on a hand-made faulty registry that it must flag.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any

import pytest

from gutskin.config import load_and_validate, load_yaml

REPO = Path(__file__).resolve().parents[2]
CLAIMS_FILE = REPO / "config" / "claims.yaml"
ID_RE = re.compile(r"^C([0-9]+)([a-z]?)$")


def _article_path() -> Path:
    shared = os.environ.get("GUTSKIN_SHARED", str(REPO.parent / "shared"))
    return Path(shared) / "reference" / "article.txt"


def _norm(text: str) -> str:
    """Collapse every run of whitespace (line breaks of folded YAML, blank lines) to one space."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def claims() -> list[dict[str, Any]]:
    """The registry, validated against the schema, with schema defaults filled in."""
    return load_and_validate(CLAIMS_FILE, "claims")["claims"]


@pytest.fixture(scope="module")
def raw_claims() -> list[dict[str, Any]]:
    """The registry as written (no defaults), to see which keys were set explicitly."""
    return load_yaml(CLAIMS_FILE)["claims"]


@pytest.fixture(scope="module")
def article() -> str:
    path = _article_path()
    if not path.is_file():
        pytest.skip(
            f"article text not found at {path}; set GUTSKIN_SHARED to the directory holding "
            "reference/article.txt to check that quotes are verbatim"
        )
    return path.read_text(encoding="utf-8")


# --- checks ---------------------------------------------------------------------------------------


def id_order_problems(ids: list[str]) -> list[str]:
    """IDs must match C<number>[letter], be unique and appear in increasing numeric order."""
    problems = []
    keys = []
    for cid in ids:
        m = ID_RE.match(cid)
        if not m:
            problems.append(f"{cid}: not of the form C<number>[letter]")
            continue
        keys.append(((int(m.group(1)), m.group(2)), cid))
    seen: set[str] = set()
    for cid in ids:
        if cid in seen:
            problems.append(f"{cid}: duplicate id")
        seen.add(cid)
    for (k1, c1), (k2, c2) in itertools.pairwise(keys):
        if not k1 < k2:
            problems.append(f"{c2} comes after {c1}: claims must be in increasing ID order")
    return problems


def quote_problems(claims: list[dict[str, Any]], article: str) -> list[str]:
    """Every quote, whitespace-normalised, must be a substring of the whitespace-normalised article."""
    text = _norm(article)
    return [
        f"{c['id']}: quote is not verbatim in the article: {_norm(c['quote'])[:80]!r}…"
        for c in claims
        if not c.get("quote", "").strip() or _norm(c["quote"]) not in text
    ]


def location_problems(claims: list[dict[str, Any]], article: str) -> list[str]:
    """A non-empty location must start with a line of the article (a heading) that precedes the quote."""
    lines = [ln.strip() for ln in article.splitlines() if ln.strip()]
    text = _norm(article)
    problems = []
    for c in claims:
        loc = c.get("location", "").strip()
        if not loc:
            continue
        heads = [ln for ln in lines if loc == ln or loc.startswith(ln + ",")]
        if not heads:
            problems.append(f"{c['id']}: location {loc!r} is not a heading line of the article")
            continue
        q = text.find(_norm(c["quote"]))
        if q >= 0 and text.find(_norm(heads[0])) > q:
            problems.append(f"{c['id']}: heading {heads[0]!r} comes after the quote in the article")
    return problems


def untestable_problems(claims: list[dict[str, Any]]) -> list[str]:
    """Claims without an analysis need a reason and an external-evidence rating with citations."""
    problems = []
    for c in claims:
        if c.get("analysis"):
            if c.get("testable") == "no":
                problems.append(f"{c['id']}: testable is 'no' but an analysis is named")
            continue
        if c.get("testable") != "no" and not c.get("not_testable_reason", "").strip():
            problems.append(
                f"{c['id']}: no analysis, testable is not 'no' and no not_testable_reason"
            )
        ev = c.get("external_evidence") or {}
        if not ev.get("rating"):
            problems.append(f"{c['id']}: no analysis and no external_evidence rating")
        if not ev.get("summary", "").strip():
            problems.append(f"{c['id']}: no analysis and no external_evidence summary")
        if not [x for x in ev.get("citations", []) if x.strip()]:
            problems.append(f"{c['id']}: no analysis and no external_evidence citation")
    return problems


def analysis_problems(raw_claims: list[dict[str, Any]]) -> list[str]:
    """Claims with an analysis must pre-register sesoi, datasets and expected_direction explicitly."""
    problems = []
    for c in raw_claims:
        if not c.get("analysis"):
            continue
        for key in ("sesoi", "datasets", "expected_direction"):
            if key not in c:
                problems.append(f"{c['id']}: analysis {c['analysis']!r} without {key}")
        if "datasets" in c and not c["datasets"]:
            problems.append(f"{c['id']}: analysis {c['analysis']!r} with an empty datasets list")
    return problems


def scope_problems(claims: list[dict[str, Any]]) -> list[str]:
    """Every analysed claim names what its analysis tests (``tested``) and what it leaves out
    (``untested``, at least one part), so its verdict label is scoped to the test (issue 11 item 9)."""
    problems = []
    for c in claims:
        if not c.get("analysis"):
            continue
        if not str(c.get("tested") or "").strip():
            problems.append(f"{c['id']}: analysis {c['analysis']!r} without 'tested'")
        if not [u for u in c.get("untested") or [] if str(u).strip()]:
            problems.append(f"{c['id']}: analysis {c['analysis']!r} without 'untested' parts")
    return problems


# --- the real registry ----------------------------------------------------------------------------


def test_registry_validates_against_schema(claims: list[dict[str, Any]]) -> None:
    assert claims, "config/claims.yaml has no claims"


def test_ids_unique_and_in_numeric_order(claims: list[dict[str, Any]]) -> None:
    assert id_order_problems([c["id"] for c in claims]) == []


def test_ids_are_those_of_the_claims_register(claims: list[dict[str, Any]]) -> None:
    numbers = [int(ID_RE.match(c["id"]).group(1)) for c in claims]
    assert all(1 <= n <= 33 for n in numbers), numbers


def test_quotes_are_verbatim(claims: list[dict[str, Any]], article: str) -> None:
    assert quote_problems(claims, article) == []


def test_locations_are_article_headings(claims: list[dict[str, Any]], article: str) -> None:
    assert location_problems(claims, article) == []


def test_untestable_claims_have_reason_and_external_evidence(claims: list[dict[str, Any]]) -> None:
    assert untestable_problems(claims) == []


def test_testable_claims_are_preregistered(raw_claims: list[dict[str, Any]]) -> None:
    assert analysis_problems(raw_claims) == []


def test_primary_family_is_that_of_the_claims_register(claims: list[dict[str, Any]]) -> None:
    # CLAIMS.md §3.5: one primary hypothesis per testable claim — C3, C8-A, C8-B, C9, C10(a), C25, C26, C32
    # (C8-A and C8-B are separate primaries: C8 and C8b). Everything else is secondary.
    primary = [c["id"] for c in claims if c["primary"]]
    assert primary == ["C3", "C8", "C8b", "C9", "C10", "C25", "C26", "C32"]


def test_registered_analyses(claims: list[dict[str, Any]]) -> None:
    # the claims the report tests today (README "What it does"), with their runners and datasets
    analysed = {c["id"]: (c["analysis"], c["datasets"]) for c in claims if c.get("analysis")}
    assert analysed == {
        "C3": ("comorbidity_logistic", ["agp_2014"]),
        "C8": ("alpha_condition", ["agp_2014"]),
        "C8b": ("alpha_condition", ["agp_2014", "psoriasis_gut_qqwxp1987"]),
        "C9": ("paired_mirror", ["hmp_v35", "eb_kunstner2022"]),
        "C10": ("differential_abundance", ["agp_2014"]),
        "C18b": ("longitudinal_mixed", ["ad_skin_khadka2021", "ad_peds_gallo"]),
        "C20": ("longitudinal_mixed", ["hitchip_peerj32"]),
        "C20b": ("alpha_exposure", ["agp_metaibs_probiotic"]),
        "C25": ("alpha_exposure", ["agp_2014"]),
        "C25b": ("longitudinal_mixed", ["hitchip_dietswap"]),
        "C26": ("longitudinal_mixed", ["wastyk2021_fermented"]),
        "C32": ("alpha_exposure", ["agp_2014"]),
    }
    unavailable = [c["id"] for c in claims if c["data_unavailable"]]
    assert unavailable == ["C21", "C27", "C28"]
    assert not set(unavailable) & set(analysed)


def test_claims_marked_untestable_explain_what_would_test_them(
    claims: list[dict[str, Any]],
) -> None:
    missing = [
        c["id"]
        for c in claims
        if c["testable"] == "no" and not c.get("analysis") and not c["not_testable_reason"].strip()
    ]
    assert missing == []


# --- negative controls: the checks must catch a faulty registry ---------------------------------


def test_id_check_flags_disorder_duplicates_and_bad_ids() -> None:
    # Numeric, not string, order: C2 < C10, so ["C10", "C2"] is out of order (string order would pass).
    assert id_order_problems(["C1", "C2", "C10"]) == []
    assert len(id_order_problems(["C10", "C2"])) == 1
    assert any("duplicate" in p for p in id_order_problems(["C1", "C1"]))
    assert any("form" in p for p in id_order_problems(["c1"]))
    assert id_order_problems(["C3", "C3a", "C4"]) == []


def test_quote_check_normalises_whitespace_but_not_words() -> None:
    article = "Heading\n\nYour gut hosts trillions of\nmicroorganisms—truly.\n"
    ok = {"id": "C7", "quote": "hosts  trillions of microorganisms—truly."}
    paraphrase = {"id": "C7", "quote": "hosts trillions of microbes"}
    dash = {"id": "C7", "quote": "microorganisms - truly."}
    assert quote_problems([ok], article) == []
    assert len(quote_problems([paraphrase, dash], article)) == 2


def test_location_check_flags_non_headings() -> None:
    article = "First Part\n\nAlpha beta.\n\nSecond Part\n\nGamma delta.\n"
    good = {"id": "C1", "quote": "Gamma delta.", "location": "Second Part"}
    wrong_order = {"id": "C2", "quote": "Alpha beta.", "location": "Second Part"}
    invented = {"id": "C3", "quote": "Alpha beta.", "location": "Introduction"}
    assert location_problems([good], article) == []
    assert len(location_problems([wrong_order, invented], article)) == 2


def test_untestable_check_flags_missing_evidence() -> None:
    good = {
        "id": "C1",
        "testable": "no",
        "not_testable_reason": "needs embryology",
        "external_evidence": {"rating": "inaccurate", "summary": "s", "citations": ["A 2000"]},
    }
    no_citation = {
        **good,
        "id": "C2",
        "external_evidence": {"rating": "inaccurate", "summary": "s"},
    }
    no_evidence = {"id": "C4", "testable": "no", "not_testable_reason": "r"}
    proxy_without_reason = {**good, "id": "C5", "testable": "proxy", "not_testable_reason": ""}
    analysed_but_no = {**good, "id": "C6", "analysis": "alpha_condition"}
    assert untestable_problems([good]) == []
    assert len(untestable_problems([no_citation])) == 1
    assert len(untestable_problems([no_evidence])) == 3
    assert len(untestable_problems([proxy_without_reason])) == 1
    assert len(untestable_problems([analysed_but_no])) == 1


def test_analysis_check_flags_missing_preregistration() -> None:
    good = {
        "id": "C8",
        "analysis": "alpha_condition",
        "datasets": ["agp_2014"],
        "sesoi": {"value": 0.2, "scale": "hedges_g"},
        "expected_direction": "negative",
    }
    bare = {"id": "C9", "analysis": "paired_mirror"}
    empty = {**good, "id": "C10", "datasets": []}
    assert analysis_problems([good]) == []
    assert len(analysis_problems([bare])) == 3
    assert len(analysis_problems([empty])) == 1


def test_every_analysed_claim_scopes_its_label(claims: list[dict[str, Any]]) -> None:
    assert scope_problems(claims) == []


def test_scope_check_flags_a_claim_without_tested_or_untested() -> None:
    good = {"id": "C26", "analysis": "longitudinal_mixed", "tested": "t", "untested": ["u"]}
    assert scope_problems([good]) == []
    assert len(scope_problems([{**good, "tested": " "}])) == 1
    assert len(scope_problems([{**good, "untested": []}])) == 1
    assert scope_problems([{"id": "C1"}]) == []  # no analysis: nothing to scope
