"""The self-contained HTML report: ledger, claims, data, calibration, methods, limitations, reproducibility.

:func:`build_report` turns the run's JSON and TSV outputs (a :class:`ReportInputs`) into one HTML string that
needs no network to view (CSS and figures are inlined, figures as SVG or base64 PNG), prints cleanly and stays
readable without colour (every verdict has a symbol and a word). All text that comes from data goes through
Jinja2 autoescaping; the only markup built in Python is in :mod:`gutskin.report.svg`.

The work is split so each concern has one home: :mod:`.model` reads ``claims.json`` into the claim model,
:mod:`.views` turn it into what each section shows, :mod:`.fmt` formats numbers, :mod:`.svg` draws the inline
bars and embeds figures, and the templates (``templates/``, one partial per section) lay it out.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from .fmt import fmt_ci, fmt_num, fmt_p, fmt_p_eq, fmt_plain, fmt_scalar, scale_name
from .model import read_claims
from .verdict_style import styles
from .views.calibration import calibration_view, coverage_view
from .views.claim import FIGURE_DATA_SUFFIX, MAX_FIGURE_BYTES, claim_view, power_sentences
from .views.data import dataset_views
from .views.ledger import add_mini_forests, bottom_line, short_reason
from .views.methods import changelog, limitations, methods_view
from .views.reproducibility import files_view, repro_view

__all__ = [
    "FIGURE_DATA_SUFFIX",
    "MAX_FIGURE_BYTES",
    "ReportInputs",
    "build_report",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "short_reason",
    "write_report",
]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

DEFAULT_CLAIMS_SOURCE = "results/claims.json"


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report is built from.

    Attributes
    ----------
    claims
        The objects of ``results/claims.json`` (one per claim; fields of untestable claims may be missing).
    datasets
        ``config/datasets.yaml`` blocks by dataset name.
    imports
        ``results/import/{ds}/import.json`` by dataset name.
    fetches
        ``results/fetch/{ds}.json`` manifests by dataset name.
    diversity
        Diversity summaries by dataset name (``depth``, ``n_retained``, ``n_dropped``, ``rarefied``, …).
    config
        The workflow configuration actually used (``config.yaml`` with defaults filled in).
    provenance
        From :func:`gutskin.report.provenance.collect_provenance`.
    figure_root
        Directory against which the relative ``path`` of each figure and table is resolved (absolute paths
        are used as they are). A missing figure is shown as a visible note.
    previous_claims
        ``claims.json`` of an earlier run; when given, a verdict changelog section is added.
    claims_source
        Name of the claims file, used in error messages.
    depths
        Per dataset, the sequencing depth table from :func:`gutskin.report.qc.load_depth`; drawn as a
        histogram with the rarefaction depth in the Data section. Datasets without one say so.
    coverage
        ``results/coverage.json`` (covariate coverage map); ``None``: shown as not computed.
    calibration
        ``results/calibration.json`` (false-positive rate and power on simulated data); ``None``: shown as
        not computed.
    coverage_source, calibration_source
        Names of those files, for error messages and the list of files.
    report_dir
        Directory the report is written to: links to data files are made relative to it (as given when
        None).
    """

    claims: list[dict[str, Any]]
    datasets: Mapping[str, Mapping[str, Any]]
    imports: Mapping[str, Mapping[str, Any]]
    fetches: Mapping[str, Mapping[str, Any]]
    diversity: Mapping[str, Mapping[str, Any]]
    config: Mapping[str, Any]
    provenance: Mapping[str, Any]
    figure_root: Path = Path(".")
    previous_claims: list[dict[str, Any]] | None = None
    claims_source: str | Path = DEFAULT_CLAIMS_SOURCE
    depths: Mapping[str, Any] | None = None
    coverage: Mapping[str, Any] | None = None
    calibration: Mapping[str, Any] | None = None
    coverage_source: str = "results/coverage.json"
    calibration_source: str = "results/calibration.json"
    report_dir: Path | None = None


