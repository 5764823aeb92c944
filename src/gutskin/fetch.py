"""Mirror-first, sha256-verified, atomic downloads of the datasets of ``config/datasets.yaml``.

Every public file gutskin reads is declared in ``config/datasets.yaml`` with its URL and sha256 (or comes
from an API source, :mod:`gutskin.sources`). :func:`fetch` returns a local, verified copy through the one
verified cache of :mod:`gutskin._cache`, shared with the API client, looking in this order:

1. the **cache** (``<cache_dir>/<host>/<path>``): the file is re-hashed on every use and must match the
   sha256 asked for; a cached file that does not is deleted and fetched again (size and mtime are never
   trusted);
2. each **mirror** directory (laid out like the cache, ``<mirror>/<host>/<path>``): a copy whose sha256
   matches is copied atomically into the cache; one that does not raises :class:`ChecksumMismatch`;
3. the **network** (when enabled): streamed to a temporary ``.part`` file while hashing, with retries and
   exponential backoff for 5xx, 429, connection errors, read timeouts and truncated bodies, all within
   one deadline per file (``network.give_up_after``) that covers the connection, the headers, the body
   and its decoding. A host name that does not resolve is not retried.

Nothing unverified ever appears under a final cache name: files are written to a temporary name in the same
directory, fsynced, and moved into place with :func:`os.replace`. Two processes fetching the same URL
serialise on an ``fcntl`` lock file ``<file>.lock`` and the second one finds the first one's result.

Errors
------
:class:`~gutskin.errors.DataUnavailable`
    No cache, mirror or network could provide the file; the message says what was tried and what to do.
    :func:`fetch_dataset` turns it into ``available: false`` in the dataset's manifest.
:class:`~gutskin.errors.ChecksumMismatch`
    A mirror or the network gave bytes with another sha256. Never cached, never "unavailable": the run stops.
:class:`~gutskin.errors.InputError` / :class:`~gutskin.errors.ConfigError`
    A malformed URL or sha256.

Command line
------------
``python -m gutskin.fetch URL SHA256 [--cache DIR] [--mirror DIR]`` (or ``gutskin-fetch``) prefetches one
file, e.g. on the login node of a cluster whose compute nodes have no network, and prints its local path.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._atomic import write_json
from ._cache import (
    DEFAULT_MAX_INFLATED_BYTES,
    MIRROR_ENV,
    FetchResult,
    FetchSettings,
    FileCache,
    cache_path,
    mirror_path,
    sha256_file,
    url_parts,
    validate_sha256,
)
from ._http import USER_AGENT
from .errors import ConfigError, DataUnavailable, GutskinError, InputError

__all__ = [
    "MIRROR_ENV",
    "USER_AGENT",
    "FetchResult",
    "FetchSettings",
    "cache_path",
    "fetch",
    "fetch_dataset",
    "main",
    "mirror_path",
    "mirrors_as_configured",
    "mirrors_base",
    "missing_mirrors",
    "resolve_mirrors",
    "settings_from_config",
    "sha256_file",
    "validate_sha256",
    "write_manifest",
]

log = logging.getLogger("gutskin.fetch")

# The cache itself (FetchSettings, FetchResult, cache_path, the verified FileCache) lives in
# gutskin._cache, shared with the API client of gutskin.sources; this module is the entry point for
# datasets: pinned files and API-backed sources alike.


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mirror_entries(
    config_mirrors: Sequence[str | Path] | str | Path | None,
    env: Mapping[str, str],
    base: Path | None,
) -> list[tuple[str, Path]]:
    base_dir = Path.cwd() if base is None else Path(base)
    configured: list[str | Path]
    if config_mirrors is None:
        configured = []
    elif isinstance(config_mirrors, str | Path):
        configured = [config_mirrors]
    else:
        configured = list(config_mirrors)
    entries: list[tuple[str, Path]] = []
    for env_item in (env.get(MIRROR_ENV) or "").split(":"):
        if env_item.strip():
            path = Path(env_item.strip()).expanduser()
            entries.append((MIRROR_ENV, path if path.is_absolute() else Path.cwd() / path))
    for conf_item in configured:
        if str(conf_item).strip():
            path = Path(conf_item).expanduser()
            entries.append(("config mirrors", path if path.is_absolute() else base_dir / path))
    return entries


def mirrors_as_configured(
    config_mirrors: Sequence[str | Path] | str | Path | None, base: Path | None = None
) -> list[str]:
    """The configured ``mirrors`` entries as absolute paths, in order (``GUTSKIN_MIRROR`` not included).

    Relative entries are joined to ``base`` (the folder of the config file that sets ``mirrors``; default
    the current directory), ``~`` is expanded and ``..`` folded (``os.path.normpath``); folders are
    listed whether or not they exist. The fetch
    rule passes this list as a parameter, so its jobs rerun when the mirrors change, and not when the
    same mirrors are given through another config file (an overlay in another folder).
    """
    return [os.path.normpath(path) for _, path in _mirror_entries(config_mirrors, {}, base)]


def mirrors_base(config_files: Sequence[str | Path]) -> Path:
    """The folder relative ``mirrors`` entries are resolved against: that of the last of
    ``config_files`` (the ``--configfile`` overlays, then ``config/config.yaml``, in the order
    Snakemake applies them) whose YAML sets ``mirrors``; ``./config`` when none does. An overlay in
    another folder that does not set ``mirrors`` does not move them.
    """
    import yaml

    files = list(config_files)
    default = files[-1] if files else "config/config.yaml"
    for path in [*reversed(files[:-1]), default]:
        p = Path(path)
        if p.is_file():
            with p.open(encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
            if isinstance(data, Mapping) and "mirrors" in data:
                return p.resolve().parent
    return Path(default).resolve().parent


def missing_mirrors(
    config_mirrors: Sequence[str | Path] | str | Path | None,
    env: Mapping[str, str] = os.environ,
    base: Path | None = None,
) -> tuple[Path, ...]:
    """The configured mirror folders (``GUTSKIN_MIRROR`` and ``mirrors``) that do not exist."""
    return tuple(
        path for _, path in _mirror_entries(config_mirrors, env, base) if not path.is_dir()
    )


def resolve_mirrors(
    config_mirrors: Sequence[str | Path] | str | Path | None,
    env: Mapping[str, str] = os.environ,
    base: Path | None = None,
) -> tuple[Path, ...]:
    """The mirror directories to search, in order.

    Parameters
    ----------
    config_mirrors
        The ``mirrors`` list of ``config/config.yaml``.
    env
        Environment; ``GUTSKIN_MIRROR`` (colon-separated, empty entries ignored) comes first; its
        relative entries are relative to the current directory.
    base
        Directory that relative ``mirrors`` entries are resolved against: the directory of the config
        file (default: the current directory).

    Returns
    -------
    Absolute paths of the directories that exist, without duplicates. Missing ones are left out and
    logged as a WARNING; :func:`missing_mirrors` lists them, and "unavailable" messages name them.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for origin, path in _mirror_entries(config_mirrors, env, base):
        if not path.is_dir():
            log.warning("mirror folder %s (from %s) does not exist: skipped", path, origin)
            continue
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        out.append(path)
    return tuple(out)


