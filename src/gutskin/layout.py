"""Where the workflow's files live: the one module that knows the ``results/`` and ``logs/`` layout.

The rules (``from gutskin.layout import ...`` in ``workflow/rules/*.smk``) and the package code use these
names instead of writing path literals, so moving a file is one edit here. Paths are relative to the
working directory of the run (the repository root, or Snakemake's ``--directory``) and returned as
strings, because Snakemake patterns are strings; ``{dataset}`` and ``{claim}`` are wildcards unless a
name is passed.

Layout
------
::

    results/fetch/{dataset}.json                  fetch manifest of a dataset
    results/import/{dataset}/table.biom           the canonical sparse table (BIOM 2.1)
    results/import/{dataset}/samples.tsv          the harmonised sample table
    results/import/{dataset}/import.json          import summary
    results/import/{dataset}/tree.nwk             the features' tree (empty: no tree)
    results/diversity/{dataset}/alpha.tsv         alpha diversity per retained sample
    results/diversity/{dataset}/depth.tsv         reads per sample and whether it was retained
    results/diversity/{dataset}/diversity.json    summary of the diversity step
    results/diversity/{dataset}/beta_{metric}.npz condensed distances (ids, condensed)
    results/diversity/{dataset}/pcoa_{metric}.tsv PCoA coordinates
    results/claims/{claim}.json                   one claim's result (pooled over its cohorts)
    results/claims/{claim}/pooled/                its forest plot
    results/claims/{claim}/cohorts/{dataset}.json the claim on one dataset
    results/claims/{claim}/cohorts/{dataset}/     its figures and tables
    results/claims.json, results/claims.tsv       the ledger
    results/coverage.json, results/coverage.tsv   covariate coverage map
    results/calibration.json                      false-positive rate and power of the primary tests
    results/report.html                           the report
    logs/{step}/{name}.log, logs/{step}.log       one log per job

Imports nothing from gutskin (ground floor).
"""

from __future__ import annotations

__all__ = [
    "ALPHA_TSV",
    "BENCHMARKS",
    "CALIBRATION_JSON",
    "CLAIMS_JSON",
    "CLAIMS_TSV",
    "COVERAGE_JSON",
    "COVERAGE_TSV",
    "DEPTH_TSV",
    "DIVERSITY_JSON",
    "IMPORT_JSON",
    "LOGS",
    "REPORT_HTML",
    "RESULTS",
    "SAMPLES_TSV",
    "TABLE_BIOM",
    "TREE_NWK",
    "benchmark_file",
    "beta_npz",
    "claim_cohort_dir",
    "claim_cohort_result",
    "claim_dir",
    "claim_pooled_dir",
    "claim_result",
    "diversity_dir",
    "diversity_file",
    "fetch_manifest",
    "import_dir",
    "import_file",
    "log_file",
    "pcoa_tsv",
    "result_file",
]

#: Root of every output.
RESULTS = "results"
#: Root of every job log.
LOGS = "logs"
#: Root of the per-job Snakemake ``benchmark:`` files (wall, CPU, peak memory of each job).
BENCHMARKS = f"{RESULTS}/benchmarks"

# -- files of one dataset's import directory ---------------------------------------------------
#: The canonical sparse feature table.
TABLE_BIOM = "table.biom"
#: The harmonised sample table.
SAMPLES_TSV = "samples.tsv"
#: The import summary.
IMPORT_JSON = "import.json"
#: The features' phylogeny, pruned to the table (an empty file: the dataset has no tree).
TREE_NWK = "tree.nwk"

# -- files of one dataset's diversity directory ------------------------------------------------
#: Alpha diversity (``<metric>_mean``, ``<metric>_sd`` per retained sample).
ALPHA_TSV = "alpha.tsv"
#: Reads per sample and whether it reached the rarefaction depth.
DEPTH_TSV = "depth.tsv"
#: Summary of the diversity step.
DIVERSITY_JSON = "diversity.json"

