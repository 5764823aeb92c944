"""A dataset the suite has never seen, added by configuration alone, through the real workflow.

A small synthetic cohort is written the way a user's lab would share it — a wide TSV of OTU counts (one
row per OTU, a ``taxonomy`` column) and a CSV of sample metadata with its own column names and codes
(``Sampling site`` = Stool/Forearm, ``Diagnosis`` = AD/HC, ``Gender`` = F/M, ``n/a`` for missing) — and
served from a temporary mirror. A ``datasets.yaml`` block maps it onto the canonical schema and a claim
runs the existing ``alpha_condition`` runner on it; no Python is written. The run must import, analyse,
map coverage and report it. A typo in the block must stop the run at once with a schema error naming the
key.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from .workdir import make_workdir, run_snakemake

pytestmark = pytest.mark.slow

HOST = "data.example.org"
N_AD, N_HC = 12, 18
N_FEATURES = 40
BMI_MISSING = {"P03", "P11", "P20"}  # written as "n/a"


def _cohort(mirror: Path, scale: float | None = None) -> dict[str, dict[str, Any]]:
    """Write the two files under ``mirror/<host>/…``; return the ``files`` block (url, sha256, format).

    With ``scale`` the table holds ``count x scale`` to three decimals (a microarray-like signal).
    """
    rng = np.random.default_rng(2026)
    subjects = [f"P{i:02d}" for i in range(1, N_AD + N_HC + 1)]
    meta = [
        '"Sample Code","Participant ID","Sampling site","Diagnosis","Gender","Age (y)","BMI","Abx"'
    ]
    samples: list[str] = []
    abx_codes = ["1 month", "6 months", "never", "never"]
    for k, subj in enumerate(subjects):
        dx = "AD" if k < N_AD else "HC"
        sex = "F" if k % 2 else "M"
        age = 20 + (k * 7) % 40
        bmi = "n/a" if subj in BMI_MISSING else f"{19 + (k % 9) * 1.5:.1f}"
        abx = abx_codes[k % 4]
        for code, site in ((f"G-{subj}", "Stool"), (f"K-{subj}", "Forearm")):
            meta.append(f'"{code}","{subj}","{site}","{dx}","{sex}",{age},"{bmi}","{abx}"')
            samples.append(code)
    lineages = [
        f"k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__F{j % 6}; g__G{j}; s__"
        for j in range(N_FEATURES)
    ]
    counts = np.zeros((N_FEATURES, len(samples)), dtype=np.int64)
    for i in range(len(samples)):
        p = rng.dirichlet(np.full(N_FEATURES, 0.5))
        counts[:, i] = rng.multinomial(int(rng.integers(1500, 3000)), p)
    rows = ["taxon\t" + "\t".join(samples) + "\ttaxonomy"]
    rows += [
        f"OTU{j}\t"
        + "\t".join(str(v) if scale is None else f"{v * scale:.3f}" for v in counts[j])
        + f"\t{lineages[j]}"
        for j in range(N_FEATURES)
    ]
    stem = "otu_counts" if scale is None else "signal"
    files = {
        "table": (f"clinic/v1/{stem}.tsv", "\n".join(rows) + "\n", "wide_tsv"),
        "samples": ("clinic/v1/sample_sheet.csv", "\n".join(meta) + "\n", "csv"),
    }
    block: dict[str, dict[str, Any]] = {}
    for role, (path, text, fmt) in files.items():
        target = mirror / HOST / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        block[role] = {
            "url": f"https://{HOST}/{path}",
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "format": fmt,
        }
    block["table"]["options"] = {"rows": "features", "lineage_column": "taxonomy"}
    return block


def _dataset(files: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "Skin clinic cohort (synthetic, written by the test suite)",
        "description": "Stool and forearm swabs of 30 adults, 12 with atopic dermatitis.",
        "citation": "gutskin test suite (2026), synthetic data",
        "doi": "10.5555/gutskin-test",
        "licence": "CC0 (synthetic)",
        "data_type": "amplicon_16s",
        "values": "counts",
        "rarefaction_depth": 1000,
        "files": files,
        "samples": {
            "id_column": "Sample Code",
            "missing_values": ["n/a"],
            "columns": {
                "subject_id": {"from": "Participant ID"},
                "body_site": {"from": "Sampling site", "map": {"Stool": "gut", "Forearm": "skin"}},
                "body_subsite": {
                    "from": "Sampling site",
                    "map": {"Stool": "stool", "Forearm": "forearm"},
                },
                "condition": {
                    "from": "Diagnosis",
                    "map": {"AD": "atopic_dermatitis", "HC": "none"},
                },
                "age": {"from": "Age (y)", "type": "number", "min": 0, "max": 110},
                "sex": {"from": "Gender", "map": {"F": "female", "M": "male"}},
                "bmi": {"from": "BMI", "type": "number", "min": 10, "max": 70},
                "antibiotics": {
                    "from": "Abx",
                    "map": {
                        "1 month": "past_month",
                        "6 months": "past_6_months",
                        "never": "not_past_year",
                    },
                },
            },
        },
    }


CLAIM = {
    "id": "C90",
    "title": "Gut diversity in atopic dermatitis (test claim on a new dataset)",
    "quote": "A diverse gut keeps the skin calm.",
    "claim_type": "associational",
    "testable": "yes",
    "hypothesis": "Adults with atopic dermatitis have lower gut Shannon diversity than controls.",
    "analysis": "alpha_condition",
    "datasets": ["skin_clinic"],
    "params": {
        "body_site": "gut",
        "metric": "shannon",
        "exposure": "condition",
        "reference": "none",
        "levels": ["atopic_dermatitis"],
        "covariates": ["age", "sex"],
        "one_sample_per_subject": "first",
        "min_group_size": 5,
    },
    "sesoi": {"value": 0.2, "scale": "hedges_g"},
    "expected_direction": "negative",
    "primary": True,
}


def _workdir(root: Path, dataset: dict[str, Any]) -> Path:
    return make_workdir(
        root / "work",
        {},
        mirrors=[str(root / "mirror")],
        extra_datasets={"skin_clinic": dataset},
        extra_claims=[copy.deepcopy(CLAIM)],
        real_claims=False,
        # the calibration simulations are not about this dataset: keep them small
        config_overrides={
            "permutations": 199,
            "bootstrap": 99,
            "calibration": {
                "alpha_ols": {"replicates": 10},
                "mantel": {"replicates": 10},
                "log_ratio": {"replicates": 10},
            },
        },
    )


@pytest.fixture(scope="module")
def clinic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new_dataset")
    work = _workdir(root, _dataset(_cohort(root / "mirror")))
    proc = run_snakemake(work, "all", "results/coverage.json")
    assert proc.returncode == 0, proc.stderr[-6000:]
    return work


def test_imported_and_harmonised(clinic_run: Path) -> None:
    info = json.loads((clinic_run / "results/import/skin_clinic/import.json").read_text())
    assert info["available"] is True
    assert info["n_samples"] == 2 * (N_AD + N_HC)
    assert info["dropped"] == {"not_in_table": 0, "not_in_mapping": 0}
    assert info["harmonisation"]["missing"]["bmi"] == 2 * len(BMI_MISSING)
    # the lineage column became the table's taxonomy
    assert info["taxonomy"]["named_at_rank"]["genus"] == info["n_features"]
    lines = (clinic_run / "results/import/skin_clinic/samples.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert sum(r["condition"] == "atopic_dermatitis" for r in rows) == 2 * N_AD
    assert {r["body_site"] for r in rows} == {"gut", "skin"}
    assert {r["sex"] for r in rows} == {"female", "male"}
    assert {r["antibiotics"] for r in rows} == {"past_month", "past_6_months", "not_past_year"}


def test_analysed_by_an_existing_runner(clinic_run: Path) -> None:
    claims = {c["id"]: c for c in json.loads((clinic_run / "results/claims.json").read_text())}
    c90 = claims["C90"]
    assert c90["datasets"] == ["skin_clinic"]
    assert c90["n"] == N_AD + N_HC  # one gut sample per subject, all above the rarefaction depth
    assert c90["verdict"] in {"supported", "not_supported", "contradicted", "inconclusive"}
    assert c90["estimate"] is not None and np.isfinite(c90["estimate"])
    html = (clinic_run / "results/report.html").read_text()
    assert 'id="C90"' in html and "skin_clinic" in html


def test_in_the_coverage_map(clinic_run: Path) -> None:
    cov = json.loads((clinic_run / "results/coverage.json").read_text())
    entry = cov["datasets"]["skin_clinic"]
    assert entry["n_samples"] == 60
    assert entry["paired_gut_skin_subjects"] == 30
    assert entry["body_sites"] == {"gut": 30, "skin": 30}
    assert entry["claims"] == ["C90"]
    assert entry["variables"]["bmi"]["n_non_missing"] == 60 - 2 * len(BMI_MISSING)
    assert entry["variables"]["diet_plants"]["n_non_missing"] == 0


def test_signal_values_are_not_rarefied(tmp_path: Path) -> None:
    """A dataset declared ``values: signal`` (e.g. HITChip) reaches diversity as signal, not counts.

    Its non-integer values would stop a counts table at the import check; rarefying them would be
    wrong. Every sample is kept (no depth applies) and the summary says nothing was rarefied.
    """
    dataset = _dataset(_cohort(tmp_path / "mirror", scale=0.731))
    dataset.update(values="signal", data_type="microarray", rarefaction_depth=10**9)
    work = _workdir(tmp_path, dataset)
    proc = run_snakemake(work, "results/diversity/skin_clinic/diversity.json")
    assert proc.returncode == 0, proc.stderr[-6000:]
    summary = json.loads((work / "results/diversity/skin_clinic/diversity.json").read_text())
    assert summary["values"] == "signal"
    assert summary["rarefied"] is False
    # a depth of 1e9 would drop every sample if the signal were rarefied as counts
    assert summary["n_retained"] == 2 * (N_AD + N_HC)
    alpha = (work / "results/diversity/skin_clinic/alpha.tsv").read_text().splitlines()
    assert len(alpha) == 1 + 2 * (N_AD + N_HC)


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (lambda d: d.update(valeus=d.pop("values")), "key datasets/skin_clinic", "'valeus'"),
        (
            lambda d: d["samples"]["columns"]["age"].update(
                form=d["samples"]["columns"]["age"].pop("from")
            ),
            "key datasets/skin_clinic/samples/columns/age",
            "form",
        ),
        (
            lambda d: d["files"]["table"]["options"].update(row="features"),
            "key datasets/skin_clinic/files/table/options",
            "'row' was unexpected",
        ),
    ],
    ids=["dataset key", "column key", "reader option"],
)
def test_typo_is_a_schema_error_naming_the_key(
    tmp_path: Path, edit: Any, key: str, message: str
) -> None:
    dataset = _dataset(_cohort(tmp_path / "mirror"))
    edit(dataset)
    work = _workdir(tmp_path, dataset)
    proc = run_snakemake(work, "--dry-run", "all")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "datasets.yaml" in out
    assert key in out, out[-3000:]
    assert message in out, out[-3000:]
    assert "Traceback" not in proc.stderr or "ConfigError" in proc.stderr
    # nothing ran
    assert not (work / "results").exists()
    # the file the user edits is named as they wrote it
    assert yaml.safe_load((work / "config/datasets.yaml").read_text())["datasets"]["skin_clinic"]
