"""Loading and validating the YAML configuration files against their JSON Schemas.

Defaults declared in a schema are filled in *before* validation (so a key left out of the user's file takes
its documented default) and the same function is used by Snakemake (``common.smk``) and by the tests, so a
job on a cluster node sees exactly the same configuration as the head node.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError

#: The JSON Schemas ship with the package (``gutskin/schemas/<name>.schema.yaml``, package data), so an
#: installed gutskin validates configurations without the repository. In the repository they are edited
#: in ``workflow/schemas/`` (where Snakemake workflows keep them); ``src/gutskin/schemas/`` links to
#: each, and building a wheel copies the files in (``tests/unit/test_schemas_packaged.py``).
SCHEMA_PACKAGE = "gutskin.schemas"


def schema_names() -> list[str]:
    """Names of the shipped schemas (``config``, ``datasets``, ...)."""
    suffix = ".schema.yaml"
    files = resources.files(SCHEMA_PACKAGE).iterdir()
    return sorted(f.name[: -len(suffix)] for f in files if f.name.endswith(suffix))


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning syntax errors into a :class:`ConfigError` with the line number."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "file not found", hint="check the path given in config/config.yaml")
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise ConfigError(path, f"not valid YAML: {exc.problem}", where=where) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        raise ConfigError(path, f"not valid YAML: {exc}") from None


def load_schema(name: str) -> dict[str, Any]:
    """Load the shipped schema ``gutskin/schemas/<name>.schema.yaml`` (package data)."""
    resource = resources.files(SCHEMA_PACKAGE) / f"{name}.schema.yaml"
    if not resource.is_file():
        raise ConfigError(
            f"<schema {name!r}>",
            "no such schema in the gutskin package",
            hint=f"use one of {schema_names()}",
        )
    schema = yaml.safe_load(resource.read_text(encoding="utf-8"))
    if not isinstance(schema, dict):  # pragma: no cover - our own files
        raise ConfigError(f"<schema {name!r}>", "schema is not a mapping")
    return schema


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        return _resolve(node, root)
    return schema


def _fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    schema = _resolve(schema, root)
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            sub_r = _resolve(sub, root)
            if key not in instance and "default" in sub_r:
                instance[key] = copy.deepcopy(sub_r["default"])
            if key in instance:
                instance[key] = _fill_defaults(instance[key], sub_r, root)
        addl = schema.get("additionalProperties")
        if isinstance(addl, dict):
            for key in list(instance):
                if key not in props:
                    instance[key] = _fill_defaults(instance[key], addl, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [_fill_defaults(item, schema["items"], root) for item in instance]
    return instance


def _format_path(path: Iterator[Any] | Any) -> str:
    parts = [str(p) for p in path]
    return "/".join(parts) if parts else "(top level)"


def validate(
    instance: Any, schema: str | Mapping[str, Any], *, source: str | Path = "<config>"
) -> Any:
    """Fill schema defaults into a copy of ``instance`` and validate it.

    Parameters
    ----------
    instance
        The parsed YAML document.
    schema
        A shipped schema's name (``gutskin/schemas/<name>.schema.yaml``, see :func:`schema_names`)
        or a schema mapping.
    source
        The file the instance came from, named in error messages.

    Returns
    -------
    The instance with defaults filled in.

    Raises
    ------
    ConfigError
        Naming the file, the key path and what is expected, for the first (most relevant) error.
    """
    schema_d = load_schema(schema) if isinstance(schema, str) else schema
    filled = _fill_defaults(
        copy.deepcopy(instance if instance is not None else {}), schema_d, schema_d
    )
    validator_cls = jsonschema.validators.validator_for(schema_d)
    validator = validator_cls(schema_d)
    errors = sorted(validator.iter_errors(filled), key=lambda e: (len(e.path), e.path))
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        key = _format_path(err.absolute_path)
        expected = err.schema.get("description") if isinstance(err.schema, dict) else None
        hint = f"expected: {expected}" if expected else "see config/README.md for this key"
        more = f" ({len(errors) - 1} more problem(s) after this one)" if len(errors) > 1 else ""
        raise ConfigError(source, f"{err.message}{more}", where=f"key {key}", hint=hint)
    return filled


def load_and_validate(path: str | Path, schema: str) -> Any:
    """Read ``path`` and validate it against the named schema (defaults filled in)."""
    return validate(load_yaml(path), schema, source=path)


def config_hash(*objects: Any) -> str:
    """A short, stable hash of configuration objects (canonical JSON, sha256, first 12 hex digits)."""
    h = hashlib.sha256()
    for obj in objects:
        h.update(json.dumps(obj, sort_keys=True, default=str, ensure_ascii=True).encode())
    return h.hexdigest()[:12]
