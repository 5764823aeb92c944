"""Fixtures shared by the unit tests: ``server``, a fault-injecting HTTP server on 127.0.0.1."""

from tests.support.net import server

__all__ = ["server"]
