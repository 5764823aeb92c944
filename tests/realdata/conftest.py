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
