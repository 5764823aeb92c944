"""The layer contracts of src/gutskin ([tool.importlinter] in pyproject.toml) hold, and they bite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def test_contracts_have_no_exceptions():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert contracts
    for contract in contracts:
        assert "ignore_imports" not in contract, contract["name"]
        assert not contract.get("allow_indirect_imports"), contract["name"]


def test_contracts_are_kept():
    proc = _lint(ROOT / "src")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " broken" in proc.stdout and "0 broken" in proc.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    # the arrow this branch removed: the ground floor (taxonomy) reaching up into the readers
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "gutskin", src / "gutskin", ignore=shutil.ignore_patterns("__pycache__")
    )
    taxonomy = src / "gutskin" / "taxonomy.py"
    taxonomy.write_text(
        taxonomy.read_text(encoding="utf-8") + "\nfrom .io.table import FeatureTable\n"
    )
    proc = _lint(src)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout
    assert "gutskin.taxonomy -> gutskin.io.table" in proc.stdout


def _layered_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (house,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in house["layers"] for name in layer.split("|")}


def test_every_top_level_module_stands_in_a_layer():
    # a module outside the layers contract could close a circle unseen; each must be given its floor
    package = ROOT / "src" / "gutskin"
    found = {
        f"gutskin.{p.stem}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__")
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    layered = _layered_modules()
    assert not found - layered, f"not in a layer of [tool.importlinter]: {sorted(found - layered)}"
    assert not layered - found, f"named in the layers but absent: {sorted(layered - found)}"


def test_a_new_circle_breaks_the_layers(tmp_path):
    # readers reaching back up into the import step would close io -> importer -> io
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "gutskin", src / "gutskin", ignore=shutil.ignore_patterns("__pycache__")
    )
    wide = src / "gutskin" / "io" / "wide.py"
    wide.write_text(
        wide.read_text(encoding="utf-8")
        + "\n\ndef _late():\n    from ..importer import load_imported\n"
    )
    proc = _lint(src)
    assert proc.returncode != 0
    assert "gutskin.io.wide -> gutskin.importer" in proc.stdout
