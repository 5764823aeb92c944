"""Datasets that come from web services rather than pinned files: Qiita, MGnify, GMrepo.

A dataset of ``config/datasets.yaml`` declares either ``files:`` (pinned URL + sha256, fetched by
:func:`gutskin.fetch.fetch`) or ``source:`` (a service and what to ask it)::

    source: {type: qiita, study_id: 10317}
    source: {type: mgnify, study: MGYS00002008}
    source: {type: gmrepo, phenotypes: {D006262: none, D011565: psoriasis}}

:func:`gutskin.fetch.fetch_dataset` hands ``source:`` datasets to :func:`fetch_source`, which returns a fetch
manifest of the same shape (``dataset``, ``available``, ``reason``, ``files.table``, ``files.samples`` with
``url``, ``sha256``, ``format``, ``path``, ``size``, ``source``, ``source_detail``, ``retrieved_at``) plus an
``api`` record of what was asked and answered, so the import step reads the result like declared files.

.. autosummary::

   http.ApiClient
   archive.extract_zip
   qiita.fetch_qiita
   mgnify.fetch_mgnify
   mgnify.read_taxonomy_tsv
   mgnify.list_studies
   gmrepo.fetch_gmrepo

Every remote answer is cached under the cache directory (see :mod:`gutskin.sources.http`), so a second run
makes no request. See ``docs/SOURCES.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._cache import FetchSettings
from ..errors import ConfigError, DataUnavailable
from .gmrepo import fetch_gmrepo
from .http import ApiClient, ApiSettings, ApiStatusError
from .mgnify import fetch_mgnify
from .qiita import fetch_qiita

__all__ = [
    "SOURCE_FETCHERS",
    "ApiClient",
    "ApiSettings",
    "ApiStatusError",
    "fetch_source",
]

log = logging.getLogger("gutskin.sources")

#: A source fetcher: ``fetcher(name, block, settings, *, config_path) -> manifest``.
SourceFetcher = Callable[..., dict[str, Any]]

#: Source fetchers by the ``type`` of a dataset's ``source`` block.
SOURCE_FETCHERS: dict[str, SourceFetcher] = {
    "qiita": fetch_qiita,
    "mgnify": fetch_mgnify,
    "gmrepo": fetch_gmrepo,
}


def fetch_source(
    name: str,
    dataset: Mapping[str, Any],
    settings: FetchSettings | ApiSettings,
    *,
    source: str | Path = "config/datasets.yaml",
) -> dict[str, Any]:
    """Fetch an API-backed dataset; return its fetch manifest.

    Parameters
    ----------
    name
        Dataset name.
    dataset
        Its block; ``dataset["source"]["type"]`` picks the fetcher in :data:`SOURCE_FETCHERS`.
    settings
        Cache, mirrors, network behaviour (:class:`~gutskin.fetch.FetchSettings` from ``config.yaml``, or
        :class:`~gutskin.sources.http.ApiSettings`). The source block's ``requests_per_second``,
        ``max_pages`` and ``give_up_after`` override single values.
    source
        The datasets file, named in configuration errors.

    Returns
    -------
    dict
        The manifest. When the service cannot provide the data (network down, HTTP errors, retries or
        deadline exhausted, a malformed answer) ``available`` is false and ``reason`` says why; the run goes
        on without the dataset.

    Raises
    ------
    ConfigError
        An unknown source type or a bad source block.
    InputError
        Unsafe or unusable downloads (a zip bomb, an archive without a BIOM table …): these stop the run.
    """
    block = dataset.get("source") if isinstance(dataset, Mapping) else None
    if not isinstance(block, Mapping):
        raise ConfigError(
            source,
            f"dataset {name!r} has no source block",
            where=f"key datasets/{name}/source",
            hint="give either files: or source: {type: qiita|mgnify|gmrepo, …}",
        )
    kind = block.get("type")
    fetcher = SOURCE_FETCHERS.get(str(kind))
    if fetcher is None:
        raise ConfigError(
            source,
            f"unknown source type {kind!r}",
            where=f"key datasets/{name}/source/type",
            hint=f"use one of {', '.join(sorted(SOURCE_FETCHERS))}",
        )
    api_settings = (
        settings if isinstance(settings, ApiSettings) else ApiSettings.from_fetch_settings(settings)
    )
    try:
        return fetcher(name, block, api_settings, config_path=source)
    except DataUnavailable as exc:
        log.warning("dataset %s (%s source): %s", name, kind, exc)
        return {
            "dataset": name,
            "available": False,
            "reason": f"{kind} source: {exc}",
            "files": {},
            "api": {"type": kind, "error": str(exc)},
        }
