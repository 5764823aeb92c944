"""Fixtures of the fault suite: the local fault-injecting server (tests/support) and helpers."""

from __future__ import annotations

from tests.support.net import server  # noqa: F401  (fixture)
