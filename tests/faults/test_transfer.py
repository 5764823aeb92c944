"""F1 and name resolution: a slow or unreachable server cannot hold a download past its deadline.

A server that sends one byte every 50 ms never trips a read timeout (each ``recv`` gets data in time) and
never finishes. ``give_up_after`` must bound the whole transfer — connection, headers, body, decoding — in
the library (:func:`gutskin.fetch.fetch`), in the API client and in the fetch rule's adapter, and no
``.part`` file may stay behind. The bound asserted (deadline + 3 s) is generous; the drip would take
minutes to finish.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from gutskin.errors import DataUnavailable
from gutskin.fetch import fetch, fetch_dataset
from gutskin.sources.http import ApiClient
from tests.support.httpserver import FaultServer, Response
from tests.support.net import fast_api_settings, fast_fetch_settings

BODY = b"x" * 4000  # at one byte per 50 ms: 200 s
SHA = hashlib.sha256(BODY).hexdigest()
DEADLINE = 1.0
#: A long header: dripped at 50 ms a byte, the headers alone take 20 s.
PAD = {"X-Pad": "p" * 400}
REPO = Path(__file__).resolve().parents[2]


def parts(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".part-" in p.name or ".tmp-" in p.name]


@pytest.mark.parametrize(
    ("response", "retries", "match"),
    [
        pytest.param(
            {"drip": 0.05},
            0,
            "deadline",
            id="body",
            marks=pytest.mark.fault(
                "F1 slow server: body one byte at a time (fetch)",
                "DataUnavailable naming the deadline within give_up_after (+ slack); no .part file",
                before="failed",
            ),
        ),
        pytest.param(
            {"header_drip": 0.05, "headers": PAD},
            0,
            "deadline",
            id="headers",
            marks=pytest.mark.fault(
                "F1 slow server: headers one byte at a time (fetch)",
                "DataUnavailable naming the deadline within give_up_after (+ slack); no .part file",
                before="failed",
            ),
        ),
        pytest.param(
            {"drip": 0.05},
            5,
            None,
            id="retries",
            marks=pytest.mark.fault(
                "F1 slow server: retries share one deadline",
                "with retries the whole file still gives up within give_up_after (+ slack)",
                before="failed",
            ),
        ),
    ],
)
def test_a_dripping_download_is_cut_at_the_deadline(
    server: FaultServer, tmp_path: Path, response: dict, retries: int, match: str | None
) -> None:
    url = server.add_handler("/drip.txt", lambda _r: Response(body=BODY, **response))
    t0 = time.monotonic()
    with pytest.raises(DataUnavailable, match=match):
        fetch(url, SHA, fast_fetch_settings(tmp_path, give_up_after=DEADLINE, retries=retries))
    assert time.monotonic() - t0 < DEADLINE + 3
    assert parts(tmp_path) == []
    assert not (tmp_path / "cache" / f"127.0.0.1:{server.port}" / "drip.txt").exists()


@pytest.mark.fault(
    "F1 slow server: API JSON answer one byte at a time",
    "DataUnavailable naming the deadline within give_up_after (+ slack); nothing cached",
    before="failed",
)
def test_api_json_drip_is_cut(server: FaultServer, tmp_path: Path) -> None:
    payload = json.dumps({"items": list(range(2000))}).encode()
    url = server.add_handler("/api/x", lambda _r: Response(body=payload, drip=0.05))
    api = fast_api_settings(tmp_path, give_up_after=DEADLINE, retries=0)
    t0 = time.monotonic()
    with ApiClient(api) as client, pytest.raises(DataUnavailable, match="deadline"):
        client.get_json(url)
    assert time.monotonic() - t0 < DEADLINE + 3
    assert not list((tmp_path / "cache").rglob("*.json"))


@pytest.mark.fault(
    "F1 slow server: API file download one byte at a time",
    "DataUnavailable within give_up_after (+ slack); no .part file, nothing cached",
    before="failed",
)
def test_api_download_drip_is_cut(server: FaultServer, tmp_path: Path) -> None:
    url = server.add_handler(
        "/files/a.zip", lambda _r: Response(body=BODY, header_drip=0.05, headers=PAD)
    )
    api = fast_api_settings(tmp_path, give_up_after=DEADLINE, retries=0)
    t0 = time.monotonic()
    with ApiClient(api) as client, pytest.raises(DataUnavailable):
        client.download(url)
    assert time.monotonic() - t0 < DEADLINE + 3
    assert parts(tmp_path) == []
    assert not [p for p in (tmp_path / "cache").rglob("a.zip*") if not p.name.endswith(".lock")]


def _load_fetch_script():
    spec = importlib.util.spec_from_file_location(
        "gutskin_fetch_script", REPO / "scripts" / "fetch.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.fault(
    "F1 slow server: the fetch rule's adapter",
    "the manifest says available: false with the deadline as reason, within network.give_up_after",
    before="failed",
)
def test_fetch_rule_adapter_honours_give_up_after(server: FaultServer, tmp_path: Path) -> None:
    url = server.add_handler("/drip.txt", lambda _r: Response(body=BODY, drip=0.05))
    config = {
        "cache_dir": str(tmp_path / "cache"),
        "mirrors": [],
        "network": {"retries": 0, "give_up_after": DEADLINE, "read_timeout": 2, "backoff": 0.01},
    }
    out = tmp_path / "results" / "fetch" / "d.json"
    smk = SimpleNamespace(
        config=config,
        params=SimpleNamespace(
            dataset={"files": {"table": {"url": url, "sha256": SHA, "format": "biom"}}},
            mirrors=[],  # the rule passes the configured mirrors resolved to absolute paths
        ),
        wildcards=SimpleNamespace(dataset="d"),
        output=SimpleNamespace(manifest=str(out)),
    )
    t0 = time.monotonic()
    _load_fetch_script().main(smk)
    assert time.monotonic() - t0 < DEADLINE + 3
    manifest = json.loads(out.read_text())
    assert manifest["available"] is False and "deadline" in manifest["reason"]
    assert parts(tmp_path) == []


@pytest.mark.fault(
    "W9 name resolution failure",
    "not retried: one attempt, DataUnavailable naming the host and 'does not resolve'",
    before="weak",
)
def test_unresolvable_host_is_not_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = "http://gutskin-fault-test.invalid/data.txt"
    caplog.set_level(logging.WARNING, logger="gutskin")
    with pytest.raises(DataUnavailable, match="does not resolve") as err:
        fetch(url, SHA, fast_fetch_settings(tmp_path, retries=3))
    assert "gutskin-fault-test.invalid" in str(err.value)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


@pytest.mark.fault(
    "W10 a file shared by two dataset entries",
    "fetched once (one request), and a failing one is tried once, not once per role",
    before="weak",
)
def test_shared_file_is_fetched_once(server: FaultServer, tmp_path: Path) -> None:
    body = b"#SampleID\tX\nS1\ta\n"
    url = server.add("/shared.tsv", body)
    sha = hashlib.sha256(body).hexdigest()
    bad = server.add("/down.tsv", b"", status=503)
    ds = {
        "files": {
            "table": {"url": url, "sha256": sha, "format": "wide_tsv"},
            "samples": {"url": url, "sha256": sha, "format": "tsv"},
            "tree": {"url": bad, "sha256": SHA, "format": "newick"},
            "extra": {"url": bad, "sha256": SHA, "format": "newick"},
        }
    }
    manifest = fetch_dataset("d", ds, fast_fetch_settings(tmp_path, retries=1))
    assert server.count("/shared.tsv") == 1
    assert server.count("/down.tsv") == 2  # 1 + 1 retry, for both roles together
    assert manifest["files"]["table"]["path"] == manifest["files"]["samples"]["path"]
    assert manifest["available"] is False
