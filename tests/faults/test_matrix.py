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


def test_every_test_pytest_marks_as_a_fault_is_a_row() -> None:
    # a marker the AST scan cannot read (built by a helper, say) would drop its row silently
    import subprocess
    import sys

    from tests.faults.matrix import ROOT

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-m",
            "fault",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "tests",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    collected = {line.strip() for line in proc.stdout.splitlines() if "::" in line}
    assert collected, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = {r.test for r in collect()}
    # a marker on the function covers each of its parameter sets
    missing = {c for c in collected if c not in rows and c.split("[", 1)[0] not in rows}
    assert not missing, f"marked as faults but not rows of the matrix: {sorted(missing)}"
    unrun = {
        r for r in rows if r not in collected and not any(c.startswith(r + "[") for c in collected)
    }
    assert not unrun, f"rows of the matrix pytest does not collect: {sorted(unrun)}"
