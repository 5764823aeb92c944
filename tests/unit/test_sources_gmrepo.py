"""GMrepo: MeSH validation, skip/limit paging, filters, rate limiting and fetch → import.

Responses are the hand-written files of ``tests/fixtures/api``; the expected proportions are the percent
values typed in there divided by 100, computed by hand below.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from gutskin.errors import ConfigError
from gutskin.fetch import fetch_dataset
from gutskin.importer import import_dataset, load_imported
from tests.support.httpserver import FaultServer, RequestRecord, Response
from tests.support.net import fast_fetch_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api"
API = "/api"
PHENOTYPES = {"D006262": "none", "D011565": "psoriasis", "D004485": "eczema"}


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def serve(server: FaultServer, *, profiles: dict | None = None) -> None:
    runs = load("gmrepo_runs.json")
    profs = profiles if profiles is not None else load("gmrepo_profiles.json")
    server.add_json(f"{API}/get_all_phenotypes/", load("gmrepo_phenotypes.json"))

    def count(req: RequestRecord) -> Response:
        return Response(json=[{"nr_assoc_runs": len(runs.get(req.json["mesh_id"], []))}])

    def page(req: RequestRecord) -> Response:
        body = req.json
        items = runs.get(body["mesh_id"], [])
        return Response(json=items[body["skip"] : body["skip"] + body["limit"]])

    def profile(req: RequestRecord) -> Response:
        rid = req.json["run_id"]
        if rid not in profs:
            return Response(json={"run": None, "species": [], "genus": []})
        return Response(json=profs[rid])

    server.add_handler(f"{API}/countAssociatedRunsByPhenotypeMeshID/", count)
    server.add_handler(f"{API}/getAssociatedRunsByPhenotypeMeshIDLimit/", page)
    server.add_handler(f"{API}/getFullTaxonomicProfileByRunID/", profile)


def block(server: FaultServer, **source) -> dict:
    src = {
        "type": "gmrepo",
        "base_url": server.url(API),
        "phenotypes": dict(PHENOTYPES),
        "experiment_type": "Metagenomics",
        "page_size": 2,
        "requests_per_second": 1000,
    }
    src.update(source)
    return {
        "title": "GMrepo test",
        "values": "relative",
        "data_type": "shotgun",
        "source": src,
        "samples": {
            "id_column": "run_id",
            "columns": {
                "subject_id": {"from": "sample_id"},
                "body_site": {"constant": "gut"},
                "condition": {"from": "condition"},
                "age": {"from": "host_age", "type": "number"},
                "sex": {"from": "sex", "map": {"Female": "female", "Male": "male"}},
            },
        },
    }


fetch_settings = fast_fetch_settings


def test_gmrepo_fetch_then_import(server, tmp_path):
    serve(server)
    ds = block(server)
    manifest = fetch_dataset("gm", ds, fetch_settings(tmp_path))
    assert manifest["available"] is True, manifest["reason"]
    api = manifest["api"]
    # SRR0000105 is listed under Health and Psoriasis; 103 failed QC; 104 is an amplicon run;
    # 202 has an empty profile.
    assert api["dropped"] == {
        "ambiguous": 1, "qc_failed": 1, "qc_unknown_kept": 0, "experiment_type": 1,
        "no_profile": 1, "invalid_profile": 0,
    }  # fmt: skip
    assert api["phenotypes"]["D006262"]["announced"] == 5
    assert api["phenotypes"]["D006262"]["pages"] == 3  # 5 runs, 2 per page
    skips = [
        r.json["skip"]
        for r in server.requests_to(f"{API}/getAssociatedRunsByPhenotypeMeshIDLimit/")
        if r.json["mesh_id"] == "D006262"
    ]
    assert skips == [0, 2, 4]
    profiled = sorted(
        r.json["run_id"] for r in server.requests_to(f"{API}/getFullTaxonomicProfileByRunID/")
    )
    assert profiled == ["SRR0000101", "SRR0000102", "SRR0000201", "SRR0000202", "SRR0000301"]

    info = import_dataset("gm", ds, manifest, tmp_path / "imp")
    assert info["n_samples"] == 4
    table, samples, _ = load_imported(tmp_path / "imp")
    assert table.values == "relative"
    assert list(samples["sample_id"]) == ["SRR0000101", "SRR0000102", "SRR0000201", "SRR0000301"]
    assert list(samples["condition"]) == ["none", "none", "psoriasis", "eczema"]
    assert list(samples["sex"]) == ["female", "male", "male", "female"]
    assert list(samples["age"]) == [30, 45, 38, 9]
    # percent / 100, typed from gmrepo_profiles.json
    expected = {
        "SRR0000101": {"821": 0.50, "853": 0.30, "40520": 0.20},
        "SRR0000102": {"821": 0.10, "853": 0.855},
        "SRR0000201": {"853": 0.60, "1351": 0.40},
        "SRR0000301": {"1351": 0.25, "821": 0.75},
    }
    dense = table.counts.toarray()
    fids = list(table.feature_ids)
    for i, rid in enumerate(table.sample_ids):
        got = {fids[j]: dense[i, j] for j in np.flatnonzero(dense[i])}
        assert got == pytest.approx(expected[rid])
    assert table.taxonomy is not None
    assert table.taxonomy.loc["821"] == "s__Phocaeicola vulgatus"

    n = len(server.requests)
    again = fetch_dataset("gm", ds, fetch_settings(tmp_path, network=False))
    assert len(server.requests) == n
    assert again["files"]["table"]["sha256"] == manifest["files"]["table"]["sha256"]
    assert again["files"]["samples"]["sha256"] == manifest["files"]["samples"]["sha256"]


def test_genus_level(server, tmp_path):
    serve(server)
    manifest = fetch_dataset("gm", block(server, level="genus"), fetch_settings(tmp_path))
    info = import_dataset("gm", block(server, level="genus"), manifest, tmp_path / "imp")
    table, _, _ = load_imported(tmp_path / "imp")
    assert info["n_features"] == 4  # Phocaeicola, Faecalibacterium, Blautia, Enterococcus
    assert sorted(table.feature_ids) == sorted(["909656", "216851", "572511", "1350"])


def test_unknown_mesh_id_is_reported_clearly(server, tmp_path):
    serve(server)
    phen = {**PHENOTYPES, "D000152": "acne"}
    with pytest.raises(ConfigError) as err:
        fetch_dataset("gm", block(server, phenotypes=phen), fetch_settings(tmp_path))
    msg = str(err.value)
    assert "D000152" in msg and "unverified" in msg and "not GMrepo phenotypes" in msg
    assert "datasets/gm/source/phenotypes" in msg
    assert len(server.requests) == 1  # only get_all_phenotypes was asked

    manifest = fetch_dataset(
        "gm", block(server, phenotypes=phen, skip_unknown_phenotypes=True), fetch_settings(tmp_path)
    )
    assert manifest["available"] is True
    assert any("D000152" in n for n in manifest["api"]["notes"])
    assert "D000152" not in manifest["api"]["phenotypes"]


def test_bad_condition_is_a_config_error(server, tmp_path):
    with pytest.raises(ConfigError, match="not a canonical condition"):
        fetch_dataset(
            "gm", block(server, phenotypes={"D006262": "healthy"}), fetch_settings(tmp_path)
        )
    assert server.requests == []


def test_max_runs_per_phenotype_is_a_seeded_subset(server, tmp_path):
    serve(server)
    ds = block(server, max_runs_per_phenotype=1, experiment_type=None)
    del ds["source"]["experiment_type"]
    m1 = fetch_dataset("gm", ds, fetch_settings(tmp_path / "a"))
    m2 = fetch_dataset("gm", ds, fetch_settings(tmp_path / "b"))
    p = m1["api"]["phenotypes"]
    assert [p[m]["selected"] for m in PHENOTYPES] == [1, 1, 1]
    # Health keeps 101, 102, 104 (103 fails QC, 105 is ambiguous); one of them is drawn
    assert p["D006262"]["after_filters"] == 3
    assert m1["files"]["samples"]["sha256"] == m2["files"]["samples"]["sha256"]


def test_invalid_profile_is_dropped_and_noted(server, tmp_path):
    profiles = load("gmrepo_profiles.json")
    profiles["SRR0000102"]["species"][1]["relative_abundance"] = 185.5  # adds up to 195.5 %
    serve(server, profiles=profiles)
    manifest = fetch_dataset("gm", block(server), fetch_settings(tmp_path))
    assert manifest["api"]["dropped"]["invalid_profile"] == 1
    assert manifest["api"]["n_runs"] == 3
    assert any("invalid profile" in n for n in manifest["api"]["notes"])


def test_429_on_profiles_is_retried_after_the_wait(server, tmp_path):
    serve(server)
    inner = server._routes[f"{API}/getFullTaxonomicProfileByRunID/"]
    state = {"n": 0}

    def flaky(req: RequestRecord) -> Response:
        state["n"] += 1
        if state["n"] == 1:
            return Response(status=429, headers={"Retry-After": "0.2"})
        return inner(req)

    server.add_handler(f"{API}/getFullTaxonomicProfileByRunID/", flaky)
    manifest = fetch_dataset("gm", block(server), fetch_settings(tmp_path))
    assert manifest["available"] is True and manifest["api"]["n_runs"] == 4
    reqs = server.requests_to(f"{API}/getFullTaxonomicProfileByRunID/")
    assert len(reqs) == 6  # 5 runs + 1 retry
    assert reqs[1].time - reqs[0].time >= 0.2 * 0.9


def test_rate_limit_spaces_every_request(server, tmp_path):
    # The test server answers in about 50 ms, so the limit must be well below 20/s to be visible.
    serve(server)
    rate = 5.0
    ds = block(server, requests_per_second=rate, phenotypes={"D004485": "eczema"})
    manifest = fetch_dataset("gm", ds, fetch_settings(tmp_path))
    # 1 phenotype list + 1 count + 1 page of runs + 1 profile
    assert manifest["api"]["requests"] == 4
    times = [r.time for r in server.requests]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= (1 / rate) * 0.8


def test_server_down_makes_the_dataset_unavailable(server, tmp_path):
    server.add(f"{API}/get_all_phenotypes/", b"down", status=503)
    manifest = fetch_dataset("gm", block(server), fetch_settings(tmp_path, retries=1))
    assert manifest["available"] is False
    assert "503" in manifest["reason"] and "get_all_phenotypes" in manifest["reason"]
    assert server.count(f"{API}/get_all_phenotypes/") == 2


def test_command_line_lists_phenotypes(server, tmp_path, capsys):
    from gutskin.sources.__main__ import main

    serve(server)
    status = main(
        [
            "--cache",
            str(tmp_path / "c"),
            "phenotypes",
            "--match",
            "psor",
            "--base-url",
            server.url(API),
        ]
    )
    assert status == 0
    assert capsys.readouterr().out == "D011565\tPsoriasis\n"
