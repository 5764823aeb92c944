"""Loading and validating the YAML configuration files against their JSON Schemas.

Defaults declared in a schema are filled in *before* validation (so a key left out of the user's file takes
its documented default) and the same function is used by Snakemake (``common.smk``) and by the tests, so a
job on a cluster node sees exactly the same configuration as the head node.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError, did_you_mean

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


_PYTHON_TAG = re.compile(r"!!python/|!<tag:yaml\.org,2002:python/")
_YTE_KEY = re.compile(r"^\s*['\"]?__use_yte__['\"]?\s*:", re.MULTILINE)


def guard_config_file(path: str | Path) -> None:
    """Refuse a config file that would run code when Snakemake loads it; call before ``configfile:``.

    Snakemake loads ``config.yaml`` with YTE, which executes the Python in a file that sets
    ``__use_yte__: true`` — even on a dry run. gutskin's configuration is data: such a file, and YAML
    ``!!python/...`` tags (which Snakemake would report as a misleading "tabs and whitespace" error), are
    refused with a :class:`ConfigError` naming the line, before Snakemake reads the file.

    Raises
    ------
    ConfigError
        ``__use_yte__`` at any level, a ``!!python/`` tag, or a YAML syntax error.
    """
    path = Path(path)
    if not path.is_file():
        return  # Snakemake reports a missing config file itself
    text = path.read_text(encoding="utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if _YTE_KEY.match(line):
            raise ConfigError(
                path,
                "`__use_yte__` turns on YTE templating, which runs the Python written in the file "
                "while it is loaded (even on a dry run); gutskin's configuration must be plain data",
                where=f"line {lineno}",
                hint="remove `__use_yte__` and the `?if`/`?for`/`?...` expressions; write the values "
                "out (or generate the file with a script you run yourself)",
            )
        if _PYTHON_TAG.search(line):
            raise ConfigError(
                path,
                "a `!!python/...` YAML tag asks the loader to build Python objects (or run code); "
                "configuration values must be plain YAML (strings, numbers, lists, mappings)",
                where=f"line {lineno}",
                hint="remove the tag and write the value as plain YAML",
            )
    load_yaml(
        path
    )  # a syntax error: our message with the line, not Snakemake's "tabs and whitespace"


def forget_unavailable(
    manifests: Iterable[str | Path], outputs: Iterable[str | Path] = ()
) -> list[Path]:
    """Delete the fetch manifests that say ``available: false``; return the ones deleted.

    Called by the workflow (``common.smk``, main process, not on a dry run) before it builds the job
    graph: a dataset that was unavailable on the last run (an HTTP 500, a timeout) has no manifest
    again, so Snakemake fetches it again instead of reporting "Nothing to be done". Manifests of
    available datasets are left alone.

    When one is deleted, so are ``outputs`` (the workflow passes the ledger, which reads every
    manifest): Snakemake does not rerun a job whose outputs exist only because an input it could make
    again is missing, so without this a finished run would stay "done" and never fetch the dataset.
    """
    gone: list[Path] = []
    for item in manifests:
        path = Path(item)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("available") is False:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                gone.append(path)
    if gone:
        for out in outputs:
            with contextlib.suppress(FileNotFoundError):
                Path(out).unlink()
    return gone


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


#: Keys of a claim's ``params`` (at any depth) that name sample-table columns used as covariates.
_COVARIATE_KEYS = ("covariates", "partial_covariates")
#: Covariates a runner derives from another key of the same params block (covariate -> that key).
_DERIVED_COVARIATES = {"n_other_conditions": "other_conditions"}
#: Keys that name diversity metrics, and the config key whose names they are (``metrics`` of
#: :func:`check_claims`: ``gutskin.diversity.registry.metric_names()``).
_METRIC_KEYS = {
    "metric": "alpha_metrics",
    "secondary_metrics": "alpha_metrics",
    "beta_metric": "beta_metrics",
}


def _dataset_columns(block: Any) -> set[str]:
    cols = (block.get("samples") or {}).get("columns") if isinstance(block, Mapping) else None
    return {str(k) for k in cols} if isinstance(cols, Mapping) else set()


def check_claims(
    claims: list[Mapping[str, Any]],
    datasets: Mapping[str, Any],
    *,
    metrics: Mapping[str, Sequence[str]],
    source: str | Path = "config/claims.yaml",
    claim_datasets: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Check what the schema cannot: names in each claim's ``params`` that must exist.

    - every covariate (``covariates``, ``partial_covariates`` at any depth) is a canonical column
      (``samples.schema.yaml``) or a column the claim's datasets declare (``samples.columns``). A claim
      with ``datasets: auto`` is checked against the datasets selected for it (``claim_datasets``, claim
      ID → datasets, from :func:`gutskin.claims.selection.resolve`), or, when that is not given, against
      every configured dataset (any of them may be selected);
    - the ``exposure`` of a block is not also one of its covariates (the model would hold the same
      column twice);
    - every metric name (``metric``, ``secondary_metrics``, ``beta_metric``) is a known metric:
      one of ``metrics["alpha_metrics"]`` or ``metrics["beta_metrics"]`` (the metric registry's names,
      ``gutskin.diversity.registry.metric_names()``; this module sits below the registry).

    A name that is not found would otherwise be dropped silently or stop the run later without a report.

    Raises
    ------
    ConfigError
        Naming the claim, the key path and the known names.
    """
    canonical = set(load_schema("samples").get("properties", {}))
    known_metrics = {key: [str(m) for m in metrics[key]] for key in set(_METRIC_KEYS.values())}

    def names(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(v) for v in value]
        return []

    for claim in claims:
        if not isinstance(claim, Mapping) or not claim.get("analysis"):
            continue
        cid = str(claim.get("id"))
        listed = claim.get("datasets") or []
        if isinstance(
            listed, str
        ):  # "auto": the datasets chosen for the claim, else any configured
            chosen = (claim_datasets or {}).get(cid)
            claim_ds = [str(d) for d in (chosen if chosen is not None else datasets)]
        else:
            claim_ds = [str(d) for d in listed]
        ds_words = ("datasets: auto, selected: " if isinstance(listed, str) else "") + (
            ", ".join(claim_ds) or "none"
        )
        all_cols = canonical.union(*(_dataset_columns(datasets.get(d)) for d in claim_ds))

        def walk(
            node: Any, path: str, cols: set[str], cid: str = cid, ds_words: str = ds_words
        ) -> None:
            if isinstance(node, list):
                for i, item in enumerate(node):
                    walk(item, f"{path}/{i}", cols)
                return
            if not isinstance(node, Mapping):
                return
            exposure = node.get("exposure")
            for key in _COVARIATE_KEYS:
                covs = names(node.get(key))
                for name in covs:
                    if name in _DERIVED_COVARIATES and _DERIVED_COVARIATES[name] in node:
                        continue
                    if name not in cols:
                        raise ConfigError(
                            source,
                            f"claim {cid}: covariate {name!r} is not a column of its datasets "
                            f"({ds_words})",
                            where=f"key claims/{cid}/{path}/{key}",
                            hint=did_you_mean(name, sorted(cols))
                            + "use a canonical column (workflow/schemas/samples.schema.yaml) or one "
                            "declared under samples.columns in config/datasets.yaml",
                        )
                if isinstance(exposure, str) and exposure in covs:
                    raise ConfigError(
                        source,
                        f"claim {cid}: the exposure {exposure!r} is also listed as a covariate",
                        where=f"key claims/{cid}/{path}/{key}",
                        hint=f"remove {exposure!r} from {key} (a model cannot adjust for its own exposure)",
                    )
            for key, config_key in _METRIC_KEYS.items():
                for name in names(node.get(key)):
                    if name not in known_metrics[config_key]:
                        raise ConfigError(
                            source,
                            f"claim {cid}: unknown metric {name!r}",
                            where=f"key claims/{cid}/{path}/{key}",
                            hint=f"use one of {', '.join(known_metrics[config_key])}",
                        )
            for key, value in node.items():
                if key == "per_dataset" and isinstance(value, Mapping):
                    for ds, sub in value.items():
                        walk(
                            sub,
                            f"{path}/per_dataset/{ds}",
                            canonical | _dataset_columns(datasets.get(ds)),
                        )
                elif isinstance(value, Mapping | list):
                    walk(value, f"{path}/{key}", cols)

        walk(claim.get("params") or {}, "params", all_cols)
