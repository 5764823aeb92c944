# Configuration validation and input functions (no rules here).
import json
import os

from snakemake.logging import logger

from gutskin.config import check_claims, forget_unavailable, load_and_validate, validate

# The config file the run's values come from (the last --configfile, else the default): relative mirror
# folders are resolved against its folder.
CONFIG_FILE = os.path.abspath(
    (list(workflow.overwrite_configfiles) or ["config/config.yaml"])[-1]
)

# Defaults from the schema are filled in before validation, in every job (not only on the head node).
config.update(validate(config, "config", source="config/config.yaml"))
DATASETS = load_and_validate(config["datasets_file"], "datasets")["datasets"]
CLAIMS = load_and_validate(config["claims_file"], "claims")["claims"]
# Names the schema cannot check (covariates, metrics, an exposure listed as a covariate): a clear error now,
# not a dropped covariate or a pandas error half-way through the run.
check_claims(CLAIMS, DATASETS, source=config["claims_file"])


def _used_datasets():
    wanted = list(config["datasets"])
    for claim in CLAIMS:
        for ds in claim.get("datasets", []):
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
# (available: false) is removed before the job graph is built. Main process only (never inside a cluster
# job), and not on a dry run (which then does not list the retry).
if workflow.is_main_process and not workflow.dryrun:
    for _gone in forget_unavailable(f"results/fetch/{ds}.json" for ds in USED_DATASETS):
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
# Resources derived from the size of the inputs (docs/PERFORMANCE.md, "Resources"). Each function
# reads only file headers (import.json, the BIOM HDF5 index), never the data; before the inputs
# exist (a dry run) it returns the floor. Memory grows with `attempt`, so `--retries 1` re-submits a
# job that ran out of memory with twice as much. Constants were measured by `python -m bench.run`.
# --------------------------------------------------------------------------------------------------

#: Diversity step: bytes per stored table value (the table, its rarefied copy, CSC copies).
BYTES_PER_NONZERO = 60
#: Diversity step: fixed memory (interpreter, numba, BLAS, one dense block, PCoA basis) in bytes.
DIVERSITY_BASE_BYTES = 1.5e9
#: Diversity step: CPU seconds per pair of samples per rarefied beta metric and iteration, per
#: feature a sample holds (Bray–Curtis + Jaccard, measured at 1,000 features per sample).
PAIR_SECONDS_PER_FEATURE = 6e-11
#: Diversity step: CPU seconds per read drawn by a rarefaction (Floyd's sampling + alpha).
READ_SECONDS = 5e-9
#: PCoA: CPU seconds per pair of samples per Krylov sweep (30 columns), and sweeps per metric.
PCOA_PAIR_SECONDS = 2.5e-9
PCOA_SWEEPS = 30


def _table_size(input):
    """(samples, stored values) of the imported table, or (None, None) before it exists."""
    n = nnz = None
    info = getattr(input, "info", None)
    if info and os.path.exists(info):
        try:
            with open(info) as fh:
                n = int(json.load(fh)["n_samples"])
        except (OSError, ValueError, KeyError, TypeError):
            n = None
    table = getattr(input, "table", None)
    if table and os.path.exists(table):
        try:
            import h5py

            with h5py.File(table, "r") as fh:
                nnz = int(fh["sample/matrix/data"].shape[0])
                n = int(fh["sample/ids"].shape[0]) if n is None else n
        except (OSError, KeyError, ValueError):
            nnz = int(os.path.getsize(table) / 4)  # not HDF5: a generous guess
    return n, nnz


def diversity_mem_mb(wildcards, input, attempt=1):
    """Memory (MB) of the diversity step: two condensed float64 distance vectors (the pipeline
    keeps one metric's while computing the next), the table and its copies, and a fixed part.
    """
    n, nnz = _table_size(input)
    if n is None:
        return 2000 * attempt
    pairs = n * (n - 1) / 2
    need = 2 * 8 * pairs + BYTES_PER_NONZERO * (nnz or 0) + DIVERSITY_BASE_BYTES
    return int(max(2000, 1.15 * need / 1e6) * attempt)


def diversity_runtime(wildcards, input, threads=1, attempt=1):
    """Minutes for the diversity step: rarefactions, all-pairs kernels and PCoA, from the table's
    size and the configured iterations, with a factor 3 of headroom."""
    n, nnz = _table_size(input)
    if n is None or n == 0:
        return 30 * attempt
    depth = rarefaction_depth(wildcards)
    iters = config["rarefaction"]["iterations"]
    beta_iters = config["rarefaction"]["beta_iterations"]
    metrics = config["beta_metrics"]
    per_sample = (nnz or 0) / n
    pairs = n * (n - 1) / 2
    rarefied = sum(1 for m in metrics if m in ("braycurtis", "jaccard"))
    cpu = (
        n * (iters + beta_iters) * depth * READ_SECONDS
        + pairs * per_sample * PAIR_SECONDS_PER_FEATURE * (rarefied * beta_iters + 1)
        + pairs * PCOA_PAIR_SECONDS * PCOA_SWEEPS * len(metrics)
    )
    return int(10 + 3 * cpu / max(1, threads) / 60) * attempt


def table_mb(wildcards, input, attempt=1):
    """Memory (MB) of a per-dataset job (the diversity step's model; kept for older rules)."""
    return diversity_mem_mb(wildcards, input, attempt)


def import_mem_mb(wildcards, input, attempt=1):
    """Memory (MB) of the import step: parsing the fetched table (gzipped BIOM JSON expands to
    about 40 bytes of Python objects per byte of file) plus the mapping file."""
    size = 0
    manifest = getattr(input, "manifest", None)
    if manifest and os.path.exists(manifest):
        try:
            with open(manifest) as fh:
                files = json.load(fh).get("files", {})
            size = sum(int(f.get("size") or 0) for f in files.values())
        except (OSError, ValueError, AttributeError, TypeError):
            size = 0
    return int(max(2000, 1000 + 40 * size / 1e6) * attempt)


def claim_mem_mb(wildcards, input, attempt=1):
    """Memory (MB) of a claim job: the distance matrices of its datasets (read whole) and a base."""
    need = 0
    for path in input:
        if str(path).endswith("diversity.json") and os.path.exists(path):
            folder = os.path.dirname(path)
            for name in os.listdir(folder):
                if name.startswith("beta_") and name.endswith(".npz"):
                    need = max(need, os.path.getsize(os.path.join(folder, name)))
    return int(max(4000, 1000 + 3 * need / 1e6) * attempt)


def claim_inputs(wildcards):
    claim = CLAIM_BY_ID[wildcards.claim]
    files = {}
    for ds in claim.get("datasets", []):
        files[f"{ds}__import"] = f"results/import/{ds}/import.json"
        files[f"{ds}__samples"] = f"results/import/{ds}/samples.tsv"
        files[f"{ds}__table"] = f"results/import/{ds}/table.biom"
        files[f"{ds}__diversity"] = f"results/diversity/{ds}/diversity.json"
    return files
