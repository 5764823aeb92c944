"""The JSON Schemas ship inside the package; an installed wheel works without the repository.

``workflow/schemas/*.schema.yaml`` is the one copy that is edited; ``src/gutskin/schemas/`` holds a
relative symlink to each, which the wheel build resolves into real files (package data).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gutskin.config import load_schema, schema_names

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ROOT / "src" / "gutskin" / "schemas"
WORKFLOW = ROOT / "workflow" / "schemas"


def test_every_workflow_schema_is_packaged():
    packaged = sorted(p.name for p in PACKAGED.glob("*.schema.yaml"))
    workflow = sorted(p.name for p in WORKFLOW.glob("*.schema.yaml"))
    assert packaged == workflow, (
        "each workflow/schemas/<name>.schema.yaml needs its link in src/gutskin/schemas/: "
        "cd src/gutskin/schemas && ln -s ../../../workflow/schemas/<name>.schema.yaml ."
    )
    for name in packaged:
        assert (PACKAGED / name).read_bytes() == (WORKFLOW / name).read_bytes(), name


def test_schemas_are_read_from_the_package():
    assert schema_names() == sorted(
        p.name.removesuffix(".schema.yaml") for p in PACKAGED.glob("*.yaml")
    )
    assert load_schema("config")["properties"]["seed"]["type"] == "integer"


def test_unknown_schema_is_a_config_error():
    from gutskin.errors import ConfigError

    with pytest.raises(ConfigError, match="no such schema"):
        load_schema("nope")


def test_wheel_installs_and_validates_a_config_outside_the_repository(tmp_path):
    src = tmp_path / "src_copy"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # a checkout as git makes it: the package's schema links point into workflow/schemas
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "src", src / "src", symlinks=True, ignore=ignore)
    shutil.copytree(WORKFLOW, src / "workflow" / "schemas")
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("gutskin-*.whl")
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(ROOT / "config" / "config.yaml", outside / "config.yaml")
    (outside / "bad.yaml").write_text("seed: not-a-number\n")
    probe = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(target)!r})
        import gutskin, gutskin.config, gutskin.layout, gutskin.diversity.registry
        from gutskin.errors import ConfigError
        assert gutskin.__file__.startswith({str(target)!r}), gutskin.__file__
        cfg = gutskin.config.load_and_validate("config.yaml", "config")
        assert cfg["beta_metrics"] and cfg["rarefaction"]["depth"] > 0
        try:
            gutskin.config.load_and_validate("bad.yaml", "config")
        except ConfigError as exc:
            assert "seed" in str(exc), exc
        else:
            raise SystemExit("a bad config was accepted")
        print("ok", sorted(gutskin.config.schema_names()))
        """
    )
    run = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        cwd=outside,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok ['claims', 'config', 'datasets', 'samples']")
