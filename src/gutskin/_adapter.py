"""Glue for the thin Snakemake script adapters in ``scripts/``.

Each adapter calls :func:`run_step` with the injected ``snakemake`` object and a function. The function's
log messages go to the rule's log file; a :class:`~gutskin.errors.GutskinError` becomes one clear paragraph in
the log and on stderr (no traceback), and the job fails with exit status 1 so Snakemake removes its outputs.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

from .errors import GutskinError


def run_step(snakemake: Any, func: Callable[[Any], None]) -> None:
    """Run ``func(snakemake)`` with logging to ``snakemake.log[0]`` and user-facing error handling."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    log = logging.getLogger("gutskin")
    rule = getattr(snakemake, "rule", "?")
    try:
        func(snakemake)
    except GutskinError as exc:
        log.error("%s", exc)
        print(f"\ngutskin: error in rule {rule}:\n  {exc}\n", file=sys.stderr)
        sys.exit(1)
    except Exception:  # an unexpected bug: keep the traceback, but in the log
        log.error("unexpected error in rule %s:\n%s", rule, traceback.format_exc())
        print(
            f"\ngutskin: unexpected error in rule {rule}; the traceback is in {log_path}. "
            "Please report it with that log.\n",
            file=sys.stderr,
        )
        sys.exit(1)
