"""N1/N2: malformed MGnify and GMrepo answers — wrong types, missing keys, endless paging.

Every answer is served by the local fault server with the unit tests' fixtures, one part broken at a
time. The only acceptable outcomes: a manifest (``available: false`` with a reason, or a listing marked
incomplete) or a :class:`~gutskin.errors.GutskinError` with a message — never a ``KeyError``,
``TypeError`` or ``AttributeError`` from deep inside an adapter, and never a hang.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gutskin.errors import GutskinError
from gutskin.fetch import fetch_dataset
from tests.support.httpserver import FaultServer, RequestRecord, Response
from tests.support.net import fast_fetch_settings
from tests.unit import test_sources_gmrepo as gm
from tests.unit import test_sources_mgnify as mg


def outcome(run: Callable[[], dict[str, Any]]) -> str:
    """'ok', 'unavailable: …' or 'error: …' (a GutskinError); anything else fails the test."""
    t0 = time.monotonic()
    try:
        manifest = run()
    except GutskinError as exc:
        out = f"error: {exc}"
    else:
        out = "ok" if manifest["available"] else f"unavailable: {manifest['reason']}"
    assert time.monotonic() - t0 < 60
    return out


def _mutated_study(server: FaultServer, mutate: Callable[[dict], Any]) -> None:
    mg.serve_v2(server)
    study = mg.fixture("mgnify_v2_study.json", server.base_url)
    server.add_json(f"{mg.API}/v2/studies/MGYS00009001", mutate(study))


def _downloads(study: dict, change: Callable[[dict], Any]) -> dict:
    return {**study, "downloads": [change(dict(d)) for d in study["downloads"]]}


MGNIFY_STUDY_BREAKS: dict[str, Callable[[dict], Any]] = {
    "study is a list": lambda s: [s],
    "study is a string": lambda s: "MGYS00009001",
    "downloads missing": lambda s: {k: v for k, v in s.items() if k != "downloads"},
    "downloads a string": lambda s: {**s, "downloads": "none"},
    "download entry a number": lambda s: {**s, "downloads": [1, 2]},
    "download without url": lambda s: _downloads(
        s, lambda d: {k: v for k, v in d.items() if k != "url"}
    ),
    "download alias a number": lambda s: _downloads(s, lambda d: {**d, "alias": 7}),
    "download url not http": lambda s: _downloads(s, lambda d: {**d, "url": "ftp://x/y.tsv"}),
}


@pytest.mark.fault(
    "N1 malformed MGnify answers: wrong types and missing keys (study)",
    "available: false with a reason, or a GutskinError — never a KeyError/TypeError",
    before="new",
)
@pytest.mark.parametrize("name", sorted(MGNIFY_STUDY_BREAKS))
def test_mgnify_malformed_study(server: FaultServer, tmp_path: Path, name: str) -> None:
    _mutated_study(server, MGNIFY_STUDY_BREAKS[name])
    ds = mg.block(server, "MGYS00009001")
    assert outcome(lambda: fetch_dataset("mg", ds, fast_fetch_settings(tmp_path, retries=0)))


def _analyses_route(server: FaultServer, make: Callable[[list, RequestRecord], Response]) -> None:
    items = mg.fixture("mgnify_v2_analyses.json", server.base_url)["items"]
    server.add_handler(f"{mg.API}/v2/studies/MGYS00009001/analyses/", lambda r: make(items, r))


MGNIFY_LISTING_BREAKS: dict[str, Callable[[list, RequestRecord], Response]] = {
    "items not a list": lambda items, r: Response(json={"count": 3, "items": {"a": 1}}),
    "item a string": lambda items, r: Response(json={"count": 1, "items": ["MGYA1"]}),
    "item without accession": lambda items, r: Response(
        json={
            "count": len(items),
            "items": [{k: v for k, v in i.items() if "accession" not in k} for i in items],
        }
    ),
    "count a string": lambda items, r: Response(json={"count": "many", "items": items}),
    "answer is null": lambda items, r: Response(json=None, body=b"null"),
    "endless paging": lambda items, r: Response(
        json={
            "count": 10**9,
            "items": [copy.deepcopy(items[0]) for _ in range(int(r.query["page_size"][0]))],
        }
    ),
}


@pytest.mark.fault(
    "N1 malformed MGnify answers: listings (wrong types, endless paging)",
    "available: false with a reason, or a listing cut at max_pages and reported — never a hang",
    before="new",
)
@pytest.mark.parametrize("name", sorted(MGNIFY_LISTING_BREAKS))
def test_mgnify_malformed_listing(server: FaultServer, tmp_path: Path, name: str) -> None:
    mg.serve_v2(server)
    _analyses_route(server, MGNIFY_LISTING_BREAKS[name])
    ds = mg.block(server, "MGYS00009001", max_pages=5)
    assert outcome(lambda: fetch_dataset("mg", ds, fast_fetch_settings(tmp_path, retries=0)))


GMREPO_BREAKS: dict[str, dict[str, Callable[[RequestRecord], Response]]] = {
    "phenotypes not a list": {"get_all_phenotypes/": lambda r: Response(json={"a": 1})},
    "phenotype entries strings": {"get_all_phenotypes/": lambda r: Response(json=["D006262"])},
    "count a string": {
        "countAssociatedRunsByPhenotypeMeshID/": lambda r: Response(json=[{"nr_assoc_runs": "x"}])
    },
    "count empty list": {"countAssociatedRunsByPhenotypeMeshID/": lambda r: Response(json=[])},
    "runs not a list": {
        "getAssociatedRunsByPhenotypeMeshIDLimit/": lambda r: Response(json={"runs": []})
    },
    "run entries numbers": {
        "getAssociatedRunsByPhenotypeMeshIDLimit/": lambda r: Response(json=[1, 2])
    },
    "run without run_id": {
        "getAssociatedRunsByPhenotypeMeshIDLimit/": lambda r: Response(json=[{"x": 1}, {"y": 2}])
    },
    "endless paging": {
        "countAssociatedRunsByPhenotypeMeshID/": lambda r: Response(
            json=[{"nr_assoc_runs": 10**9}]
        ),
        "getAssociatedRunsByPhenotypeMeshIDLimit/": lambda r: Response(
            json=[
                {"run_id": f"R{r.json['skip'] + i}", "experiment_type": "Metagenomics"}
                for i in range(r.json["limit"])
            ]
        ),
    },
    "profile a string": {"getFullTaxonomicProfileByRunID/": lambda r: Response(json="none")},
    "profile species not a list": {
        "getFullTaxonomicProfileByRunID/": lambda r: Response(
            json={"run": {}, "species": 3, "genus": 3}
        )
    },
    "profile abundance text": {
        "getFullTaxonomicProfileByRunID/": lambda r: Response(
            json={
                "run": {"run_id": r.json["run_id"]},
                "species": [{"scientific_name": "x", "relative_abundance": "lots"}],
                "genus": [],
            }
        )
    },
}


@pytest.mark.fault(
    "N2 malformed GMrepo answers: wrong types, missing keys, endless paging",
    "available: false with a reason, or a GutskinError — never a KeyError/TypeError or a hang",
    before="new",
)
@pytest.mark.parametrize("name", sorted(GMREPO_BREAKS))
def test_gmrepo_malformed(server: FaultServer, tmp_path: Path, name: str) -> None:
    gm.serve(server)
    for route, handler in GMREPO_BREAKS[name].items():
        server.add_handler(f"{gm.API}/{route}", handler)
    ds = gm.block(server, max_pages=5)
    assert outcome(lambda: fetch_dataset("gm", ds, fast_fetch_settings(tmp_path, retries=0)))
