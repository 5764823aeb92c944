"""Per-rule table from the Snakemake ``benchmark:`` files of a run: ``python -m bench.rules [results]``.

Every rule writes ``results/benchmarks/<step>/<name>.tsv`` (or ``<step>.tsv``; paths from
:func:`gutskin.layout.benchmark_file`), one row with the job's wall time ``s``, ``cpu_time`` and peak
``max_rss`` (MB). This sums wall and CPU over the jobs of each step and takes the largest peak, and
prints the Markdown table ``docs/PERFORMANCE.md`` shows.
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from gutskin.layout import BENCHMARKS


@dataclass
class Step:
    jobs: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    max_rss_mb: float = 0.0
    slowest: tuple[float, str] = field(default=(0.0, ""))


def _num(value: str | None) -> float:
    try:
        x = float(value) if value not in (None, "", "-", "NA") else 0.0
    except ValueError:
        return 0.0
    return x if math.isfinite(x) else 0.0


def collect(root: Path) -> dict[str, Step]:
    """Step name -> totals over its jobs' benchmark files under ``root`` (``results/benchmarks``)."""
    steps: dict[str, Step] = {}
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root)
        step = rel.parts[0].removesuffix(".tsv")
        with path.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]  # a repeated benchmark keeps one row per repeat; the last is the latest
        st = steps.setdefault(step, Step())
        st.jobs += 1
        wall = _num(row.get("s"))
        st.wall += wall
        st.cpu += _num(row.get("cpu_time"))
        st.max_rss_mb = max(st.max_rss_mb, _num(row.get("max_rss")))
        if wall >= st.slowest[0]:
            st.slowest = (wall, str(rel.with_suffix("")))
    return steps


def markdown(steps: dict[str, Step]) -> str:
    lines = [
        "| Step | Jobs | Wall, sum (s) | CPU, sum (s) | Largest peak RSS (MB) | Slowest job (s) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, st in sorted(steps.items(), key=lambda kv: -kv[1].wall):
        lines.append(
            f"| {name} | {st.jobs} | {st.wall:.1f} | {st.cpu:.1f} | {st.max_rss_mb:.0f} | "
            f"{st.slowest[1]} ({st.slowest[0]:.1f}) |"
        )
    tot_w = sum(s.wall for s in steps.values())
    tot_c = sum(s.cpu for s in steps.values())
    lines.append(
        f"| **all** | {sum(s.jobs for s in steps.values())} | {tot_w:.1f} | {tot_c:.1f} | | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?", default="results", help="the run's results folder")
    args = p.parse_args(argv)
    root = Path(args.results) / Path(BENCHMARKS).name
    if not root.is_dir():
        print(f"{root}: no benchmark files (run the workflow first)")
        return 1
    print(markdown(collect(root)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
