"""gutskin benchmark: ``make bench`` (= ``python -m bench.run``).

Every diversity kernel the workflow uses is run side by side with its scikit-bio / scipy / pandas
baseline in the same run, on seeded synthetic tables (:mod:`bench.synth`), each measurement in its
own subprocess (:mod:`bench.measure`) so that its peak memory is its own. For each case it reports
the median of ``--repeats`` wall times, the speed-up at ``--n`` samples, the agreement of the
results, peak memory and the scaling exponent ``b`` of ``time ∝ N^b`` fitted over three sizes.

Quick run (default): N = 2,000 samples x 10,000 features (about 8 minutes on 2 cores; the baselines
take most of it). ``--full`` adds the American-Gut-scale targets: all pairs at 7,500 / 15,000 /
30,000 samples x 10,000 features, PCoA at those sizes, repeated rarefaction at 30,000 samples, and
the diversity step of the workflow on a 30,000 x 100,000 table (:mod:`bench.dag`; about an hour).
Nothing is written inside the repository unless ``--out`` says so; synthetic tables live in a
temporary directory (``--work``) that is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .cases import CASES
from .child import child_env, exponent, run_child

REPO = Path(__file__).resolve().parents[1]

__all__ = ["exponent", "machine", "main", "markdown", "measure", "run_case"]

#: Cases of the quick run, in report order.
QUICK_CASES = (
    "braycurtis",
    "jaccard",
    "robust_aitchison",
    "pcoa",
    "pcoa_skbio_fsvd",
    "rarefy",
    "alpha",
    "alpha_repeated",
    "read",
)
#: Claim-level rows (bench.claim_cases), in the quick run too.
CLAIM_CASES = ("ols_hc3", "permanova", "mantel", "meta", "mixed")
UNIFRAC_CASES = ("unifrac", "unifrac_skbio_numba", "unifrac_gutskin", "unifrac_weighted")
#: All-pairs cases measured at American-Gut scale by ``--full``.
FULL_CASES = ("braycurtis", "jaccard", "robust_aitchison", "pcoa", "alpha_repeated")
FULL_SIZES = (7_500, 15_000, 30_000)
#: Timed runs at American-Gut scale for the slow cases (the others use --repeats).
FULL_REPEATS = {"pcoa": 1, "alpha_repeated": 1}
#: Targets of issue #6 at 30,000 x 10,000 (seconds).
TARGETS_30K = {"braycurtis": 30.0, "jaccard": 10.0, "robust_aitchison": 100.0}


def machine() -> dict[str, Any]:
    """CPU, cores, memory, load and library versions."""
    import numba
    import scipy
    import skbio

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 2**20
    except OSError:
        pass
    blas = ""
    try:
        dep = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{dep['name']} {dep['version']}"
    except Exception:  # pragma: no cover - informational only
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "scikit-bio": skbio.__version__,
        "blas": blas,
        "llvm_cpu": _llvm_cpu(),
    }


def _llvm_cpu() -> str:
    try:
        import llvmlite.binding as llvm

        return str(llvm.get_host_cpu_name())
    except Exception:  # pragma: no cover - informational only
        return ""


def measure(
    case: str,
    impl: str,
    n: int,
    args: argparse.Namespace,
    *,
    features: int | None = None,
    repeats: int | None = None,
    save: Path | None = None,
) -> dict[str, Any]:
    """Run one measurement in a child interpreter and return its JSON record."""
    spec = {
        "case": case,
        "impl": impl,
        "n": int(n),
        "features": int(features or args.features),
        "share": float(args.share),
        "seed": int(args.seed),
        "work": str(args.work),
        "threads": int(args.threads),
        "repeats": int(repeats or args.repeats),
        "save": str(save) if save else None,
        # JIT warm-up for gutskin's kernels (loading numba's cache; negligible at large N, where a
        # warm-up run would cost minutes); the baselines have no JIT to warm
        "warmup": impl == "ours" and n <= 5000,
        # one extra, untimed call under tracemalloc: only where it is cheap
        "tracemalloc": n <= 5000,
    }
    t0 = time.perf_counter()
    rec = run_child("bench.measure", spec, f"{case}/{impl} at n={n}", env=child_env(args), tail=15)
    rec["child_wall_s"] = time.perf_counter() - t0
    _log(
        f"  {case:<20} {impl:<8} n={n:>6} x {spec['features']:>6}: median {rec['median']:.4g} s "
        f"(runs {', '.join(f'{t:.3g}' for t in rec['times'])}), peak RSS {rec['peak_rss_mb']:.0f} MB"
    )
    return rec


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_case(case: str, n: int, sizes: list[int], args: argparse.Namespace) -> dict[str, Any]:
    """Ours at ``sizes`` (exponent), ours and the baseline at ``n`` (ratio, agreement)."""
    c = CASES[case]
    out: dict[str, Any] = {"case": case, "what": c.what, "baseline": c.baseline_name, "n": n}
    ours_file = Path(args.work) / f"res_{case}_ours.npz"
    base_file = Path(args.work) / f"res_{case}_base.npz"
    ours = {}
    for s in sizes:
        ours[s] = measure(case, "ours", s, args, save=ours_file if s == n else None)
    if n not in ours:
        ours[n] = measure(case, "ours", n, args, save=ours_file)
    out["ours"] = ours[n]
    out["ours_sizes"] = {str(s): ours[s]["median"] for s in sorted(ours)}
    out["ours_exponent"] = exponent(sorted(ours), [ours[s]["median"] for s in sorted(ours)])
    if c.baseline is not None and not args.no_baseline:
        base = measure(case, "baseline", n, args, save=base_file)
        out["baseline_run"] = base
        out["ratio"] = base["median"] / max(ours[n]["median"], 1e-12)
        if c.compare is not None:
            with np.load(ours_file) as a, np.load(base_file) as b:
                out["agreement"] = c.compare(dict(a), dict(b))
            out["agreement"]["tolerance"] = c.tolerance
        if args.baseline_scaling:
            bsizes = [max(100, n // 4), max(100, n // 2)]
            btimes = [measure(case, "baseline", s, args)["median"] for s in bsizes]
            out["baseline_exponent"] = exponent([*bsizes, n], [*btimes, base["median"]])
    return out


def _fmt_s(x: float) -> str:
    if x != x:  # NaN
        return "–"
    if x >= 100:
        return f"{x:.0f} s"
    if x >= 1:
        return f"{x:.2f} s"
    return f"{x * 1000:.1f} ms"


def markdown(report: dict[str, Any]) -> str:
    """The benchmark's output as Markdown (what docs/PERFORMANCE.md records)."""
    m = report["machine"]
    lines = [
        f"Command: `{report['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; LLVM target "
        f"{m['llvm_cpu']}; {m['blas']}; Python {m['python']}, numpy {m['numpy']}, scipy "
        f"{m['scipy']}, numba {m['numba']}, scikit-bio {m['scikit-bio']}  ",
        f"Load average at start {tuple(round(x, 2) for x in m['load_average'])}, at end "
        f"{tuple(round(x, 2) for x in report['load_average_end'])}; threads per job: "
        f"{report['threads']} (BLAS {report['blas_threads']}); tables: {report['features']:,} features, ~1 % non-zero, sharing "
        f"{report['share']} (seed {report['seed']}); medians of {report['repeats']} runs.",
        "",
        "| kernel | N | gutskin wall (CPU) | baseline wall (CPU) | speed-up wall (CPU) | agreement "
        "| peak RSS gutskin / baseline | exponent b (time ∝ N^b) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["cases"]:
        o = r["ours"]
        b = r.get("baseline_run")
        agree = r.get("agreement", {})
        if agree:
            diff = agree.get("max_abs_diff", float("nan"))
            ok = "✔" if agree.get("agree") else "✘"
            detail = f"max diff {diff:.1e}" if diff == diff else ""
            for key in ("max_z", "max_feature_total_z"):
                if key in agree:
                    detail = f"z ≤ {agree[key]:.1f}"
            if "identical_counts" in agree:
                detail = "identical counts"
            agree_txt = f"{ok} {detail}".strip()
        else:
            agree_txt = "–"
        sizes = ", ".join(f"{int(k):,}" for k in r["ours_sizes"])
        expo = f"{r['ours_exponent']:.2f} ({sizes})"
        if "baseline_exponent" in r:
            expo += f"; baseline {r['baseline_exponent']:.2f}"
        ours_cpu = float(np.median(o["cpu_times"]))
        if b:
            base_cpu = float(np.median(b["cpu_times"]))
            base_txt = f"{_fmt_s(b['median'])} ({_fmt_s(base_cpu)}) — {r['baseline']}"
            ratio = f"{r['ratio']:.0f}× ({base_cpu / max(ours_cpu, 1e-12):.0f}×)"
            mem = f"{o['peak_rss_mb']:.0f} / {b['peak_rss_mb']:.0f} MB"
        else:
            base_txt, ratio, mem = "–", "–", f"{o['peak_rss_mb']:.0f} MB"
        lines.append(
            f"| {r['what']} | {r['n']:,} | {_fmt_s(o['median'])} ({_fmt_s(ours_cpu)}) | {base_txt} "
            f"| {ratio} | {agree_txt} | {mem} | {expo} |"
        )
    if report.get("full"):
        lines += [
            "",
            f"All pairs at American-Gut scale ({report['features']:,} features; peak RSS of the "
            "measuring process, table and condensed result included):",
            "",
            "| kernel | "
            + " | ".join(f"N = {s:,}" for s in report["full"]["sizes"])
            + " | exponent "
            "| target at 30,000 |",
            "|---|" + "---|" * len(report["full"]["sizes"]) + "---|---|",
        ]
        for case, rows in report["full"]["cases"].items():
            cells = [
                f"{_fmt_s(rows[str(s)]['median'])} ({_fmt_s(float(np.median(rows[str(s)]['cpu_times'])))}"
                f" CPU), {rows[str(s)]['peak_rss_mb'] / 1024:.1f} GiB"
                for s in report["full"]["sizes"]
            ]
            target = TARGETS_30K.get(case)
            last = rows[str(report["full"]["sizes"][-1])]["median"]
            verdict = (
                f"≤ {target:.0f} s: {'met' if last <= target else 'missed'}" if target else "–"
            )
            lines.append(
                f"| {case} | " + " | ".join(cells) + f" | {report['full']['exponents'][case]:.2f} "
                f"| {verdict} |"
            )
    if report.get("full") and report["full"].get("pcoa_vs_eigh"):
        r = report["full"]["pcoa_vs_eigh"]
        b = r.get("baseline_run", {})
        agree = r.get("agreement", {})
        lines += [
            "",
            f"PCoA at {r['n']:,} samples: gutskin {_fmt_s(r['ours']['median'])} "
            f"(peak RSS {r['ours']['peak_rss_mb'] / 1024:.2f} GiB) vs scikit-bio eigh "
            f"{_fmt_s(b.get('median', float('nan')))} (peak RSS "
            f"{b.get('peak_rss_mb', float('nan')) / 1024:.2f} GiB): {r.get('ratio', float('nan')):.1f}×; "
            f"largest coordinate difference {agree.get('max_abs_diff', float('nan')):.1e} of the "
            "axis scale (1 run each).",
        ]
    if report.get("dag"):
        d = report["dag"]
        lines += ["", "Diversity step of the workflow (`gutskin.diversity.run_diversity`):", ""]
        lines.append(
            f"- table {d['n']:,} samples x {d['features']:,} features, {d['nnz']:,} non-zero "
            f"({d['density'] * 100:.2f} %), depth {d['depth']:,}, {d['iterations']} rarefactions for "
            f"alpha, {d['beta_iterations']} for Bray–Curtis/Jaccard, metrics "
            f"{', '.join(d['beta_metrics'])}, PCoA {d['pcoa_dimensions']} axes, {d['threads']} threads "
            f"(BLAS {d['blas_threads']})"
        )
        lines.append(
            f"- wall time {_fmt_s(d['wall_s'])} (reading the BIOM file {_fmt_s(d['read_s'])}), "
            f"peak RSS {d['peak_rss_mb'] / 1024:.2f} GiB; targets ≤ 20 min and ≤ 12 GiB"
        )
        steps = ", ".join(f"{k} {_fmt_s(v)}" for k, v in d["seconds"].items())
        lines.append(f"- steps: {steps}")
    if report.get("workflow"):
        from .workflow import markdown as workflow_markdown

        w = report["workflow"]
        lines += [
            "",
            f"Whole workflow on the synthetic American Gut look-alike ({w['features']:,} features; "
            "wall seconds / peak RSS MB of each step's Snakemake invocation; b = scaling exponent):",
            "",
            workflow_markdown(w),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="samples for ratios (default 2000)")
    p.add_argument("--features", type=int, default=10_000, help="features (default 10000)")
    p.add_argument("--share", type=float, default=0.62, help="feature sharing (bench.synth)")
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="numba threads")
    p.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="OpenBLAS threads (default 1: see docs/PERFORMANCE.md, 'Shared machines')",
    )
    p.add_argument("--cases", default=",".join(QUICK_CASES + CLAIM_CASES + UNIFRAC_CASES))
    p.add_argument("--unifrac-n", type=int, default=500, help="samples for UniFrac (slow)")
    p.add_argument("--no-baseline", action="store_true", help="skip the baselines")
    p.add_argument(
        "--baseline-scaling", action="store_true", help="fit the baselines' exponents too"
    )
    p.add_argument("--full", action="store_true", help="add the 30,000-sample targets")
    p.add_argument("--dag", action="store_true", help="add the 30,000 x 100,000 diversity step")
    p.add_argument("--dag-n", type=int, default=30_000)
    p.add_argument("--dag-features", type=int, default=100_000)
    p.add_argument(
        "--dag-workflow-sizes",
        default="7500,15000,30000",
        help="with --dag, the whole workflow (bench.workflow) at these subjects × --dag-features: the "
        "whole-workflow row at the largest and each step's exponent over the three ('' to skip)",
    )
    p.add_argument(
        "--workflow",
        action="store_true",
        help="the whole workflow (import → diversity → every American Gut claim → ledger → report) "
        "on a synthetic American Gut look-alike at --workflow-sizes (bench.workflow)",
    )
    p.add_argument(
        "--workflow-sizes",
        default="300,600,1200",
        help="subjects at three sizes (issue 14's target: 7500,15000,30000)",
    )
    p.add_argument("--workflow-features", type=int, default=300)
    p.add_argument("--work", type=Path, default=None, help="directory for synthetic tables")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--out", type=Path, default=None, help="write <out>.json and <out>.md")
    args = p.parse_args(argv)
    own_work = args.work is None
    args.work = Path(args.work or tempfile.mkdtemp(prefix="gutskin-bench-"))
    args.work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "threads": args.threads,
        "blas_threads": args.blas_threads,
        "features": args.features,
        "share": args.share,
        "seed": args.seed,
        "repeats": args.repeats,
        "cases": [],
    }
    _log(f"gutskin bench: work directory {args.work}")
    try:
        n = args.n
        sizes = [n // 2, n, 2 * n]
        for case in [c for c in args.cases.split(",") if c]:
            if case not in CASES:
                raise SystemExit(f"unknown case {case!r}; choose from {sorted(CASES)}")
            if case.startswith("unifrac"):
                un = args.unifrac_n
                report["cases"].append(run_case(case, un, [un // 2, un, 2 * un], args))
            else:
                report["cases"].append(run_case(case, n, sizes, args))
        if args.full:
            full: dict[str, Any] = {"sizes": list(FULL_SIZES), "cases": {}, "exponents": {}}
            for case in FULL_CASES:
                reps = FULL_REPEATS.get(case, args.repeats)
                rows = {str(s): measure(case, "ours", s, args, repeats=reps) for s in FULL_SIZES}
                full["cases"][case] = rows
                full["exponents"][case] = exponent(
                    list(FULL_SIZES), [rows[str(s)]["median"] for s in FULL_SIZES]
                )
            # exact PCoA (scikit-bio eigh) is still feasible at 10,000 samples: compare there
            one = argparse.Namespace(**{**vars(args), "repeats": 1})
            full["pcoa_vs_eigh"] = run_case("pcoa", 10_000, [5_000, 10_000], one)
            report["full"] = full
        if args.dag:
            from .dag import run_dag

            report["dag"] = run_dag(args)
            dag_sizes = [int(x) for x in args.dag_workflow_sizes.split(",") if x]
            if dag_sizes and not args.workflow:
                from .workflow import run_workflow

                report["workflow"] = run_workflow(
                    args.work, dag_sizes, int(args.dag_features), int(args.seed), int(args.threads)
                )
        if args.workflow:
            from .workflow import run_workflow

            report["workflow"] = run_workflow(
                args.work,
                [int(x) for x in args.workflow_sizes.split(",") if x],
                int(args.workflow_features),
                int(args.seed),
                int(args.threads),
            )
    finally:
        report["load_average_end"] = os.getloadavg()
        if own_work and not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    text = markdown(report)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=float))
        args.out.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
