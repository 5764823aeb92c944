"""The reference numbers under ``tests/fixtures/`` (each made by the R or Python script next to it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def reference(name: str) -> Any:
    """The parsed JSON fixture ``tests/fixtures/<name>``."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))