def settings_from_config(
    config: Mapping[str, Any], base: Path | None = None, *, config_path: str | Path | None = None
) -> FetchSettings:
    """Build :class:`FetchSettings` from ``config/config.yaml`` (already parsed).

    Uses the keys ``cache_dir``, ``mirrors``, ``network.{enabled, connect_timeout, read_timeout, retries,
    backoff, give_up_after}`` and ``limits.max_inflated_bytes``; missing keys take the schema's defaults.
    A relative ``cache_dir`` is joined to ``base`` when given (otherwise it stays relative to the working
    directory, the repository root under Snakemake). Relative ``mirrors`` entries are resolved against the
    directory of ``config_path`` (the config file they are written in) when given, else against ``base``
    or the current directory, by :func:`resolve_mirrors` (``GUTSKIN_MIRROR`` first). Configured
    mirror folders that do not exist are kept in ``missing_mirrors`` and named when a file is unavailable.

    Raises
    ------
    ConfigError
        When a value has the wrong type or range, naming the key.
    """
    src = "config/config.yaml"
    cache_dir_raw = config.get("cache_dir", "resources/cache")
    if not isinstance(cache_dir_raw, str | Path) or not str(cache_dir_raw).strip():
        raise ConfigError(src, "cache_dir must be a directory path", where="key cache_dir")
    cache_dir = Path(cache_dir_raw).expanduser()
    if base is not None and not cache_dir.is_absolute():
        cache_dir = Path(base) / cache_dir
    mirror_base = Path(config_path).resolve().parent if config_path is not None else base
    mirrors = config.get("mirrors") or []
    if not isinstance(mirrors, list | tuple | str | Path):
        raise ConfigError(src, "mirrors must be a list of directories", where="key mirrors")
    net = config.get("network") or {}
    if not isinstance(net, Mapping):
        raise ConfigError(src, "network must be a mapping", where="key network")

    def number(key: str, default: float, *, positive: bool) -> float:
        value = net.get(key, default)
        ok = _is_number(value) and math.isfinite(value) and (value > 0 if positive else value >= 0)
        if not ok:
            raise ConfigError(
                src,
                f"network.{key} must be a {'positive' if positive else 'non-negative'} number of seconds, "
                f"got {value!r}",
                where=f"key network/{key}",
            )
        return float(value)

    enabled = net.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(
            src,
            f"network.enabled must be true or false, got {enabled!r}",
            where="key network/enabled",
        )
    retries = net.get("retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(
            src,
            f"network.retries must be an integer >= 0, got {retries!r}",
            where="key network/retries",
        )
    limits = config.get("limits") or {}
    if not isinstance(limits, Mapping):
        raise ConfigError(src, "limits must be a mapping", where="key limits")
    inflated = limits.get("max_inflated_bytes", DEFAULT_MAX_INFLATED_BYTES)
    if isinstance(inflated, bool) or not isinstance(inflated, int) or inflated < 1:
        raise ConfigError(
            src,
            f"limits.max_inflated_bytes must be a positive whole number of bytes, got {inflated!r}",
            where="key limits/max_inflated_bytes",
        )
    return FetchSettings(
        cache_dir=cache_dir,
        mirrors=resolve_mirrors(mirrors, base=mirror_base),
        missing_mirrors=missing_mirrors(mirrors, base=mirror_base),
        max_inflated_bytes=inflated,
        network=enabled,
        connect_timeout=number("connect_timeout", 10.0, positive=True),
        read_timeout=number("read_timeout", 30.0, positive=True),
        retries=retries,
        backoff=number("backoff", 1.0, positive=False),
        give_up_after=number("give_up_after", 60.0, positive=True),
    )


