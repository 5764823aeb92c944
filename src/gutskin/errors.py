"""Errors a user can act on.

Every error raised for bad input names the file, the place in it (column, line, key) and what to
do. The Snakemake adapters in ``scripts/`` catch :class:`GutskinError` and print only its message
(no traceback) to the rule's log and to stderr.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
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


# ---------------------------------------------------------------------- naming what was meant
def close_matches(
    name: str, options: Iterable[str], *, n: int = 5, ignore_case: bool = False
) -> list[str]:
    """Up to ``n`` of ``options`` close to ``name`` (:func:`difflib.get_close_matches`), best first.

    With ``ignore_case`` the comparison is case-insensitive and the options are returned as spelled.
    """
    opts = [str(o) for o in options]
    if not ignore_case:
        return difflib.get_close_matches(str(name), opts, n=n)
    lowered = {o.lower(): o for o in opts}
    return [lowered[h] for h in difflib.get_close_matches(str(name).lower(), list(lowered), n=n)]


def close_matches_note(
    name: str, options: Iterable[str], *, n: int = 5, ignore_case: bool = False
) -> str:
    """``"; close matches: 'a', 'b'"`` to end a problem sentence, or ``""`` when nothing is close."""
    close = close_matches(name, options, n=n, ignore_case=ignore_case)
    return f"; close matches: {', '.join(repr(c) for c in close)}" if close else ""


def did_you_mean(names: str | Iterable[str], options: Iterable[str], *, n: int = 3) -> str:
    """``"did you mean a, b? "`` to start a hint (up to ``n`` matches per name), or ``""``."""
    opts = [str(o) for o in options]
    wanted = [names] if isinstance(names, str) else list(names)
    if len(wanted) == 1:  # one name: its matches best first, as difflib ranks them
        close = close_matches(wanted[0], opts, n=n)
    else:
        close = sorted({c for m in wanted for c in close_matches(m, opts, n=n)})
    return f"did you mean {', '.join(close)}? " if close else ""
