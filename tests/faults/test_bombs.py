"""F2: decompression bombs are refused by size, naming the file and limits.max_inflated_bytes.

The bombs are small on disk (a few kB) and inflate to 8 MiB; the limit is lowered to 1 MiB for the test
(the same code path as the 4 GiB default, without allocating gigabytes).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from gutskin.errors import DataUnavailable, InputError
from gutskin.fetch import fetch, settings_from_config
from gutskin.io import inflate_limit, read_biom, read_samples, read_table
from gutskin.sources.http import ApiClient
from tests.support.httpserver import FaultServer, Response
from tests.support.net import fast_api_settings, fast_fetch_settings

LIMIT = 1024 * 1024
BIG = 8 * 1024 * 1024


def gz_file(path: Path, head: bytes, pad: bytes = b" ") -> Path:
    co = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    data = co.compress(head) + co.compress(pad * BIG) + co.flush()
    path.write_bytes(data)
    assert len(data) < 64 * 1024
    return path


@pytest.mark.parametrize(
    ("name", "head", "pad", "read"),
    [
        pytest.param(
            "t.biom.gz",
            b'{"id": "x", "rows": [',
            b" ",
            read_biom,
            id="biom-json",
            marks=pytest.mark.fault(
                "F2 decompression bomb: BIOM JSON .biom.gz",
                "InputError naming the file and limits.max_inflated_bytes; never a MemoryError",
                before="failed",
            ),
        ),
        pytest.param(
            "t.biom.gz",
            b"\x89HDF\r\n\x1a\n",
            b"\0",
            read_biom,
            id="biom-hdf5",
            marks=pytest.mark.fault(
                "F2 decompression bomb: BIOM HDF5 .biom.gz",
                "InputError naming the file and limits.max_inflated_bytes",
                before="failed",
            ),
        ),
        pytest.param(
            "map.txt.gz",
            b"#SampleID\tX\nS1\t",
            b"a",
            lambda p: read_samples(p, "qiime_mapping", id_column="#SampleID"),
            id="sample-sheet",
            marks=pytest.mark.fault(
                "F2 decompression bomb: sample sheet and R file",
                "InputError naming the file and limits.max_inflated_bytes (mapping .txt.gz, .rds)",
                before="failed",
            ),
        ),
        pytest.param(
            "ps.rds",
            b"X\n\0\0\0\x03",
            b"\0",
            lambda p: read_table(p, "phyloseq_rds"),
            id="r-file",
            marks=pytest.mark.fault(
                "F2 decompression bomb: sample sheet and R file",
                "InputError naming the file and limits.max_inflated_bytes (mapping .txt.gz, .rds)",
                before="failed",
            ),
        ),
    ],
)
def test_a_file_bomb_is_refused_by_size(
    tmp_path: Path, name: str, head: bytes, pad: bytes, read: Callable[[Path], object]
) -> None:
    p = gz_file(tmp_path / name, head, pad)
    with inflate_limit(LIMIT), pytest.raises(InputError, match="max_inflated_bytes") as err:
        read(p)
    assert str(p) in str(err.value)


@pytest.mark.fault(
    "F2 decompression bomb: Content-Encoding gzip download",
    "DataUnavailable naming limits.max_inflated_bytes; nothing large written, no .part file",
    before="failed",
)
def test_content_encoding_bomb_download(server: FaultServer, tmp_path: Path) -> None:
    plain = b"\0" * BIG
    body = gzip.compress(plain, 9)
    url = server.add_handler(
        "/bomb.txt", lambda _r: Response(body=body, headers={"Content-Encoding": "gzip"})
    )
    s = fast_fetch_settings(tmp_path, max_inflated_bytes=LIMIT, retries=0)
    with pytest.raises(DataUnavailable, match="max_inflated_bytes"):
        fetch(url, hashlib.sha256(plain).hexdigest(), s)
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert all(p.stat().st_size <= LIMIT for p in files)
    assert not [p for p in files if ".part-" in p.name or p.name == "bomb.txt"]


@pytest.mark.fault(
    "F2 decompression bomb: Content-Encoding gzip API answer",
    "DataUnavailable naming the cap; nothing cached",
    before="failed",
)
def test_content_encoding_bomb_api(server: FaultServer, tmp_path: Path) -> None:
    plain = b'{"a": "' + b" " * BIG + b'"}'
    url = server.add_handler(
        "/api/bomb",
        lambda _r: Response(body=gzip.compress(plain, 9), headers={"Content-Encoding": "gzip"}),
    )
    api = fast_api_settings(tmp_path, max_inflated_bytes=LIMIT, retries=0)
    with ApiClient(api) as client, pytest.raises(DataUnavailable, match="inflates to more than"):
        client.get_json(url)
    assert not list((tmp_path / "cache").rglob("*.json"))


@pytest.mark.fault(
    "F2 decompression bomb: the limit is configuration",
    "limits.max_inflated_bytes reaches the fetch settings; a bad value is a ConfigError naming the key",
    before="failed",
)
def test_limit_is_configurable(tmp_path: Path) -> None:
    from gutskin.config import validate
    from gutskin.errors import ConfigError

    filled = validate({}, "config")
    assert filled["limits"]["max_inflated_bytes"] == 4 * 1024**3
    s = settings_from_config({"limits": {"max_inflated_bytes": 1234}})
    assert s.max_inflated_bytes == 1234
    with pytest.raises(ConfigError, match="limits/max_inflated_bytes"):
        settings_from_config({"limits": {"max_inflated_bytes": "big"}})
    with pytest.raises(ConfigError, match="max_inflated_bytes"):
        validate({"limits": {"max_inflated_bytes": 0}}, "config")
    assert json.dumps(filled["limits"])  # JSON-able (recorded in manifests)
