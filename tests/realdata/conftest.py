"""Fixtures for tests on the real public files.

The mirror is the directory named by ``GUTSKIN_MIRROR`` (the first existing entry if it is a
colon-separated list) or, when that variable is unset, ``../shared/mirror`` next to the repository. It is
laid out by URL: ``<mirror>/<host>/<path>``. Every fixture here skips the test, with the reason, when the
mirror or a file in it is absent.

Fixtures
--------
mirror_dir
    The mirror directory (session scope).
mirror_file
    ``mirror_file(url) -> Path`` of one file in the mirror (skips when absent).
datasets_config
    ``config/datasets.yaml`` validated against its schema (defaults filled in): the ``datasets`` mapping.
mirror_manifest
    ``mirror_manifest(name) -> dict``: a fetch manifest for dataset ``name`` built by hand, pointing at
    the mirror files (as ``gutskin.fetch`` would after a mirror hit, without copying).
imported
    ``imported(name) -> Path``: the dataset imported once per session (``gutskin.importer``) into a
    temporary directory holding ``table.biom``, ``samples.tsv`` and ``import.json``.
quick_bundle
    ``quick_bundle(name, alpha_only=False)``: the imported dataset with a quick diversity step, as the claim
    runners read it (once per session).
claims
    The repository's ``config/claims.yaml`` validated, by claim id.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MIRROR = REPO.parent / "shared" / "mirror"


def mirror_candidates() -> list[Path]:
    """Directories to look in: ``GUTSKIN_MIRROR`` entries if set, else ``../shared/mirror``."""
    env = os.environ.get("GUTSKIN_MIRROR")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [DEFAULT_MIRROR]


def url_to_mirror_path(mirror: Path, url: str) -> Path:
    """``<mirror>/<host>/<path>`` for ``url``."""
    parts = urlsplit(url)
    return mirror / parts.netloc / parts.path.lstrip("/")


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The real-data mirror directory; skips the test when there is none."""
    candidates = mirror_candidates()
    for cand in candidates:
        if cand.is_dir():
            return cand
    looked = ", ".join(str(c) for c in candidates)
    pytest.skip(
        f"real-data mirror not found (looked in {looked}); set GUTSKIN_MIRROR to a directory laid out "
        "as <mirror>/<host>/<path> to run the real-data tests"
    )


@pytest.fixture(scope="session")
def mirror_file(mirror_dir: Path) -> Callable[[str], Path]:
    """``mirror_file(url)``: the mirror copy of ``url``; skips when it is absent."""

    def get(url: str) -> Path:
        path = url_to_mirror_path(mirror_dir, url)
        if not path.is_file():
            pytest.skip(f"{url} is not in the mirror ({path} is absent)")
        return path

    return get


@pytest.fixture(scope="session")
def datasets_config() -> dict[str, Any]:
    """The validated ``datasets`` mapping of ``config/datasets.yaml``."""
    from gutskin.config import load_and_validate

    return load_and_validate(REPO / "config" / "datasets.yaml", "datasets")["datasets"]


@pytest.fixture(scope="session")
def mirror_manifest(
    datasets_config: dict[str, Any], mirror_file: Callable[[str], Path]
) -> Callable[[str], dict[str, Any]]:
    """``mirror_manifest(name)``: a fetch manifest whose files are the mirror copies."""

    def build(name: str) -> dict[str, Any]:
        if name not in datasets_config:
            raise KeyError(f"{name} is not in config/datasets.yaml")
        files = {}
        for role, spec in datasets_config[name]["files"].items():
            path = mirror_file(spec["url"])
            files[role] = {
                "url": spec["url"],
                "sha256": spec["sha256"],
                "format": spec["format"],
                "path": str(path),
                "size": path.stat().st_size,
                "source": "mirror",
            }
        return {"dataset": name, "available": True, "reason": None, "files": files}

    return build


@pytest.fixture(scope="session")
def imported(
    tmp_path_factory: pytest.TempPathFactory,
    datasets_config: dict[str, Any],
    mirror_manifest: Callable[[str], dict[str, Any]],
) -> Callable[[str], Path]:
    """``imported(name)``: directory of the dataset imported from the mirror (once per session)."""
    from gutskin.importer import import_dataset

    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            manifest = mirror_manifest(name)
            out = tmp_path_factory.mktemp(f"import_{name}")
            import_dataset(name, datasets_config[name], manifest, out)
            done[name] = out
        return done[name]

    return get


@pytest.fixture(scope="session")
def quick_bundle(
    imported: Callable[[str], Path],
    datasets_config: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Any]:
    """``quick_bundle(name, alpha_only=False)``: the dataset imported from the mirror with a quick diversity
    step: 3 rarefactions at the configured depth (1,000 if none), seed 7, observed and Shannon, Bray–Curtis
    from one rarefaction, 2 PCoA axes. ``alpha_only``: a count table gets observed and Shannon only (what
    the alpha claims read, much quicker); microarray signal always takes the pipeline's unrarefied route."""
    import json

    import pandas as pd

    from gutskin.claims import load_bundle
    from gutskin.diversity.pipeline import run_diversity
    from gutskin.diversity.rarefy import repeated_rarefaction_alpha
    from gutskin.importer import load_imported

    done: dict[tuple[str, bool], Any] = {}

    def get(name: str, alpha_only: bool = False) -> Any:
        key = (name, alpha_only)
        if key not in done:
            import_dir = imported(name)
            table, _, info = load_imported(import_dir)
            div_dir = tmp_path_factory.mktemp(f"div_{name}")
            depth = int(datasets_config[name].get("rarefaction_depth") or 1000)
            if alpha_only and (info.get("values") or "counts") == "counts":
                kept, means, _ = repeated_rarefaction_alpha(
                    table, depth, 3, 7, ["observed", "shannon"]
                )
                pd.DataFrame(
                    {
                        "sample_id": table.sample_ids[kept],
                        "observed_mean": means["observed"],
                        "shannon_mean": means["shannon"],
                    }
                ).to_csv(div_dir / "alpha.tsv", sep="\t", index=False)
                summary = {"depth": depth, "iterations": 3, "values": "counts", "rarefied": True}
            else:
                summary = run_diversity(
                    table,
                    depth=depth,
                    iterations=3,
                    beta_iterations=1,
                    seed=7,
                    alpha_metrics=["observed", "shannon"],
                    beta_metrics=["braycurtis"],
                    pcoa_dimensions=2,
                    out_dir=div_dir,
                )
            (div_dir / "diversity.json").write_text(json.dumps(summary, default=str))
            done[key] = load_bundle(name, import_dir, div_dir)
        return done[key]

    return get


@pytest.fixture(scope="session")
def claims() -> dict[str, dict[str, Any]]:
    from gutskin.config import load_and_validate

    return {
        c["id"]: c for c in load_and_validate(REPO / "config" / "claims.yaml", "claims")["claims"]
    }
