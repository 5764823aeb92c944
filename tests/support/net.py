"""Shared pieces of the network tests: the fault-injecting server fixture and fast settings.

Timeouts are short and backoffs tiny so that every failure path (retries, deadlines) runs in well under a
second against the local :class:`~tests.support.httpserver.FaultServer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gutskin.fetch import FetchSettings
from gutskin.sources.http import ApiSettings

from .httpserver import FaultServer

_FAST: dict[str, Any] = {
    "retries": 2,
    "backoff": 0.01,
    "give_up_after": 10.0,
    "connect_timeout": 2.0,
    "read_timeout": 2.0,
    "progress": False,
}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A :class:`FaultServer` on 127.0.0.1; the test fails if the server itself hit an error."""
    with FaultServer() as srv:
        yield srv
        assert srv.errors == []


def fast_fetch_settings(tmp_path: Path, **kw: Any) -> FetchSettings:
    """:class:`FetchSettings` caching under ``tmp_path/cache`` with fast failure paths; ``kw`` overrides."""
    return FetchSettings(**{"cache_dir": tmp_path / "cache", **_FAST, **kw})


def fast_api_settings(tmp_path: Path, **kw: Any) -> ApiSettings:
    """:class:`ApiSettings` like :func:`fast_fetch_settings`, without a practical rate limit."""
    return ApiSettings(
        **{"cache_dir": tmp_path / "cache", **_FAST, "requests_per_second": 1000.0, **kw}
    )
