# Configuration validation and input functions (no rules here).
import os

from gutskin.config import load_and_validate, validate

# Defaults from the schema are filled in before validation, in every job (not only on the head node).
config.update(validate(config, "config", source="config/config.yaml"))
DATASETS = load_and_validate(config["datasets_file"], "datasets")["datasets"]
CLAIMS = load_and_validate(config["claims_file"], "claims")["claims"]


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
TESTABLE_CLAIMS = [c["id"] for c in CLAIMS if c.get("analysis")]
CLAIM_BY_ID = {c["id"]: c for c in CLAIMS}


wildcard_constraints:
    dataset="[A-Za-z0-9_.-]+",
    claim="C[0-9]+[a-z]?",


def rarefaction_depth(wildcards):
    return DATASETS[wildcards.dataset].get(
        "rarefaction_depth", config["rarefaction"]["depth"]
    )


def table_mb(wildcards, input):
    """Memory for a per-dataset job from the size of its input table (MB), with a floor."""
    size = sum(os.path.getsize(f) for f in input if os.path.exists(f)) / 1e6
    return int(max(1000, 40 * size))


def claim_inputs(wildcards):
    claim = CLAIM_BY_ID[wildcards.claim]
    files = {}
    for ds in claim.get("datasets", []):
        files[f"{ds}__import"] = f"results/import/{ds}/import.json"
        files[f"{ds}__samples"] = f"results/import/{ds}/samples.tsv"
        files[f"{ds}__diversity"] = f"results/diversity/{ds}/diversity.json"
    return files
