"""docs/RELIABILITY.md cannot drift from the fault tests: its table is what the markers say."""

from __future__ import annotations

from tests.faults.matrix import DOC, collect, current_block, render


def test_every_fault_marker_is_well_formed() -> None:
    rows = collect()
    assert rows, "no @pytest.mark.fault markers found"
    for r in rows:
        assert r.case.split(" ", 1)[0][:1] in "FWNH", r
        assert len(r.case.split(" ", 1)) == 2 and r.expected.strip(), r


def test_reliability_doc_table_equals_the_markers() -> None:
    block = current_block(DOC.read_text(encoding="utf-8"))
    assert block is not None, f"{DOC} has no fault-matrix block"
    assert block == render(collect()), (
        "docs/RELIABILITY.md is out of date with the @pytest.mark.fault markers: run "
        "`python -m tests.faults.matrix --write`"
    )
