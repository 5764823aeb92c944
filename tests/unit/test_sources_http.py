"""Tests of :mod:`gutskin.sources.http` against a real HTTP server on 127.0.0.1 (no mocks of requests).

Expected values are what the test server was told to send (JSON objects, bytes hashed with :mod:`hashlib`)
and request counts from the server's own log. Waits are checked from below only (never "faster than").
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest

from gutskin.errors import ChecksumMismatch, DataUnavailable
from gutskin.sources.http import (
    API_CACHE_DIR,
    ApiClient,
    ApiStatusError,
    RateLimiter,
    canonical_url,
    paged_count_items,
    paged_jsonapi,
    paged_skip_limit,
)
from tests.support.httpserver import RequestRecord, Response
from tests.support.net import fast_api_settings

settings = fast_api_settings


def cache_files(tmp_path: Path) -> list[Path]:
    root = tmp_path / "cache" / API_CACHE_DIR
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --------------------------------------------------------------------------------------------------------
# JSON answers and their cache
# --------------------------------------------------------------------------------------------------------


def test_answer_is_cached_and_a_second_client_makes_no_request(server, tmp_path):
    doc = {"count": 2, "items": ["a", "b"]}
    url = server.add_json("/api/things", doc)
    with ApiClient(settings(tmp_path)) as c1:
        assert c1.get_json(url) == doc
        assert c1.stats["requests"] == 1 and c1.stats["network"] == 1
    assert server.count("/api/things") == 1
    with ApiClient(settings(tmp_path)) as c2:
        assert c2.get_json(url) == doc
        assert c2.stats == {"requests": 0, "cache_hits": 1, "retries": 0, "network": 0, "mirror": 0}
    # the network may even be off now
    with ApiClient(settings(tmp_path, network=False)) as c3:
        assert c3.get_json(url) == doc
    assert server.count("/api/things") == 1
    body, meta = sorted(cache_files(tmp_path), key=lambda p: p.name.endswith(".meta.json"))
    record = json.loads(meta.read_text())
    assert record["url"] == url and record["method"] == "GET"
    assert record["sha256"] == hashlib.sha256(body.read_bytes()).hexdigest()


def test_query_parameters_are_sorted_and_key_the_cache(server, tmp_path):
    url = server.add_json("/api/list", {"ok": True})
    with ApiClient(settings(tmp_path)) as client:
        client.get_json(url, {"b": 2, "a": "x y"})
        client.get_json(url, {"a": "x y", "b": 2})  # same request: cache
        client.get_json(url, {"a": "x y", "b": 3})  # another request
    targets = [r.target for r in server.requests_to("/api/list")]
    assert targets == ["/api/list?a=x+y&b=2", "/api/list?a=x+y&b=3"]
    assert canonical_url("http://h/p?z=1", {"b": 1, "a": None}) == "http://h/p?z=1&b=1"


def test_post_body_is_sent_as_json_and_keys_the_cache(server, tmp_path):
    url = server.add_handler("/api/echo", lambda req: Response(json={"got": req.json}))
    with ApiClient(settings(tmp_path)) as client:
        assert client.post_json(url, {"mesh_id": "D006262"}) == {"got": {"mesh_id": "D006262"}}
        assert client.post_json(url, {"mesh_id": "D011565"}) == {"got": {"mesh_id": "D011565"}}
        assert client.post_json(url, {"mesh_id": "D006262"}) == {"got": {"mesh_id": "D006262"}}
    reqs = server.requests_to("/api/echo")
    assert [r.json for r in reqs] == [{"mesh_id": "D006262"}, {"mesh_id": "D011565"}]
    assert all(r.method == "POST" for r in reqs)
    assert reqs[0].header("content-type") == "application/json"
    assert reqs[0].header("user-agent", "").startswith("gutskin/")


@pytest.mark.fault(
    "H14 corrupt API cache entry",
    "deleted and asked again",
    before="held",
)
def test_corrupt_cache_entries_are_fetched_again(server, tmp_path):
    doc = {"value": 42}
    url = server.add_json("/api/v", doc)
    with ApiClient(settings(tmp_path)) as client:
        client.get_json(url)
    body = next(p for p in cache_files(tmp_path) if not p.name.endswith(".meta.json"))
    body.write_bytes(b'{"value": 43}')  # same size, other bytes: the sha256 record catches it
    with ApiClient(settings(tmp_path)) as client:
        assert client.get_json(url) == doc
    assert server.count("/api/v") == 2
    meta = next(p for p in cache_files(tmp_path) if p.name.endswith(".meta.json"))
    meta.write_text('{"url": ')  # a torn record
    with ApiClient(settings(tmp_path)) as client:
        assert client.get_json(url) == doc
    assert server.count("/api/v") == 3
    body.unlink()  # the answer without its record's partner
    with ApiClient(settings(tmp_path)) as client:
        assert client.get_json(url) == doc
    assert server.count("/api/v") == 4


def test_network_disabled_and_nothing_cached(server, tmp_path):
    url = server.add_json("/api/x", {})
    with (
        ApiClient(settings(tmp_path, network=False)) as client,
        pytest.raises(DataUnavailable, match="network is disabled") as err,
    ):
        client.get_json(url)
    assert err.value.url == url
    assert server.count("/api/x") == 0


# --------------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------------


def test_500_is_retried(server, tmp_path):
    url = server.add_sequence("/api/flaky", [Response(status=500), Response(json={"ok": 1})])
    with ApiClient(settings(tmp_path)) as client:
        assert client.get_json(url) == {"ok": 1}
        assert client.stats["retries"] == 1
    assert server.count("/api/flaky") == 2


def test_500_every_time_gives_up_after_the_retries(server, tmp_path):
    url = server.add("/api/down", b"oops", status=503)
    with ApiClient(settings(tmp_path, retries=2)) as client, pytest.raises(DataUnavailable) as err:
        client.get_json(url)
    assert server.count("/api/down") == 3  # 1 + retries
    assert "3 attempts" in str(err.value) and "503" in str(err.value)
    assert cache_files(tmp_path) == []


def test_429_retry_after_is_honoured(server, tmp_path):
    url = server.add_sequence(
        "/api/busy",
        [Response(status=429, headers={"Retry-After": "0.3"}), Response(json={"ok": True})],
    )
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)

    with ApiClient(settings(tmp_path), sleep=sleep) as client:
        assert client.get_json(url) == {"ok": True}
    assert server.count("/api/busy") == 2
    # backoff would be 0.01 s; the server asked for 0.3 s
    assert max(slept) == pytest.approx(0.3)


def test_429_retry_after_real_wait_is_at_least_what_was_asked(server, tmp_path):
    url = server.add_sequence(
        "/api/busy2",
        [Response(status=429, headers={"Retry-After": "0.25"}), Response(json=[1])],
    )
    with ApiClient(settings(tmp_path)) as client:
        assert client.get_json(url) == [1]
    first, second = server.requests_to("/api/busy2")
    assert second.time - first.time >= 0.25 * 0.9


def test_retry_after_beyond_the_deadline_gives_up_at_once(server, tmp_path):
    url = server.add("/api/later", b"", status=503, headers={"Retry-After": "120"})
    with (
        ApiClient(settings(tmp_path, give_up_after=5.0)) as client,
        pytest.raises(DataUnavailable, match="asked to wait 120 s"),
    ):
        client.get_json(url)
    assert server.count("/api/later") == 1


def test_truncated_body_is_retried(server, tmp_path):
    doc = {"items": list(range(50))}
    url = server.add_sequence(
        "/api/trunc", [Response(json=doc, truncate_to=20), Response(json=doc)]
    )
    with ApiClient(settings(tmp_path)) as client:
        assert client.get_json(url) == doc
    assert server.count("/api/trunc") == 2


def test_truncated_every_time_is_unavailable(server, tmp_path):
    url = server.add_handler(
        "/api/trunc2", lambda _r: Response(json={"a": "b" * 100}, truncate_to=10)
    )
    with ApiClient(settings(tmp_path, retries=1)) as client, pytest.raises(DataUnavailable) as err:
        client.get_json(url)
    assert server.count("/api/trunc2") == 2
    assert url in str(err.value)
    assert "10 of" in str(err.value) or "broke" in str(err.value)
    assert cache_files(tmp_path) == []


def test_malformed_json_names_the_url_and_is_not_cached(server, tmp_path):
    url = server.add(
        "/api/html",
        b"<html><body>Service down</body></html>",
        headers={"Content-Type": "text/html"},
    )
    for _ in range(2):
        with ApiClient(settings(tmp_path)) as client, pytest.raises(DataUnavailable) as err:
            client.get_json(url)
        msg = str(err.value)
        assert url in msg
        assert "not valid JSON" in msg and "line 1, column 1" in msg
        assert "<html><body>Service down" in msg
    assert server.count("/api/html") == 2  # not cached: asked again
    assert cache_files(tmp_path) == []


def test_404_is_an_api_status_error_and_not_retried(server, tmp_path):
    url = server.url("/api/missing")
    with ApiClient(settings(tmp_path)) as client, pytest.raises(ApiStatusError) as err:
        client.get_json(url)
    assert err.value.status == 404
    assert isinstance(err.value, DataUnavailable)
    assert server.count("/api/missing") == 1


# --------------------------------------------------------------------------------------------------------
# Rate limiting
# --------------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def test_rate_limiter_spaces_requests_by_one_over_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.wait("h")
    # starts at 100, 100.25, 100.5, 100.75, 101: four waits of 1/4 s (hand computation)
    assert clock.sleeps == pytest.approx([0.25, 0.25, 0.25, 0.25])
    limiter.wait("other-host")  # a different host is not held back
    assert len(clock.sleeps) == 4
    clock.t += 10  # a long pause earns no burst credit beyond one request
    limiter.wait("h")
    limiter.wait("h")
    assert clock.sleeps[-1] == pytest.approx(0.25) and len(clock.sleeps) == 5


def test_rate_limit_is_honoured_against_a_server(server, tmp_path):
    # The test server answers in about 50 ms, so the limit must be well below 20/s to be visible.
    url = server.add_handler("/api/n", lambda req: Response(json={"q": req.query}))
    rate = 5.0
    with ApiClient(settings(tmp_path, requests_per_second=rate)) as client:
        for i in range(4):
            client.get_json(url, {"i": i})
        for i in range(4):  # cached answers are not rate limited and make no request
            client.get_json(url, {"i": i})
        assert client.stats["requests"] == 4 and client.stats["cache_hits"] == 4
    times = [r.time for r in server.requests_to("/api/n")]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= (1 / rate) * 0.8


# --------------------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------------------


ITEMS = [f"item{i}" for i in range(7)]


def _count_items(req: RequestRecord) -> Response:
    page = int(req.query["page"][0])
    size = int(req.query["page_size"][0])
    return Response(json={"count": len(ITEMS), "items": ITEMS[(page - 1) * size : page * size]})


def test_count_items_paging_follows_three_pages(server, tmp_path):
    url = server.add_handler("/v2/things/", _count_items)
    with ApiClient(settings(tmp_path)) as client:
        paged = paged_count_items(client, url, {"biome_lineage": "root:x"}, page_size=3)
    assert paged.items == ITEMS and paged.pages == 3 and paged.complete and paged.expected == 7
    reqs = server.requests_to("/v2/things/")
    assert [r.query["page"] for r in reqs] == [["1"], ["2"], ["3"]]
    assert all(r.query["biome_lineage"] == ["root:x"] for r in reqs)


def test_count_items_paging_stops_at_the_page_limit_and_says_so(server, tmp_path):
    url = server.add_handler("/v2/things/", _count_items)
    with ApiClient(settings(tmp_path, max_pages=2)) as client:
        paged = paged_count_items(client, url, page_size=3)
    assert paged.items == ITEMS[:6] and not paged.complete and paged.pages == 2
    assert server.count("/v2/things/") == 2


def test_jsonapi_paging_follows_links_next(server, tmp_path):
    def handler(req: RequestRecord) -> Response:
        page = int(req.query.get("page", ["1"])[0])
        nxt = server.url(f"/v1/things?page={page + 1}") if page < 3 else None
        return Response(
            json={
                "links": {"next": nxt},
                "data": [{"id": f"p{page}-{k}"} for k in range(2 if page < 3 else 1)],
                "meta": {"pagination": {"page": page, "pages": 3, "count": 5}},
            }
        )

    url = server.add_handler("/v1/things", handler)
    with ApiClient(settings(tmp_path)) as client:
        paged = paged_jsonapi(client, url)
    assert [d["id"] for d in paged.items] == ["p1-0", "p1-1", "p2-0", "p2-1", "p3-0"]
    assert paged.pages == 3 and paged.complete and paged.expected == 5


@pytest.mark.fault(
    "H15 JSON:API paging loop",
    "DataUnavailable naming the loop (no endless paging)",
    before="held",
)
def test_jsonapi_paging_loop_is_an_error(server, tmp_path):
    url = server.url("/v1/loop")
    server.add_json("/v1/loop", {"data": [1], "links": {"next": url}})
    with ApiClient(settings(tmp_path)) as client, pytest.raises(DataUnavailable, match="loop"):
        paged_jsonapi(client, url)


def test_skip_limit_paging_reads_until_the_total():
    asked: list[tuple[int, int]] = []

    def page(skip: int, limit: int) -> list[int]:
        asked.append((skip, limit))
        return list(range(7))[skip : skip + limit]

    paged = paged_skip_limit(page, limit=3, total=7, max_pages=10, what="x")
    assert paged.items == list(range(7)) and asked == [(0, 3), (3, 3), (6, 3)]
    asked.clear()
    paged = paged_skip_limit(page, limit=3, total=None, max_pages=10, what="x")
    assert paged.items == list(range(7)) and asked == [(0, 3), (3, 3), (6, 3)]
    asked.clear()
    paged = paged_skip_limit(page, limit=3, total=7, max_pages=2, what="x")
    assert not paged.complete and len(paged.items) == 6 and len(asked) == 2


# --------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------


BLOB = b"PK\x03\x04 not really a zip, just bytes " * 100
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


def test_download_records_the_sha256_and_reuses_the_verified_copy(server, tmp_path):
    url = server.add("/public_download/", BLOB)
    url = url + "?data=biom&study_id=7"
    with ApiClient(settings(tmp_path)) as client:
        got = client.download(url)
    assert got.sha256 == BLOB_SHA and got.size == len(BLOB) and got.source == "network"
    assert got.path.read_bytes() == BLOB
    assert got.path.name == "index.html?data=biom&study_id=7"
    side = json.loads(got.path.with_name(got.path.name + ".sha256.json").read_text())
    assert side["sha256"] == BLOB_SHA and side["url"] == url
    with ApiClient(settings(tmp_path)) as client:
        again = client.download(url)
    assert again.source == "cache" and again.sha256 == BLOB_SHA
    assert server.count("/public_download/") == 1
    # a corrupted cached copy no longer matches its record: fetched again
    got.path.write_bytes(b"x" + BLOB[1:])
    with ApiClient(settings(tmp_path)) as client:
        third = client.download(url)
    assert third.source == "network" and third.path.read_bytes() == BLOB
    assert server.count("/public_download/") == 2


def test_download_from_a_mirror_records_its_sha256(server, tmp_path):
    url = server.url("/files/table.tsv")
    mirror = tmp_path / "mirror"
    src = mirror / f"127.0.0.1:{server.port}" / "files" / "table.tsv"
    src.parent.mkdir(parents=True)
    src.write_bytes(BLOB)
    with ApiClient(settings(tmp_path, mirrors=(mirror,))) as client:
        got = client.download(url)
    assert got.source == "mirror" and got.sha256 == BLOB_SHA
    assert server.count("/files/table.tsv") == 0


def test_download_with_a_pinned_sha256_uses_the_verified_fetch(server, tmp_path):
    url = server.add("/files/pinned.bin", BLOB)
    with ApiClient(settings(tmp_path)) as client:
        assert client.download(url, sha256=BLOB_SHA).sha256 == BLOB_SHA
        with pytest.raises(ChecksumMismatch):
            client.download(server.add("/files/other.bin", b"other"), sha256=BLOB_SHA)


def test_download_unavailable_names_the_url(server, tmp_path):
    url = server.url("/files/nope.zip")
    with ApiClient(settings(tmp_path)) as client, pytest.raises(ApiStatusError) as err:
        client.download(url)
    assert err.value.status == 404 and url in str(err.value)
    leftovers = [
        p for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.name.endswith(".lock")
    ]
    assert leftovers == []
