"""Tests of :mod:`gutskin.fetch` against a real HTTP server on 127.0.0.1 (no mocks of requests/urllib3).

Expected sha256 values are computed with :mod:`hashlib` from the bytes the test server sends (an
independent reference), or taken from FIPS 180-2 / the published table in DATASETS.md. Deadlines are
checked by counting requests (a hand-computed schedule), never by timing how fast something ran.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import multiprocessing
import os
from pathlib import Path

import pytest

from gutskin.errors import ChecksumMismatch, ConfigError, DataUnavailable, InputError
from gutskin.fetch import (
    USER_AGENT,
    FetchSettings,
    cache_path,
    fetch,
    fetch_dataset,
    main,
    mirror_path,
    resolve_mirrors,
    settings_from_config,
    sha256_file,
    write_manifest,
)
from tests.support.httpserver import FaultServer, Response, closed_port_url
from tests.support.net import fast_fetch_settings

BODY = b"#SampleID\tBODY_SITE\nS1\tUBERON:feces\nS2\tUBERON:skin\n" * 50
BODY_SHA = hashlib.sha256(BODY).hexdigest()
OTHER = b"not the file you are looking for\n"

REPO_ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path(os.environ.get("GUTSKIN_MIRROR") or REPO_ROOT.parent / "shared" / "mirror")


make_settings = fast_fetch_settings


def leftovers(cache_dir: Path) -> list[str]:
    """Every file in the cache except lock files (which are kept on purpose)."""
    if not cache_dir.exists():
        return []
    return sorted(
        str(p.relative_to(cache_dir))
        for p in cache_dir.rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    )


# --------------------------------------------------------------------------------------------------------
# Layout and configuration
# --------------------------------------------------------------------------------------------------------


def test_cache_and_mirror_layout_follow_the_url(tmp_path: Path) -> None:
    url = "https://raw.githubusercontent.com/biocore/American-Gut/043c467/data/AG/AG_100nt_even10k.txt"
    want = (
        tmp_path
        / "raw.githubusercontent.com/biocore/American-Gut/043c467/data/AG/AG_100nt_even10k.txt"
    )
    assert cache_path(tmp_path, url) == want
    assert mirror_path(tmp_path, url) == want
    # default port dropped, other ports kept (as wget -x does), host lower-cased
    assert cache_path(tmp_path, "https://EXAMPLE.org:443/a/b") == tmp_path / "example.org/a/b"
    assert cache_path(tmp_path, "http://127.0.0.1:8080/a/b") == tmp_path / "127.0.0.1:8080/a/b"
    # percent-decoding, directory URLs and query strings
    assert cache_path(tmp_path, "https://h.org/a%20b/c.txt") == tmp_path / "h.org/a b/c.txt"
    assert cache_path(tmp_path, "https://h.org/dir/") == tmp_path / "h.org/dir/index.html"
    assert (
        cache_path(tmp_path, "https://h.org/dl/?data=biom&study_id=10317")
        == tmp_path / "h.org/dl/index.html?data=biom&study_id=10317"
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h.org/a",
        "https://h.org/a/../../etc/passwd",
        "https://h.org/a/%2e%2e/b",
        "not a url",
        "",
    ],
)
def test_unsafe_or_unsupported_urls_are_rejected(tmp_path: Path, url: str) -> None:
    with pytest.raises(InputError):
        cache_path(tmp_path, url)


def test_resolve_mirrors_env_first_skips_empty_missing_and_duplicates(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    env = {"GUTSKIN_MIRROR": f"::{a}::{b}:{tmp_path / 'missing'}:"}
    got = resolve_mirrors(["c", str(a), "nowhere"], env=env, base=tmp_path)
    assert got == (a, b, c)
    assert resolve_mirrors([], env={"GUTSKIN_MIRROR": ""}, base=tmp_path) == ()
    assert resolve_mirrors(None, env={}, base=tmp_path) == ()


def test_settings_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUTSKIN_MIRROR", raising=False)
    (tmp_path / "mir").mkdir()
    config = {
        "cache_dir": "resources/cache",
        "mirrors": ["mir", "absent"],
        "network": {
            "enabled": False,
            "connect_timeout": 3,
            "read_timeout": 4,
            "retries": 5,
            "backoff": 0.5,
            "give_up_after": 7,
        },
    }
    s = settings_from_config(config, base=tmp_path)
    assert s.cache_dir == tmp_path / "resources/cache"
    assert s.mirrors == (tmp_path / "mir",)
    assert (s.network, s.connect_timeout, s.read_timeout) == (False, 3.0, 4.0)
    assert (s.retries, s.backoff, s.give_up_after) == (5, 0.5, 7.0)
    d = settings_from_config({})
    assert (d.cache_dir, d.network, d.retries, d.give_up_after) == (
        Path("resources/cache"),
        True,
        3,
        60.0,
    )
    with pytest.raises(ConfigError, match="network/retries"):
        settings_from_config({"network": {"retries": -1}})
    with pytest.raises(ConfigError, match="give_up_after"):
        settings_from_config({"network": {"give_up_after": 0}})


def test_sha256_file_matches_fips_180_2_vector(tmp_path: Path) -> None:
    p = tmp_path / "abc"
    p.write_bytes(b"abc")
    assert sha256_file(p) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        3,
    )


# --------------------------------------------------------------------------------------------------------
# Network, cache, mirror
# --------------------------------------------------------------------------------------------------------


def test_network_success_writes_sidecar_and_second_call_is_a_cache_hit(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/data/AG.txt", BODY)
    s = make_settings(tmp_path)
    r = fetch(url, BODY_SHA.upper(), s)  # upper-case hex is accepted
    assert r.source == "network"
    assert r.path == s.cache_dir / f"127.0.0.1:{server.port}" / "data" / "AG.txt"
    assert r.path.read_bytes() == BODY
    assert (r.sha256, r.size) == (BODY_SHA, len(BODY))
    assert r.retrieved_at.endswith("Z") and "T" in r.retrieved_at
    side = json.loads((r.path.parent / "AG.txt.sha256.json").read_text())
    assert side["sha256"] == BODY_SHA
    assert side["size"] == len(BODY)
    assert side["mtime_ns"] == r.path.stat().st_mtime_ns
    req = server.requests_to("/data/AG.txt")[0]
    assert req.header("user-agent") == USER_AGENT and USER_AGENT.startswith("gutskin/")
    assert req.header("accept-encoding") == "identity"
    assert server.count("/data/AG.txt") == 1

    again = fetch(url, BODY_SHA, s)
    assert again.source == "cache"
    assert again.path == r.path
    assert again.retrieved_at == r.retrieved_at
    assert "network" in again.source_detail
    assert server.count("/data/AG.txt") == 1  # no new request
    assert leftovers(s.cache_dir) == [
        f"127.0.0.1:{server.port}/data/AG.txt",
        f"127.0.0.1:{server.port}/data/AG.txt.sha256.json",
    ]


def test_mirror_hit_makes_no_request_and_copies_into_cache(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/data/x.txt", OTHER)  # the network would give the wrong bytes
    mirror = tmp_path / "mirror"
    src = mirror / f"127.0.0.1:{server.port}" / "data" / "x.txt"
    src.parent.mkdir(parents=True)
    src.write_bytes(BODY)
    s = make_settings(tmp_path, mirrors=(tmp_path / "empty-mirror", mirror))
    (tmp_path / "empty-mirror").mkdir()
    r = fetch(url, BODY_SHA, s)
    assert r.source == "mirror"
    assert r.source_detail == str(mirror)
    assert r.path == s.cache_dir / f"127.0.0.1:{server.port}" / "data" / "x.txt"
    assert r.path.read_bytes() == BODY
    assert src.read_bytes() == BODY  # mirror untouched
    assert server.requests == []
    assert fetch(url, BODY_SHA, s).source == "cache"
    assert server.requests == []


def test_wrong_checksum_in_mirror_raises_and_caches_nothing(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/data/x.txt", BODY)  # the network has the right file, but is never asked
    mirror = tmp_path / "mirror"
    src = mirror / f"127.0.0.1:{server.port}" / "data" / "x.txt"
    src.parent.mkdir(parents=True)
    src.write_bytes(OTHER)
    s = make_settings(tmp_path, mirrors=(mirror,))
    with pytest.raises(ChecksumMismatch) as info:
        fetch(url, BODY_SHA, s)
    msg = str(info.value)
    assert url in msg and str(src) in msg
    assert BODY_SHA in msg and hashlib.sha256(OTHER).hexdigest() in msg
    assert server.requests == []
    assert leftovers(s.cache_dir) == []


def test_wrong_checksum_from_network_raises_and_caches_nothing(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/data/x.txt", OTHER)
    s = make_settings(tmp_path)
    with pytest.raises(ChecksumMismatch) as info:
        fetch(url, BODY_SHA, s)
    assert info.value.expected == BODY_SHA
    assert info.value.actual == hashlib.sha256(OTHER).hexdigest()
    assert leftovers(s.cache_dir) == []
    assert (
        server.count("/data/x.txt") == 1
    )  # a complete download with the wrong bytes is not retried


@pytest.mark.fault(
    "H12 corrupt cache file (size changed)",
    "deleted and fetched again",
    before="held",
)
def test_corrupt_cache_file_is_deleted_and_fetched_again(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/data/x.txt", BODY)
    s = make_settings(tmp_path)
    path = fetch(url, BODY_SHA, s).path
    path.write_bytes(BODY[:-1] + b"?")  # same size, new mtime: the sidecar no longer vouches
    r = fetch(url, BODY_SHA, s)
    assert r.source == "network"
    assert path.read_bytes() == BODY
    assert server.count("/data/x.txt") == 2


def test_cache_without_sidecar_is_rehashed_and_sidecar_rewritten(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/data/x.txt", BODY)
    s = make_settings(tmp_path)
    path = fetch(url, BODY_SHA, s).path
    sidecar = path.with_name(path.name + ".sha256.json")
    sidecar.unlink()
    r = fetch(url, BODY_SHA, s)
    assert r.source == "cache"
    assert json.loads(sidecar.read_text())["sha256"] == BODY_SHA
    assert server.count("/data/x.txt") == 1


# The sidecar short-cut (trusting an unchanged size and mtime) is gone: every use re-hashes the file.
# tests/faults/test_cache_faults.py pins that a same-size, same-mtime corruption is detected.


@pytest.mark.fault(
    "H13 stale .part file from a killed download",
    "removed under the lock, never used",
    before="held",
)
def test_stale_part_files_are_removed(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/data/x.txt", BODY)
    s = make_settings(tmp_path)
    final = cache_path(s.cache_dir, url)
    final.parent.mkdir(parents=True)
    stale = final.with_name("x.txt.part-999999-deadbeef")
    stale.write_bytes(b"half a file")
    fetch(url, BODY_SHA, s)
    assert not stale.exists()


# --------------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------------


@pytest.mark.fault(
    "H8 transient HTTP 5xx",
    "retried with backoff, then the verified file",
    before="held",
)
def test_500_then_200_succeeds_after_retry(server: FaultServer, tmp_path: Path) -> None:
    url = server.add_sequence("/f", [Response(status=500), Response(body=BODY)])
    r = fetch(url, BODY_SHA, make_settings(tmp_path))
    assert r.source == "network" and r.path.read_bytes() == BODY
    assert server.count("/f") == 2


def test_persistent_500_uses_exactly_the_configured_retries(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/f", b"oops", status=503)
    s = make_settings(tmp_path, retries=2)
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, s)
    assert server.count("/f") == 3  # 1 + retries
    assert "3 attempts" in info.value.reason and "HTTP 503" in info.value.reason
    assert leftovers(s.cache_dir) == []


def test_persistent_500_stops_at_the_deadline(server: FaultServer, tmp_path: Path) -> None:
    # backoff 0.2 s: attempts at t = 0, 0.2, 0.6; the next wait (0.8 s) would end at 1.4 s, past the
    # 1 s deadline, so fetch gives up after 3 requests although 50 retries are allowed. A very slow
    # machine could lose one attempt, never gain one.
    url = server.add("/f", b"oops", status=500)
    s = make_settings(tmp_path, retries=50, backoff=0.2, give_up_after=1.0)
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, s)
    assert 2 <= server.count("/f") <= 3
    assert "give_up_after" in info.value.reason
    assert leftovers(s.cache_dir) == []


@pytest.mark.fault(
    "H9 truncated body",
    "retried; a truncated body is never cached",
    before="held",
)
def test_truncated_body_then_good_succeeds(server: FaultServer, tmp_path: Path) -> None:
    url = server.add_sequence("/f", [Response(body=BODY, truncate_to=100), Response(body=BODY)])
    r = fetch(url, BODY_SHA, make_settings(tmp_path))
    assert r.path.read_bytes() == BODY
    assert server.count("/f") == 2


@pytest.mark.fault(
    "H9 truncated body",
    "DataUnavailable after the retries; nothing left in the cache",
    before="held",
)
def test_persistently_truncated_is_unavailable_and_leaves_nothing(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add_sequence("/f", [Response(body=BODY, truncate_to=100)])
    s = make_settings(tmp_path, retries=1)
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, s)
    assert f"100 of {len(BODY)} bytes" in info.value.reason
    assert server.count("/f") == 2
    assert leftovers(s.cache_dir) == []


def test_dropped_connection_then_good_succeeds(server: FaultServer, tmp_path: Path) -> None:
    url = server.add_sequence("/f", [Response(drop=True), Response(body=BODY)])
    r = fetch(url, BODY_SHA, make_settings(tmp_path))
    assert r.path.read_bytes() == BODY
    assert server.count("/f") == 2


def test_redirect_is_followed_and_recorded(server: FaultServer, tmp_path: Path) -> None:
    target = server.add("/v2/file.txt", BODY)
    url = server.add("/latest/file.txt", b"", status=302, headers={"Location": target})
    r = fetch(url, BODY_SHA, make_settings(tmp_path))
    assert r.source_detail == target
    assert r.path == cache_path(tmp_path / "cache", url)  # stored under the URL asked for
    assert r.path.read_bytes() == BODY


def test_unwritable_cache_is_unavailable_not_a_traceback(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/f", BODY)
    not_a_dir = tmp_path / "cache"
    not_a_dir.write_bytes(b"")  # cache_dir is a file
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, make_settings(tmp_path, cache_dir=not_a_dir))
    assert "cache directory" in info.value.reason and "cache_dir" in info.value.reason
    assert server.requests == []


def test_404_is_unavailable_after_exactly_one_request(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/gone.txt", b"no", status=404)
    s = make_settings(tmp_path, retries=5)
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, s)
    assert "HTTP 404" in info.value.reason
    assert server.count("/gone.txt") == 1
    assert leftovers(s.cache_dir) == []


def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    url = closed_port_url("/x.txt")
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, make_settings(tmp_path, retries=1))
    assert "refused" in info.value.reason.lower()
    assert "2 attempts" in info.value.reason


def test_read_timeout_is_unavailable(server: FaultServer, tmp_path: Path) -> None:
    url = server.add_sequence("/slow", [Response(body=BODY, delay=1.5)])
    s = make_settings(tmp_path, retries=1, read_timeout=0.2)
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, s)
    assert "timed out" in info.value.reason
    assert server.count("/slow") == 2
    assert leftovers(s.cache_dir) == []


def test_no_response_before_read_timeout_is_unavailable(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add_sequence("/slow", [Response(body=BODY, header_delay=1.5)])
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, make_settings(tmp_path, retries=0, read_timeout=0.2))
    assert "read timeout" in info.value.reason


@pytest.mark.fault(
    "H10 HTTP 429 with Retry-After",
    "waits at least Retry-After, then succeeds",
    before="held",
)
def test_429_retry_after_is_honoured(server: FaultServer, tmp_path: Path) -> None:
    url = server.add_sequence(
        "/f", [Response(status=429, headers={"Retry-After": "1"}), Response(body=BODY)]
    )
    r = fetch(url, BODY_SHA, make_settings(tmp_path, backoff=0.01))
    assert r.path.read_bytes() == BODY
    first, second = server.requests_to("/f")
    assert second.time - first.time >= 0.95  # the 0.01 s backoff alone would retry at once


def test_retry_after_beyond_the_deadline_gives_up_at_once(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add_sequence("/f", [Response(status=429, headers={"Retry-After": "120"})])
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, make_settings(tmp_path, give_up_after=2.0))
    assert server.count("/f") == 1
    assert "asked to wait 120 s" in info.value.reason


def test_network_disabled_without_mirror_is_unavailable(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/f", BODY)
    with pytest.raises(DataUnavailable) as info:
        fetch(url, BODY_SHA, make_settings(tmp_path, network=False))
    assert "GUTSKIN_MIRROR" in info.value.reason
    assert "network.enabled" in info.value.reason
    assert server.requests == []


def test_gzip_content_encoding_is_stored_byte_for_byte(server: FaultServer, tmp_path: Path) -> None:
    gz = gzip.compress(BODY, mtime=0)
    url = server.add(
        "/t.biom.gz",
        gz,
        headers={"Content-Type": "application/gzip", "Content-Encoding": "gzip"},
    )
    r = fetch(url, hashlib.sha256(gz).hexdigest(), make_settings(tmp_path))
    assert r.path.read_bytes() == gz
    assert r.size == len(gz)


def test_content_encoding_forced_by_server_is_undone_when_the_sha_is_of_the_file(
    server: FaultServer, tmp_path: Path
) -> None:
    # A server that gzips a text file on the wire despite Accept-Encoding: identity.
    url = server.add("/t.txt", gzip.compress(BODY, mtime=0), headers={"Content-Encoding": "gzip"})
    r = fetch(url, BODY_SHA, make_settings(tmp_path))
    assert r.path.read_bytes() == BODY
    assert leftovers(tmp_path / "cache") == [
        f"127.0.0.1:{server.port}/t.txt",
        f"127.0.0.1:{server.port}/t.txt.sha256.json",
    ]


def test_progress_is_logged_about_every_ten_percent(
    server: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    big = os.urandom(6 * 1024 * 1024)
    url = server.add("/big.bin", big)
    caplog.set_level(logging.INFO, logger="gutskin.fetch")
    fetch(url, hashlib.sha256(big).hexdigest(), make_settings(tmp_path, progress=True))
    lines = [r.getMessage() for r in caplog.records if "%" in r.getMessage()]
    assert 5 <= len(lines) <= 11, lines  # 1 MiB chunks of a 6 MiB file: one line per chunk at most
    assert lines[-1].startswith(f"downloading {url}: 100 %")


# --------------------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, BODY_SHA[:-1], BODY_SHA + "0", None])
def test_invalid_sha256_is_a_clear_error_before_any_request(
    server: FaultServer, tmp_path: Path, bad: object
) -> None:
    url = server.add("/f", BODY)
    with pytest.raises(InputError) as info:
        fetch(url, bad, make_settings(tmp_path))  # type: ignore[arg-type]
    assert url in str(info.value) and "64 hexadecimal" in str(info.value)
    assert server.requests == []


def test_fetch_dataset_rejects_a_bad_sha_in_config_naming_the_key(
    server: FaultServer, tmp_path: Path
) -> None:
    good = server.add("/a", BODY)
    bad = server.add("/b", BODY)
    ds = {
        "files": {
            "table": {"url": good, "sha256": BODY_SHA},
            "samples": {"url": bad, "sha256": "x"},
        }
    }
    with pytest.raises(ConfigError) as info:
        fetch_dataset("agp", ds, make_settings(tmp_path))
    msg = str(info.value)
    assert "datasets/agp/files/samples/sha256" in msg and bad in msg
    assert server.requests == []  # validated before anything is fetched


# --------------------------------------------------------------------------------------------------------
# Datasets and manifests
# --------------------------------------------------------------------------------------------------------


def test_fetch_dataset_manifest_when_available(server: FaultServer, tmp_path: Path) -> None:
    t = server.add("/t.biom", BODY)
    m = server.add("/m.txt", OTHER)
    ds = {
        "title": "x",
        "files": {
            "table": {"url": t, "sha256": BODY_SHA, "format": "biom"},
            "samples": {
                "url": m,
                "sha256": hashlib.sha256(OTHER).hexdigest(),
                "format": "qiime_mapping",
            },
        },
    }
    s = make_settings(tmp_path)
    man = fetch_dataset("demo", ds, s)
    assert man["dataset"] == "demo" and man["available"] is True and man["reason"] is None
    assert list(man["files"]) == ["table", "samples"]
    tab = man["files"]["table"]
    assert set(tab) == {
        "url",
        "sha256",
        "format",
        "path",
        "size",
        "source",
        "source_detail",
        "retrieved_at",
    }
    assert (tab["url"], tab["sha256"], tab["format"], tab["size"]) == (
        t,
        BODY_SHA,
        "biom",
        len(BODY),
    )
    assert tab["source"] == "network"
    assert Path(tab["path"]).read_bytes() == BODY
    out = tmp_path / "results" / "fetch" / "demo.json"
    write_manifest(man, out)
    assert json.loads(out.read_text()) == man
    assert [p.name for p in out.parent.iterdir()] == ["demo.json"]  # no temporary file left
    assert fetch_dataset("demo", ds, s)["files"]["samples"]["source"] == "cache"


def test_fetch_dataset_manifest_when_a_file_is_unavailable(
    server: FaultServer, tmp_path: Path
) -> None:
    t = server.add("/t.biom", BODY)
    m = server.url("/missing.txt")  # 404
    ds = {
        "files": {
            "table": {"url": t, "sha256": BODY_SHA, "format": "biom"},
            "samples": {"url": m, "sha256": BODY_SHA, "format": "qiime_mapping"},
        }
    }
    man = fetch_dataset("demo", ds, make_settings(tmp_path))
    assert man["available"] is False
    assert "'samples'" in man["reason"] and m in man["reason"] and "HTTP 404" in man["reason"]
    assert list(man["files"]) == ["table"]  # the fetched file stays listed
    json.dumps(man)  # JSON-able


@pytest.mark.fault(
    "H11 wrong bytes for a pinned sha256",
    "ChecksumMismatch stops the run; nothing cached",
    before="held",
)
def test_fetch_dataset_lets_checksum_mismatch_through(server: FaultServer, tmp_path: Path) -> None:
    t = server.add("/t.biom", OTHER)
    with pytest.raises(ChecksumMismatch):
        fetch_dataset(
            "demo", {"files": {"table": {"url": t, "sha256": BODY_SHA}}}, make_settings(tmp_path)
        )


# --------------------------------------------------------------------------------------------------------
# Concurrency and command line
# --------------------------------------------------------------------------------------------------------


def _fetch_in_child(url: str, sha: str, cache_dir: str, queue) -> None:
    try:
        s = FetchSettings(
            cache_dir=Path(cache_dir), retries=1, backoff=0.01, give_up_after=20.0, progress=False
        )
        r = fetch(url, sha, s)
        queue.put(("ok", r.source, str(r.path)))
    except Exception as exc:  # reported to the parent
        queue.put(("error", type(exc).__name__, str(exc)))


@pytest.mark.fault(
    "H2 concurrent cache use",
    "two processes fetching one URL: one download, both get the verified file",
    before="held",
)
def test_two_processes_fetching_the_same_url(server: FaultServer, tmp_path: Path) -> None:
    big = os.urandom(2 * 1024 * 1024)
    sha = hashlib.sha256(big).hexdigest()
    url = server.add_sequence("/shared.bin", [Response(body=big, delay=0.5)])
    cache = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_fetch_in_child, args=(url, sha, str(cache), queue)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(r[0] == "ok" for r in results), results
    assert {r[2] for r in results} == {str(cache_path(cache, url))}
    assert sorted(r[1] for r in results) in (["cache", "network"], ["network", "network"])
    assert server.count("/shared.bin") == 1  # the second process found the first one's file
    assert sha256_file(cache_path(cache, url)) == (sha, len(big))
    assert leftovers(cache) == [
        f"127.0.0.1:{server.port}/shared.bin",
        f"127.0.0.1:{server.port}/shared.bin.sha256.json",
    ]


def test_cli_prints_the_path_and_reports_failures(
    server: FaultServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.add("/f.txt", BODY)
    cache = tmp_path / "c"
    assert main([url, BODY_SHA, "--cache", str(cache), "--quiet"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(cache_path(cache, url))
    assert Path(out).read_bytes() == BODY
    assert main([server.url("/nope"), BODY_SHA, "--cache", str(cache), "--no-network", "-q"]) == 1
    err = capsys.readouterr().err
    assert "unavailable" in err and "Traceback" not in err


# --------------------------------------------------------------------------------------------------------
# Real data (the shared mirror)
# --------------------------------------------------------------------------------------------------------

REAL_URL = (
    "https://raw.githubusercontent.com/vedomics/SkinMicrobiomeAD_Analysis/"
    "114d8341c9c7f966e43e067f24b32e9f9e193af9/R_Analysis/Data_files/cleaned_scorads.csv"
)
REAL_SHA = "574f74e74005e3b9480c1da1650e0def48869f6fe05f4f0ee7935afa71708e0a"  # DATASETS.md §5


@pytest.mark.realdata
def test_real_file_from_the_shared_mirror_without_network(tmp_path: Path) -> None:
    if not mirror_path(MIRROR, REAL_URL).is_file():
        pytest.skip(f"real-data mirror not found at {MIRROR} (set GUTSKIN_MIRROR)")
    s = make_settings(tmp_path, mirrors=(MIRROR,), network=False)
    r = fetch(REAL_URL, REAL_SHA, s)
    assert (r.source, r.size) == ("mirror", 740)  # size from DATASETS.md §5
    assert r.path == tmp_path / "cache" / REAL_URL.removeprefix("https://")
