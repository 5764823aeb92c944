"""Progress lines with an ETA (gutskin.progress) on a fake clock."""

from __future__ import annotations

import logging

import pytest

from gutskin.progress import Progress, format_seconds


def test_format_seconds() -> None:
    assert format_seconds(42.4) == "42 s"
    assert format_seconds(185) == "3 min 5 s"
    assert format_seconds(3720) == "1 h 02 min"
    assert format_seconds(-3) == "0 s"


def test_lines_every_interval_with_eta(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = logging.getLogger("test.progress")
    p = Progress("calibration", 100, log, every=30, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="test.progress"):
        now[0] = 10.0
        p.update(10)  # 10 s in: too soon for a line
        assert caplog.messages == []
        now[0] = 40.0
        p.update(30)  # 40 of 100 in 40 s: 60 left at 1 s each
        assert caplog.messages == ["calibration: 40/100 (40 %), 40 s elapsed, about 1 min 0 s left"]
        now[0] = 50.0
        p.update(60)  # finished: a closing line because a progress line came out
    assert caplog.messages[-1] == "calibration: 100/100 (100 %), 50 s elapsed, done"


def test_short_step_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = logging.getLogger("test.progress.short")
    p = Progress("x", 3, log, every=30, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="test.progress.short"):
        for _ in range(3):
            now[0] += 1
            p.update()
    assert caplog.messages == []