# ----------------------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------------------


def fetch(url: str, sha256: str, settings: FetchSettings) -> FetchResult:
    """Return a verified local copy of ``url``: from the cache, a mirror, or the network.

    Parameters
    ----------
    url
        An http(s) URL.
    sha256
        Its expected sha256, 64 hexadecimal characters (either case).
    settings
        Cache directory, mirrors and network behaviour.

    Returns
    -------
    FetchResult
        With ``path`` inside ``settings.cache_dir``.

    Raises
    ------
    DataUnavailable
        No cache, mirror or network gave the file (network disabled, HTTP 4xx, retries or deadline
        exhausted, cache not writable); the reason says what was tried and what to do.
    ChecksumMismatch
        A mirror or the network gave other bytes. Nothing is cached.
    InputError
        Invalid URL or sha256.
    """
    expected = validate_sha256(sha256, url)
    cache = FileCache(settings)
    try:
        return cache.get(url, expected)
    finally:
        cache.close()


def fetch_dataset(
    name: str,
    dataset: Mapping[str, Any],
    settings: FetchSettings,
    *,
    source: str | Path = "config/datasets.yaml",
) -> dict[str, Any]:
    """Fetch every file of one dataset and describe the outcome as a JSON-able manifest.

    Parameters
    ----------
    name
        Dataset name (its key in ``config/datasets.yaml``).
    dataset
        Its block: ``dataset["files"]`` maps a role (``table``, ``samples``, …) to ``{url, sha256, format}``.
        A block with ``source:`` instead (an API-backed dataset: Qiita, MGnify, GMrepo) is handed to
        :func:`gutskin.sources.fetch_source`, which returns a manifest of the same shape.
    settings
        See :class:`FetchSettings`.
    source
        The datasets file, named in configuration errors.

    Returns
    -------
    dict
        ``{"dataset", "available", "reason", "files": {role: {"url", "sha256", "format", "path", "size",
        "source", "source_detail", "retrieved_at"}}}``. Every file is tried; when any is unavailable,
        ``available`` is false, ``reason`` names each missing role, URL and cause, and the files that were
        fetched stay listed.

    Raises
    ------
    ConfigError
        A file entry without a URL or with a malformed sha256 (checked for all files before fetching any).
    ChecksumMismatch
        Not caught: a wrong checksum stops the run.
    """
    if isinstance(dataset, Mapping) and dataset.get("source") is not None:
        # API-backed dataset (Qiita, MGnify, GMrepo): same manifest shape, see gutskin.sources.
        # imported here: the API sources load pandas and scipy (about 1 s), which a dataset of pinned
        # files never needs (every fetch job, and an offline run's 14 of them, would pay it)
        from .sources import fetch_source

        return fetch_source(name, dataset, settings, source=source)
    files = dataset.get("files") if isinstance(dataset, Mapping) else None
    if not isinstance(files, Mapping) or not files:
        raise ConfigError(
            source,
            f"dataset {name!r} lists no files",
            where=f"key datasets/{name}/files",
            hint="give each file as {url, sha256, format}",
        )
    checked: list[tuple[str, str, str, Any]] = []
    for role, spec in files.items():
        key = f"key datasets/{name}/files/{role}"
        if not isinstance(spec, Mapping):
            raise ConfigError(
                source, f"file entry {role!r} of dataset {name!r} must be a mapping", where=key
            )
        url = spec.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(
                source, f"file {role!r} of dataset {name!r} has no url", where=f"{key}/url"
            )
        url = url.strip()
        try:
            url_parts(url)
        except InputError as exc:
            raise ConfigError(source, exc.problem, where=f"{key}/url", hint=exc.hint) from None
        sha = validate_sha256(spec.get("sha256"), url, source=source, where=f"{key}/sha256")
        checked.append((str(role), url, sha, spec.get("format")))

    manifest: dict[str, Any] = {"dataset": name, "available": True, "reason": None, "files": {}}
    problems: list[str] = []
    # A file named by two roles (same URL and sha256) is fetched once, and a failure is not retried
    # for the second role.
    done: dict[tuple[str, str], FetchResult | DataUnavailable] = {}
    for role, url, sha, fmt in checked:
        outcome = done.get((url, sha))
        if outcome is None:
            try:
                outcome = fetch(url, sha, settings)
            except DataUnavailable as exc:
                outcome = exc
            done[(url, sha)] = outcome
        if isinstance(outcome, DataUnavailable):
            log.warning("dataset %s, file %s: %s", name, role, outcome)
            problems.append(f"file {role!r} ({url}) is unavailable: {outcome.reason}")
            continue
        res = outcome
        manifest["files"][role] = {
            "url": url,
            "sha256": res.sha256,
            "format": fmt,
            "path": str(res.path),
            "size": res.size,
            "source": res.source,
            "source_detail": res.source_detail,
            "retrieved_at": res.retrieved_at,
        }
    if problems:
        manifest["available"] = False
        manifest["reason"] = "; ".join(problems)
    return manifest


