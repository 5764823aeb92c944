"""A ``--configfile`` overlay that changes nothing a dataset's files depend on does not refetch it.

The fetch rule's parameters are the dataset's entry and the configured mirrors resolved to absolute
paths (``rules/common.smk``), never the path of the config file: an overlay in another folder that
changes, say, the permutation count leaves every fetch job as it was, while one that points the run at
another mirror folder reruns them (``params`` changed).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gutskin.fetch import mirrors_as_configured, mirrors_base
from gutskin.synthetic import Scenario, write_synthetic_mirror

from .workdir import make_workdir, run_snakemake

pytestmark = pytest.mark.slow

TARGET = "results/fetch/agp_like.json"


def test_mirrors_as_configured_resolves_against_the_given_folder(tmp_path: Path) -> None:
    assert mirrors_as_configured(["../m", "/abs/x", ""], base=tmp_path / "config") == [
        str(tmp_path / "m"),
        "/abs/x",
    ]
    assert mirrors_as_configured(None) == []


def test_mirrors_base_is_the_folder_of_the_last_file_that_sets_mirrors(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    default = tmp_path / "cfg" / "config.yaml"
    default.write_text("mirrors: [../m]\n")
    sets = tmp_path / "a" / "o.yaml"
    sets.write_text("mirrors: [x]\n")
    other = tmp_path / "b" / "o.yaml"
    other.write_text("permutations: 199\n")
    assert mirrors_base([default]) == tmp_path / "cfg"
    assert mirrors_base([other, default]) == tmp_path / "cfg"  # the overlay does not set mirrors
    assert mirrors_base([sets, other, default]) == tmp_path / "a"


def test_overlay_that_changes_no_dataset_does_not_refetch(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    files = write_synthetic_mirror(mirror, Scenario(n_agp_subjects=60, n_hmp_subjects=10))
    # the mirror written relative to the config folder, as the repository's config does
    work = make_workdir(
        tmp_path / "work", {"agp_like": files["agp_like"]}, mirrors=["../../mirror"]
    )
    proc = run_snakemake(work, TARGET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / TARGET).is_file()

    base = str(work / "config" / "config.yaml")  # the run's own config first, then the overlay
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    same = elsewhere / "overlay.yaml"
    same.write_text(yaml.safe_dump({"permutations": 199}))
    proc = run_snakemake(work, "--dry-run", "--configfile", base, str(same), "--", TARGET)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Nothing to be done" in out, out[-3000:]

    # the same mirror written as an absolute path: the same resolved folder, so still nothing to do
    absolute = elsewhere / "absolute.yaml"
    absolute.write_text(yaml.safe_dump({"mirrors": [str(mirror)]}))
    proc = run_snakemake(work, "--dry-run", "--configfile", base, str(absolute), "--", TARGET)
    assert "Nothing to be done" in proc.stdout + proc.stderr

    # another mirror folder (relative to the overlay that sets it): the fetch job reruns
    other = elsewhere / "other.yaml"
    (elsewhere / "mirror2").mkdir()
    other.write_text(yaml.safe_dump({"mirrors": ["mirror2"]}))
    proc = run_snakemake(work, "--dry-run", "--configfile", base, str(other), "--", TARGET)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "checkpoint fetch" in out and "params" in out.lower(), out[-3000:]
