"""Errors a user can act on.

Every error raised for bad input names the file, the place in it (column, line, key) and what to
do. The Snakemake adapters in ``scripts/`` catch :class:`GutskinError` and print only its message
(no traceback) to the rule's log and to stderr.
"""

from __future__ import annotations

from pathlib import Path


class GutskinError(Exception):
    """Base class: an error whose message is meant for the user, complete as it is."""


class InputError(GutskinError):
    """Malformed or inconsistent input.

    Parameters
    ----------
    path
        The file (or config) at fault.
    problem
        What is wrong, in one sentence.
    where
        Column, line, key or sample id that is wrong, if known.
    hint
        What the user should do about it.
    """

    def __init__(
        self,
        path: str | Path | None,
        problem: str,
        *,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.where = where
        self.hint = hint
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}")
        if where:
            parts.append(f"({where})")
        head = " ".join(parts)
        msg = f"{head}: {problem}" if head else problem
        if hint:
            msg += f" — {hint}"
        super().__init__(msg)


class ConfigError(InputError):
    """The configuration (config.yaml, datasets.yaml, claims.yaml) is invalid."""


class ChecksumMismatch(GutskinError):
    """A downloaded or mirrored file does not match its declared sha256. Never 'unavailable'."""

    def __init__(self, url: str, source: str, expected: str, actual: str) -> None:
        self.url = url
        self.source = source
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"sha256 mismatch for {url} (from {source}): expected {expected}, got {actual}. "
            "The file was not cached. If the upstream file really changed, update its sha256 in "
            "config/datasets.yaml after checking it; otherwise remove the bad mirror copy."
        )


class DataUnavailable(GutskinError):
    """A file could not be had from the cache, any mirror or the network."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url} is unavailable: {reason}")
