"""F4, F5 (exposure as covariate) and the configuration weaknesses: a config file is data, names are checked.

The YTE and ``!!python`` cases run the real ``snakemake --dry-run`` on a work directory whose
``config/config.yaml`` is hostile: the run must stop with gutskin's message before Snakemake loads the file,
and the Python in it must not run (a sentinel file stays absent).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gutskin.config import check_claims, guard_config_file, load_and_validate
from gutskin.diversity.registry import metric_names
from gutskin.errors import ConfigError
from gutskin.fetch import settings_from_config
from tests.support.httpserver import FaultServer
from tests.support.net import fast_fetch_settings

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def dry_run(workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [str(SNAKEMAKE), "-s", str(REPO / "workflow" / "Snakefile"), "-d", str(workdir), "-n"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def hostile_workdir(tmp_path: Path, text: str) -> Path:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.fault(
    "F4 YTE templating in config/config.yaml",
    "snakemake --dry-run stops with a ConfigError naming __use_yte__ and the line; the Python never runs",
    before="failed",
)
def test_yte_config_is_refused_before_snakemake_loads_it(tmp_path: Path) -> None:
    sentinel = tmp_path / "PWNED"
    work = hostile_workdir(
        tmp_path,
        "__use_yte__: true\n"
        f"pwned: ?__import__('pathlib').Path({str(sentinel)!r}).touch() or 'x'\n",
    )
    done = dry_run(work)
    assert done.returncode != 0
    assert "__use_yte__" in done.stderr + done.stdout
    assert "config.yaml (line 1)" in done.stderr + done.stdout
    assert not sentinel.exists()


@pytest.mark.fault(
    "W6 !!python tags in config/config.yaml",
    "snakemake --dry-run stops with a ConfigError naming the tag's line, not 'tabs and whitespace'",
    before="weak",
)
def test_python_tag_config_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    work = hostile_workdir(tmp_path, "seed: 1\nx: !!python/object/apply:os.system ['true']\n")
    done = dry_run(work)
    out = done.stderr + done.stdout
    assert done.returncode != 0
    assert "!!python" in out and "line 2" in out
    assert "whitespace" not in out


def test_guard_accepts_the_repository_config() -> None:
    guard_config_file(REPO / "config" / "config.yaml")


@pytest.fixture(scope="module")
def registry() -> tuple[list, dict]:
    claims = load_and_validate(REPO / "config" / "claims.yaml", "claims")["claims"]
    datasets = load_and_validate(REPO / "config" / "datasets.yaml", "datasets")["datasets"]
    return claims, datasets


def _claim(claims: list, cid: str) -> dict:
    return copy.deepcopy(next(c for c in claims if c["id"] == cid))


@pytest.mark.fault(
    "F5c exposure column also listed as a covariate",
    "ConfigError at parse time naming the claim and the key path (not a pandas error mid-run)",
    before="failed",
)
def test_exposure_listed_as_covariate(registry: tuple[list, dict]) -> None:
    claims, datasets = registry
    check_claims(claims, datasets, metrics=metric_names())  # the repository's registry is fine
    bad = _claim(claims, "C8")
    bad["params"]["covariates"] = [*bad["params"]["covariates"], bad["params"]["exposure"]]
    with pytest.raises(ConfigError, match="claim C8: the exposure 'condition'") as err:
        check_claims([bad], datasets, metrics=metric_names())
    assert "claims/C8/params/covariates" in str(err.value)


@pytest.mark.fault(
    "W4 unknown covariate or metric name",
    "ConfigError naming the claim, the key and close matches (not silently dropped)",
    before="weak",
)
def test_unknown_covariate_and_metric(registry: tuple[list, dict]) -> None:
    claims, datasets = registry
    bad = _claim(claims, "C8")
    bad["params"]["covariates"] = ["age", "sexx"]
    with pytest.raises(ConfigError, match="covariate 'sexx'") as err:
        check_claims([bad], datasets, metrics=metric_names())
    assert "did you mean sex" in str(err.value)
    bad = _claim(claims, "C8")
    bad["params"]["metric"] = "shanon"
    with pytest.raises(ConfigError, match="unknown metric 'shanon'"):
        check_claims([bad], datasets, metrics=metric_names())


@pytest.mark.fault(
    "W2 missing or relative mirror folders",
    "a relative mirror resolves against the config file's folder; a missing one is named when unavailable",
    before="weak",
)
def test_mirror_folders(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GUTSKIN_MIRROR", raising=False)
    cfg_dir = tmp_path / "project" / "config"
    cfg_dir.mkdir(parents=True)
    (tmp_path / "project" / "mirror").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = settings_from_config(
        {"mirrors": ["../mirror", "../no-such-mirror"], "network": {"enabled": False}},
        config_path=cfg_dir / "config.yaml",
    )
    assert s.mirrors == ((cfg_dir / ".." / "mirror"),)
    assert s.missing_mirrors == ((cfg_dir / ".." / "no-such-mirror"),)
    from gutskin.errors import DataUnavailable
    from gutskin.fetch import fetch

    url = server.add("/f.txt", b"x")
    s2 = fast_fetch_settings(
        tmp_path, network=False, mirrors=s.mirrors, missing_mirrors=s.missing_mirrors
    )
    with pytest.raises(DataUnavailable, match="no-such-mirror") as err:
        fetch(url, "0" * 64, s2)
    assert "no mirror is configured" not in str(err.value)
