# Configuration validation and input functions (no rules here).
import json
import os

from pathlib import Path

from snakemake.logging import logger

from gutskin import resources as sizing
from gutskin.claims.pooling import cohort_claim
from gutskin.claims.selection import resolve as resolve_claim_datasets
from gutskin.fetch import mirrors_as_configured, mirrors_base
from gutskin.config import check_claims, forget_unavailable, load_and_validate, validate
from gutskin.diversity.registry import check_config_metrics, metric_names
from gutskin.io import check_formats
from gutskin.layout import (
    CLAIMS_JSON,
    CLAIMS_TSV,
    DIVERSITY_JSON,
    IMPORT_JSON,
    REPORT_HTML,
    RESULTS,
    SAMPLES_TSV,
    TABLE_BIOM,
    diversity_file,
    fetch_manifest,
    import_file,
)
from gutskin.runinfo import summarise

# The config file the run's values come from (the last --configfile, else the default), named in
# configuration errors (fetch jobs do not depend on it, see FETCH_MIRRORS).
CONFIG_FILE = os.path.abspath(
    (list(workflow.overwrite_configfiles) or ["config/config.yaml"])[-1]
)


# Defaults from the schema are filled in before validation, in every job (not only on the head node).
config.update(validate(config, "config", source="config/config.yaml"))
# The configured mirror folders as absolute paths (relative ones resolved against the config file that
# sets them): a parameter of the fetch rule, so its jobs depend on the mirrors, not on which file or
# path the configuration came from.
FETCH_MIRRORS = mirrors_as_configured(
    config["mirrors"],
    base=mirrors_base([*workflow.overwrite_configfiles, "config/config.yaml"]),
)

DATASETS = load_and_validate(config["datasets_file"], "datasets")["datasets"]
CLAIMS = load_and_validate(config["claims_file"], "claims")["claims"]
# Names the schema cannot check (metrics and file formats, whose one list is the registry in the code):
# a clear error now, not a pandas error half-way through the run.
check_config_metrics(config, source=CONFIG_FILE)
check_formats(DATASETS, source=config["datasets_file"])
# The datasets of each claim (listed, or `datasets: auto`) and why each configured one is used or not.
CLAIM_DATASETS, DATASET_SELECTION = resolve_claim_datasets(CLAIMS, DATASETS)
# Names the schema cannot check (covariates, metrics, an exposure listed as a covariate), against the
# datasets each claim uses: a clear error now, not a dropped covariate or a pandas error half-way through.
check_claims(
    CLAIMS,
    DATASETS,
    metrics=metric_names(),
    source=config["claims_file"],
    claim_datasets=CLAIM_DATASETS,
)


def _used_datasets():
    wanted = list(config["datasets"])
    for claim in CLAIMS:
        for ds in CLAIM_DATASETS.get(claim["id"], []):
            if claim.get("analysis") and ds not in wanted:
                wanted.append(ds)
    unknown = [ds for ds in wanted if ds not in DATASETS]
    if unknown:
        raise ValueError(
            f"{config['claims_file']} / config.yaml name dataset(s) {unknown} that are not in "
            f"{config['datasets_file']} (known: {sorted(DATASETS)}); add a block for each or fix the name."
        )
    return wanted


USED_DATASETS = _used_datasets()

# A dataset that was unavailable on the last run (an HTTP 500, a timeout) is fetched again: its manifest
# (available: false) is removed before the job graph is built, and with it the ledger (which reads every
# manifest), so that a finished run is not "done": the ledger needs the manifest, fetch runs, and the
# checkpoint plans the dataset's jobs if it came. Main process only (never inside a cluster job), and
# not on a dry run (which then does not list the retry).
if workflow.is_main_process and not workflow.dryrun:
    for _gone in forget_unavailable(
        (fetch_manifest(ds) for ds in USED_DATASETS), outputs=[CLAIMS_JSON, CLAIMS_TSV]
    ):
        logger.info(
            f"{_gone}: the dataset was unavailable last time; fetching it again"
        )
TESTABLE_CLAIMS = [c["id"] for c in CLAIMS if c.get("analysis")]
CLAIM_BY_ID = {c["id"]: c for c in CLAIMS}


wildcard_constraints:
    dataset="[A-Za-z0-9_.-]+",
    claim="C[0-9]+[a-z]?",


def rarefaction_depth(wildcards):
    return DATASETS[wildcards.dataset].get(
        "rarefaction_depth", config["rarefaction"]["depth"]
    )


