"""The message of the error a call must raise: the tests of readers and checks assert on its words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gutskin.errors import InputError


def refusal(
    call: Callable[..., Any], *args: Any, error: type[Exception] = InputError, **kw: Any
) -> str:
    """``call(*args, **kw)`` must raise ``error`` (an :class:`InputError` by default); its message."""
    with pytest.raises(error) as exc:
        call(*args, **kw)
    return str(exc.value)
