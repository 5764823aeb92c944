"""Synthetic AGP-like and HMP-like datasets with planted effects, for the test-suite.

The whole-workflow tests run the real Snakemake DAG on small synthetic datasets generated at test time.
They are written in the same file formats, with the same raw column names and raw values, as the two
real datasets they imitate, so the harmonisation config written for the real files works unchanged:

``agp_like``
    American Gut Project 2014 (rounds 1–8): a gzipped BIOM 1.0 JSON table (float counts, Greengenes
    taxonomy as a list of seven ranks, like ``AG_100nt_even10k.biom.gz``) and a QIIME mapping TSV
    (``#SampleID`` first, ``no_data`` for missing, no quoting; ``SEX`` coded ``47`` male / ``48``
    female as in the real file). Planted: gut Shannon lower in each skin condition by
    :attr:`Scenario.condition_effect_g` standard deviations; smaller effects of age, BMI, antibiotics
    (lowering diversity), plant diversity, sleep and IBD, of the sizes reported by the AGP regression
    (CLAIMS.md R1). A few subjects have two fecal samples, a few samples are shallow (to be dropped by
    rarefaction), a handful are skin, hand and tongue samples, two extraction blanks are in the table
    but not in the mapping.
``hmp_like``
    Human Microbiome Project 16S V3–V5: a BIOM 2.1 HDF5 table (all samples at the same depth, like
    the rarefied ``HMPv35_100nt_even1k.biom``) and a QIIME mapping (``hostsubjectid``,
    ``HMPbodysubsite``, ``visitno``, ``sex``, ``AGE``, ``bmi``, ``RUNCENTER``; empty cells for missing
    in the few mapping-only rows, as in the real file). Planted: every subject has a latent skin
    community; left and right retroauricular creases are noisy copies of it
    (:attr:`Scenario.lr_crease_coupling`), the gut community shares subject-level structure with the
    skin only to the extent :attr:`Scenario.gut_skin_coupling`. Skin samples are dominated by a few
    taxa (*Propionibacterium acnes* first), so stool Shannon exceeds crease Shannon.

Everything is deterministic from :attr:`Scenario.seed`: the same scenario gives byte-identical files
(gzip with ``mtime=0`` and no file name, a fixed BIOM ``generated_by`` and creation date, HDF5 written
without object timestamps).

Examples
--------
>>> from gutskin.synthetic import Scenario, write_synthetic_mirror, expected_facts
>>> files = write_synthetic_mirror(tmp_path / "mirror", Scenario(n_agp_subjects=200))  # doctest: +SKIP
>>> files["agp_like"]["table"]["format"]  # doctest: +SKIP
'biom'
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import gzip
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from ._atomic import atomic_path
from ._cache import sha256_file
from .errors import InputError

__all__ = [
    "AGP_ANTIBIOTICS",
    "AGP_COLUMNS",
    "AGP_CONDITIONS",
    "AGP_IBD",
    "AGP_SEX",
    "AGP_SLEEP",
    "AGP_TYPES_OF_PLANTS",
    "HMP_COLUMNS",
    "HMP_SUBSITES",
    "NO_DATA",
    "Scenario",
    "SyntheticDataset",
    "expected_facts",
    "serve_paths",
    "simulate",
    "write_synthetic_mirror",
]

#: The AGP missing-value marker.
NO_DATA = "no_data"

#: Canonical condition -> raw ``SKIN_CONDITION`` value of the AGP mapping.
AGP_CONDITIONS: dict[str, str] = {
    "none": "I do not have a skin condition",
    "eczema": "Eczema",
    "rosacea": "Rosacea",
    "psoriasis": "Psoriasis",
}
#: Canonical sex -> raw ``SEX`` code of the AGP mapping (48 is female: only 48 take the pill or are
#: pregnant in ``AG_100nt_even10k.txt``; the data dictionary gives no coding).
AGP_SEX: dict[str, str] = {"male": "47", "female": "48"}
#: Raw ``ANTIBIOTIC_SELECT`` values, most distant first.
AGP_ANTIBIOTICS: tuple[str, ...] = (
    "Not in the last year",
    "In the past year",
    "In the past 6 months",
    "In the past month",
    "In the past week",
)
#: Raw ``TYPES_OF_PLANTS`` levels, in order.
AGP_TYPES_OF_PLANTS: tuple[str, ...] = (
    "Less than 5",
    "6 to 10",
    "11 to 20",
    "21 to 30",
    "More than 30",
)
#: Raw ``SLEEP_DURATION`` levels, in order.
AGP_SLEEP: tuple[str, ...] = (
    "Less than 5 hours",
    "5-6 hours",
    "6-7 hours",
    "7-8 hours",
    "8 or more hours",
)
#: Raw ``IBD`` values.
AGP_IBD: tuple[str, ...] = ("I do not have IBD", "Ulcerative colitis", "Crohn's disease")

#: HMP body subsites written by the generator -> (``HMPbodysupersite``, ``bodysite``) as in the real file.
HMP_SUBSITES: dict[str, tuple[str, str]] = {
    "Stool": ("Gastrointestinal_tract", "UBERON_stool"),
    "Right_Retroauricular_crease": ("Skin", "UBERON_auricular_region_zone_of_skin"),
    "Left_Retroauricular_crease": ("Skin", "UBERON_auricular_region_zone_of_skin"),
    "Right_Antecubital_fossa": ("Skin", "UBERON_fossa"),
    "Left_Antecubital_fossa": ("Skin", "UBERON_fossa"),
    "Tongue_dorsum": ("Oral", "UBERON_mucosa_of_tongue"),
    "Anterior_nares": ("Airways", "UBERON_nares"),
}

_GENERATED_BY = "gutskin.synthetic"
_CREATION_DATE = _dt.datetime(2000, 1, 1, 0, 0, 0)
_PATH_PREFIX = "gutskin-synthetic"

# ----------------------------------------------------------------------------------------------
# Planted covariate effects on gut Shannon, in within-group standard deviations. Sizes follow the
# AGP alpha-diversity regression (CLAIMS.md R1, "derived g" = beta / residual SD 3.06 PD units).
# ----------------------------------------------------------------------------------------------
_LN_AGE_EFFECT = 1.544 / 3.06  # per unit of ln(age + 1)
_BMI_EFFECT = -0.0999 / 3.06  # per kg/m²
_ANTIBIOTIC_EFFECT = (0.0, -0.541 / 3.06, -1.197 / 3.06, -1.582 / 3.06, -1.582 / 3.06)
_PLANTS_EFFECT = (0.0, -0.042 / 3.06, 0.230 / 3.06, 0.592 / 3.06, 0.849 / 3.06)
_SLEEP_EFFECT = (0.0, 0.0, 0.303 / 3.06, 0.305 / 3.06, 0.429 / 3.06)
_IBD_EFFECT = -1.782 / 3.06

_ANTIBIOTIC_SHARES = (0.69, 0.13, 0.12, 0.035, 0.025)
_PLANTS_SHARES = (0.07, 0.23, 0.31, 0.20, 0.19)
_SLEEP_SHARES = (0.01, 0.08, 0.31, 0.40, 0.20)
_DIET_TYPES = (
    ("Omnivore", 0.81),
    ("Omnivore but no red meat", 0.06),
    ("Vegetarian", 0.04),
    ("Vegetarian but eat seafood", 0.06),
    ("Vegan", 0.03),
)
_COUNTRIES = (
    ("GAZ:United States of America", 0.93),
    ("GAZ:Canada", 0.03),
    ("GAZ:United Kingdom", 0.02),
    ("GAZ:Australia", 0.02),
)
_IBD_PREVALENCE = 0.05

# Greengenes 13_8 lineages, by habitat; the species is that of the first OTU of each genus (the
# others get "s__"). The first genera of each habitat get the most OTUs and (through the
# rank-abundance base) the highest abundances.
_GUT_GENERA: tuple[str, ...] = (
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; g__Bacteroides; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; g__Faecalibacterium; s__prausnitzii",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; g__; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; g__Oscillospira; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Blautia; s__",
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Prevotellaceae; g__Prevotella; s__copri",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__; g__; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; g__Ruminococcus; s__",
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Rikenellaceae; g__Alistipes; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Coprococcus; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Roseburia; s__",
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Porphyromonadaceae; g__Parabacteroides; s__distasonis",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Dorea; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Christensenellaceae; g__; s__",
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Bifidobacteriales; f__Bifidobacteriaceae; g__Bifidobacterium; s__",
    "k__Bacteria; p__Verrucomicrobia; c__Verrucomicrobiae; o__Verrucomicrobiales; f__Verrucomicrobiaceae; g__Akkermansia; s__muciniphila",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Veillonellaceae; g__Dialister; s__",
    "k__Bacteria; p__Proteobacteria; c__Betaproteobacteria; o__Burkholderiales; f__Alcaligenaceae; g__Sutterella; s__",
    "k__Bacteria; p__Proteobacteria; c__Gammaproteobacteria; o__Enterobacteriales; f__Enterobacteriaceae; g__Escherichia; s__coli",
    "k__Archaea; p__Euryarchaeota; c__Methanobacteria; o__Methanobacteriales; f__Methanobacteriaceae; g__Methanobrevibacter; s__",
)
_SKIN_GENERA: tuple[str, ...] = (
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Actinomycetales; f__Propionibacteriaceae; g__Propionibacterium; s__acnes",
    "k__Bacteria; p__Firmicutes; c__Bacilli; o__Bacillales; f__Staphylococcaceae; g__Staphylococcus; s__epidermidis",
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Actinomycetales; f__Corynebacteriaceae; g__Corynebacterium; s__",
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Actinomycetales; f__Micrococcaceae; g__Micrococcus; s__luteus",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Tissierellaceae; g__Anaerococcus; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Tissierellaceae; g__Finegoldia; s__",
    "k__Bacteria; p__Proteobacteria; c__Gammaproteobacteria; o__Pseudomonadales; f__Moraxellaceae; g__Acinetobacter; s__",
    "k__Bacteria; p__Proteobacteria; c__Alphaproteobacteria; o__Rhodobacterales; f__Rhodobacteraceae; g__Paracoccus; s__",
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Actinomycetales; f__Micrococcaceae; g__Kocuria; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Tissierellaceae; g__Peptoniphilus; s__",
)
_ORAL_GENERA: tuple[str, ...] = (
    "k__Bacteria; p__Firmicutes; c__Bacilli; o__Lactobacillales; f__Streptococcaceae; g__Streptococcus; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Veillonellaceae; g__Veillonella; s__dispar",
    "k__Bacteria; p__Proteobacteria; c__Gammaproteobacteria; o__Pasteurellales; f__Pasteurellaceae; g__Haemophilus; s__parainfluenzae",
    "k__Bacteria; p__Proteobacteria; c__Betaproteobacteria; o__Neisseriales; f__Neisseriaceae; g__Neisseria; s__subflava",
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Prevotellaceae; g__Prevotella; s__melaninogenica",
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Actinomycetales; f__Micrococcaceae; g__Rothia; s__mucilaginosa",
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Porphyromonadaceae; g__Porphyromonas; s__",
    "k__Bacteria; p__Fusobacteria; c__Fusobacteriia; o__Fusobacteriales; f__Fusobacteriaceae; g__Fusobacterium; s__",
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Actinomycetales; f__Actinomycetaceae; g__Actinomyces; s__",
    "k__Bacteria; p__Firmicutes; c__Bacilli; o__Lactobacillales; f__Carnobacteriaceae; g__Granulicatella; s__",
    "k__Bacteria; p__Firmicutes; c__Bacilli; o__Gemellales; f__Gemellaceae; g__Gemella; s__",
)


# ==============================================================================================
# Scenario
# ==============================================================================================
def _default_shares() -> dict[str, float]:
    return {"none": 0.7, "eczema": 0.12, "rosacea": 0.1, "psoriasis": 0.08}


@dataclass(frozen=True)
class Scenario:
    """What to generate: sizes, planted effects and the seed.

    Parameters
    ----------
    seed
        Everything is a deterministic function of the scenario; the seed drives all draws.
    n_agp_subjects
        Number of AGP-like subjects with at least one fecal sample.
    condition_shares
        Shares of ``none``, ``eczema``, ``rosacea``, ``psoriasis`` among the fecal subjects whose
        condition is known (normalised to sum 1; allocated exactly by largest remainder).
    condition_effect_g
        Planted standardised difference in gut Shannon of each condition versus ``none`` (in
        within-group SDs of true Shannon). A mapping ``{condition: g}`` plants a different value per
        condition (missing keys mean 0). It is the direct effect; with the default independent
        covariates it is also the marginal one.
    n_features
        Number of OTUs (60 % gut, 20 % skin, 20 % oral taxa); at least 30.
    agp_depth_range
        Reads per AGP-like sample (uniform, inclusive) for all samples that are not shallow.
    agp_low_depth
        Shallow samples get between ``agp_low_depth // 2`` and ``agp_low_depth`` reads, so a
        workflow rarefaction depth in ``(agp_low_depth, agp_depth_range[0]]`` drops exactly them.
    agp_low_depth_fraction
        Share of fecal subjects (with a single fecal sample) whose fecal sample is shallow.
    agp_duplicate_fraction
        Share of fecal subjects with two fecal samples (both at normal depth).
    agp_missing_condition_fraction
        Share of fecal subjects with ``SKIN_CONDITION`` = ``no_data`` (their planted effect is 0).
    psoriasis_ibd_odds_ratio
        Odds ratio of IBD in psoriasis versus everyone else (1 = no association; CLAIMS.md C3).
    n_hmp_subjects
        Number of HMP-like subjects.
    gut_skin_coupling
        0: gut and skin communities independent; 1: they share all their subject-level structure.
    lr_crease_coupling
        Correlation of the left and right retroauricular crease communities around the subject's
        latent skin community (the positive control).
    hmp_depth
        Reads per HMP-like sample (all samples, like the rarefied real table).
    log_ratio_effect
        Planted log-ratio effect in the gut per condition (``{condition: L}``, natural log; empty: none):
        in that condition's fecal samples the features whose lineage contains a key of
        ``log_ratio_taxa`` marked ``"lower"`` are multiplied by ``e^(L/2)`` and those marked ``"higher"``
        by ``e^(−L/2)`` (after the Shannon tempering, then renormalised), so the log-ratio of the
        geometric means of the two sets differs from ``none`` by ``L`` (before zeros and the
        pseudocount attenuate it). C10's knob: L = −SESOI plants its smallest effect of interest.
    log_ratio_taxa
        Lineage tag (e.g. ``"g__Roseburia"``, ``"f__Enterobacteriaceae"``) -> ``"lower"`` / ``"higher"``.
    """

    seed: int = 20261126
    n_agp_subjects: int = 400
    condition_shares: Mapping[str, float] = field(default_factory=_default_shares)
    condition_effect_g: float | Mapping[str, float] = -0.8
    n_features: int = 300
    agp_depth_range: tuple[int, int] = (2500, 6000)
    agp_low_depth: int = 800
    agp_low_depth_fraction: float = 0.03
    agp_duplicate_fraction: float = 0.05
    agp_missing_condition_fraction: float = 0.03
    psoriasis_ibd_odds_ratio: float = 1.0
    n_hmp_subjects: int = 80
    gut_skin_coupling: float = 0.0
    lr_crease_coupling: float = 0.9
    hmp_depth: int = 1500
    log_ratio_effect: Mapping[str, float] = field(default_factory=dict)
    log_ratio_taxa: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def bad(key: str, problem: str, hint: str) -> InputError:
            return InputError(None, problem, where=f"Scenario.{key}", hint=hint)

        shares = dict(self.condition_shares)
        unknown = sorted(set(shares) - set(AGP_CONDITIONS))
        if unknown:
            raise bad(
                "condition_shares",
                f"unknown condition(s) {unknown}",
                f"use only {sorted(AGP_CONDITIONS)}",
            )
        if any(not np.isfinite(v) or v < 0 for v in shares.values()):
            raise bad("condition_shares", "shares must be finite and >= 0", "fix the values")
        if shares.get("none", 0.0) <= 0:
            raise bad("condition_shares", "the 'none' share must be > 0", "give none a share")
        g = self.condition_effect_g
        if isinstance(g, Mapping):
            unknown = sorted(set(g) - (set(AGP_CONDITIONS) - {"none"}))
            if unknown:
                raise bad(
                    "condition_effect_g",
                    f"unknown condition(s) {unknown}",
                    "use eczema, rosacea, psoriasis",
                )
        unknown = sorted(set(self.log_ratio_effect) - (set(AGP_CONDITIONS) - {"none"}))
        if unknown:
            raise bad(
                "log_ratio_effect",
                f"unknown condition(s) {unknown}",
                "use eczema, rosacea, psoriasis",
            )
        bad_dir = sorted(t for t, d in self.log_ratio_taxa.items() if d not in ("lower", "higher"))
        if bad_dir or (self.log_ratio_effect and not self.log_ratio_taxa):
            raise bad(
                "log_ratio_taxa",
                f"need lineage tag -> 'lower'/'higher' for a log_ratio_effect (bad: {bad_dir})",
                "list the taxa of the log-ratio",
            )
        for key, lo in (("n_agp_subjects", 10), ("n_hmp_subjects", 10), ("n_features", 30)):
            value = getattr(self, key)
            if not isinstance(value, int | np.integer) or value < lo:
                raise bad(key, f"must be an integer >= {lo}, got {value!r}", "raise it")
        lo_d, hi_d = self.agp_depth_range
        if not (0 < self.agp_low_depth < lo_d <= hi_d):
            raise bad(
                "agp_depth_range",
                f"need 0 < agp_low_depth ({self.agp_low_depth}) < min depth ({lo_d}) <= max ({hi_d})",
                "fix the depths",
            )
        if self.hmp_depth < 10:
            raise bad("hmp_depth", "must be >= 10", "raise it")
        for key in (
            "gut_skin_coupling",
            "lr_crease_coupling",
            "agp_low_depth_fraction",
            "agp_duplicate_fraction",
            "agp_missing_condition_fraction",
        ):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise bad(key, f"must be within [0, 1], got {value!r}", "fix it")
        if (
            self.agp_low_depth_fraction
            + self.agp_duplicate_fraction
            + self.agp_missing_condition_fraction
            > 0.5
        ):
            raise bad(
                "agp_low_depth_fraction",
                "low-depth + duplicate + missing-condition fractions exceed 0.5",
                "lower them",
            )
        if not self.psoriasis_ibd_odds_ratio > 0:
            raise bad("psoriasis_ibd_odds_ratio", "must be > 0", "fix it")

    def __hash__(self) -> int:
        return hash(self.key())

    def effect_g(self, condition: str) -> float:
        """The planted standardised Shannon difference of ``condition`` versus ``none``."""
        if condition == "none":
            return 0.0
        g = self.condition_effect_g
        if isinstance(g, Mapping):
            return float(g.get(condition, 0.0))
        return float(g)

    def key(self) -> str:
        """A short stable identifier (seed and a hash of all fields), used in the file URLs."""
        fields = dataclasses.asdict(self)
        fields["condition_shares"] = dict(self.condition_shares)
        if isinstance(self.condition_effect_g, Mapping):
            fields["condition_effect_g"] = dict(self.condition_effect_g)
        # the log-ratio knob enters the key only when used, so the default scenario keeps its key (and URLs)
        for k in ("log_ratio_effect", "log_ratio_taxa"):
            if getattr(self, k):
                fields[k] = dict(getattr(self, k))
            else:
                fields.pop(k)
        blob = json.dumps(fields, sort_keys=True, default=str).encode()
        return f"s{self.seed}-{hashlib.sha256(blob).hexdigest()[:10]}"


# ==============================================================================================
# In-memory datasets
# ==============================================================================================
@dataclass(frozen=True)
class SyntheticDataset:
    """One generated dataset, in memory.

    Attributes
    ----------
    name
        ``"agp_like"`` or ``"hmp_like"``.
    mapping
        The raw mapping table exactly as written (all cells strings; ``#SampleID`` first).
    sample_ids
        Table sample ids, in table order.
    feature_ids
        OTU ids (``otu_1`` …), in table order.
    counts
        Integer reads, samples × features.
    taxonomy
        Seven-rank Greengenes lineage per feature.
    truth
        Per table sample, indexed by sample id and not written to any file: ``subject_index``,
        ``subject_id``, ``site``, ``depth``, ``visit`` (HMP) or ``replicate``, ``low_depth``,
        ``condition``, ``in_mapping`` and the true values behind masked or mis-recorded answers
        (``true_age``, ``true_bmi``, ``true_antibiotics``, ``true_ibd``) (AGP); ``true_shannon``
        (Shannon, nats, of the composition the reads were drawn from; AGP fecal samples and all
        HMP samples).
    """

    name: str
    mapping: pd.DataFrame
    sample_ids: np.ndarray
    feature_ids: np.ndarray
    counts: np.ndarray
    taxonomy: list[list[str]]
    truth: pd.DataFrame


@dataclass(frozen=True)
class _Features:
    ids: np.ndarray
    taxonomy: list[list[str]]
    habitat: np.ndarray  # "gut" | "skin" | "oral"
    rank: np.ndarray  # abundance rank within its habitat (0 = most abundant)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    names = (
        "features",
        "agp_design",
        "agp_comm",
        "agp_counts",
        "hmp_design",
        "hmp_comm",
        "hmp_counts",
        # appended last so that adding it left the other streams (and all earlier data) unchanged
        "agp_diagnoses",
    )
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(c) for n, c in zip(names, children, strict=True)}


def _allocate(n: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Largest-remainder allocation of ``n`` items to ``shares`` (ties broken by key order)."""
    keys = list(shares)
    w = np.array([float(shares[k]) for k in keys])
    w = w / w.sum()
    raw = w * n
    base = np.floor(raw).astype(int)
    rest = n - int(base.sum())
    order = sorted(range(len(keys)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return {k: int(b) for k, b in zip(keys, base, strict=True)}


def _features(scenario: Scenario, rng: np.random.Generator) -> _Features:
    f = scenario.n_features
    n_gut = round(0.6 * f)
    n_skin = round(0.2 * f)
    n_oral = f - n_gut - n_skin
    habitat: list[str] = []
    taxonomy: list[list[str]] = []
    rank: list[int] = []
    for name, n, genera in (
        ("gut", n_gut, _GUT_GENERA),
        ("skin", n_skin, _SKIN_GENERA),
        ("oral", n_oral, _ORAL_GENERA),
    ):
        # The genus of the k-th OTU: a Zipf-like share per genus, top genera first; the first OTU
        # of each genus is the named species, the others are "s__".
        weights = 1.0 / np.arange(1, len(genera) + 1)
        alloc = _allocate(n - min(n, len(genera)), {str(i): w for i, w in enumerate(weights)})
        per_genus = [1 + alloc[str(i)] if i < n else 0 for i in range(len(genera))]
        k = 0
        for gi, count in enumerate(per_genus):
            ranks = genera[gi].split("; ")
            for j in range(count):
                habitat.append(name)
                taxonomy.append(list(ranks) if j == 0 else [*ranks[:-1], "s__"])
                k += 1
        # abundance rank: genus order first, shuffled a little within the habitat
        r = np.argsort(np.argsort(np.arange(k) + rng.uniform(0, 0.35 * k, size=k)))
        if name == "skin":  # keep P. acnes, S. epidermidis, Corynebacterium at the top
            top = [0, per_genus[0], per_genus[0] + per_genus[1]]
            order = [i for i in np.argsort(r) if i not in top]
            r = np.empty(k, dtype=int)
            r[top + order] = np.arange(k)
        rank.extend(int(x) for x in r)
    perm = rng.permutation(f)  # OTU ids do not reveal the habitat
    ids = np.array([f"otu_{i + 1}" for i in range(f)])
    return _Features(
        ids=ids,
        taxonomy=[taxonomy[i] for i in perm],
        habitat=np.array(habitat)[perm],
        rank=np.array(rank)[perm],
    )


def _base_log(feat: _Features, site: str) -> np.ndarray:
    """Log base weights over all features for a body site (``-inf`` outside its support)."""
    f = feat.ids.size
    out = np.full(f, -np.inf)
    gut, skin, oral = (feat.habitat == h for h in ("gut", "skin", "oral"))
    r = feat.rank.astype(float)
    if site == "gut":
        out[gut] = -1.0 * np.log1p(r[gut])
        # a few oral taxa pass through the gut at low abundance
        out[oral & (feat.rank < 3)] = -np.log(gut.sum()) - 1.0
    elif site in ("crease", "fossa", "nares", "hand"):
        slope = {"crease": 1.3, "fossa": 0.9, "nares": 1.2, "hand": 0.8}[site]
        out[skin] = -slope * np.log1p(r[skin]) - 0.5 * np.minimum(r[skin], 3)
        if site == "nares":  # Corynebacterium and Staphylococcus lead in the nose
            out[skin & (feat.rank == 1)] = 0.5
            out[skin & (feat.rank == 2)] = 0.3
        else:
            out[skin & (feat.rank == 0)] = 1.5
        # skin swabs pick up some gut and oral taxa at low abundance
        other = {"crease": -6.5, "fossa": -4.5, "nares": -6.0, "hand": -4.0}[site]
        out[gut & (feat.rank < 20)] = other - 0.1 * r[gut & (feat.rank < 20)]
        out[oral & (feat.rank < 6)] = other - 0.2 * r[oral & (feat.rank < 6)]
    elif site == "oral":
        out[oral] = -1.1 * np.log1p(r[oral])
        out[oral & (feat.rank == 0)] = 1.0  # Streptococcus
        out[skin & (feat.rank < 3)] = -6.0
    else:  # pragma: no cover - internal
        raise ValueError(site)
    return out


def _softmax_rows(logw: np.ndarray) -> np.ndarray:
    m = np.max(logw, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        w = np.exp(logw - m)
    w[~np.isfinite(logw)] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    logp = np.zeros_like(p)
    np.log(p, out=logp, where=p > 0)
    return -(p * logp).sum(axis=1)


def _temper(logq: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rows ``p ∝ q**beta`` with ``beta`` chosen (bisection) so that Shannon(p) = target.

    Shannon of the escort distribution ``q**beta`` decreases monotonically in ``beta > 0``
    (d H / d beta = -beta Var_p(log q)), from ln(support size) towards 0.
    """
    lo = np.full(logq.shape[0], np.log(1e-3))
    hi = np.full(logq.shape[0], np.log(60.0))
    finite = np.isfinite(logq)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        a = np.where(finite, np.exp(mid)[:, None] * np.where(finite, logq, 0.0), -np.inf)
        h = _entropy_rows(_softmax_rows(a))
        too_even = h > target  # need a larger beta
        lo = np.where(too_even, mid, lo)
        hi = np.where(too_even, hi, mid)
    beta = np.exp(0.5 * (lo + hi))
    a = np.where(finite, beta[:, None] * np.where(finite, logq, 0.0), -np.inf)
    return _softmax_rows(a)


def _draw_counts(p: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = p / p.sum(axis=1, keepdims=True)
    return rng.multinomial(depth.astype(np.int64), p).astype(np.int64)


def _categorical(
    rng: np.random.Generator, n: int, levels: tuple[str, ...], shares: tuple[float, ...]
) -> np.ndarray:
    w = np.asarray(shares, dtype=float)
    return rng.choice(len(levels), size=n, p=w / w.sum())


def _mask(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Exactly ``round(share * n)`` randomly chosen True values (missing cells)."""
    out = np.zeros(n, dtype=bool)
    out[rng.choice(n, size=round(share * n), replace=False)] = True
    return out


def _unique_ints(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    return lo + rng.choice(hi - lo, size=n, replace=False)


def _in_table_order(
    name: str,
    mapping: pd.DataFrame,
    sample_ids: pd.Series,
    feat: _Features,
    counts: np.ndarray,
    truth: pd.DataFrame,
    order: np.ndarray,
) -> SyntheticDataset:
    """The dataset with its samples (ids, counts, truth rows) in the table's shuffled ``order``."""
    return SyntheticDataset(
        name=name,
        mapping=mapping,
        sample_ids=sample_ids.to_numpy()[order].astype(str),
        feature_ids=feat.ids,
        counts=counts[order],
        taxonomy=feat.taxonomy,
        truth=truth.iloc[order],
    )


def _agp_n(scenario: Scenario) -> dict[str, int]:
    n = scenario.n_agp_subjects
    return {
        "missing_condition": round(scenario.agp_missing_condition_fraction * n),
        "duplicates": round(scenario.agp_duplicate_fraction * n),
        "low_depth": round(scenario.agp_low_depth_fraction * n),
        "skin": max(2, round(0.03 * n)),
        "hand": max(2, round(0.01 * n)),
        "tongue": max(2, round(0.025 * n)),
        "tongue_only_subjects": max(1, round(0.005 * n)),
        "bmi_out_of_range": max(1, round(0.005 * n)),
        "blanks": 2,
    }


# ----------------------------------------------------------------------------------------------
# AGP-like
# ----------------------------------------------------------------------------------------------
def _agp_subjects(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """Subject-level design: raw survey answers and latent (true) covariates."""
    k = _agp_n(scenario)
    n_fecal = scenario.n_agp_subjects
    n = n_fecal + k["tongue_only_subjects"]
    # -- condition (exact allocation among fecal subjects; tongue-only subjects get random ones)
    alloc = _allocate(n_fecal - k["missing_condition"], dict(scenario.condition_shares))
    cond = [c for c, m in alloc.items() for _ in range(m)] + ["missing"] * k["missing_condition"]
    cond = list(rng.permutation(np.array(cond, dtype=object)))
    cond += list(rng.choice(list(AGP_CONDITIONS), size=k["tongue_only_subjects"]))
    cond_arr = np.array(cond, dtype=object)

    # -- latent covariates (drawn for everybody, then some answers are masked as no_data)
    age = np.clip(np.round(rng.normal(45, 14, n)), 18, 85)
    female = rng.uniform(size=n) < 0.54
    bmi = np.clip(np.exp(rng.normal(np.log(24.5), 0.16, n)), 15.5, 45.0)
    abx = _categorical(rng, n, AGP_ANTIBIOTICS, _ANTIBIOTIC_SHARES)
    plants = _categorical(rng, n, AGP_TYPES_OF_PLANTS, _PLANTS_SHARES)
    sleep = _categorical(rng, n, AGP_SLEEP, _SLEEP_SHARES)
    odds0 = _IBD_PREVALENCE / (1 - _IBD_PREVALENCE)
    p_ibd = np.where(
        cond_arr == "psoriasis",
        odds0 * scenario.psoriasis_ibd_odds_ratio / (1 + odds0 * scenario.psoriasis_ibd_odds_ratio),
        _IBD_PREVALENCE,
    )
    ibd = np.where(rng.uniform(size=n) < p_ibd, np.where(rng.uniform(size=n) < 0.6, 1, 2), 0)
    diet = _categorical(rng, n, tuple(d for d, _ in _DIET_TYPES), tuple(s for _, s in _DIET_TYPES))
    country = _categorical(rng, n, tuple(c for c, _ in _COUNTRIES), tuple(s for _, s in _COUNTRIES))
    acne = rng.uniform(size=n) < 0.03
    acne_otc = rng.uniform(size=n) < 0.08

    # -- raw answers
    def fmt_bmi(x: float, i: int) -> str:
        return f"{x:.8f}" if i % 3 else f"{x:.14f}"

    raw = pd.DataFrame(
        {
            "AGE": [f"{a:.1f}" for a in age],
            "SEX": np.where(female, AGP_SEX["female"], AGP_SEX["male"]),
            "BMI": [fmt_bmi(b, i) for i, b in enumerate(bmi)],
            "SKIN_CONDITION": [AGP_CONDITIONS.get(c, NO_DATA) for c in cond_arr],
            "ANTIBIOTIC_SELECT": np.array(AGP_ANTIBIOTICS)[abx],
            "TYPES_OF_PLANTS": np.array(AGP_TYPES_OF_PLANTS)[plants],
            "SLEEP_DURATION": np.array(AGP_SLEEP)[sleep],
            "IBD": np.array(AGP_IBD)[ibd],
            "DIET_TYPE": np.array([d for d, _ in _DIET_TYPES])[diet],
            "COUNTRY": np.array([c for c, _ in _COUNTRIES])[country],
            "ACNE_MEDICATION": np.where(acne, "yes", "no"),
            "ACNE_MEDICATION_OTC": np.where(acne_otc, "yes", "no"),
        }
    )
    for col, share in (
        ("AGE", 0.03),
        ("SEX", 0.04),
        ("BMI", 0.05),
        ("ANTIBIOTIC_SELECT", 0.015),
        ("TYPES_OF_PLANTS", 0.04),
        ("SLEEP_DURATION", 0.015),
        ("IBD", 0.04),
        ("DIET_TYPE", 0.015),
        ("ACNE_MEDICATION", 0.03),
        ("ACNE_MEDICATION_OTC", 0.03),
    ):
        raw.loc[_mask(rng, n, share), col] = NO_DATA
    # a few recorded BMIs are data-entry errors (outside 10-80; the true BMI still acts)
    bmi_present = np.flatnonzero((raw["BMI"] != NO_DATA).to_numpy()[:n_fecal])
    bad_bmi = rng.choice(bmi_present, size=k["bmi_out_of_range"], replace=False)
    for j, i in enumerate(sorted(bad_bmi)):
        raw.loc[i, "BMI"] = "0.0" if j % 2 else f"{bmi[i] * 9.7:.8f}"

    # -- ids
    hsid_a = rng.integers(1900, 2300, size=n)
    hsid_b = _unique_ints(rng, n, 10**8, 10**10)
    raw.insert(0, "HOST_SUBJECT_ID", [f"{a}:{b}" for a, b in zip(hsid_a, hsid_b, strict=True)])

    # -- planted gut Shannon in within-group SD units
    cov = (
        _LN_AGE_EFFECT * (np.log(age + 1) - np.log(age + 1).mean())
        + _BMI_EFFECT * (bmi - bmi.mean())
        + np.asarray(_ANTIBIOTIC_EFFECT)[abx]
        + np.asarray(_PLANTS_EFFECT)[plants]
        + np.asarray(_SLEEP_EFFECT)[sleep]
        + np.where(ibd > 0, _IBD_EFFECT, 0.0)
    )
    cov = cov - cov[:n_fecal].mean()
    var_cov = float(np.var(cov[:n_fecal]))
    sd_eps = float(np.sqrt(max(1.0 - var_cov, 0.3**2)))
    eps = rng.normal(0.0, sd_eps, n)
    g = np.array([scenario.effect_g(c) if c != "missing" else 0.0 for c in cond_arr])
    raw["_condition"] = cond_arr
    raw["_shannon_sd_units"] = g + cov + eps
    raw["_age"] = age
    raw["_bmi"] = bmi
    raw["_antibiotics"] = np.array(AGP_ANTIBIOTICS)[abx]
    raw["_ibd"] = ibd
    return raw


def _agp_design(scenario: Scenario, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Subjects and samples (with depth and site), before any community is drawn."""
    subj = _agp_subjects(scenario, rng)
    k = _agp_n(scenario)
    n_fecal = scenario.n_agp_subjects
    fecal_subjects = np.arange(n_fecal)
    shuffled = rng.permutation(fecal_subjects)
    dup = np.sort(shuffled[: k["duplicates"]])
    low = np.sort(shuffled[k["duplicates"] : k["duplicates"] + k["low_depth"]])
    low_set = set(low.tolist())
    rows: list[dict[str, Any]] = []
    for s in fecal_subjects:
        rows.append({"subject": s, "site": "feces", "replicate": 0, "low": s in low_set})
    for s in dup:
        rows.append({"subject": s, "site": "feces", "replicate": 1, "low": False})
    others = rng.permutation(fecal_subjects)
    cursor = 0
    for site in ("skin", "hand", "tongue"):
        for s in others[cursor : cursor + k[site]]:
            rows.append({"subject": int(s), "site": site, "replicate": 0, "low": False})
        cursor += k[site]
    for tongue_only in range(n_fecal, n_fecal + k["tongue_only_subjects"]):
        rows.append({"subject": tongue_only, "site": "tongue", "replicate": 0, "low": False})
    for b in range(k["blanks"]):
        rows.append({"subject": -1 - b, "site": "blank", "replicate": 0, "low": False})
    samples = pd.DataFrame(rows)
    m = len(samples)
    lo_d, hi_d = scenario.agp_depth_range
    depth = rng.integers(lo_d, hi_d + 1, size=m)
    low_mask = samples["low"].to_numpy()
    depth[low_mask] = rng.integers(
        scenario.agp_low_depth // 2, scenario.agp_low_depth + 1, size=int(low_mask.sum())
    )
    blank = (samples["site"] == "blank").to_numpy()
    depth[blank] = rng.integers(300, lo_d, size=int(blank.sum()))
    samples["depth"] = depth
    anon = _unique_ints(rng, m, 100_000, 999_999)
    kit = _unique_ints(rng, m, 1_300_000, 1_399_999)
    ids = [f"{a:09d}.{b}" for a, b in zip(anon, kit, strict=True)]
    for i in np.flatnonzero(blank):
        ids[i] = f"BLANK.AG{21 + i % 3}.{chr(65 + i % 8)}{1 + i % 12}"
    samples["sample_id"] = ids
    plate = rng.integers(10, 40, size=m)
    samples["plate"] = [f"AG{p}" for p in plate]
    samples.loc[samples["site"].isin(["skin", "hand"]), "plate"] = "Skin17"
    samples.loc[samples["site"] == "tongue", "plate"] = "Oral18"
    samples.loc[_mask(rng, m, 0.05) & ~blank, "plate"] = NO_DATA
    samples["side"] = ""
    hand = (samples["site"] == "hand").to_numpy()
    samples.loc[hand, "side"] = np.where(rng.uniform(size=int(hand.sum())) < 0.5, "Left", "Right")
    return subj, samples


_AGP_SITE_RAW = {
    "feces": (
        "UBERON:feces",
        "UBERON:feces",
        "ENVO:feces",
        "human gut metagenome",
        "American Gut Project Stool sample",
    ),
    "skin": (
        "UBERON:skin",
        "UBERON:skin",
        "ENVO:sebum",
        "human skin metagenome",
        "American Gut Project Forehead sample",
    ),
    "hand": (
        "UBERON:hand",
        "UBERON:skin",
        "ENVO:sebum",
        "human skin metagenome",
        "American Gut Project {side} hand sample",
    ),
    "tongue": (
        "UBERON:tongue",
        "UBERON:oral cavity",
        "ENVO:saliva",
        "human oral metagenome",
        "American Gut Project Mouth sample",
    ),
}
#: Columns of the AGP-like mapping, in the order of the real ``AG_100nt_even10k.txt``.
AGP_COLUMNS: tuple[str, ...] = (
    "#SampleID",
    "AGE",
    "BODY_SITE",
    "HOST_SUBJECT_ID",
    "SAMPLE_PLATE",
    "COUNTRY",
    "ANTIBIOTIC_SELECT",
    "COMMON_NAME",
    "BMI",
    "ENV_MATTER",
    "SKIN_CONDITION",
    "TITLE",
    "SEX",
    "BODY_HABITAT",
    "SLEEP_DURATION",
    "DIET_TYPE",
    "IBD",
    "TYPES_OF_PLANTS",
    "ACNE_MEDICATION",
    "ACNE_MEDICATION_OTC",
    "DIABETES",
    "MIGRAINE",
    "ASTHMA",
    "SEASONAL_ALLERGIES",
    "DESCRIPTION",
)


def _gut_shannon_scale(n_support: int) -> tuple[float, float]:
    """Mean and within-group SD (nats) of true gut Shannon for a support of ``n_support`` taxa."""
    ln_s = float(np.log(n_support))
    return 0.65 * ln_s, 0.09 * ln_s


#: Other self-reported diagnoses of the AGP survey: raw column -> (answers, shares, share missing).
#: Shares roughly as in the 2014 release (e.g. seasonal allergies 41 %, migraine 12 %, asthma 9 %).
AGP_OTHER_DIAGNOSES: dict[str, tuple[tuple[str, ...], tuple[float, ...], float]] = {
    "DIABETES": (("I do not have diabetes", "Type II", "Type I"), (0.973, 0.018, 0.009), 0.03),
    "MIGRAINE": (("no", "yes"), (0.88, 0.12), 0.045),
    "ASTHMA": (("no", "yes"), (0.91, 0.09), 0.045),
    "SEASONAL_ALLERGIES": (("no", "yes"), (0.59, 0.41), 0.045),
}


def _plant_log_ratio(
    p: np.ndarray,
    fecal: np.ndarray,
    sub: np.ndarray,
    subj: pd.DataFrame,
    feat: _Features,
    scenario: Scenario,
) -> None:
    """Scale the ``lower`` / ``higher`` taxa of each condition's fecal rows by ``e^(±L/2)`` and renormalise
    (:attr:`Scenario.log_ratio_effect`); draws no random numbers, so everything else stays the same."""
    lineages = [";".join(t) for t in feat.taxonomy]
    sign = np.zeros(len(lineages))
    for tag, direction in scenario.log_ratio_taxa.items():
        hit = np.array([tag in lin for lin in lineages])
        if not hit.any():
            raise InputError(
                None,
                f"no synthetic feature has {tag!r} in its lineage",
                where="Scenario.log_ratio_taxa",
                hint="use Greengenes tags such as g__Roseburia or f__Enterobacteriaceae",
            )
        sign[hit] = 1.0 if direction == "lower" else -1.0
    cond = np.array([subj.at[s, "_condition"] if s >= 0 else "" for s in sub], dtype=object)
    for c, lfc in scenario.log_ratio_effect.items():
        rows = fecal & (cond == c)
        if rows.any() and lfc:
            w = p[rows] * np.exp(sign * float(lfc) / 2)[None, :]
            p[rows] = w / w.sum(axis=1, keepdims=True)


def _agp_other_diagnoses(subj: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Add the other diagnoses (independent of everything else: no planted effect) to ``subj``."""
    subj = subj.copy()
    n = len(subj)
    for col, (answers, shares, missing) in AGP_OTHER_DIAGNOSES.items():
        values = np.array(answers, dtype=object)[_categorical(rng, n, answers, shares)]
        values[_mask(rng, n, missing)] = NO_DATA
        subj[col] = values
    return subj


def _simulate_agp(
    scenario: Scenario, streams: dict[str, np.random.Generator], feat: _Features
) -> SyntheticDataset:
    subj, samples = _agp_design(scenario, streams["agp_design"])
    subj = _agp_other_diagnoses(subj, streams["agp_diagnoses"])
    rng = streams["agp_comm"]
    f = feat.ids.size
    m = len(samples)
    logw = np.full((m, f), -np.inf)
    site = samples["site"].to_numpy()
    sub = samples["subject"].to_numpy()

    # gut: subject-level composition, tempered to the planted Shannon
    base_gut = _base_log(feat, "gut")
    support = np.isfinite(base_gut)
    mu, sd = _gut_shannon_scale(int(support.sum()))
    n_subj = len(subj)
    z_gut = rng.normal(0.0, 1.0, (n_subj, f))
    target_subject = mu + sd * subj["_shannon_sd_units"].to_numpy()
    fecal = site == "feces"
    rep_noise = rng.normal(0.0, 0.3, (m, f))
    logq = (
        base_gut[None, :]
        + z_gut[np.where(fecal, sub, 0)]
        + np.where((samples["replicate"].to_numpy() > 0)[:, None], rep_noise, 0.0)
    )
    target = target_subject[np.where(fecal, sub, 0)] + np.where(
        samples["replicate"].to_numpy() > 0, rng.normal(0.0, 0.1 * sd, m), 0.0
    )
    target = np.clip(target, 0.5, np.log(support.sum()) - 0.15)
    p = np.zeros((m, f))
    p[fecal] = _temper(logq[fecal], target[fecal])
    if scenario.log_ratio_effect:
        _plant_log_ratio(p, fecal, sub, subj, feat, scenario)
    true_h = np.full(m, np.nan)
    true_h[fecal] = target[fecal]

    # skin, hand, tongue, blanks: lognormal around a site base, not tempered
    for s, base_site, sigma in (
        ("skin", "crease", 1.0),
        ("hand", "hand", 1.0),
        ("tongue", "oral", 0.8),
        ("blank", "hand", 2.0),
    ):
        rows = site == s
        if rows.any():
            base = _base_log(feat, base_site)
            logw[rows] = base[None, :] + sigma * rng.normal(0.0, 1.0, (int(rows.sum()), f))
            p[rows] = _softmax_rows(logw[rows])
    counts = _draw_counts(p, samples["depth"].to_numpy(), streams["agp_counts"])

    # mapping rows (blanks are in the table only)
    in_map = site != "blank"
    mrows = []
    for i in np.flatnonzero(in_map):
        subj_row = int(sub[i])
        rec = subj.iloc[subj_row]
        body, habitat, matter, common, desc = _AGP_SITE_RAW[site[i]]
        mrows.append(
            {
                "#SampleID": samples.at[i, "sample_id"],
                "AGE": rec["AGE"],
                "BODY_SITE": body,
                "HOST_SUBJECT_ID": rec["HOST_SUBJECT_ID"],
                "SAMPLE_PLATE": samples.at[i, "plate"],
                "COUNTRY": rec["COUNTRY"],
                "ANTIBIOTIC_SELECT": rec["ANTIBIOTIC_SELECT"],
                "COMMON_NAME": common,
                "BMI": rec["BMI"],
                "ENV_MATTER": matter,
                "SKIN_CONDITION": rec["SKIN_CONDITION"],
                "TITLE": "American Gut Project",
                "SEX": rec["SEX"],
                "BODY_HABITAT": habitat,
                "SLEEP_DURATION": rec["SLEEP_DURATION"],
                "DIET_TYPE": rec["DIET_TYPE"],
                "IBD": rec["IBD"],
                "TYPES_OF_PLANTS": rec["TYPES_OF_PLANTS"],
                "ACNE_MEDICATION": rec["ACNE_MEDICATION"],
                "ACNE_MEDICATION_OTC": rec["ACNE_MEDICATION_OTC"],
                **{col: rec[col] for col in AGP_OTHER_DIAGNOSES},
                "DESCRIPTION": desc.format(side=samples.at[i, "side"]),
            }
        )
    mapping = pd.DataFrame(mrows, columns=list(AGP_COLUMNS))
    # real files are not sorted by anything useful
    mapping = mapping.iloc[streams["agp_design"].permutation(len(mapping))].reset_index(drop=True)
    table_order = streams["agp_design"].permutation(m)

    truth = pd.DataFrame(
        {
            "subject_index": sub,
            "subject_id": [subj.at[s, "HOST_SUBJECT_ID"] if s >= 0 else "" for s in sub],
            "site": site,
            "replicate": samples["replicate"].to_numpy(),
            "depth": samples["depth"].to_numpy(),
            "low_depth": samples["low"].to_numpy(),
            "condition": [subj.at[s, "_condition"] if s >= 0 else "" for s in sub],
            "true_shannon": true_h,
            "true_age": [subj.at[s, "_age"] if s >= 0 else np.nan for s in sub],
            "true_bmi": [subj.at[s, "_bmi"] if s >= 0 else np.nan for s in sub],
            "true_antibiotics": [subj.at[s, "_antibiotics"] if s >= 0 else "" for s in sub],
            "true_ibd": [bool(subj.at[s, "_ibd"] > 0) if s >= 0 else False for s in sub],
            "in_mapping": in_map,
        },
        index=pd.Index(samples["sample_id"].to_numpy(), name="sample_id"),
    )
    return _in_table_order(
        "agp_like", mapping, samples["sample_id"], feat, counts, truth, table_order
    )


# ----------------------------------------------------------------------------------------------
# HMP-like
# ----------------------------------------------------------------------------------------------
_HMP_CENTERS = (("WUGSC", 0.45), ("BI", 0.33), ("JCVI", 0.22))
#: Columns of the HMP-like mapping, in the order of the real ``HMPv35_100nt.txt``.
HMP_COLUMNS: tuple[str, ...] = (
    "#SampleID",
    "BarcodeSequence",
    "LinkerPrimerSequence",
    "sex",
    "HMPbodysubsite",
    "HMPbodysupersite",
    "hostsubjectid",
    "bodysite",
    "psn",
    "bmi",
    "visitno",
    "AGE",
    "RUNCENTER",
    "srs",
    "Description",
    "COUNTRY",
)
_N_HMP_MAPPING_ONLY = 4
_HMP_LATENT_DIM = 2
_SKIN_SIGMA = 1.5
_GUT_SIGMA = 1.5
_RHO_GUT = 0.9


def _hmp_design(scenario: Scenario, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = scenario.n_hmp_subjects
    groups = _allocate(
        n, {"full": 0.80, "stool_only": 0.10, "skin_only": 0.05, "stool_right_crease": 0.05}
    )
    group = np.array([g for g, c in groups.items() for _ in range(c)], dtype=object)
    group = group[rng.permutation(n)]
    center_idx = _categorical(
        rng, n, tuple(c for c, _ in _HMP_CENTERS), tuple(s for _, s in _HMP_CENTERS)
    )
    subj = pd.DataFrame(
        {
            "hostsubjectid": [str(x) for x in _unique_ints(rng, n, 158_000_000, 999_999_999)],
            "sex": np.where(rng.uniform(size=n) < 0.53, "male", "female"),
            "AGE": [str(a) for a in rng.integers(18, 41, size=n)],
            "bmi": [str(int(b)) for b in np.clip(np.round(rng.normal(24, 3, n)), 18, 35)],
            "RUNCENTER": np.array([c for c, _ in _HMP_CENTERS])[center_idx],
            "group": group,
        }
    )
    fossa = rng.uniform(size=n) < 0.5
    tongue = rng.uniform(size=n) < 0.6
    nares = rng.uniform(size=n) < 0.4
    full = np.flatnonzero(group == "full")
    visit2 = set(rng.choice(full, size=round(0.25 * n), replace=False).tolist())
    rows: list[dict[str, Any]] = []

    def add(s: int, subsite: str, visit: int) -> None:
        rows.append({"subject": s, "subsite": subsite, "visit": visit})

    for s in range(n):
        g = group[s]
        if g != "skin_only":
            add(s, "Stool", 1)
        if g in ("full", "skin_only"):
            add(s, "Left_Retroauricular_crease", 1)
            add(s, "Right_Retroauricular_crease", 1)
        if g == "stool_right_crease":
            add(s, "Right_Retroauricular_crease", 1)
        if fossa[s] and g in ("full", "skin_only"):
            add(s, "Left_Antecubital_fossa", 1)
            add(s, "Right_Antecubital_fossa", 1)
        if tongue[s]:
            add(s, "Tongue_dorsum", 1)
        if nares[s]:
            add(s, "Anterior_nares", 1)
        if s in visit2:
            for site in ("Stool", "Left_Retroauricular_crease", "Right_Retroauricular_crease"):
                add(s, site, 2)
    samples = pd.DataFrame(rows)
    m = len(samples)
    srs = _unique_ints(rng, m + _N_HMP_MAPPING_ONLY, 900_000, 999_999)
    srx = _unique_ints(rng, m + _N_HMP_MAPPING_ONLY, 900_000, 999_999)
    samples["sample_id"] = [f"SRS{a}.SRX{b}" for a, b in zip(srs[:m], srx[:m], strict=True)]
    samples["srs"] = [f"SRS{a}" for a in srs[:m]]
    samples["psn"] = [str(x) for x in _unique_ints(rng, m, 700_000_000, 700_999_999)]
    center = subj["RUNCENTER"].to_numpy()[samples["subject"].to_numpy()].copy()
    moved = (samples["visit"].to_numpy() == 2) & (rng.uniform(size=m) < 0.2)
    center[moved] = np.array([c for c, _ in _HMP_CENTERS])[rng.integers(0, 3, int(moved.sum()))]
    samples["RUNCENTER"] = center
    samples["barcode"] = [
        "TCAG" + "".join(rng.choice(list("ACGT"), size=int(rng.integers(6, 9))))
        for _ in range(m + _N_HMP_MAPPING_ONLY)
    ][:m]
    extra = pd.DataFrame(
        {
            "sample_id": [f"SRS{a}.SRX{b}" for a, b in zip(srs[m:], srx[m:], strict=True)],
            "srs": [f"SRS{a}" for a in srs[m:]],
            "subject": rng.choice(n, size=_N_HMP_MAPPING_ONLY, replace=False),
            "subsite": ["Stool", "Tongue_dorsum", "Left_Retroauricular_crease", "Anterior_nares"][
                :_N_HMP_MAPPING_ONLY
            ],
        }
    )
    samples.attrs["mapping_only"] = extra
    return subj, samples


def _simulate_hmp(
    scenario: Scenario, streams: dict[str, np.random.Generator], feat: _Features
) -> SyntheticDataset:
    subj, samples = _hmp_design(scenario, streams["hmp_design"])
    rng = streams["hmp_comm"]
    n = len(subj)
    f = feat.ids.size
    d = _HMP_LATENT_DIM
    k = scenario.gut_skin_coupling
    rho = scenario.lr_crease_coupling
    # subject latents: shared (u), gut-only (g), skin-only (w)
    u = rng.normal(size=(n, d))
    g_lat = rng.normal(size=(n, d))
    w_lat = rng.normal(size=(n, d))
    gut_latent = k * u + np.sqrt(1 - k**2) * g_lat
    skin_latent = k * u + np.sqrt(1 - k**2) * w_lat
    oral_latent = rng.normal(size=(n, d))
    # unit-norm loading rows: every feature's subject-level deviation is N(0, 1), so no seed leaves the
    # dominant taxa without between-subject variation
    loadings = {}
    for h in ("gut", "skin", "oral"):
        raw = rng.normal(size=(f, d))
        loadings[h] = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    # subject-level feature deviations (n x f)
    gut_dev = gut_latent @ loadings["gut"].T
    skin_dev = skin_latent @ loadings["skin"].T
    oral_dev = oral_latent @ loadings["oral"].T

    subsite = samples["subsite"].to_numpy()
    sub = samples["subject"].to_numpy()
    m = len(samples)
    logw = np.empty((m, f))
    eps = rng.normal(size=(m, f))
    rho_gut = _RHO_GUT
    for name, base_site, dev, r, sigma in (
        ("Stool", "gut", gut_dev, rho_gut, _GUT_SIGMA),
        ("Left_Retroauricular_crease", "crease", skin_dev, rho, _SKIN_SIGMA),
        ("Right_Retroauricular_crease", "crease", skin_dev, rho, _SKIN_SIGMA),
        ("Left_Antecubital_fossa", "fossa", skin_dev, 0.6, 1.5),
        ("Right_Antecubital_fossa", "fossa", skin_dev, 0.6, 1.5),
        ("Anterior_nares", "nares", skin_dev, 0.5, 1.5),
        ("Tongue_dorsum", "oral", oral_dev, 0.7, 1.2),
    ):
        rows = subsite == name
        if not rows.any():
            continue
        base = _base_log(feat, base_site)
        logw[rows] = base[None, :] + sigma * (
            r * dev[sub[rows]] + np.sqrt(max(1 - r**2, 0.0)) * eps[rows]
        )
    p = _softmax_rows(logw)
    depth = np.full(m, scenario.hmp_depth, dtype=np.int64)
    counts = _draw_counts(p, depth, streams["hmp_counts"])

    def row(sample_id: str, srs: str, s: int, site: str, **kw: str) -> dict[str, str]:
        rec = subj.iloc[s]
        supersite, bodysite = HMP_SUBSITES[site]
        return {
            "#SampleID": sample_id,
            "BarcodeSequence": kw.get("barcode", "TCAGACGTAC"),
            "LinkerPrimerSequence": "CCGTCAATTCMTTTRAGT",
            "sex": rec["sex"],
            "HMPbodysubsite": site,
            "HMPbodysupersite": supersite,
            "hostsubjectid": rec["hostsubjectid"],
            "bodysite": bodysite,
            "psn": kw.get("psn", ""),
            "bmi": kw.get("bmi", rec["bmi"]),
            "visitno": kw.get("visitno", ""),
            "AGE": kw.get("AGE", rec["AGE"]),
            "RUNCENTER": kw.get("RUNCENTER", rec["RUNCENTER"]),
            "srs": srs,
            "Description": (
                f"HMP_Human_metagenome_sample_{kw.get('psn', 'unknown')}"
                f"_from_subject_{rec['hostsubjectid']}__sex_{rec['sex']}_"
            ),
            "COUNTRY": "GAZ:United States of America",
        }

    mrows = [
        row(
            samples.at[i, "sample_id"],
            samples.at[i, "srs"],
            int(sub[i]),
            subsite[i],
            barcode=samples.at[i, "barcode"],
            psn=samples.at[i, "psn"],
            visitno=str(samples.at[i, "visit"]),
            RUNCENTER=samples.at[i, "RUNCENTER"],
        )
        for i in range(m)
    ]
    extra = samples.attrs["mapping_only"]
    for j in range(len(extra)):  # mapping-only rows: empty visit, age and BMI, as in the real file
        mrows.append(
            row(
                extra.at[j, "sample_id"],
                extra.at[j, "srs"],
                int(extra.at[j, "subject"]),
                extra.at[j, "subsite"],
                bmi="",
                AGE="",
            )
        )
    mapping = pd.DataFrame(mrows, columns=list(HMP_COLUMNS))
    mapping = mapping.iloc[streams["hmp_design"].permutation(len(mapping))].reset_index(drop=True)
    table_order = streams["hmp_design"].permutation(m)
    truth = pd.DataFrame(
        {
            "subject_index": sub,
            "subject_id": subj["hostsubjectid"].to_numpy()[sub],
            "site": subsite,
            "visit": samples["visit"].to_numpy(),
            "depth": depth,
            "true_shannon": _entropy_rows(p),
        },
        index=pd.Index(samples["sample_id"].to_numpy(), name="sample_id"),
    )
    return _in_table_order(
        "hmp_like", mapping, samples["sample_id"], feat, counts, truth, table_order
    )


def simulate(scenario: Scenario | None = None) -> dict[str, SyntheticDataset]:
    """Generate both datasets in memory (nothing is written).

    Parameters
    ----------
    scenario
        Sizes, planted effects and seed; default :class:`Scenario`.

    Returns
    -------
    dict
        ``{"agp_like": SyntheticDataset, "hmp_like": SyntheticDataset}``.
    """
    scenario = Scenario() if scenario is None else scenario
    streams = _streams(scenario.seed)
    feat = _features(scenario, streams["features"])
    return {
        "agp_like": _simulate_agp(scenario, streams, feat),
        "hmp_like": _simulate_hmp(scenario, streams, feat),
    }


# ==============================================================================================
# Writing
# ==============================================================================================
_REGISTRY: dict[str, Path] = {}


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` to a temporary file next to ``path``, renamed into place (:mod:`gutskin._atomic`)."""
    with atomic_path(path) as tmp:
        write(tmp)


def _biom_table(ds: SyntheticDataset):  # -> biom.Table
    import biom
    from scipy import sparse

    data = sparse.csr_matrix(ds.counts.T.astype(np.float64))
    return biom.Table(
        data,
        observation_ids=list(ds.feature_ids),
        sample_ids=list(ds.sample_ids),
        observation_metadata=[{"taxonomy": list(t)} for t in ds.taxonomy],
        type="OTU table",
    )


def _write_biom_json_gz(ds: SyntheticDataset, path: Path) -> None:
    text = _biom_table(ds).to_json(_GENERATED_BY, creation_date=_CREATION_DATE)

    def write(tmp: Path) -> None:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        ):
            gz.write(text.encode("utf-8"))

    _atomic_write(path, write)


def _write_biom_hdf5(ds: SyntheticDataset, path: Path) -> None:
    import h5py

    table = _biom_table(ds)

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w", libver="earliest") as fh:
            table.to_hdf5(fh, _GENERATED_BY, compress=True, creation_date=_CREATION_DATE)

    _atomic_write(path, write)


def _write_mapping(mapping: pd.DataFrame, path: Path) -> None:
    lines = ["\t".join(mapping.columns)]
    for values in mapping.itertuples(index=False, name=None):
        cells = [str(v) for v in values]
        for c in cells:  # a QIIME mapping read with QUOTE_NONE cannot hold these
            if any(ch in c for ch in '\t\n\r"'):  # pragma: no cover - generator bug guard
                raise ValueError(f"cell {c!r} cannot be written to a QIIME mapping file")
        lines.append("\t".join(cells))
    text = "\n".join(lines) + "\n"
    _atomic_write(path, lambda tmp: tmp.write_bytes(text.encode("utf-8")))


def _sha256(path: Path) -> str:
    return sha256_file(path)[0]


def _url_paths(scenario: Scenario) -> dict[str, dict[str, str]]:
    base = f"/{_PATH_PREFIX}/{scenario.key()}"
    return {
        "agp_like": {
            "table": f"{base}/agp_like/AG_synthetic.biom.gz",
            "samples": f"{base}/agp_like/AG_synthetic.txt",
        },
        "hmp_like": {
            "table": f"{base}/hmp_like/HMP_synthetic.biom",
            "samples": f"{base}/hmp_like/HMP_synthetic.txt",
        },
    }


def write_synthetic_mirror(
    root: str | Path,
    scenario: Scenario | None = None,
    host: str = "synthetic.gutskin.test",
    *,
    scheme: str = "https",
) -> dict[str, dict[str, dict[str, str]]]:
    """Write both synthetic datasets under ``root/<host>/<path>`` (the mirror layout).

    Parameters
    ----------
    root
        Mirror directory (created if needed).
    scenario
        What to generate; default :class:`Scenario`.
    host
        Host part of the URLs (may carry a port, e.g. ``"127.0.0.1:8000"`` for a local server).
    scheme
        URL scheme, ``"https"`` or ``"http"``.

    Returns
    -------
    dict
        Per dataset (``"agp_like"``, ``"hmp_like"``), the ``files`` block of ``config/datasets.yaml``:
        ``{role: {"url": ..., "sha256": ..., "format": ...}}`` with roles ``table`` (format ``biom``)
        and ``samples`` (format ``qiime_mapping``). URL paths contain :meth:`Scenario.key`, so
        different scenarios never share a URL (nor a cache entry).

    Raises
    ------
    InputError
        If ``host`` or ``scheme`` cannot form a URL.
    """
    scenario = Scenario() if scenario is None else scenario
    if not host or any(ch in host for ch in "/\\?#@ \t") or host in (".", ".."):
        raise InputError(
            None,
            f"host {host!r} cannot be the host part of a URL",
            where="write_synthetic_mirror(host=...)",
            hint="use a bare host name such as 'synthetic.gutskin.test' or '127.0.0.1:8000'",
        )
    if scheme not in ("https", "http"):
        raise InputError(
            None,
            f"scheme {scheme!r} is not supported",
            where="write_synthetic_mirror(scheme=...)",
            hint="use 'https' or 'http'",
        )
    root = Path(root)
    data = simulate(scenario)
    paths = _url_paths(scenario)
    writers: dict[str, dict[str, Callable[[Path], None]]] = {
        "agp_like": {
            "table": lambda p: _write_biom_json_gz(data["agp_like"], p),
            "samples": lambda p: _write_mapping(data["agp_like"].mapping, p),
        },
        "hmp_like": {
            "table": lambda p: _write_biom_hdf5(data["hmp_like"], p),
            "samples": lambda p: _write_mapping(data["hmp_like"].mapping, p),
        },
    }
    formats = {"table": "biom", "samples": "qiime_mapping"}
    out: dict[str, dict[str, dict[str, str]]] = {}
    for ds, roles in paths.items():
        out[ds] = {}
        for role, url_path in roles.items():
            local = root / host / url_path.lstrip("/")
            writers[ds][role](local)
            url = f"{scheme}://{host}{url_path}"
            _REGISTRY[url] = local.resolve()
            out[ds][role] = {"url": url, "sha256": _sha256(local), "format": formats[role]}
    return out


def _entries(files: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "url" in files and isinstance(files["url"], str):
        return [files]
    out: list[Mapping[str, Any]] = []
    for value in files.values():
        if isinstance(value, Mapping):
            out.extend(_entries(value))
    return out


def serve_paths(files: Mapping[str, Any], root: str | Path | None = None) -> dict[str, Path]:
    """Map URL paths to local files, so a test can serve the same files over HTTP.

    Parameters
    ----------
    files
        What :func:`write_synthetic_mirror` returned (all datasets), or one dataset's block, or one
        file entry.
    root
        The mirror root the files were written under. Default: the location recorded when they were
        written in this process.

    Returns
    -------
    dict
        ``{"/gutskin-synthetic/.../AG_synthetic.txt": Path(...), ...}``.

    Raises
    ------
    InputError
        If a URL was not written in this process and no ``root`` is given, or the file is missing.
    """
    out: dict[str, Path] = {}
    for entry in _entries(files):
        url = str(entry["url"])
        parsed = urlparse(url)
        if root is not None:
            local = Path(root) / parsed.netloc / parsed.path.lstrip("/")
        elif url in _REGISTRY:
            local = _REGISTRY[url]
        else:
            raise InputError(
                None,
                f"{url} was not written by write_synthetic_mirror in this process",
                where="serve_paths(files=...)",
                hint="pass root= (the mirror directory given to write_synthetic_mirror)",
            )
        if not local.is_file():
            raise InputError(local, "synthetic file is missing", hint="call write_synthetic_mirror")
        out[parsed.path] = local
    return out


# ==============================================================================================
# Facts for the tests
# ==============================================================================================
def expected_facts(scenario: Scenario | None = None) -> dict[str, Any]:
    """Counts the whole-workflow tests can assert, derived from the generator's design.

    Conditions use the canonical names (``none``, ``eczema``, ``rosacea``, ``psoriasis``; ``missing``
    for ``no_data``). "Retained" means after dropping the shallow samples, i.e. at any rarefaction
    depth in ``(agp_low_depth, agp_depth_range[0]]``. Duplicated fecal samples are both at normal
    depth, so one-per-subject selection never changes these counts, whichever sample it keeps.

    Parameters
    ----------
    scenario
        Default :class:`Scenario`.

    Returns
    -------
    dict
        ``{"agp_like": {...}, "hmp_like": {...}, "planted": {...}, "rarefaction_depth_window":
        [lo, hi]}`` (plain ints, floats, lists and dicts). Main keys:

        ``agp_like``: ``n_samples_table``, ``n_samples_mapping``, ``n_table_only`` (blanks),
        ``n_fecal_samples``, ``n_fecal_subjects``, ``n_subjects_with_two_fecal``,
        ``n_fecal_low_depth``, ``n_fecal_subjects_retained``, ``fecal_subjects_by_condition`` and
        ``fecal_subjects_by_condition_retained`` (one sample per subject), ``n_skin_samples``,
        ``n_hand_samples``, ``n_tongue_samples``, ``n_subjects`` (all mapped subjects, including
        a few with only a tongue sample), ``body_site_counts``, ``fecal_subjects_missing`` (per raw
        column, ``no_data`` among one-per-subject fecal samples), ``fecal_subjects_bmi_out_of_range``
        (recorded BMI outside 10–80), ``depth_min``, ``depth_max``, ``low_depth_max``.

        ``hmp_like``: ``n_samples_table``, ``n_samples_mapping``, ``n_mapping_only``,
        ``n_subjects``, ``samples_by_subsite``, ``samples_by_visit``, ``samples_by_runcenter``
        (table samples), and per subject at visit 1: ``n_subjects_stool_v1``,
        ``n_subjects_both_creases_v1``, ``n_subjects_stool_and_both_creases_v1``,
        ``n_subjects_stool_and_any_crease_v1``, ``n_subjects_stool_without_skin_v1``; also
        ``n_subjects_with_visit2`` and ``depth``.
    """
    scenario = Scenario() if scenario is None else scenario
    data = simulate(scenario)
    agp = data["agp_like"]
    t = agp.truth
    fec = t[t["site"] == "feces"]
    fec_subj = fec.drop_duplicates("subject_index")
    retained = fec[~fec["low_depth"]].drop_duplicates("subject_index")
    conds = ["none", "eczema", "rosacea", "psoriasis", "missing"]

    def by_condition(frame: pd.DataFrame) -> dict[str, int]:
        counts = frame["condition"].value_counts()
        return {c: int(counts.get(c, 0)) for c in conds}

    mapping = agp.mapping.set_index("#SampleID")
    fec_map = mapping.loc[fec_subj.index]
    bmi = pd.to_numeric(fec_map["BMI"].replace(NO_DATA, np.nan), errors="coerce")
    agp_facts = {
        "n_samples_table": len(t),
        "n_samples_mapping": len(agp.mapping),
        "n_table_only": int((~t["in_mapping"]).sum()),
        "n_mapping_only": 0,
        "n_features": int(agp.feature_ids.size),
        "n_fecal_samples": len(fec),
        "n_fecal_subjects": len(fec_subj),
        "n_subjects_with_two_fecal": int((fec["replicate"] > 0).sum()),
        "n_fecal_low_depth": int(fec["low_depth"].sum()),
        "n_fecal_subjects_retained": len(retained),
        "fecal_subjects_by_condition": by_condition(fec_subj),
        "fecal_subjects_by_condition_retained": by_condition(retained),
        "n_skin_samples": int((t["site"] == "skin").sum()),
        "n_hand_samples": int((t["site"] == "hand").sum()),
        "n_tongue_samples": int((t["site"] == "tongue").sum()),
        "n_subjects": int(t.loc[t["in_mapping"], "subject_index"].nunique()),
        "body_site_counts": {
            str(k): int(v) for k, v in agp.mapping["BODY_SITE"].value_counts().sort_index().items()
        },
        "fecal_subjects_missing": {
            col: int((fec_map[col] == NO_DATA).sum())
            for col in (
                "AGE",
                "SEX",
                "BMI",
                "ANTIBIOTIC_SELECT",
                "TYPES_OF_PLANTS",
                "SKIN_CONDITION",
            )
        },
        "fecal_subjects_bmi_out_of_range": int(((bmi < 10) | (bmi > 80)).sum()),
        "depth_min": int(t["depth"].min()),
        "depth_max": int(t["depth"].max()),
        "low_depth_max": scenario.agp_low_depth,
    }
    hmp = data["hmp_like"]
    h = hmp.truth
    v1 = h[h["visit"] == 1]
    sites_v1 = v1.groupby("subject_index")["site"].agg(set)
    stool = sites_v1.map(lambda s: "Stool" in s)
    left = sites_v1.map(lambda s: "Left_Retroauricular_crease" in s)
    right = sites_v1.map(lambda s: "Right_Retroauricular_crease" in s)
    in_table = hmp.mapping.set_index("#SampleID").loc[h.index]
    hmp_facts = {
        "n_samples_table": len(h),
        "n_samples_mapping": len(hmp.mapping),
        "n_mapping_only": len(hmp.mapping) - len(h),
        "n_table_only": 0,
        "n_features": int(hmp.feature_ids.size),
        "n_subjects": int(h["subject_index"].nunique()),
        "samples_by_subsite": {
            str(k): int(v) for k, v in h["site"].value_counts().sort_index().items()
        },
        "samples_by_visit": {
            str(k): int(v) for k, v in h["visit"].value_counts().sort_index().items()
        },
        "n_subjects_stool_v1": int(stool.sum()),
        "n_subjects_both_creases_v1": int((left & right).sum()),
        "n_subjects_stool_and_both_creases_v1": int((stool & left & right).sum()),
        "n_subjects_stool_and_any_crease_v1": int((stool & (left | right)).sum()),
        "n_subjects_stool_without_skin_v1": int(
            (stool & sites_v1.map(lambda s: not any(HMP_SUBSITES[x][0] == "Skin" for x in s))).sum()
        ),
        "n_subjects_with_visit2": int(h.loc[h["visit"] == 2, "subject_index"].nunique()),
        "samples_by_runcenter": {
            str(k): int(v) for k, v in in_table["RUNCENTER"].value_counts().sort_index().items()
        },
        "depth": scenario.hmp_depth,
    }
    return {
        "agp_like": agp_facts,
        "hmp_like": hmp_facts,
        "planted": {
            "condition_effect_g": {
                c: scenario.effect_g(c) for c in ("eczema", "rosacea", "psoriasis")
            },
            "gut_skin_coupling": scenario.gut_skin_coupling,
            "lr_crease_coupling": scenario.lr_crease_coupling,
            "psoriasis_ibd_odds_ratio": scenario.psoriasis_ibd_odds_ratio,
            "antibiotics_lower_diversity": True,
        },
        "rarefaction_depth_window": [scenario.agp_low_depth + 1, scenario.agp_depth_range[0]],
    }
