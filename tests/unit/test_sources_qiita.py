"""Qiita archives: safe extraction (path escapes, links, zip bombs) and fetch → import end to end.

The archives are built here with :mod:`zipfile`; the BIOM inside is written from a count matrix typed in
by hand, so the imported table is compared with those hand-typed numbers.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from gutskin.errors import ConfigError, InputError
from gutskin.fetch import fetch_dataset, write_manifest
from gutskin.importer import import_dataset, load_imported
from gutskin.io import FeatureTable, write_biom
from gutskin.sources.archive import RECORD_NAME, ZipLimits, extract_zip
from gutskin.sources.qiita import archive_urls
from tests.support.httpserver import FaultServer
from tests.support.net import fast_fetch_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api"


def make_zip(path: Path, members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


# --------------------------------------------------------------------------------------------------------
# Safe extraction
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "C:/evil.txt", "a\\..\\evil.txt"],
)
@pytest.mark.fault(
    "H4 zip-slip member paths",
    "InputError naming the member; nothing written outside (or at) the destination",
    before="held",
)
def test_path_escapes_are_refused_and_nothing_is_written(tmp_path, name):
    zpath = make_zip(tmp_path / "bad.zip", {"ok.txt": b"fine", name: b"evil"})
    dest = tmp_path / "out" / "x"
    with pytest.raises(InputError) as err:
        extract_zip(zpath, dest)
    assert repr(name) in str(err.value) and str(zpath) in str(err.value)
    assert not dest.exists()
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # no temporary directory left


@pytest.mark.fault(
    "H5 symlink members in a zip",
    "InputError naming the member; nothing extracted",
    before="held",
)
def test_symlinks_are_refused(tmp_path):
    zpath = tmp_path / "link.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo("templates/link.txt")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        extract_zip(zpath, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_duplicate_member_names_are_refused(tmp_path):
    zpath = tmp_path / "dup.zip"
    with zipfile.ZipFile(zpath, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("a.txt", "one")
        zf.writestr("a.txt", "two")
    with pytest.raises(InputError, match="occurs twice"):
        extract_zip(zpath, tmp_path / "out")


@pytest.mark.fault(
    "H6 zip bomb (compression ratio)",
    "InputError naming max_ratio; nothing extracted",
    before="held",
)
def test_high_compression_ratio_is_a_zip_bomb(tmp_path):
    zeros = b"\0" * (2 * 1024 * 1024)  # deflates about 1000-fold
    zpath = make_zip(tmp_path / "bomb.zip", {"BIOM/1/table.biom": zeros})
    with pytest.raises(InputError, match="zip bomb") as err:
        extract_zip(zpath, tmp_path / "out", ZipLimits(max_ratio=200))
    assert "expands" in str(err.value) and "max_ratio" in str(err.value)
    assert not (tmp_path / "out").exists()
    # a generous limit lets the same archive through
    got = extract_zip(zpath, tmp_path / "out", ZipLimits(max_ratio=5000))
    assert Path(got.members["BIOM/1/table.biom"]["path"]).stat().st_size == len(zeros)


def test_total_size_and_file_count_limits(tmp_path):
    zpath = make_zip(
        tmp_path / "big.zip", {"a.txt": b"a" * 600, "b.txt": b"b" * 600}, method=zipfile.ZIP_STORED
    )
    with pytest.raises(InputError, match="max_total_bytes = 1000"):
        extract_zip(zpath, tmp_path / "o1", ZipLimits(max_total_bytes=1000))
    with pytest.raises(InputError, match="max_files = 1"):
        extract_zip(zpath, tmp_path / "o2", ZipLimits(max_files=1))
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_forged_member_size_is_not_trusted(tmp_path):
    data = b"a" * 100_000
    zpath = make_zip(tmp_path / "forged.zip", {"x.txt": data}, method=zipfile.ZIP_STORED)
    raw = bytearray(zpath.read_bytes())
    # declare an uncompressed size of 10 bytes in the local and the central header
    local = raw.find(b"PK\x03\x04")
    raw[local + 22 : local + 26] = (10).to_bytes(4, "little")
    central = raw.find(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")
    zpath.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"x\.txt"):
        extract_zip(zpath, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.fault(
    "H22 an archive that is not a zip",
    "InputError 'not a readable zip archive' with what to do",
    before="held",
)
def test_not_a_zip(tmp_path):
    bad = tmp_path / "page.zip"
    bad.write_text("<html>Error 500</html>")
    with pytest.raises(InputError, match="not a readable zip archive"):
        extract_zip(bad, tmp_path / "out")


def test_extraction_is_recorded_reused_and_repaired(tmp_path):
    zpath = make_zip(
        tmp_path / "ok.zip", {"templates/s.txt": b"sample_name\nA\n", "BIOM/1/t.biom": b"xyz"}
    )
    first = extract_zip(zpath, tmp_path / "out")
    assert not first.reused
    record = json.loads((tmp_path / "out" / RECORD_NAME).read_text())
    assert set(record["members"]) == {"templates/s.txt", "BIOM/1/t.biom"}
    again = extract_zip(zpath, tmp_path / "out")
    assert again.reused
    Path(again.members["BIOM/1/t.biom"]["path"]).write_bytes(b"tampered")
    third = extract_zip(zpath, tmp_path / "out")
    assert not third.reused
    assert Path(third.members["BIOM/1/t.biom"]["path"]).read_bytes() == b"xyz"


def test_limits_from_the_source_block_are_checked():
    assert ZipLimits.from_mapping({"max_ratio": 50}, source="d.yaml", where="k").max_ratio == 50
    with pytest.raises(InputError, match="unknown zip limit"):
        ZipLimits.from_mapping({"max_size": 5}, source="d.yaml", where="k")
    with pytest.raises(InputError, match="max_files"):
        ZipLimits.from_mapping({"max_files": 0}, source="d.yaml", where="k")


# --------------------------------------------------------------------------------------------------------
# A Qiita-style study served locally
# --------------------------------------------------------------------------------------------------------

# Hand-typed counts: rows are samples, columns features. Q1.s5 has no sample information.
SAMPLES = ["Q1.s1", "Q1.s2", "Q1.s3", "Q1.s4", "Q1.s5"]
FEATURES = ["OTU_A", "OTU_B", "OTU_C"]
COUNTS = np.array(
    [
        [10, 0, 5],
        [3, 7, 0],
        [0, 2, 9],
        [4, 4, 4],
        [1, 1, 1],
    ],
    dtype=float,
)


def biom_bytes(tmp_path: Path) -> bytes:
    table = FeatureTable(
        counts=sp.csr_array(COUNTS), sample_ids=np.array(SAMPLES), feature_ids=np.array(FEATURES)
    )
    path = tmp_path / "built" / "table.biom"
    write_biom(table, path)
    return path.read_bytes()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def serve_study(server: FaultServer, biom_zip: bytes, info_zip: bytes, study_id: int = 99) -> None:
    biom_url, info_url = archive_urls(server.base_url, study_id)
    server.add(
        biom_url[len(server.base_url) :], biom_zip, headers={"Content-Type": "application/zip"}
    )
    server.add(
        info_url[len(server.base_url) :], info_zip, headers={"Content-Type": "application/zip"}
    )


def dataset_block(server: FaultServer, **source) -> dict:
    return {
        "title": "Qiita test study",
        "values": "counts",
        "data_type": "amplicon_16s",
        "source": {"type": "qiita", "study_id": 99, "base_url": server.base_url, **source},
        "samples": {
            "id_column": "sample_name",
            "missing_values": ["not provided"],
            "columns": {
                "subject_id": {"from": "host_subject_id"},
                "body_site": {
                    "from": "body_site",
                    "map": {"UBERON:feces": "gut", "UBERON:skin": "skin"},
                },
                "condition": {"from": "skin_condition"},
                "age": {"from": "age_years", "type": "number"},
                "sex": {"from": "sex"},
            },
        },
    }


def fetch_settings(tmp_path: Path, **kw):
    return fast_fetch_settings(tmp_path, **{"retries": 1, **kw})


def test_qiita_fetch_then_import_end_to_end(server, tmp_path):
    info = (FIXTURES / "qiita_sample_information.txt").read_bytes()
    serve_study(
        server,
        zip_bytes(
            {
                "BIOM/4711/reference-hit.biom": biom_bytes(tmp_path),
                "BIOM/4711/4711_mapping_file.txt": b"x",
            }
        ),
        zip_bytes({"templates/99_20260101-000000.txt": info}),
    )
    block = dataset_block(server)
    manifest = fetch_dataset("qiita_test", block, fetch_settings(tmp_path))
    assert manifest["available"] is True, manifest["reason"]
    assert manifest["files"]["table"]["format"] == "biom"
    assert manifest["files"]["samples"]["format"] == "tsv"
    assert manifest["files"]["table"]["url"].endswith("#BIOM/4711/reference-hit.biom")
    assert manifest["api"]["chosen"] == {
        "table": "BIOM/4711/reference-hit.biom",
        "samples": "templates/99_20260101-000000.txt",
    }
    n_requests = len(server.requests)
    assert n_requests == 2
    write_manifest(manifest, tmp_path / "fetch.json")  # JSON-able, as the workflow writes it

    info_out = import_dataset("qiita_test", block, manifest, tmp_path / "import")
    assert info_out["available"] is True
    assert info_out["n_samples"] == 4
    assert info_out["dropped"] == {"not_in_table": 0, "not_in_mapping": 1}  # Q1.s5
    table, samples, _ = load_imported(tmp_path / "import")
    assert list(table.sample_ids) == ["Q1.s1", "Q1.s2", "Q1.s3", "Q1.s4"]
    dense = table.counts.toarray()
    order = [FEATURES.index(f) for f in table.feature_ids]
    assert np.array_equal(dense, COUNTS[:4][:, order])
    assert list(samples["condition"]) == ["psoriasis", "none", "eczema", "none"]
    assert list(samples["body_site"]) == ["gut", "gut", "skin", "gut"]
    ages = samples["age"].to_numpy()
    assert ages[0] == 34 and np.isnan(ages[2])  # "not provided" is missing

    # a second run asks nothing of the server, and works without the network
    again = fetch_dataset("qiita_test", block, fetch_settings(tmp_path, network=False))
    assert len(server.requests) == n_requests
    assert again["files"]["table"]["sha256"] == manifest["files"]["table"]["sha256"]
    assert again["files"]["table"]["source"] == "cache"


def test_corrupted_cached_archive_is_downloaded_again(server, tmp_path):
    info = (FIXTURES / "qiita_sample_information.txt").read_bytes()
    serve_study(
        server,
        zip_bytes({"BIOM/1/t.biom": biom_bytes(tmp_path)}),
        zip_bytes({"templates/s.txt": info}),
    )
    block = dataset_block(server)
    first = fetch_dataset("q", block, fetch_settings(tmp_path))
    zpath = Path(first["api"]["archives"]["biom"]["path"])
    zpath.write_bytes(zpath.read_bytes()[:-10] + b"0123456789")
    second = fetch_dataset("q", block, fetch_settings(tmp_path))
    assert second["api"]["archives"]["biom"]["source"] == "network"
    assert second["api"]["archives"]["biom"]["sha256"] == first["api"]["archives"]["biom"]["sha256"]
    assert len(server.requests) == 3


def test_qiita_archive_without_a_biom_is_a_clear_error(server, tmp_path):
    info = (FIXTURES / "qiita_sample_information.txt").read_bytes()
    serve_study(
        server,
        zip_bytes({"BIOM/4711/4711_mapping_file.txt": b"x", "README.txt": b"no tables"}),
        zip_bytes({"templates/s.txt": info}),
    )
    with pytest.raises(InputError) as err:
        fetch_dataset("q", dataset_block(server), fetch_settings(tmp_path))
    msg = str(err.value)
    assert "contains no BIOM table" in msg
    assert "'BIOM/4711/4711_mapping_file.txt'" in msg and "study_id" in msg


def test_several_bioms_need_a_glob(server, tmp_path):
    info = (FIXTURES / "qiita_sample_information.txt").read_bytes()
    biom = biom_bytes(tmp_path)
    serve_study(
        server,
        zip_bytes({"BIOM/1/otu_table.biom": biom, "BIOM/2/reference-hit.biom": biom}),
        zip_bytes({"templates/s.txt": info}),
    )
    with pytest.raises(InputError, match="2 BIOM tables") as err:
        fetch_dataset("q", dataset_block(server), fetch_settings(tmp_path))
    assert "`biom`" in str(err.value)
    manifest = fetch_dataset("q", dataset_block(server, biom="BIOM/2/*"), fetch_settings(tmp_path))
    assert manifest["api"]["chosen"]["table"] == "BIOM/2/reference-hit.biom"


def test_unsafe_archive_from_the_server_stops_the_run(server, tmp_path):
    serve_study(
        server,
        zip_bytes({"../../outside.biom": b"x"}),
        zip_bytes({"templates/s.txt": b"sample_name\nA\n"}),
    )
    with pytest.raises(InputError, match=r"'\.\.' component"):
        fetch_dataset("q", dataset_block(server), fetch_settings(tmp_path))
    assert not list(tmp_path.rglob("outside.biom"))


def test_server_error_makes_the_dataset_unavailable(server, tmp_path):
    biom_url, _ = archive_urls(server.base_url, 99)
    server.add(biom_url[len(server.base_url) :], b"gone", status=410)
    manifest = fetch_dataset("q", dataset_block(server), fetch_settings(tmp_path))
    assert manifest["available"] is False
    assert "410" in manifest["reason"] and "qiita" in manifest["reason"]
    info = import_dataset("q", dataset_block(server), manifest, tmp_path / "imp")
    assert info["available"] is False and info["n_samples"] == 0


def test_bad_source_block_is_a_config_error(server, tmp_path):
    block = dataset_block(server)
    block["source"]["study"] = "MGYS1"
    with pytest.raises(ConfigError, match="unknown key") as err:
        fetch_dataset("q", block, fetch_settings(tmp_path))
    assert "datasets/q/source" in str(err.value)
    block = dataset_block(server)
    block["source"]["sha256"] = {"biom": "abc"}
    with pytest.raises(ConfigError, match="sha256"):
        fetch_dataset("q", block, fetch_settings(tmp_path))
    assert server.requests == []
