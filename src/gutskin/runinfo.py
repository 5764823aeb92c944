"""What a finished run says at the end of its log: datasets available, claims by verdict, where the report
is, and what to do about unavailable data (the Snakefile's ``onsuccess`` / ``onerror``).

A run in which no testable claim could be analysed (typically: offline, no mirror, so no dataset could be
fetched) still writes its report, but :func:`summarise` marks it as failed so the workflow exits non-zero.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _atomic, layout
from .errors import InputError
from .verdict_words import LABELS, VERDICTS, is_data_unavailable

__all__ = [
    "RunSummary",
    "calibration_skips",
    "claim_without_data",
    "cohort_without_data",
    "cohorts_of",
    "dataset_status",
    "pooled_without_data",
    "rerun_hint",
    "summarise",
    "unanalysed_results",
    "write_json",
]

#: Words for the verdicts in the summary, in the order they are listed (from the one definition).
VERDICT_WORDS = {key: LABELS[key].lower() for key in VERDICTS}


def write_json(obj: Any, path: Path | str) -> None:
    """Write JSON atomically (temp file beside it, then rename), as every result writer does."""
    _atomic.write_json(path, obj)


def dataset_status(results: Path, datasets: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per dataset: ``{"available": bool | None, "reason": str}`` from ``results/fetch/<dataset>.json``
    (``available`` is None when the fetch has not run or its manifest cannot be read)."""
    out: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        path = Path(layout.fetch_manifest(ds, root=str(results)))
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            out[ds] = {
                "available": bool(manifest.get("available")),
                "reason": str(manifest.get("reason") or ""),
            }
        except (OSError, ValueError, AttributeError):
            out[ds] = {"available": None, "reason": f"{path} is missing or unreadable"}
    return out


def rerun_hint(unavailable: Iterable[str], every: bool = False) -> list[str]:
    """What to do when datasets could not be had: a mirror or the network, then rerun only those
    (``every``: all used datasets were unavailable, so rerun every fetch)."""
    names = list(unavailable)
    if not names:
        return []
    if every:
        rerun = 'make report SNAKEMAKE_ARGS="--forcerun fetch"'
    else:
        rerun = 'make report SNAKEMAKE_ARGS="--forcerun {}"'.format(
            " ".join(layout.fetch_manifest(ds) for ds in names)
        )
    return [
        "To get the data: point gutskin at a mirror laid out as <mirror>/<host>/<path>, e.g. "
        "GUTSKIN_MIRROR=/path/to/mirror make report, or allow network access "
        "(network: enabled: true in config/config.yaml).",
        f"Then fetch the unavailable datasets again (and redo what depends on them): {rerun}",
        "More in the README, section Troubleshooting.",
    ]