# --------------------------------------------------------------------------------------------------
# Threads and resources derived from the size of the inputs (gutskin.resources; docs/PERFORMANCE.md,
# "Resources"). Only headers are read; before the inputs exist (a dry run) the floors apply. Memory and
# run time grow with `attempt` (`--retries 1` doubles them). Never sized from the submit host's cores.
# --------------------------------------------------------------------------------------------------


def _diversity_cpu(wildcards, input):
    n, nnz = sizing.table_size(
        getattr(input, "info", None), getattr(input, "table", None)
    )
    return sizing.diversity_cpu_seconds(
        n,
        nnz,
        rarefaction_depth(wildcards),
        config["rarefaction"]["iterations"],
        config["rarefaction"]["beta_iterations"],
        config["beta_metrics"],
    )


def diversity_threads(wildcards, input):
    return sizing.diversity_threads(_diversity_cpu(wildcards, input))


def diversity_mem_mb(wildcards, input, attempt=1):
    n, nnz = sizing.table_size(
        getattr(input, "info", None), getattr(input, "table", None)
    )
    return sizing.diversity_mem_mb(n, nnz, attempt)


def diversity_runtime(wildcards, input, threads=1, attempt=1):
    return sizing.diversity_runtime(_diversity_cpu(wildcards, input), threads, attempt)


def import_mem_mb(wildcards, input, attempt=1):
    return sizing.import_mem_mb(
        sizing.fetched_bytes(getattr(input, "manifest", None)), attempt
    )


def import_runtime(wildcards, input, attempt=1):
    return sizing.import_runtime(
        sizing.fetched_bytes(getattr(input, "manifest", None)), attempt
    )


def claim_mem_mb(wildcards, input, attempt=1):
    return sizing.claim_mem_mb(sizing.largest_beta_bytes(input), attempt)


def claim_runtime(wildcards, input, attempt=1):
    return sizing.claim_runtime(
        sizing.claim_samples(input), config["permutations"], attempt
    )


# --------------------------------------------------------------------------------------------------
# Which datasets could be had. `fetch` is a checkpoint (rules/fetch.smk): once a dataset's manifest is
# written, Snakemake re-evaluates the input functions below, and a dataset whose manifest says
# `available: false` gets no import, diversity or claim_cohort job. The coverage map, the pooling, the
# ledger and the report read its fetch manifest instead (its claims are "data unavailable"), so an
# offline run without a mirror is its fetch jobs and five light ones. A dry run before the fetch plans
# every dataset as available (what a run that gets its data does); the real run drops the rest.
# --------------------------------------------------------------------------------------------------


def dataset_available(ds):
    """True unless the dataset's fetch manifest says `available: false` (waits for its fetch)."""
    manifest = fetch_manifest(ds)
    if workflow.dryrun and not os.path.exists(manifest):
        return True
    manifest = checkpoints.fetch.get(dataset=ds).output.manifest
    with open(manifest, encoding="utf-8") as fh:
        return json.load(fh).get("available") is not False


def available_datasets(datasets):
    """The datasets of `datasets` that could be fetched, in order."""
    return [ds for ds in datasets if dataset_available(ds)]


def available_claims():
    """The testable claims with at least one dataset that could be fetched (they get a pool_claim
    job; the others' "data unavailable" results are written by the ledger from the fetch manifests).
    A claim without datasets keeps its pool_claim job, which says so."""
    return [
        c
        for c in TESTABLE_CLAIMS
        if not CLAIM_DATASETS.get(c) or available_datasets(CLAIM_DATASETS[c])
    ]


def cohort_inputs(wildcards):
    """The import and diversity outputs of the one dataset of a (claim, dataset) job."""
    ds = wildcards.dataset
    return {
        "import": import_file(IMPORT_JSON, ds),
        "samples": import_file(SAMPLES_TSV, ds),
        "table": import_file(TABLE_BIOM, ds),
        "diversity": diversity_file(DIVERSITY_JSON, ds),
    }


# Calibration (rules/calibration.smk): the claims it simulates, and the fetch manifests of their datasets
# (a claim whose data are unavailable is not simulated).
CALIBRATED_CLAIMS = [
    config["calibration"][test]["claim"]
    for test in ("alpha_ols", "mantel", "log_ratio")
]


def calibration_manifests(wildcards):
    datasets = []
    for cid in CALIBRATED_CLAIMS:
        claim = CLAIM_BY_ID.get(cid) or {}
        if claim.get("analysis"):
            datasets.extend(d for d in CLAIM_DATASETS.get(cid, []) if d not in datasets)
    return [fetch_manifest(ds) for ds in datasets]


def run_summary():
    """The end-of-run summary (Snakefile onsuccess / onerror; gutskin.runinfo)."""
    return summarise(Path(RESULTS), USED_DATASETS, Path(REPORT_HTML).resolve())