# -- whole-run files ---------------------------------------------------------------------------
#: The claims ledger (JSON) and its table.
CLAIMS_JSON = f"{RESULTS}/claims.json"
CLAIMS_TSV = f"{RESULTS}/claims.tsv"
#: The covariate coverage map.
COVERAGE_JSON = f"{RESULTS}/coverage.json"
COVERAGE_TSV = f"{RESULTS}/coverage.tsv"
#: False-positive rate and power of the primary tests.
CALIBRATION_JSON = f"{RESULTS}/calibration.json"
#: The self-contained HTML report.
REPORT_HTML = f"{RESULTS}/report.html"


def beta_npz(metric: str = "{metric}") -> str:
    """File name of a beta metric's condensed distances (``beta_<metric>.npz``)."""
    return f"beta_{metric}.npz"


def pcoa_tsv(metric: str = "{metric}") -> str:
    """File name of a beta metric's PCoA coordinates (``pcoa_<metric>.tsv``)."""
    return f"pcoa_{metric}.tsv"


def result_file(name: str, root: str = RESULTS) -> str:
    """A whole-run result ``<root>/<name>`` (``name`` like ``"coverage.json"``)."""
    return f"{root}/{name}"


def fetch_manifest(dataset: str = "{dataset}", root: str = RESULTS) -> str:
    """The fetch manifest of a dataset (``results/fetch/<dataset>.json``)."""
    return f"{root}/fetch/{dataset}.json"


def import_dir(dataset: str = "{dataset}", root: str = RESULTS) -> str:
    """The import directory of a dataset (``results/import/<dataset>``)."""
    return f"{root}/import/{dataset}"


def import_file(name: str, dataset: str = "{dataset}", root: str = RESULTS) -> str:
    """A file of a dataset's import directory, e.g. ``import_file(SAMPLES_TSV, "ad_gut")``."""
    return f"{import_dir(dataset, root)}/{name}"


def diversity_dir(dataset: str = "{dataset}", root: str = RESULTS) -> str:
    """The diversity directory of a dataset (``results/diversity/<dataset>``)."""
    return f"{root}/diversity/{dataset}"


def diversity_file(name: str, dataset: str = "{dataset}", root: str = RESULTS) -> str:
    """A file of a dataset's diversity directory, e.g. ``diversity_file(beta_npz("jaccard"))``."""
    return f"{diversity_dir(dataset, root)}/{name}"


def claim_dir(claim: str = "{claim}", root: str = RESULTS) -> str:
    """The directory of one claim's figures and tables (``results/claims/<claim>``)."""
    return f"{root}/claims/{claim}"


def claim_result(claim: str = "{claim}", root: str = RESULTS) -> str:
    """The result of one claim's analysis (``results/claims/<claim>.json``)."""
    return f"{root}/claims/{claim}.json"


def claim_cohort_result(
    claim: str = "{claim}", dataset: str = "{dataset}", root: str = RESULTS
) -> str:
    """The result of one claim on one dataset (``results/claims/<claim>/cohorts/<dataset>.json``)."""
    return f"{claim_dir(claim, root)}/cohorts/{dataset}.json"


def claim_cohort_dir(
    claim: str = "{claim}", dataset: str = "{dataset}", root: str = RESULTS
) -> str:
    """Figures and tables of one claim on one dataset (``results/claims/<claim>/cohorts/<dataset>``)."""
    return f"{claim_dir(claim, root)}/cohorts/{dataset}"


def claim_pooled_dir(claim: str = "{claim}", root: str = RESULTS) -> str:
    """The pooled claim's own figures, e.g. the forest plot (``results/claims/<claim>/pooled``)."""
    return f"{claim_dir(claim, root)}/pooled"


def log_file(step: str, name: str | None = "{dataset}", root: str = LOGS) -> str:
    """The log of one job: ``logs/<step>/<name>.log``, or ``logs/<step>.log`` when ``name`` is None."""
    return f"{root}/{step}.log" if name is None else f"{root}/{step}/{name}.log"


def benchmark_file(step: str, name: str | None = "{dataset}", root: str = BENCHMARKS) -> str:
    """The Snakemake ``benchmark:`` file of one job (tab-separated: ``s``, ``max_rss``, ``cpu_time`` …):
    ``results/benchmarks/<step>/<name>.tsv``, or ``results/benchmarks/<step>.tsv`` when ``name`` is None."""
    return f"{root}/{step}.tsv" if name is None else f"{root}/{step}/{name}.tsv"