def write_manifest(manifest: Mapping[str, Any], path: Path) -> None:
    """Write ``manifest`` as indented JSON, atomically (temporary file in the same directory, then rename)."""
    write_json(Path(path), dict(manifest))


# ----------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gutskin.fetch URL SHA256 [--cache DIR] [--mirror DIR]``: prefetch one file.

    Prints the local path on success (exit 0); prints the reason and exits 1 when the file is unavailable
    or does not verify.
    """
    parser = argparse.ArgumentParser(
        prog="gutskin-fetch",
        description="Fetch one file into the gutskin cache (cache, then mirrors, then the network), "
        "verify its sha256 and print its local path.",
    )
    parser.add_argument("url", help="http(s) URL of the file")
    parser.add_argument("sha256", help="expected sha256 (64 hex characters)")
    parser.add_argument(
        "--cache", default="resources/cache", help="cache directory (default: %(default)s)"
    )
    parser.add_argument(
        "--mirror",
        action="append",
        default=[],
        metavar="DIR",
        help=f"mirror directory <mirror>/<host>/<path>; repeatable; searched after ${MIRROR_ENV}",
    )
    parser.add_argument("--no-network", action="store_true", help="use only the cache and mirrors")
    parser.add_argument(
        "--retries", type=int, default=3, help="extra attempts (default: %(default)s)"
    )
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=60.0,
        metavar="S",
        help="deadline per file (default: %(default)s s)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the path or the error"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    try:
        settings = FetchSettings(
            cache_dir=Path(args.cache),
            mirrors=resolve_mirrors(args.mirror),
            missing_mirrors=missing_mirrors(args.mirror),
            network=not args.no_network,
            retries=args.retries,
            give_up_after=args.give_up_after,
            progress=not args.quiet,
        )
        result = fetch(args.url, args.sha256, settings)
    except GutskinError as exc:
        print(f"gutskin-fetch: {exc}", file=sys.stderr)
        return 1
    print(result.path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