def calibration_skips(
    calibrated: Iterable[str],
    claims: Mapping[str, Mapping[str, Any]],
    status: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """Calibrated claims that cannot run here, with the reason: claim ID -> reason.

    A claim is skipped when the claims register does not analyse it or any of its datasets is
    unavailable (its fetch manifest says ``available: false``)."""
    skips: dict[str, str] = {}
    for cid in calibrated:
        claim = claims.get(cid)
        if not claim or not claim.get("analysis"):
            skips[cid] = (
                f"{cid} is not analysed in this workflow (no analysis in the claims register)"
            )
            continue
        missing = [
            ds for ds in claim.get("datasets", []) if status.get(ds, {}).get("available") is False
        ]
        if missing:
            skips[cid] = f"data unavailable ({', '.join(missing)}), so {cid} cannot be analysed"
    return skips


def claim_without_data(
    claim: Mapping[str, Any], results: Path | str = layout.RESULTS
) -> dict[str, Any] | None:
    """The result of a claim none of whose datasets could be fetched, or None when one could.

    Read from each dataset's fetch manifest (``available: false`` and the ``reason``; the workflow
    plans no import job for such a dataset), without loading the statistics stack. The keys are those of
    :class:`gutskin.claims.common.ClaimResult`; ``data_problem`` is worded as the runners word it
    (``dataset <name> unavailable: <reason>``) for the first dataset.
    """
    datasets = list(claim.get("datasets") or [])
    if not datasets:
        return None
    reasons: list[tuple[str, str]] = []
    for ds in datasets:
        try:
            path = Path(layout.fetch_manifest(ds, root=str(results)))
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("available") is not False:
            return None
        reasons.append((ds, str(manifest.get("reason") or "not fetched")))
    ds, reason = reasons[0]
    return {
        "id": str(claim["id"]),
        "data_problem": f"dataset {ds} unavailable: {reason}",
        "headline": {},
        "estimate_label": "",
        "effect_size_label": "",
        "method": "",
        "covariates": [],
        "n": None,
        "n_groups": {},
        "tests": [],
        "sensitivity_agrees": None,
        "sensitivity_note": None,
        "sensitivity_analyses": [],
        "positive_control_ok": None,
        "figures": [],
        "tables": [],
        "notes": [f"not analysed: no dataset available ({', '.join(d for d, _ in reasons)})"],
        "sample_flow": [],
        "population": None,
        "deviations": [],
        "matched": None,
    }


def cohort_without_data(
    claim: Mapping[str, Any], dataset: str, results: Path | str = layout.RESULTS
) -> dict[str, Any] | None:
    """The per-cohort result of ``claim`` on an unavailable ``dataset``, or None when the dataset
    could be had.

    The same dict :func:`gutskin.claims.pooling.cohort_result` makes of :func:`claim_without_data` (a
    test checks it), built without importing the claims package. The workflow plans no ``claim_cohort``
    job for such a dataset (``fetch`` is a checkpoint): ``pool_claim`` and the ledger make this result
    instead (:func:`cohorts_of`).
    """
    empty = claim_without_data({**claim, "datasets": [dataset]}, results)
    if empty is None:
        return None
    return {**empty, "dataset": dataset, "se": None, "scale": None}


def pooled_without_data(
    claim: Mapping[str, Any],
    cohorts: Mapping[str, Mapping[str, Any] | None],
    selection: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any] | None:
    """The claim's result when none of its cohorts' data could be had (``pool_claim`` job), or None
    when one could (then :func:`gutskin.claims.pooling.pool` does the pooling).

    Equal to what :func:`~gutskin.claims.pooling.pool` returns for ``k = 0`` with every cohort's data
    unavailable (a test checks it), without loading the statistics stack.
    """
    problems: dict[str, str] = {}
    for ds, c in cohorts.items():
        problem = (c or {}).get("data_problem")
        if c is None or not is_data_unavailable(problem):
            return None
        problems[ds] = str(problem)
    if not problems:
        return None
    rows = [
        {
            "dataset": ds,
            "n": (cohorts[ds] or {}).get("n"),
            "estimate": None,
            "se": None,
            "ci": None,
            "weight": None,
            "p_value": None,
            "status": "failed",
            "reason": problem,
        }
        for ds, problem in problems.items()
    ]
    if len(problems) == 1:
        only = cohorts[next(iter(problems))] or {}
        base = {k: v for k, v in only.items() if k not in ("dataset", "se")}
    else:
        base = {
            "id": claim["id"],
            "headline": {},
            "tests": [],
            "figures": [],
            "tables": [],
            "data_problem": "; ".join(problems.values()),
        }
    base.update(k=0, cohorts=rows, pooling=None, dataset_selection=[dict(s) for s in selection])
    return json.loads(json.dumps(base))  # plain JSON values, as the pooled results are


def cohorts_of(
    claim: Mapping[str, Any],
    datasets: Iterable[str],
    done: Mapping[str, str | Path],
    results: Path | str = layout.RESULTS,
) -> dict[str, dict[str, Any]]:
    """A claim's per-cohort results, dataset by dataset in the order of ``datasets``: read from
    ``done`` (dataset -> the ``claim_cohort`` job's JSON) or, for a dataset that could not be fetched
    (no ``claim_cohort`` job was planned for it), :func:`cohort_without_data` from its fetch manifest.

    Raises
    ------
    InputError
        A dataset with neither a cohort result nor a fetch manifest saying ``available: false``.
    """
    out: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        if ds in done:
            out[ds] = json.loads(Path(done[ds]).read_text(encoding="utf-8"))
            continue
        empty = cohort_without_data(claim, ds, results)
        if empty is None:
            raise InputError(
                layout.fetch_manifest(ds, root=str(results)),
                f"claim {claim.get('id')} has no result on dataset {ds}, whose manifest does not "
                "say it is unavailable",
                hint="rerun the workflow (the cohort job of an available dataset is missing)",
            )
        out[ds] = empty
    return out


def unanalysed_results(
    claims: Iterable[Mapping[str, Any]],
    done: Mapping[str, Any],
    claim_datasets: Mapping[str, Sequence[str]],
    selection: Mapping[str, Iterable[Mapping[str, Any]]],
    results: Path | str = layout.RESULTS,
) -> dict[str, dict[str, Any]]:
    """The results of the testable claims (those with an ``analysis``) that are not in ``done`` because
    none of their datasets could be fetched (the workflow plans no ``pool_claim`` job for them): what
    that job would have written (:func:`pooled_without_data`), by claim ID, for the ledger."""
    out: dict[str, dict[str, Any]] = {}
    for claim in claims:
        cid = str(claim["id"])
        if not claim.get("analysis") or cid in done:
            continue
        datasets = list(claim_datasets.get(cid) or [])
        cohorts = cohorts_of(claim, datasets, {}, results)
        pooled = pooled_without_data(claim, cohorts, selection.get(cid) or ())
        if pooled is not None:  # None: no datasets (such a claim keeps its pool_claim job)
            out[cid] = pooled
    return out


@dataclass
class RunSummary:
    """The end-of-run summary: ``lines`` to print and whether the run analysed anything (``ok``)."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True
    n_available: int = 0
    n_datasets: int = 0
    analysed: int = 0
    testable: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)


def _status_of(entry: Mapping[str, Any]) -> str:
    verdict = str(entry.get("verdict") or "inconclusive")
    if verdict == "inconclusive" and entry.get("data_problem"):
        return "data_unavailable"
    return verdict


def summarise(results: Path, datasets: Iterable[str], report: Path | None = None) -> RunSummary:
    """Summarise a run from ``results/`` (fetch manifests and ``claims.json``).

    ``ok`` is False only when the ledger exists and not one of its testable claims could be analysed
    (a run of a partial target, without a ledger, is not judged)."""
    results = Path(results)
    datasets = list(datasets)
    status = dataset_status(results, datasets)
    available = [ds for ds, s in status.items() if s["available"]]
    unavailable = [ds for ds, s in status.items() if s["available"] is False]
    summary = RunSummary(n_available=len(available), n_datasets=len(datasets))
    lines = summary.lines
    lines.append("gutskin: summary of this run")
    line = f"  datasets: {len(available)} of {len(datasets)} available"
    if unavailable:
        line += f"; unavailable: {', '.join(unavailable)}"
    lines.append(line)
    claims_path = Path(layout.result_file("claims.json", root=str(results)))
    ledger: list[dict[str, Any]] = []
    try:
        ledger = json.loads(claims_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        lines.append(f"  claims: no ledger ({claims_path}) in this run")
    if ledger:
        counts = Counter(_status_of(e) for e in ledger)
        summary.verdicts = dict(counts)
        testable = [e for e in ledger if e.get("analysis") or e.get("data_unavailable")]
        analysed = [e for e in ledger if e.get("analysis") and not e.get("data_problem")]
        summary.testable, summary.analysed = len(testable), len(analysed)
        lines.append(
            f"  claims: {len(ledger)}; {len(analysed)} of {len(testable)} testable claims analysed"
        )
        order = [*VERDICT_WORDS, *sorted(set(counts) - set(VERDICT_WORDS))]
        by_verdict = ", ".join(
            f"{counts[v]} {VERDICT_WORDS.get(v, v)}" for v in order if counts.get(v)
        )
        lines.append(f"  verdicts: {by_verdict}")
        summary.ok = bool(analysed) or not testable
    if report is not None:
        lines.append(
            f"  report: {report}" if Path(report).exists() else f"  report: not written ({report})"
        )
    if not summary.ok:
        lines.append(
            "  No claim could be analysed"
            + (" because no dataset was available." if not available else ".")
        )
    every = bool(unavailable) and len(unavailable) == len(datasets)
    lines.extend(f"  {h}" for h in rerun_hint(unavailable, every=every))
    return summary


def main(argv: list[str] | None = None) -> int:
    """``python -m gutskin.runinfo [RESULTS]``: print the summary of the run in ``RESULTS`` (default
    ``results``) and return 1 when its ledger has no analysed claim (``make report`` ends with this,
    so a run that found nothing to do still says where things stand)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gutskin.runinfo", description=main.__doc__)
    parser.add_argument("results", nargs="?", default="results", type=Path)
    args = parser.parse_args(argv)
    results: Path = args.results
    manifests = Path(layout.fetch_manifest("x", root=str(results))).parent
    datasets = sorted(p.stem for p in manifests.glob("*.json"))
    summary = summarise(
        results, datasets, Path(layout.result_file("report.html", root=str(results))).resolve()
    )
    print("\n".join(summary.lines))
    if not summary.ok:
        print(
            f"gutskin: no claim could be analysed ({summary.n_available} of {summary.n_datasets} "
            "datasets available); the report was written anyway. Exit status 1."
        )
    return 0 if summary.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
