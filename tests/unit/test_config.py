"""Configuration: schema defaults, validation messages, and documentation of every key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gutskin.config import config_hash, load_and_validate, load_schema, validate
from gutskin.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _keys(schema: dict, root: dict, out: set[str]) -> set[str]:
    if "$ref" in schema:
        node = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        return _keys(node, root, out)
    for key, sub in schema.get("properties", {}).items():
        out.add(key)
        _keys(sub, root, out)
    if isinstance(schema.get("items"), dict):
        _keys(schema["items"], root, out)
    if isinstance(schema.get("additionalProperties"), dict):
        _keys(schema["additionalProperties"], root, out)
    return out


@pytest.mark.parametrize("name", ["config", "datasets", "claims"])
def test_every_key_has_a_description(name: str) -> None:
    schema = load_schema(name)
    missing = []

    def walk(node: dict, path: str) -> None:
        if "$ref" in node:
            return
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub and "$ref" not in sub:
                missing.append(f"{path}/{key}")
            walk(sub, f"{path}/{key}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], path + "/*")
        for key, sub in node.get("$defs", {}).items():
            walk(sub, f"$defs/{key}")

    walk(schema, "")
    assert not missing, f"keys without a description in {name}.schema.yaml: {missing}"


def test_optional_config_keys_have_defaults() -> None:
    schema = load_schema("config")
    no_default = [k for k, v in schema["properties"].items() if "default" not in v]
    assert not no_default


@pytest.mark.parametrize("name", ["config", "datasets", "claims"])
def test_config_readme_documents_every_key(name: str) -> None:
    readme = (REPO / "config" / "README.md").read_text()
    schema = load_schema(name)
    keys = _keys(schema, schema, set())
    # A key counts as documented when it appears in backticks, alone or as the last part of a dotted
    # path (`network.enabled`, `files.<role>.url`).
    undocumented = sorted(
        k for k in keys if not re.search(r"`(?:[\w<>.]+\.)?" + re.escape(k) + "`", readme)
    )
    assert not undocumented, f"config/README.md does not document: {undocumented}"


def test_repository_config_files_validate() -> None:
    cfg = load_and_validate(REPO / "config" / "config.yaml", "config")
    assert cfg["rarefaction"]["iterations"] >= 1
    load_and_validate(REPO / "config" / "datasets.yaml", "datasets")
    load_and_validate(REPO / "config" / "claims.yaml", "claims")


def test_defaults_are_filled_before_validation() -> None:
    cfg = validate({}, "config")
    # Values written in config.schema.yaml: filled in for every key left out.
    assert cfg["seed"] == 20261126
    assert cfg["network"]["give_up_after"] == 60
    assert cfg["rarefaction"] == {
        "depth": 1000,
        "iterations": 100,
        "beta_iterations": 10,
        "sensitivity_depth": 0.5,
    }


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param(
            yaml.safe_dump({"rarefaction": {"depth": -5}}), "rarefaction/depth", id="bad-value"
        ),
        pytest.param(
            "rarefction:\n  depth: 10\n",
            "rarefction",
            id="unknown-key",
            marks=pytest.mark.fault(
                "H20 unknown configuration key", "ConfigError naming the key", before="held"
            ),
        ),
        pytest.param(
            "seed: 1\nmirrors: [a, b\n",
            "line",
            id="yaml-syntax",
            marks=pytest.mark.fault(
                "H21 YAML syntax error", "ConfigError naming the line", before="held"
            ),
        ),
    ],
)
def test_a_bad_config_is_refused_naming_the_file_and_the_place(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_and_validate(path, "config")
    assert str(path) in str(err.value) and named in str(err.value)


def test_config_hash_is_stable_and_sensitive() -> None:
    a = config_hash({"a": 1, "b": [1, 2]})
    assert a == config_hash({"b": [1, 2], "a": 1})
    assert a != config_hash({"a": 2, "b": [1, 2]})
    assert len(a) == 12
