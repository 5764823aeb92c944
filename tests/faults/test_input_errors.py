"""F5 and empty tables: malformed inputs are InputErrors naming the file and place, never a traceback."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from gutskin.errors import InputError
from gutskin.io import read_biom, read_table
from gutskin.sources.archive import extract_zip
from tests.unit.test_io import biom_json_doc


def write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.fault(
    "F5a Qiita zip whose member is both a file and a folder",
    "InputError naming both members ('BIOM' and 'BIOM/1/t.biom'); nothing extracted",
    before="failed",
)
def test_zip_member_clash(tmp_path: Path) -> None:
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("BIOM", b"file")
        zf.writestr("BIOM/1/t.biom", b"table")
    with pytest.raises(InputError, match=r"'BIOM' is a file, but member 'BIOM/1/t\.biom'"):
        extract_zip(z, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@pytest.mark.fault(
    "F5b BIOM JSON with a non-numeric shape or a null id",
    "InputError naming key 'shape' (not a ValueError)",
    before="failed",
)
@pytest.mark.parametrize("shape", [["3", "x"], [3.5, 4], [True, 4], "3x4", None, [3]])
def test_biom_shape_not_numbers(tmp_path: Path, shape: object) -> None:
    p = write_json(tmp_path / "t.biom", biom_json_doc(shape=shape))
    with pytest.raises(InputError, match="shape") as err:
        read_biom(p)
    assert str(p) in str(err.value)


@pytest.mark.fault(
    "F5b BIOM JSON with a non-numeric shape or a null id",
    "InputError naming the entry (an id null never becomes the string 'None')",
    before="failed",
)
@pytest.mark.parametrize("key", ["rows", "columns"])
def test_null_id_is_an_error(tmp_path: Path, key: str) -> None:
    doc = biom_json_doc()
    doc[key][1]["id"] = None
    p = write_json(tmp_path / "t.biom", doc)
    with pytest.raises(InputError, match=rf"entry 1 of '{key}' has id null"):
        read_biom(p)


@pytest.mark.fault(
    "W3 table with 0 samples, 0 features or only zeros",
    "InputError naming the file and what is empty (not '(table: ; …)' or a rarefaction-depth error)",
    before="weak",
)
@pytest.mark.parametrize(
    ("doc", "what"),
    [
        ({"shape": [3, 0], "columns": [], "data": []}, "no samples"),
        ({"shape": [0, 4], "rows": [], "data": []}, "no features"),
        ({"data": []}, "only zeros"),
    ],
)
def test_empty_tables(tmp_path: Path, doc: dict, what: str) -> None:
    p = write_json(tmp_path / "t.biom", biom_json_doc(**doc))
    with pytest.raises(InputError, match=what) as err:
        read_table(p, "biom")
    assert str(p) in str(err.value)
