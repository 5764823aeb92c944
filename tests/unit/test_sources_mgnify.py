"""MGnify: API v2 paging, v2 → v1 fallback, the taxonomy TSV reader, and fetch → import.

The responses are the hand-written files of ``tests/fixtures/api`` (see its README); expected counts are
read off those files by hand and typed in below.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gutskin.errors import InputError
from gutskin.fetch import fetch_dataset
from gutskin.importer import import_dataset, load_imported
from gutskin.io import read_table
from gutskin.sources.http import ApiClient, ApiSettings
from gutskin.sources.mgnify import LINEAGES, list_studies, read_taxonomy_tsv
from tests.support.httpserver import FaultServer, RequestRecord, Response
from tests.support.net import fast_fetch_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api"
API = "/metagenomics/api"


def fixture(name: str, base: str) -> dict:
    return json.loads((FIXTURES / name).read_text().replace("{base}", base))


def fetch_settings(tmp_path: Path, **kw):
    return fast_fetch_settings(tmp_path, **{"retries": 1, **kw})


def block(server: FaultServer, study: str, **source) -> dict:
    return {
        "title": "MGnify test",
        "values": "counts",
        "data_type": "amplicon_16s",
        "source": {
            "type": "mgnify",
            "study": study,
            "base_url": server.url(API),
            "requests_per_second": 1000,
            **source,
        },
        "samples": {
            "id_column": "run_id",
            "columns": {
                "subject_id": {"from": "sample_accession"},
                "body_site": {
                    "from": "host body site",
                    "map": {"feces": "gut", "skin of forearm": "skin", "skin": "skin"},
                },
                "sex": {"from": "host sex"},
                "age": {"from": "host age", "type": "number"},
            },
        },
    }


def paged_v2(items: list, req: RequestRecord) -> Response:
    page = int(req.query["page"][0])
    size = int(req.query["page_size"][0])
    return Response(json={"count": len(items), "items": items[(page - 1) * size : page * size]})


def serve_v2(server: FaultServer, *, with_ssu: bool = True) -> None:
    study = fixture("mgnify_v2_study.json", server.base_url)
    if not with_ssu:
        study["downloads"] = [d for d in study["downloads"] if "SILVA-SSU" not in d["alias"]]
    server.add_json(f"{API}/v2/studies/MGYS00009001", study)
    items = fixture("mgnify_v2_analyses.json", server.base_url)["items"]
    server.add_handler(f"{API}/v2/studies/MGYS00009001/analyses/", lambda r: paged_v2(items, r))
    for acc, doc in fixture("mgnify_v2_samples.json", server.base_url).items():
        server.add_json(f"{API}/v2/samples/{acc}", doc)
    server.add(
        "/files/PRJEB9001_SILVA-SSU_study_summary.tsv",
        (FIXTURES / "mgnify_v2_SILVA-SSU_study_summary.tsv").read_bytes(),
    )


def jsonapi_pages(items: list, per_page: int, url: str, req: RequestRecord) -> Response:
    page = int(req.query.get("page", ["1"])[0])
    pages = max(1, -(-len(items) // per_page))
    nxt = f"{url}?page={page + 1}&page_size={per_page}" if page < pages else None
    return Response(
        json={
            "links": {"next": nxt},
            "data": items[(page - 1) * per_page : page * per_page],
            "meta": {"pagination": {"page": page, "pages": pages, "count": len(items)}},
        }
    )


def serve_v1(server: FaultServer, study: str = "MGYS00009002") -> None:
    base = server.url(API)
    for name, path in (
        ("mgnify_v1_downloads.json", "downloads"),
        ("mgnify_v1_analyses.json", "analyses"),
        ("mgnify_v1_samples.json", "samples"),
    ):
        items = fixture(name, base)["data"]
        url = server.url(f"{API}/v1/studies/{study}/{path}")
        server.add_handler(
            f"{API}/v1/studies/{study}/{path}",
            lambda r, items=items, url=url: jsonapi_pages(items, 2, url, r),
        )
    tsv = (FIXTURES / "mgnify_v1_taxonomy_abundances_SSU_v5.0.tsv").read_bytes()
    # the download links of the fixture point at MGYS00009002's files
    files = f"{API}/v1/studies/MGYS00009002/pipelines"
    server.add(f"{files}/5.0/file/ERP9002_taxonomy_abundances_SSU_v5.0.tsv", tsv)
    server.add(f"{files}/4.1/file/ERP9002_taxonomy_abundances_SSU_v4.1.tsv", tsv)


# --------------------------------------------------------------------------------------------------------
# API v2
# --------------------------------------------------------------------------------------------------------


def test_v2_study_fetch_pages_and_imports(server, tmp_path):
    serve_v2(server)
    ds = block(server, "MGYS00009001", page_size=3)
    manifest = fetch_dataset("mg", ds, fetch_settings(tmp_path))
    assert manifest["available"] is True, manifest["reason"]
    api = manifest["api"]
    assert api["version"] == "v2" and api["notes"] == [] and api["complete"] is True
    assert api["table"]["alias"] == "PRJEB9001_SILVA-SSU_study_summary.tsv"  # not the PR2 summary
    assert api["n_runs"] == 7 and api["pages"] == {"analyses": 3}
    pages = [
        r.query["page"][0] for r in server.requests_to(f"{API}/v2/studies/MGYS00009001/analyses/")
    ]
    assert pages == ["1", "2", "3"]
    # one detail request per sample (4 samples for 7 runs)
    assert sum(server.count(f"{API}/v2/samples/SAMEA10000{k}") for k in range(1, 5)) == 4
    assert manifest["files"]["table"]["format"] == "mgnify_tsv"

    info = import_dataset("mg", ds, manifest, tmp_path / "imp")
    assert info["n_samples"] == 6  # ERR1000007 has metadata but no column in the table
    assert info["dropped"] == {"not_in_table": 1, "not_in_mapping": 0}
    table, samples, _ = load_imported(tmp_path / "imp")
    assert list(samples["sample_id"]) == [f"ERR100000{k}" for k in range(1, 7)]
    assert list(samples["subject_id"]) == [
        "SAMEA100001", "SAMEA100001", "SAMEA100002", "SAMEA100003", "SAMEA100003", "SAMEA100004",
    ]  # fmt: skip
    assert list(samples["body_site"]) == ["gut", "gut", "gut", "skin", "skin", "gut"]
    assert list(samples["age"]) == [34, 34, 51, 29, 29, 62]
    # counts typed in from the fixture TSV, one row per run
    firmicutes = "sk__Bacteria;k__;p__Bacillota;c__Clostridia"
    j = list(table.feature_ids).index(firmicutes)
    assert table.counts.toarray()[:, j].tolist() == [10, 0, 5, 3, 8, 1]
    assert table.depths().tolist() == [15, 9, 6, 12, 14, 10]

    # second run: no request at all
    n = len(server.requests)
    again = fetch_dataset("mg", ds, fetch_settings(tmp_path))
    assert len(server.requests) == n
    assert again["api"]["requests"] == 0 and again["files"] == {
        k: {**v, "source": "cache", "source_detail": again["files"][k]["source_detail"],
            "retrieved_at": again["files"][k]["retrieved_at"]}
        for k, v in manifest["files"].items()
    }  # fmt: skip


def test_v2_sample_without_detail_is_noted_not_fatal(server, tmp_path):
    serve_v2(server)
    server.add(f"{API}/v2/samples/SAMEA100004", b"gone", status=404)
    manifest = fetch_dataset(
        "mg", block(server, "MGYS00009001", page_size=3), fetch_settings(tmp_path)
    )
    assert manifest["available"] is True
    assert any("SAMEA100004 (HTTP 404)" in n for n in manifest["api"]["notes"])
    raw = Path(manifest["files"]["samples"]["path"]).read_text().splitlines()
    header = raw[0].split("\t")
    rows = {r.split("\t")[0]: dict(zip(header, r.split("\t"), strict=True)) for r in raw[1:]}
    assert (
        rows["ERR1000006"]["host body site"] == ""
        and rows["ERR1000001"]["host body site"] == "feces"
    )


def test_v2_404_falls_back_to_v1(server, tmp_path):
    serve_v1(server)  # nothing is served under /v2: every v2 request is a 404
    ds = block(server, "MGYS00009002")
    manifest = fetch_dataset("mg1", ds, fetch_settings(tmp_path))
    assert manifest["available"] is True, manifest["reason"]
    api = manifest["api"]
    assert api["version"] == "v1"
    assert any("404" in n and "v1" in n for n in api["notes"])
    assert (
        api["table"]["alias"] == "ERP9002_taxonomy_abundances_SSU_v5.0.tsv"
    )  # newest SSU, not LSU
    assert server.count(f"{API}/v2/studies/MGYS00009002") == 1
    # JSON:API paging, 2 items per page: downloads 5 → 3 pages, analyses 4 → 2, samples 3 → 2
    assert server.count(f"{API}/v1/studies/MGYS00009002/downloads") == 3
    assert server.count(f"{API}/v1/studies/MGYS00009002/analyses") == 2
    assert server.count(f"{API}/v1/studies/MGYS00009002/samples") == 2
    assert api["pages"] == {"analyses": 2, "samples": 2}

    info = import_dataset("mg1", ds, manifest, tmp_path / "imp")
    assert info["n_samples"] == 3
    table, samples, _ = load_imported(tmp_path / "imp")
    assert list(samples["sample_id"]) == ["ERR2000001", "ERR2000002", "ERR2000003"]
    assert list(samples["body_site"]) == ["gut", "gut", "skin"]
    assert list(samples["sex"]) == ["female", "male", "female"]
    assert table.depths().tolist() == [15, 10, 12]
    raw = (Path(manifest["files"]["samples"]["path"])).read_text().splitlines()
    header = raw[0].split("\t")
    first = dict(zip(header, raw[1].split("\t"), strict=True))
    # ERR2000001 was analysed by pipelines 5.0 and 4.1: the row of the table's pipeline (5.0) is kept
    assert first["pipeline_version"] == "5.0" and first["analysis_accession"] == "MGYA91000001"
    assert first["biome"] == "root:Host-associated:Human:Digestive system"


def test_v1_pipeline_can_be_chosen(server, tmp_path):
    serve_v1(server)
    manifest = fetch_dataset(
        "mg1", block(server, "MGYS00009002", api="v1", pipeline="4.1"), fetch_settings(tmp_path)
    )
    assert manifest["api"]["table"]["alias"] == "ERP9002_taxonomy_abundances_SSU_v4.1.tsv"
    assert server.count(f"{API}/v2/studies/MGYS00009002") == 0  # api: v1 skips v2


def test_v2_without_the_summary_falls_back_to_v1_with_a_note(server, tmp_path):
    serve_v2(server, with_ssu=False)
    serve_v1(server, study="MGYS00009001")
    manifest = fetch_dataset("mg", block(server, "MGYS00009001"), fetch_settings(tmp_path))
    assert manifest["api"]["version"] == "v1"
    assert any("no SSU study summary" in n for n in manifest["api"]["notes"])


def test_forced_v2_404_makes_the_dataset_unavailable(server, tmp_path):
    manifest = fetch_dataset(
        "mg", block(server, "MGYS00009003", api="v2"), fetch_settings(tmp_path)
    )
    assert manifest["available"] is False
    assert "404" in manifest["reason"] and "MGYS00009003" in manifest["reason"]
    assert manifest["files"] == {}


# --------------------------------------------------------------------------------------------------------
# Listing studies by biome
# --------------------------------------------------------------------------------------------------------


def test_list_studies_by_biome_lineage_v2_and_v1(server, tmp_path):
    studies = [
        {"accession": f"MGYS0000000{k}", "title": f"S{k}", "biome": {"lineage": LINEAGES["skin"]}}
        for k in range(1, 6)
    ]
    server.add_handler(f"{API}/v2/studies/", lambda r: paged_v2(studies, r))
    settings = ApiSettings(cache_dir=tmp_path / "c", requests_per_second=1000, progress=False)
    with ApiClient(settings) as client:
        got, paged, version = list_studies(client, "skin", base_url=server.url(API), page_size=2)
    assert version == "v2" and paged.pages == 3
    assert [s["accession"] for s in got] == [f"MGYS0000000{k}" for k in range(1, 6)]
    reqs = server.requests_to(f"{API}/v2/studies/")
    assert {r.query["biome_lineage"][0] for r in reqs} == {"root:Host-associated:Human:Skin"}

    v1 = [
        {"type": "studies", "id": "MGYS00000410", "attributes": {"study-name": "Gut v1"},
         "relationships": {"biomes": {"data": [{"type": "biomes", "id": LINEAGES["gut"]}]}}}
    ]  # fmt: skip
    other = FaultServer().start()
    try:
        other.add_handler(
            f"{API}/v1/studies", lambda r: jsonapi_pages(v1, 2, other.url(f"{API}/v1/studies"), r)
        )
        with ApiClient(settings) as client:
            got, _, version = list_studies(client, "gut", base_url=other.url(API))
        assert version == "v1"
        assert got == [
            {
                "accession": "MGYS00000410",
                "title": "Gut v1",
                "biome": LINEAGES["gut"],
                "ena_accessions": [],
            }
        ]
        assert other.requests_to(f"{API}/v1/studies")[0].query["lineage"] == [LINEAGES["gut"]]
    finally:
        other.stop()


# --------------------------------------------------------------------------------------------------------
# The TSV reader
# --------------------------------------------------------------------------------------------------------


def test_reader_v1_layout_and_registry(tmp_path):
    path = FIXTURES / "mgnify_v1_taxonomy_abundances_SSU_v5.0.tsv"
    table = read_table(path, "mgnify_tsv")
    assert list(table.sample_ids) == ["ERR2000001", "ERR2000002", "ERR2000003"]
    assert list(table.feature_ids) == [
        "sk__Bacteria;k__;p__Firmicutes",
        "sk__Bacteria;k__;p__Bacteroidetes",
        "sk__Bacteria;k__;p__Proteobacteria",
    ]
    assert table.counts.toarray().tolist() == [[12, 3, 0], [0, 9, 1], [7, 0, 5]]
    assert table.taxonomy is not None and table.taxonomy.iloc[0] == "sk__Bacteria;k__;p__Firmicutes"


def test_reader_qiime_layout_duplicates_and_comment(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text(
        "# Constructed from biom file\n"
        "#OTU ID\tR1\tR2\ttaxonomy\n"
        "1\t5\t0\tk__Bacteria;p__A\n"
        "2\t1\t2\tk__Bacteria;p__B\n"
        "1\t2\t3\tk__Bacteria;p__A\n"
    )
    table = read_taxonomy_tsv(path)
    assert list(table.feature_ids) == ["1", "2"]
    assert table.counts.toarray().tolist() == [[7, 1], [3, 2]]  # OTU 1 summed: 5+2, 0+3
    assert table.taxonomy is not None and list(table.taxonomy) == [
        "k__Bacteria;p__A",
        "k__Bacteria;p__B",
    ]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("#SampleID\tR1\nx\t1.5\n", r"line 2, column 'R1'\): '1.5' is not a whole number"),
        ("#SampleID\tR1\tR2\nx\t1\n", "row has 2 fields but the header has 3"),
        ("#SampleID\tR1\nx\tabc\n", "'abc' is not a number"),
        ("#SampleID\tR1\nx\t-1\n", "non-negative"),
        ("#SampleID\tR1\tR1\nx\t1\t2\n", "duplicate run column"),
        ("", "empty"),
    ],
)
def test_reader_errors_name_the_place(tmp_path, body, match):
    path = tmp_path / "bad.tsv"
    path.write_text(body)
    with pytest.raises(InputError, match=match) as err:
        read_taxonomy_tsv(path)
    assert str(path) in str(err.value)


def test_reader_relative_values(tmp_path):
    path = tmp_path / "rel.tsv"
    path.write_text("#SampleID\tR1\tR2\na\t0.25\t1\nb\t0.75\t0\n")
    table = read_taxonomy_tsv(path, values="relative")
    assert np.allclose(table.counts.toarray(), [[0.25, 0.75], [1.0, 0.0]])
