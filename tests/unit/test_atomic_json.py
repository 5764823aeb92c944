"""gutskin._atomic: strict JSON, written atomically."""

from __future__ import annotations

import json
import math
import os
import stat

import pytest

from gutskin._atomic import atomic_write, read_json, write_json


@pytest.fixture(autouse=True)
def _umask_022():
    """Files are created 0666 & ~umask: pin the usual umask so the mode checks mean one thing."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_round_trip_and_format(tmp_path):
    path = tmp_path / "sub" / "x.json"
    write_json(path, {"a": [1, 2.5], "b": "é"})
    text = path.read_text(encoding="utf-8")
    assert text == '{\n  "a": [\n    1,\n    2.5\n  ],\n  "b": "é"\n}\n'
    assert read_json(path) == {"a": [1, 2.5], "b": "é"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_nan_is_refused_and_the_old_file_survives(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"ok": 1})
    with pytest.raises(ValueError):
        write_json(path, {"bad": math.nan})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary file left behind


def test_bom_is_tolerated(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf[1]")
    assert read_json(path) == [1]


def test_atomic_write_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "t.bin"
    atomic_write(path, lambda fh: fh.write(b"old"))

    def half(fh):
        fh.write(b"new, but")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, half)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.bin"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