def _href(path: str | None, root: Path, report_dir: Path | None) -> str | None:
    """A link to a file of the run from the report (relative to the report's directory when known)."""
    if not path:
        return None
    p = Path(path)
    if report_dir is None:
        return p.as_posix()
    p = p if p.is_absolute() else root / p
    try:
        return Path(os.path.relpath(p.resolve(), Path(report_dir).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return p.as_posix()


def _add_links(
    views: list[dict[str, Any]],
    data_views: list[dict[str, Any]],
    files: dict[str, Any],
    root: Path,
    report_dir: Path | None,
) -> None:
    """Links to the data file of every figure and table (the report lists them; a click opens them)."""
    for v in views:
        for f in v["figures"]:
            f["data_href"] = _href(f["data"], root, report_dir)
        for t in v["tables"]:
            t["href"] = _href(t["path"], root, report_dir)
    for d in data_views:
        if d.get("qc"):
            d["qc"]["href"] = _href(d["qc"].get("path"), root, report_dir)
    for f in files["figures"]:
        f["data_href"] = _href(f["data"], root, report_dir)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = fmt_num
    env.filters["p"] = fmt_p
    env.filters["p_eq"] = fmt_p_eq
    env.filters["plain"] = fmt_plain
    env.filters["scalar"] = fmt_scalar
    env.filters["scale"] = scale_name
    env.filters["capfirst"] = lambda t: str(t)[:1].upper() + str(t)[1:]
    env.globals["fmt_ci"] = fmt_ci
    return env


def _link_datasets(views: list[dict[str, Any]], data_views: list[dict[str, Any]]) -> None:
    """Give each claim the anchors and titles of its datasets (its "Data and why" entry)."""
    anchors = {d["name"]: d["anchor"] for d in data_views}
    by_name = {d["name"]: d for d in data_views}
    for v in views:
        v["dataset_links"] = [(n, anchors.get(n)) for n in v["datasets"]]
        v["data_blocks"] = [
            {
                "name": n,
                "anchor": anchors.get(n),
                "title": by_name[n]["title"] if n in by_name else n,
                "description": by_name[n]["description"] if n in by_name else "",
                "available": by_name[n]["available"] if n in by_name else None,
            }
            for n in v["datasets"]
        ]


def build_report(inputs: ReportInputs) -> str:
    """Render the report as one self-contained HTML document.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    InputError
        A claim without id, with a duplicate id, an unknown verdict, or a mistyped number (naming the claim
        and key); a mistyped key of the coverage or calibration file.
    """
    i = inputs
    source = str(i.claims_source)
    config = i.config
    figure_root = Path(i.figure_root)
    alpha = float(config.get("alpha") or 0.05)
    tost_level = round(100 * (1 - 2 * alpha))
    models = read_claims(i.claims, source)
    calibration_v = calibration_view(i.calibration, i.calibration_source)
    calibrated: dict[str, list[dict[str, Any]]] = {}
    for row in (calibration_v or {}).get("rows") or []:
        calibrated.setdefault(row["claim"], []).append(row)
    views = [claim_view(m, figure_root, alpha, calibrated.get(m["id"])) for m in models]
    target = config.get("power_target")
    target_f = float(target) if isinstance(target, int | float) else None
    for v in views:
        if target_f is not None:
            v["underpowered"] = v["power"] is not None and v["power"] < target_f
        v["power_text"] = power_sentences(v, alpha, target_f, tost_level, v["calibrated"])
    axis = add_mini_forests(views)

    used = list(i.fetches) + list(i.imports) + list(i.diversity)
    for v in views:
        used += v["datasets"]
    claimed = [n for v in views for n in v["datasets"]]  # datasets the claims use come first
    names = list(dict.fromkeys(n for n in [*claimed, *i.datasets, *used] if n in set(used)))
    if not names:
        names = list(i.datasets)
    used_by = {v["id"]: v["datasets"] for v in views if v["testable"]}
    data_views = dataset_views(
        names, i.datasets, i.imports, i.fetches, i.diversity, depths=i.depths, used_by=used_by
    )
    _link_datasets(views, data_views)

    coverage_v = coverage_view(i.coverage, i.coverage_source)
    verdicts = styles()
    tested = [v for v in views if v["testable"] and v["verdict"] != "data_unavailable"]
    unavailable = [v for v in views if v["testable"] and v["verdict"] == "data_unavailable"]
    untested = [v for v in views if not v["testable"]]
    counts = {k: sum(1 for v in views if v["verdict"] == k) for k in verdicts}
    deviations = [
        {"claim": v["id"], **d} for v in views for d in v["deviations"] if d["what"] or d["reason"]
    ]
    report_cfg = config.get("report") or {}
    changes = (
        changelog(views, list(i.previous_claims), "previous claims.json")
        if i.previous_claims is not None
        else None
    )
    repro = repro_view(i.provenance)
    repro["data_files"] = [
        {"dataset": d["name"], **f} for d in data_views for f in d["files"] if f["sha256"]
    ]
    files = files_view(
        views,
        data_views,
        source,
        i.coverage_source if i.coverage is not None else None,
        i.calibration_source if i.calibration is not None else None,
    )
    _add_links(views, data_views, files, figure_root, i.report_dir)
    css = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    env = _environment()
    return env.get_template("report.html").render(
        title=str(report_cfg.get("title") or "gutskin report"),
        claims=views,
        tested=tested,
        untested=untested,
        unavailable=unavailable,
        bottom_line=bottom_line(views, {k: st.label for k, st in verdicts.items()}),
        deviations=deviations,
        axis=axis,
        counts=counts,
        verdicts=verdicts,
        datasets=data_views,
        coverage=coverage_v,
        calibration=calibration_v,
        methods=methods_view(config, views, i.datasets, i.diversity, names),
        limitations=limitations(views, data_views, i.coverage, calibration_v),
        files=files,
        repro=repro,
        changelog=changes,
        css=Markup(css),
        alpha=alpha,
        tost_level=tost_level,
        power_target=config.get("power_target"),
        gutskin_version=str((i.provenance.get("versions") or {}).get("gutskin", "")),
    )


def write_report(html: str, path: Path) -> None:
    """Write the report atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(html)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
