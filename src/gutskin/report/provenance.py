"""What produced a report: configuration hash, code version, package versions, seeds, platform, time.

The dictionary returned by :func:`collect_provenance` is printed in the report's *Reproducibility* section and
can be written beside it as JSON; everything in it is plain JSON (strings, numbers, booleans, lists, dicts).
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from ..config import config_hash
from ..errors import InputError

__all__ = [
    "CODE_DIRS",
    "PACKAGES",
    "collect_provenance",
    "file_sha256",
    "git_state",
    "package_versions",
]

#: Distributions whose versions are recorded (PyPI names).
PACKAGES: tuple[str, ...] = (
    "gutskin",
    "snakemake",
    "scikit-bio",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "biom-format",
    "matplotlib",
)

#: Changed or untracked files under these paths make the work tree "dirty": they can change results.
#: Edits elsewhere (docs, tests, the README and its screenshot) cannot, and do not count.
CODE_DIRS: tuple[str, ...] = (
    "src/",
    "workflow/",
    "scripts/",
    "config/",
    "profiles/",
    "requirements",
    "pyproject.toml",
    "environment.yml",
    "Makefile",
)

NOT_INSTALLED = "not installed"
UNKNOWN = "unknown"


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` for a missing one), plus ``python``."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = NOT_INSTALLED
    return out


def _git(repo_dir: Path, *args: str) -> str | None:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo_dir), *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_state(repo_dir: Path) -> dict[str, Any]:
    """The commit checked out in ``repo_dir`` and whether tracked files differ from it.

    Returns
    -------
    dict
        ``{"commit": sha or "unknown", "dirty": bool or None}``. ``dirty`` is true when a file under one
        of :data:`CODE_DIRS` (code, configuration and dependency pins: what shapes the results) is
        modified, staged, deleted or untracked (not ignored); ``None`` when it cannot be told (not a git work
        tree, or no ``git`` executable). Git is run with ``GIT_OPTIONAL_LOCKS=0`` so it never takes
        the index lock of a work tree others are using.
    """
    head = _git(repo_dir, "rev-parse", "--verify", "HEAD")
    if head is None or not head.strip():
        return {"commit": UNKNOWN, "dirty": None}
    status = _git(repo_dir, "status", "--porcelain", "--untracked-files=all")
    if status is None:
        return {"commit": head.strip(), "dirty": None}
    dirty = False
    for line in status.splitlines():
        if not line.strip():
            continue
        # "XY path" or "XY old -> new" (renames): either side under CODE_DIRS counts
        paths = [q.strip().strip('"') for q in line[3:].split(" -> ")]
        dirty |= any(q.startswith(CODE_DIRS) for q in paths)
    return {"commit": head.strip(), "dirty": dirty}


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _seeds(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every key whose name contains ``seed``, as dotted path -> value."""
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for key, val in obj.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if "seed" in str(key).lower() and not isinstance(val, Mapping | list):
                out[path] = val
            else:
                out.update(_seeds(val, path))
    elif isinstance(obj, list):
        for i, val in enumerate(obj):
            out.update(_seeds(val, f"{prefix}[{i}]"))
    return out


def _timestamp(now: datetime | None) -> str:
    if now is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        if epoch and epoch.strip().isdigit():
            now = datetime.fromtimestamp(int(epoch), tz=UTC)
        else:
            now = datetime.now(tz=UTC)
    elif now.tzinfo is None:
        raise InputError(
            None, "provenance timestamp has no time zone", where="argument 'now'", hint="pass UTC"
        )
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _display_path(path: Path, repo_dir: Path) -> str:
    try:
        return path.resolve().relative_to(repo_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def collect_provenance(
    config: dict[str, Any],
    config_files: list[Path],
    repo_dir: Path,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Collect the reproducibility stamp of a run.

    Parameters
    ----------
    config
        The configuration actually used (``config.yaml`` after defaults were filled in).
    config_files
        The configuration files read (config, datasets, claims); each is recorded with its sha256.
    repo_dir
        The gutskin repository (for the git commit and ``requirements.lock``).
    now
        Time of the run (timezone-aware); default: ``SOURCE_DATE_EPOCH`` if set, else the current UTC time.

    Returns
    -------
    dict
        ``config_hash`` (:func:`gutskin.config.config_hash` of ``config``), ``config_files`` (``path``,
        ``sha256``), ``git_commit``, ``git_dirty``, ``versions`` (python and :data:`PACKAGES`; missing ones
        ``"not installed"``), ``lockfile_sha256`` (of ``requirements.lock``, or ``"unknown"``), ``seeds``
        (every ``*seed*`` key of ``config``), ``platform``, ``python_implementation`` and ``timestamp`` (UTC,
        ISO 8601).

    Raises
    ------
    InputError
        If a configuration file does not exist.
    """
    repo_dir = Path(repo_dir)
    files = []
    for f in config_files:
        p = Path(f)
        if not p.is_file():
            raise InputError(
                p, "configuration file not found", hint="pass the files the run actually read"
            )
        files.append({"path": _display_path(p, repo_dir), "sha256": file_sha256(p)})
    git = git_state(repo_dir)
    lock = repo_dir / "requirements.lock"
    return {
        "config_hash": config_hash(config),
        "config_files": files,
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "versions": package_versions(),
        "lockfile_sha256": file_sha256(lock) if lock.is_file() else UNKNOWN,
        "seeds": _seeds(config),
        "platform": platform.platform(),
        "python_implementation": platform.python_implementation(),
        "timestamp": _timestamp(now),
    }
