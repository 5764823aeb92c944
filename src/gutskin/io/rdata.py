"""Readers for R data files: ``.rds`` and ``.rda``/``.RData`` holding microbiome objects.

Public microbiome data are often shared as R objects. This module reads them in Python with the
`rdata <https://rdata.readthedocs.io>`_ *parser* (the serialized object tree) and converts only what it
needs, with its own checks, so that every problem is an :class:`~gutskin.errors.InputError` naming the
file, the object and the slot or element at fault.

Containers
----------
``.rds``
    One serialized object (``saveRDS``); plain, gzip-, bzip2- or xz-compressed.
``.rda`` / ``.RData``
    A workspace (``save``): several named objects. The readers pick the object to read by its *path*
    (``object="peerj32$phyloseq"``: the workspace object ``peerj32``, then its list element
    ``phyloseq``) or, without one, the only object of the wanted kind (also looked for one level down,
    inside named lists). In an ``.rds`` file the path starts at the stored object (``object=""`` is the
    object itself).

Objects
-------
phyloseq (S4, ``phyloseq`` package)
    Slots ``otu_table`` (a numeric matrix with the logical attribute ``taxa_are_rows``), ``sam_data``
    (a data frame), ``tax_table`` (a character matrix, taxa × ranks) and ``phy_tree`` (an ``ape``
    ``phylo`` list); an empty slot is R's ``NULL`` symbol.
"MicrobiomeData" list (``MicrobiomeStat`` convention)
    A named list with ``feature.tab`` (numeric matrix, features × samples), ``meta.dat`` (data frame, one
    row per sample) and optionally ``feature.ann`` (character matrix, features × ranks).

Formats (``format`` in ``config/datasets.yaml``)
------------------------------------------------
``phyloseq_rds``, ``phyloseq_rda``
    A phyloseq object in an ``.rds`` file or an ``.rda``/``.RData`` workspace: feature table
    (:data:`TABLE_READERS`), sample data (:data:`SAMPLE_READERS`) and tree (:data:`TREE_READERS`).
``rds_microbiome_list``
    A MicrobiomeData list in an ``.rds`` file: feature table and sample data.

The same file usually serves several roles (table, samples, tree): list it under each role of the
dataset's ``files`` with the same URL and sha256 (it is fetched once). A parsed file is kept in a small
cache, so reading three roles of one file parses it once.

Sample data come back as raw metadata in the shape of :mod:`gutskin.io.mapping`: every column as text
(numbers formatted as R prints them: ``64``, ``22.04``; factors as their labels; logicals as ``TRUE`` /
``FALSE``; ``NA`` as missing; surrounding white space stripped), the data frame's **row names as the
first column, named** ``row.names`` (so ``samples.id_column: row.names``), the index naming each row
(``"row 3 of sam_data"``) for error messages.

Taxonomy becomes one lineage string per feature: the ranks joined with ``;``, each prefixed ``k__``,
``p__``, ``c__``, ``o__``, ``f__``, ``g__``, ``s__`` by its rank name (Kingdom/Domain, Phylum, Class,
Order, Family, Genus, Species; case-insensitive) unless the value already carries such a prefix;
``NA`` gives the bare prefix (``g__``), as in Greengenes. :func:`read_phyloseq_taxonomy` returns the
rank table exactly as stored.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError, close_matches_note
from ..taxonomy import RANK_PREFIX
from ._compressed import decompress_bytes
from .table import VALUE_KINDS, FeatureTable

__all__ = [
    "RFile",
    "ReaderLimitation",
    "describe_r_file",
    "phylo_to_tree",
    "read_microbiome_list_samples",
    "read_microbiome_list_table",
    "read_phyloseq_samples",
    "read_phyloseq_table",
    "read_phyloseq_taxonomy",
    "read_phyloseq_tree",
    "read_r_file",
]

_REDOWNLOAD = (
    "delete the file (and its copy under resources/cache) and run the workflow again so that it is "
    "downloaded and checked against its sha256"
)
_RDA_MAGIC = (b"RDX2\n", b"RDX3\n", b"RDA2\n", b"RDA3\n", b"RDB2\n", b"RDB3\n")
_RDS_MAGIC = (b"X\n", b"A\n", b"B\n")
_NULL_SYMBOL = "\x01NULL\x01"
_PREFIXED = re.compile(r"^[a-zA-Z]__")
ROW_NAMES = "row.names"


# ---------------------------------------------------------------------- the parsed file
@dataclass(frozen=True)
class RFile:
    """A parsed R data file.

    Attributes
    ----------
    path
        The file.
    kind
        ``"rds"`` (one object) or ``"rda"`` (a workspace of named objects).
    objects
        Top-level objects by name (``rdata`` parser objects); an ``.rds`` file has one, named ``""``.
    """

    path: Path
    kind: str
    objects: dict[str, Any]

    def label(self, name: str) -> str:
        """How to call the top-level object ``name`` in messages."""
        return "the stored object" if self.kind == "rds" else f"object {name!r}"


def _decompress(path: Path, raw: bytes) -> bytes:
    return decompress_bytes(path, raw, what="compressed R file")


def _container(path: Path, data: bytes) -> str:
    if data.startswith(_RDA_MAGIC):
        return "rda"
    if data.startswith(_RDS_MAGIC):
        return "rds"
    head = data[:16]
    looks_text = head and all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    seen = head.decode("ascii", "replace") if looks_text else head.hex(" ")
    raise InputError(
        path,
        f"not an R data file (.rds, .rda or .RData): it starts with {seen!r}",
        hint="check the file's format in config/datasets.yaml, or " + _REDOWNLOAD,
    )


#: Serialization types that are a header only and that rdata 1.1 lacks → a stand-in type it knows.
_HEADER_ONLY = {252: 251, 250: 241}  # UNBOUNDVALUE_SXP → MISSINGARG; BASENAMESPACE_SXP → BASEENV


class ReaderLimitation(NotImplementedError):
    """Something in a (well-formed) R file that gutskin's R reader does not implement."""


@functools.cache
def _xdr_parser_class() -> type:
    """The ``rdata`` XDR parser, extended with R RAW vectors (``RAWSXP``, type 24).

    ``rdata`` 1.1 raises ``NotImplementedError`` for RAW vectors, which some phyloseq objects hold
    (e.g. inside the byte-compiled functions stored with the object). In R's serialization a RAW
    vector is its header, a 32-bit length and that many bytes (no padding), then its attributes if
    the header flags them. Its value here is a ``numpy.uint8`` array. Byte-code constants of ordinary
    types are read as ordinary items (see below), as R's ``ReadBCConsts`` does.
    """
    from rdata.parser._parser import (
        BYTECODE_SPECIAL_SET,
        RObject,
        RObjectType,
        parse_r_object_info,
    )
    from rdata.parser._xdr import ParserXDR

    class _ParserXDRWithRaw(ParserXDR):  # type: ignore[misc]
        def parse_R_object(
            self,
            reference_list: list[Any] | None = None,
            bytecode_rep_list: list[Any] | None = None,
            info_int: int | None = None,
        ) -> Any:
            if info_int is None:
                # An ordinary item (its header is in the stream): R's ReadItem, which never sees the
                # byte-code "reps" table of an enclosing byte-code object. Passing it on (as rdata
                # 1.1 does) makes a byte-compiled closure among byte-code constants skip its own
                # reps count and misreads everything after it.
                bytecode_rep_list = None
                start = self.file.tell()
                peek = self.parse_int()
                if peek & 0xFF in _HEADER_ONLY:
                    # R_UnboundValue / R_BaseNamespace: a header and nothing else, which rdata
                    # 1.1 does not know; read as the nearest type it does (no content either).
                    stand_in = (peek & ~0xFF) | _HEADER_ONLY[peek & 0xFF]
                    return RObject(
                        info=parse_r_object_info(stand_in),
                        tag=None,
                        attributes=None,
                        value=None,
                        referenced_object=None,
                    )
                info = parse_r_object_info(peek)
                if info.type in (RObjectType.SPECIAL, RObjectType.BUILTIN):
                    # A primitive function: the length and the bytes of its name.
                    name = self.parse_string(self.parse_int())
                    return RObject(
                        info=info, tag=None, attributes=None, value=name, referenced_object=None
                    )
                if info.type == RObjectType.RAW:
                    length = self.parse_int()
                    value = np.frombuffer(self.parse_string(length), dtype=np.uint8).copy()
                    attributes = None
                    if info.attributes:
                        attributes = self.parse_R_object(
                            [] if reference_list is None else reference_list, bytecode_rep_list
                        )
                    return RObject(
                        info=info,
                        tag=None,
                        attributes=attributes,
                        value=value,
                        referenced_object=None,
                    )
                self.file.seek(start)
            elif RObjectType(info_int) not in BYTECODE_SPECIAL_SET:
                # A byte-code constant of an ordinary type (R's ReadBCConsts: `default: ReadItem`)
                # is a complete item whose own header follows. rdata 1.1 parses it but then reads
                # the parts of a closure / promise / pairlist among such constants as if they were
                # byte-code language cells, and fails; reading it as an ordinary item is R's rule.
                return self.parse_R_object(reference_list, bytecode_rep_list)
            return super().parse_R_object(reference_list, bytecode_rep_list, info_int)

    return _ParserXDRWithRaw


def _parse_bytes(data: bytes, kind: str) -> Any:
    """Parse decompressed R serialization bytes (XDR with RAW vectors; other formats by ``rdata``)."""
    from rdata import parser

    body = data[5:] if kind == "rda" else data
    if body.startswith(b"X\n"):
        from rdata.parser._parser import DEFAULT_ALTREP_MAP

        reader = _xdr_parser_class()(
            memoryview(body[2:]), expand_altrep=True, altrep_constructor_dict=DEFAULT_ALTREP_MAP
        )
        return reader.parse_all()
    return parser.parse_data(data, extension=".rds" if kind == "rds" else None)


@functools.lru_cache(maxsize=4)
def _parse_cached(path_str: str, size: int, mtime_ns: int) -> RFile:
    path = Path(path_str)
    data = _decompress(path, path.read_bytes())
    kind = _container(path, data)
    what = "workspace" if kind == "rda" else "object"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = _parse_bytes(data, kind)
    except NotImplementedError as exc:
        # Not a bad file: the serialization holds something gutskin's reader cannot read yet.
        raise InputError(
            path,
            f"gutskin's R reader (the Python package rdata, extended for RAW vectors) does not "
            f"implement part of this R {what}: {exc}. This is a limitation of gutskin's reader, "
            "not a sign that the file is damaged (its sha256 was checked when it was fetched)",
            hint="report it to the gutskin maintainers with the dataset's URL; meanwhile, export "
            "the object with R (e.g. write the otu_table and sample_data of a phyloseq object as "
            "TSV) and configure those files with formats wide_tsv and tsv",
        ) from None
    except Exception as exc:  # the parser raises many types on corrupt input
        raise InputError(
            path,
            f"cannot parse the R {what}: the data stop early or are malformed "
            f"({type(exc).__name__}: {exc})",
            hint=_REDOWNLOAD,
        ) from None
    root = parsed.object
    if kind == "rds":
        objects = {"": root}
    else:
        objects = {}
        for tag, value in _pairlist(root):
            objects[tag or f"[{len(objects) + 1}]"] = value
    return RFile(path=path, kind=kind, objects=objects)


def read_r_file(path: str | Path) -> RFile:
    """Parse an ``.rds`` or ``.rda``/``.RData`` file (cached by path, size and modification time).

    Raises
    ------
    InputError
        If the file is missing, empty, not an R data file, truncated or corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found", hint="check the fetch step's manifest")
    st = path.stat()
    if st.st_size == 0:
        raise InputError(path, "the file is empty", hint=_REDOWNLOAD)
    return _parse_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


# ---------------------------------------------------------------------- R object helpers
@functools.cache
def _types() -> Any:
    from rdata.parser import RObjectType

    return RObjectType


def _deref(obj: Any) -> Any:
    T = _types()
    while obj is not None and obj.info.type == T.REF:
        obj = obj.referenced_object
    return obj


def _sym_name(obj: Any) -> str | None:
    obj = _deref(obj)
    if obj is None or obj.info.type != _types().SYM:
        return None
    char = _deref(obj.value)
    return _char(char)


def _char(obj: Any) -> str | None:
    """Decode one CHARSXP (``None`` for ``NA_character_``)."""
    if obj is None or obj.value is None:
        return None
    raw = obj.value
    if isinstance(raw, str):
        return raw
    latin1 = bool(obj.info.gp & 4)
    if latin1:
        return bytes(raw).decode("latin-1")
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return bytes(raw).decode("latin-1")


def _pairlist(obj: Any) -> Iterator[tuple[str | None, Any]]:
    T = _types()
    obj = _deref(obj)
    while obj is not None and obj.info.type in (T.LIST, T.ATTRLIST, T.LANG, T.ATTRLANG):
        tag = _sym_name(obj.tag) if obj.tag is not None else None
        yield tag, _deref(obj.value[0])
        obj = _deref(obj.value[1])


def _attributes(obj: Any) -> dict[str, Any]:
    obj = _deref(obj)
    if obj is None or obj.attributes is None:
        return {}
    return {str(tag): value for tag, value in _pairlist(obj.attributes) if tag is not None}


def _is_null(obj: Any) -> bool:
    T = _types()
    obj = _deref(obj)
    if obj is None or obj.info.type in (T.NIL, T.NILVALUE):
        return True
    return obj.info.type == T.SYM and _sym_name(obj) == _NULL_SYMBOL


def _strings(obj: Any) -> list[str | None] | None:
    obj = _deref(obj)
    if obj is None or obj.info.type != _types().STR:
        return None
    return [_char(_deref(c)) for c in obj.value]


def _classes(obj: Any) -> list[str]:
    cls = _attributes(obj).get("class")
    out = _strings(cls) if cls is not None else None
    return [c for c in out or [] if c is not None]


def _names(obj: Any) -> list[str | None] | None:
    names = _attributes(obj).get("names")
    return _strings(names) if names is not None else None


def _type_name(obj: Any) -> str:
    obj = _deref(obj)
    if _is_null(obj):
        return "NULL"
    cls = _classes(obj)
    if cls:
        return cls[0]
    kind = obj.info.type.name
    return {
        "VEC": "list",
        "STR": "character",
        "REAL": "numeric",
        "INT": "integer",
        "LGL": "logical",
        "S4": "S4 object",
    }.get(kind, kind)


def _elements(obj: Any) -> list[tuple[str | None, Any]]:
    """Named elements of a generic vector (R list / data frame)."""
    obj = _deref(obj)
    if obj is None or obj.info.type not in (_types().VEC, _types().EXPR):
        return []
    values = [_deref(v) for v in obj.value]
    names = _names(obj) or [None] * len(values)
    return list(zip(names, values, strict=False))


def _numeric(obj: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(float64 values, missing mask)`` of a logical/integer/double vector, else ``None``."""
    T = _types()
    obj = _deref(obj)
    if obj is None or obj.info.type not in (T.LGL, T.INT, T.REAL):
        return None
    value = obj.value
    mask = np.ma.getmaskarray(value) if isinstance(value, np.ma.MaskedArray) else None
    arr = np.asarray(np.ma.getdata(value), dtype=np.float64).ravel()
    missing = np.isnan(arr) if mask is None else (mask.ravel() | np.isnan(arr))
    if obj.info.type in (T.LGL, T.INT) and mask is None:
        # NA_integer_ / NA_logical_ not converted to a mask: R's sentinel is INT_MIN
        missing = missing | (np.asarray(np.ma.getdata(value)).ravel() == np.iinfo(np.int32).min)
    return arr, missing


def _where(rfile: RFile, path: list[str]) -> str:
    head, *rest = path
    text = rfile.label(head)
    for part in rest:
        text += f", {part}"
    return text


# ---------------------------------------------------------------------- finding objects
def _child(obj: Any, name: str) -> Any | None:
    """``obj$name`` (named list element) or ``obj@name`` (S4 slot / attribute)."""
    for key, value in _elements(obj):
        if key == name:
            return value
    return _attributes(obj).get(name)


def _inventory(rfile: RFile) -> str:
    parts = []
    for name, obj in rfile.objects.items():
        label = "the stored object" if rfile.kind == "rds" else repr(name)
        inner = ""
        if _deref(obj).info.type == _types().VEC and not _classes(obj):
            elems = [f"{k}: {_type_name(v)}" for k, v in _elements(obj)[:8]]
            inner = " with elements " + ", ".join(elems) if elems else ""
        parts.append(f"{label} ({_type_name(obj)}{inner})")
    return "; ".join(parts) if parts else "nothing"


def _resolve_object(
    rfile: RFile,
    object_path: str | None,
    is_wanted: Callable[[Any], bool],
    what: str,
    fmt_hint: str,
) -> tuple[Any, list[str]]:
    """Return ``(object, description path)`` chosen by ``object_path`` or found by ``is_wanted``."""
    if object_path is not None:
        parts = [p for p in str(object_path).split("$")]
        if rfile.kind == "rda":
            head, rest = parts[0], parts[1:]
            if head not in rfile.objects:
                raise InputError(
                    rfile.path,
                    f"the workspace holds no object {head!r}; it holds {_inventory(rfile)}",
                    where=f"object {object_path!r}",
                    hint="fix the object name (R: load(file); ls())",
                )
            obj, desc = rfile.objects[head], [head]
        else:
            obj, desc = rfile.objects[""], [""]
            rest = [p for p in parts if p]
        for part in rest:
            nxt = None
            for key, value in _elements(obj):
                if key == part:
                    nxt = value
                    break
            if nxt is None:
                names = [str(k) for k, _ in _elements(obj)]
                raise InputError(
                    rfile.path,
                    f"{_where(rfile, desc)} has no element {part!r}"
                    + (
                        f" (elements: {', '.join(names)})" if names else " (it is not a named list)"
                    ),
                    where=f"object {object_path!r}",
                    hint="fix the object path (R: names(x))",
                )
            obj = nxt
            desc.append(f"element ${part}")
        if not is_wanted(obj):
            raise InputError(
                rfile.path,
                f"{_where(rfile, desc)} is a {_type_name(obj)}, not a {what}",
                where=f"object {object_path!r}",
                hint=fmt_hint,
            )
        return obj, desc

    found: list[tuple[Any, list[str], str]] = []
    for name, obj in rfile.objects.items():
        if is_wanted(obj):
            found.append((obj, [name], name))
            continue
        for key, value in _elements(obj):
            if key is not None and is_wanted(value):
                found.append((value, [name, f"element ${key}"], f"{name}${key}".lstrip("$")))
    if not found:
        raise InputError(
            rfile.path,
            f"no {what} in the file; it holds {_inventory(rfile)}",
            hint=fmt_hint,
        )
    if len(found) > 1:
        paths = ", ".join(repr(f[2]) for f in found)
        raise InputError(
            rfile.path,
            f"the file holds {len(found)} {what}s ({paths}); cannot tell which one to read",
            hint="choose one with the reader's `object` option, e.g. object=" + repr(found[0][2]),
        )
    return found[0][0], found[0][1]


def _is_phyloseq(obj: Any) -> bool:
    return "phyloseq" in _classes(obj)


def _is_microbiome_list(obj: Any) -> bool:
    names = {k for k, _ in _elements(obj)}
    return {"feature.tab", "meta.dat"} <= names


def _check_container(rfile: RFile, expect: str | None, fmt: str | None) -> None:
    if expect is None or rfile.kind == expect:
        return
    other = {"rds": "phyloseq_rds", "rda": "phyloseq_rda"}[rfile.kind]
    seen = "a single R object (.rds)" if rfile.kind == "rds" else "an R workspace (.rda/.RData)"
    raise InputError(
        rfile.path,
        f"format {fmt!r} expects an {'.rds file' if expect == 'rds' else '.rda/.RData workspace'}, "
        f"but the file is {seen}",
        where=f"format {fmt!r}",
        hint=f"use format {other} for this file in config/datasets.yaml",
    )


def _phyloseq(
    path: str | Path, object_path: str | None, expect: str | None = None, fmt: str | None = None
) -> tuple[RFile, Any, list[str]]:
    rfile = read_r_file(path)
    _check_container(rfile, expect, fmt)
    obj, desc = _resolve_object(
        rfile,
        object_path,
        _is_phyloseq,
        "phyloseq object",
        "for an R list with feature.tab / meta.dat use format rds_microbiome_list; otherwise export "
        "the data from R to BIOM/TSV",
    )
    return rfile, obj, desc


def _slot(rfile: RFile, obj: Any, desc: list[str], slot: str, *, required: bool = True) -> Any:
    value = _attributes(obj).get(slot)
    if value is None or _is_null(value):
        if not required:
            return None
        raise InputError(
            rfile.path,
            f"{_where(rfile, desc)} has {'an empty' if value is not None else 'no'} slot @{slot}",
            where=f"{_where(rfile, desc)}, slot @{slot}",
            hint="the phyloseq object lacks this component; check the file or use another source",
        )
    return value


# ---------------------------------------------------------------------- matrices and data frames
def _dimnames(obj: Any) -> tuple[list[str | None] | None, list[str | None] | None]:
    dn = _attributes(obj).get("dimnames")
    if dn is None or _is_null(dn):
        return None, None
    parts = [_strings(v) if not _is_null(v) else None for _, v in _elements(dn)]
    parts += [None] * (2 - len(parts))
    return parts[0], parts[1]


def _matrix_shape(rfile: RFile, obj: Any, where: str) -> tuple[int, int]:
    dim = _attributes(obj).get("dim")
    num = _numeric(dim) if dim is not None else None
    if num is None or num[0].size != 2:
        raise InputError(
            rfile.path,
            f"expected a matrix (a vector with a 2-element dim attribute), found a {_type_name(obj)}",
            where=where,
        )
    return int(num[0][0]), int(num[0][1])


def _check_ids(rfile: RFile, ids: list[str | None] | None, n: int, where: str, what: str) -> list:
    if ids is None or len(ids) != n:
        raise InputError(
            rfile.path,
            f"the matrix has no {what} names (dimnames)",
            where=where,
            hint="sample and feature ids are needed to match the table with its metadata",
        )
    bad = [i for i, x in enumerate(ids) if x is None or x == ""]
    if bad:
        raise InputError(
            rfile.path,
            f"{len(bad)} {what} name(s) are NA or empty",
            where=f"{where}, {what} {bad[0] + 1}",
        )
    seen: dict[str, int] = {}
    for x in ids:
        seen[str(x)] = seen.get(str(x), 0) + 1
    dup = [k for k, v in seen.items() if v > 1]
    if dup:
        raise InputError(rfile.path, f"duplicate {what} names: {', '.join(dup[:5])}", where=where)
    return [str(x) for x in ids]


def _abundance_table(
    rfile: RFile,
    obj: Any,
    where: str,
    *,
    taxa_are_rows: bool,
    values: str,
) -> tuple[sp.csr_array, list[str], list[str]]:
    """Samples × features CSR, sample ids, feature ids from an R numeric matrix."""
    if values not in VALUE_KINDS:
        raise ValueError(f"values must be one of {VALUE_KINDS}, not {values!r}")
    nrow, ncol = _matrix_shape(rfile, obj, where)
    num = _numeric(obj)
    if num is None:
        raise InputError(
            rfile.path, f"the abundance matrix is {_type_name(obj)}, not numbers", where=where
        )
    arr, missing = num
    if arr.size != nrow * ncol:
        raise InputError(
            rfile.path,
            f"the matrix holds {arr.size} values but its dim says {nrow} x {ncol}",
            where=where,
            hint=_REDOWNLOAD,
        )
    rows, cols = _dimnames(obj)
    row_ids = _check_ids(rfile, rows, nrow, where, "row")
    col_ids = _check_ids(rfile, cols, ncol, where, "column")
    mat = arr.reshape((nrow, ncol), order="F")
    miss = missing.reshape((nrow, ncol), order="F")
    if taxa_are_rows:
        mat, miss = mat.T, miss.T
        sample_ids, feature_ids = col_ids, row_ids
    else:
        sample_ids, feature_ids = row_ids, col_ids

    def cell(mask: np.ndarray) -> str:
        i, j = (int(v[0]) for v in np.nonzero(mask))
        return f"sample {sample_ids[i]!r}, feature {feature_ids[j]!r}"

    if miss.any():
        raise InputError(
            rfile.path,
            f"the abundance matrix holds {int(miss.sum())} NA value(s)",
            where=f"{where}, {cell(miss)}",
            hint="missing abundances must be 0; fix the object in R (x[is.na(x)] <- 0) if that is right",
        )
    if np.isinf(mat).any():
        raise InputError(
            rfile.path,
            "the abundance matrix holds infinite values",
            where=f"{where}, {cell(np.isinf(mat))}",
        )
    if (mat < 0).any():
        raise InputError(
            rfile.path,
            "the abundance matrix holds negative values; abundances must be >= 0",
            where=f"{where}, {cell(mat < 0)}",
            hint="check that the object holds raw abundances, not a log or centred transform",
        )
    if values == "counts":
        frac = mat != np.floor(mat)
        if frac.any():
            i, j = (int(v[0]) for v in np.nonzero(frac))
            raise InputError(
                rfile.path,
                f"the table holds non-integer values (e.g. {float(mat[i, j])!r}) but the dataset declares "
                "`values: counts`",
                where=f"{where}, {cell(frac)}",
                hint="declare `values: relative` (proportions) or `values: signal` (e.g. microarray "
                "intensities) for this dataset in config/datasets.yaml",
            )
    csr = sp.csr_array(np.ascontiguousarray(mat), dtype=np.float64)
    csr.eliminate_zeros()
    return csr, sample_ids, feature_ids


def _rank_table(
    rfile: RFile, obj: Any, where: str, feature_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """A character matrix taxa × ranks as a DataFrame (index: feature ids; NA = ``None``)."""
    nrow, ncol = _matrix_shape(rfile, obj, where)
    values = _strings(obj)
    if values is None:
        raise InputError(
            rfile.path, f"the taxonomy is {_type_name(obj)}, not a character matrix", where=where
        )
    rows, cols = _dimnames(obj)
    row_ids = _check_ids(rfile, rows, nrow, where, "row")
    ranks = [c if c else f"rank{j + 1}" for j, c in enumerate(cols or [None] * ncol)]
    data = np.array(values, dtype=object).reshape((nrow, ncol), order="F")
    df = pd.DataFrame(data, index=pd.Index(row_ids, name="feature_id"), columns=ranks, dtype=object)
    if feature_ids is not None:
        wanted = list(feature_ids)
        missing = [f for f in wanted if f not in df.index]
        if missing:
            raise InputError(
                rfile.path,
                f"{len(missing)} feature(s) of the abundance table have no taxonomy row "
                f"(e.g. {', '.join(missing[:3])})",
                where=where,
                hint="the taxonomy and the abundance table must list the same features",
            )
        df = df.loc[wanted]
    return df


def _lineages(ranks: pd.DataFrame) -> pd.Series:
    prefixes = [RANK_PREFIX.get(str(r).strip().lower(), "") for r in ranks.columns]
    out = []
    for row in ranks.itertuples(index=False, name=None):
        parts = []
        for prefix, value in zip(prefixes, row, strict=True):
            text = "" if value is None or pd.isna(value) else str(value).strip()
            if text.upper() == "NA":
                text = ""
            if text and _PREFIXED.match(text):
                parts.append(text)
            else:
                parts.append(prefix + text)
        out.append(";".join(parts))
    return pd.Series(out, index=ranks.index.astype(str), dtype=object, name="taxonomy")


def _format_number(value: float) -> str:
    if np.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _column_text(rfile: RFile, obj: Any, n: int, where: str) -> list[str | None]:
    T = _types()
    obj = _deref(obj)
    cls = _classes(obj)
    kind = obj.info.type
    if kind == T.STR:
        out = _strings(obj) or []
    elif "factor" in cls and kind == T.INT:
        levels = _strings(_attributes(obj).get("levels")) or []
        arr, missing = _numeric(obj)  # type: ignore[misc]
        out = []
        for v, m in zip(arr, missing, strict=True):
            if m:
                out.append(None)
                continue
            k = int(v)
            if not 1 <= k <= len(levels):
                raise InputError(
                    rfile.path,
                    f"factor code {k} is outside its {len(levels)} levels",
                    where=where,
                    hint=_REDOWNLOAD,
                )
            out.append(levels[k - 1])
    elif kind == T.LGL:
        arr, missing = _numeric(obj)  # type: ignore[misc]
        out = [None if m else ("TRUE" if v else "FALSE") for v, m in zip(arr, missing, strict=True)]
    elif kind in (T.INT, T.REAL):
        arr, missing = _numeric(obj)  # type: ignore[misc]
        if "Date" in cls:
            epoch = _dt.date(1970, 1, 1)
            out = [
                None if m else (epoch + _dt.timedelta(days=float(v))).isoformat()
                for v, m in zip(arr, missing, strict=True)
            ]
        else:
            out = [None if m else _format_number(v) for v, m in zip(arr, missing, strict=True)]
    else:
        raise InputError(
            rfile.path,
            f"the column is a {_type_name(obj)}, which cannot be read as one value per sample",
            where=where,
            hint="drop or flatten this column in R before saving, or ignore it by not mapping it",
        )
    if len(out) != n:
        raise InputError(
            rfile.path,
            f"the column has {len(out)} values but the data frame has {n} rows",
            where=where,
            hint=_REDOWNLOAD,
        )
    return [None if v is None else v.strip() for v in out]


def _row_names(rfile: RFile, obj: Any, n: int, where: str) -> list[str]:
    rn = _attributes(obj).get("row.names")
    if rn is None:
        return [str(i + 1) for i in range(n)]
    strings = _strings(rn)
    if strings is not None:
        names = strings
    else:
        num = _numeric(rn)
        if num is None:
            raise InputError(rfile.path, "the data frame's row names are unreadable", where=where)
        arr, missing = num
        if arr.size == 2 and missing[0]:
            # compact form c(NA, -n): automatic row names 1..n
            names = [str(i + 1) for i in range(int(abs(arr[1])))]
        else:
            names = [None if m else _format_number(v) for v, m in zip(arr, missing, strict=True)]
    if len(names) != n:
        raise InputError(
            rfile.path,
            f"the data frame has {len(names)} row names but {n} rows",
            where=where,
            hint=_REDOWNLOAD,
        )
    return _check_ids(rfile, names, n, where, "row")


def _data_frame(
    rfile: RFile,
    obj: Any,
    where: str,
    short: str,
    missing_values: Iterable[str],
) -> pd.DataFrame:
    """An R data frame as raw metadata (text columns; ``row.names`` first; index = row labels)."""
    elements = _elements(obj)
    if _deref(obj).info.type != _types().VEC:
        raise InputError(
            rfile.path, f"expected a data frame, found a {_type_name(obj)}", where=where
        )
    rn = _attributes(obj).get("row.names")
    if elements:
        first = _deref(elements[0][1])
        n = len(first.value) if first.value is not None else 0
    else:
        n = 0
    if rn is not None:
        strings = _strings(rn)
        if strings is not None:
            n = len(strings)
        else:
            num = _numeric(rn)
            if num is not None:
                arr, missing = num
                n = int(abs(arr[1])) if arr.size == 2 and missing[0] else arr.size
    columns: dict[str, list[str | None]] = {ROW_NAMES: list(_row_names(rfile, obj, n, where))}
    for name, value in elements:
        if name is None or name == "":
            raise InputError(rfile.path, "a column has no name", where=where)
        if name in columns:
            raise InputError(
                rfile.path,
                f"column name {name!r} appears twice"
                + (
                    " (the row names are exposed as a column of that name)"
                    if name == ROW_NAMES
                    else ""
                ),
                where=where,
            )
        columns[name] = _column_text(rfile, value, n, f"{where}, column {name!r}")
    missing_set = {str(m) for m in missing_values}
    data = np.empty((n, len(columns)), dtype=object)
    for j, values in enumerate(columns.values()):
        col = np.array(values, dtype=object)
        if missing_set and n:
            col[np.isin(col.astype(str), list(missing_set)) & (col != None)] = None  # noqa: E711
        data[:, j] = col
    index = pd.Index([f"row {i + 1} of {short}" for i in range(n)], name="line", dtype=object)
    df = pd.DataFrame(data, columns=list(columns), index=index).astype("str")
    df.attrs["source"] = str(rfile.path)
    df.attrs["id_column"] = ROW_NAMES
    return df


# ---------------------------------------------------------------------- phyloseq readers
def _otu(
    path: str | Path, values: str, object: str | None, expect: str | None, fmt: str | None
) -> tuple[RFile, Any, list[str], sp.csr_array, list[str], list[str]]:
    rfile, obj, desc = _phyloseq(path, object, expect, fmt)
    otu = _slot(rfile, obj, desc, "otu_table")
    where = f"{_where(rfile, desc)}, slot @otu_table"
    tar = _attributes(otu).get("taxa_are_rows")
    num = _numeric(tar) if tar is not None else None
    if num is None or num[0].size != 1 or num[1][0]:
        raise InputError(
            rfile.path,
            "the otu_table has no TRUE/FALSE taxa_are_rows slot, so its orientation is unknown",
            where=where,
            hint="re-save the object with phyloseq (otu_table(x, taxa_are_rows = TRUE))",
        )
    csr, samples, features = _abundance_table(
        rfile, otu, where, taxa_are_rows=bool(num[0][0]), values=values
    )
    return rfile, obj, desc, csr, samples, features


def _feature_table(
    rfile: Any,
    csr: Any,
    samples: Any,
    features: Any,
    values: str,
    ranks_node: Any | None,
    where: str,
) -> FeatureTable:
    """The read table, with lineages from ``ranks_node`` (a taxonomy table of the R object) if given."""
    taxonomy = None
    if ranks_node is not None:
        taxonomy = _lineages(_rank_table(rfile, ranks_node, where, features))
    return FeatureTable(
        counts=csr,
        sample_ids=np.asarray(samples, dtype="O"),
        feature_ids=np.asarray(features, dtype="O"),
        taxonomy=taxonomy,
        values=values,
    )


def read_phyloseq_table(
    path: str | Path,
    *,
    values: str = "counts",
    object: str | None = None,
    expect: str | None = None,
    fmt: str | None = None,
) -> FeatureTable:
    """Read the feature table of a phyloseq object (``otu_table``, with ``tax_table`` lineages).

    Parameters
    ----------
    path
        An ``.rds`` file or ``.rda``/``.RData`` workspace.
    values
        ``"counts"`` (every value must be a whole number), ``"relative"`` or ``"signal"``.
    object
        Path of the object (``"name"``, ``"name$element"``); ``None`` = the only phyloseq object.
    expect, fmt
        ``"rds"`` or ``"rda"``: the container the registered format expects (and its name, for the
        message); ``None`` accepts both.

    Returns
    -------
    FeatureTable
        Samples × features (orientation from ``taxa_are_rows``), zeros not stored; ``taxonomy`` from
        the ``tax_table`` slot when present (see the module docs for the lineage format).

    Raises
    ------
    InputError
        Not an R file, no (or several) phyloseq objects, a missing ``otu_table`` or
        ``taxa_are_rows``, missing dimnames, NA / negative / infinite values, non-integer counts with
        ``values="counts"``, or a ``tax_table`` that lacks some features.
    """
    rfile, obj, desc, csr, samples, features = _otu(path, values, object, expect, fmt)
    tax = _slot(rfile, obj, desc, "tax_table", required=False)
    where = f"{_where(rfile, desc)}, slot @tax_table"
    return _feature_table(rfile, csr, samples, features, values, tax, where)


def read_phyloseq_taxonomy(path: str | Path, *, object: str | None = None) -> pd.DataFrame:
    """The ``tax_table`` of a phyloseq object exactly as stored (index ``feature_id``; NA = ``None``).

    Raises
    ------
    InputError
        As :func:`read_phyloseq_table`, or when the ``tax_table`` slot is empty.
    """
    rfile, obj, desc = _phyloseq(path, object)
    tax = _slot(rfile, obj, desc, "tax_table")
    return _rank_table(rfile, tax, f"{_where(rfile, desc)}, slot @tax_table")


def read_phyloseq_samples(
    path: str | Path,
    *,
    id_column: str | None = None,
    missing_values: Iterable[str] = (),
    object: str | None = None,
    expect: str | None = None,
    fmt: str | None = None,
) -> pd.DataFrame:
    """Read the ``sam_data`` of a phyloseq object as raw metadata (see the module docs).

    Parameters
    ----------
    path, object, expect, fmt
        As :func:`read_phyloseq_table`.
    id_column
        The column with the sample ids; ``None`` or ``"row.names"`` = the row names (phyloseq's sample
        names). Another column must exist.
    missing_values
        Further values to read as missing, besides R's ``NA``.

    Raises
    ------
    InputError
        As :func:`read_phyloseq_table`; an empty ``sam_data`` slot; a list column; duplicate ids.
    """
    rfile, obj, desc = _phyloseq(path, object, expect, fmt)
    sam = _slot(rfile, obj, desc, "sam_data")
    where = f"{_where(rfile, desc)}, slot @sam_data"
    df = _data_frame(rfile, sam, where, "sam_data", missing_values)
    return _with_id_column(rfile, df, id_column, where)


def _with_id_column(
    rfile: RFile, df: pd.DataFrame, id_column: str | None, where: str
) -> pd.DataFrame:
    if id_column in (None, ROW_NAMES):
        return df
    if id_column not in df.columns:
        raise InputError(
            rfile.path,
            f"no sample-id column {id_column!r} in the data frame"
            + close_matches_note(str(id_column), df.columns)
            + f"; the row names are column {ROW_NAMES!r}",
            where=where,
            hint="set samples.id_column in config/datasets.yaml (row.names = the sample names)",
        )
    ids = df[id_column]
    if ids.isna().any() or ids.duplicated().any():
        bad = ids[ids.isna() | ids.duplicated(keep=False)]
        raise InputError(
            rfile.path,
            f"column {id_column!r} has missing or duplicate sample ids",
            where=f"{where}, {bad.index[0]}",
            hint="choose a column with one unique id per sample (or row.names)",
        )
    df.attrs["id_column"] = id_column
    return df


def read_phyloseq_tree(path: str | Path, *, object: str | None = None) -> Any:
    """The ``phy_tree`` of a phyloseq object as a :class:`skbio.TreeNode` (see :func:`phylo_to_tree`).

    Raises
    ------
    InputError
        As :func:`read_phyloseq_table`; an empty ``phy_tree`` slot; a malformed ``phylo`` object.
    """
    rfile, obj, desc = _phyloseq(path, object)
    tree = _slot(rfile, obj, desc, "phy_tree")
    where = f"{_where(rfile, desc)}, slot @phy_tree"
    if "phylo" not in _classes(tree):
        raise InputError(
            rfile.path,
            f"the phy_tree slot is a {_type_name(tree)}, not an ape 'phylo' tree",
            where=where,
        )
    parts = {k: v for k, v in _elements(tree)}

    def need(name: str) -> Any:
        if name not in parts or _is_null(parts[name]):
            raise InputError(
                rfile.path,
                f"the phylo tree has no {name!r} element",
                where=f"{where}, element ${name}",
                hint="UniFrac and Faith PD need a rooted tree with branch lengths",
            )
        return parts[name]

    edge = need("edge")
    dim = _attributes(edge).get("dim")
    num = _numeric(edge)
    dims = _numeric(dim) if dim is not None else None
    if num is None or dims is None or dims[0].size != 2 or int(dims[0][1]) != 2:
        raise InputError(
            rfile.path, "the edge element is not a 2-column matrix", where=f"{where}, $edge"
        )
    n_edge = int(dims[0][0])
    if num[0].size != 2 * n_edge or num[1].any():
        raise InputError(
            rfile.path, "the edge matrix has missing or too few values", where=f"{where}, $edge"
        )
    edge_arr = num[0].reshape((n_edge, 2), order="F").astype(np.int64)
    lengths = _numeric(need("edge.length"))
    tips = _strings(need("tip.label"))
    nnode = _numeric(need("Nnode"))
    if lengths is None or tips is None or nnode is None or nnode[0].size != 1:
        raise InputError(
            rfile.path,
            "edge.length, tip.label or Nnode has the wrong type",
            where=where,
            hint=_REDOWNLOAD,
        )
    node_labels = _strings(parts["node.label"]) if "node.label" in parts else None
    if lengths[1].any():
        i = int(np.flatnonzero(lengths[1])[0])
        raise InputError(
            rfile.path,
            f"{int(lengths[1].sum())} branch length(s) are NA",
            where=f"{where}, $edge.length[{i + 1}]",
            hint="UniFrac and Faith PD need every branch length",
        )
    return phylo_to_tree(
        edge_arr,
        lengths[0],
        tips,
        int(nnode[0][0]),
        node_labels,
        source=rfile.path,
        where=where,
    )


# ---------------------------------------------------------------------- MicrobiomeData list
def _microbiome_list(path: str | Path, object: str | None) -> tuple[RFile, Any, list[str]]:
    rfile = read_r_file(path)
    obj, desc = _resolve_object(
        rfile,
        object,
        _is_microbiome_list,
        "MicrobiomeData list (feature.tab, meta.dat)",
        "for a phyloseq object use format phyloseq_rds or phyloseq_rda",
    )
    return rfile, obj, desc


def read_microbiome_list_table(
    path: str | Path, *, values: str = "counts", object: str | None = None
) -> FeatureTable:
    """Read ``feature.tab`` (features × samples) and ``feature.ann`` of a MicrobiomeData list.

    Raises
    ------
    InputError
        Not an R file, no such list, a ``feature.tab`` that is not a numeric matrix with dimnames, NA /
        negative / non-integer values (with ``values="counts"``), a ``feature.ann`` missing features.
    """
    rfile, obj, desc = _microbiome_list(path, object)
    tab = _child(obj, "feature.tab")
    where = f"{_where(rfile, desc)}, element $feature.tab"
    csr, samples, features = _abundance_table(rfile, tab, where, taxa_are_rows=True, values=values)
    ann = _child(obj, "feature.ann")
    ann = None if ann is None or _is_null(ann) else ann
    where = f"{_where(rfile, desc)}, element $feature.ann"
    return _feature_table(rfile, csr, samples, features, values, ann, where)


def read_microbiome_list_samples(
    path: str | Path,
    *,
    id_column: str | None = None,
    missing_values: Iterable[str] = (),
    object: str | None = None,
) -> pd.DataFrame:
    """Read ``meta.dat`` of a MicrobiomeData list as raw metadata (row names = column ``row.names``)."""
    rfile, obj, desc = _microbiome_list(path, object)
    meta = _child(obj, "meta.dat")
    where = f"{_where(rfile, desc)}, element $meta.dat"
    df = _data_frame(rfile, meta, where, "meta.dat", missing_values)
    return _with_id_column(rfile, df, id_column, where)


# ---------------------------------------------------------------------- ape phylo -> TreeNode
def phylo_to_tree(
    edge: np.ndarray,
    edge_length: np.ndarray,
    tip_label: list[str | None],
    n_node: int,
    node_label: list[str | None] | None = None,
    *,
    source: str | Path | None = None,
    where: str = "phylo tree",
) -> Any:
    """Build a :class:`skbio.TreeNode` from the parts of an ``ape`` ``phylo`` object.

    In ``ape``, tips are nodes ``1..n`` (``n = len(tip_label)``), the root is node ``n + 1`` and the
    other internal nodes are ``n + 2 .. n + n_node``; row ``i`` of ``edge`` joins parent ``edge[i, 0]``
    to child ``edge[i, 1]`` by a branch of length ``edge_length[i]``. Children keep the order of
    ``edge`` (as ``ape`` writes Newick).

    Parameters
    ----------
    edge
        Integer matrix (n_edges × 2) of 1-based node numbers.
    edge_length
        Branch lengths, one per edge row (finite, >= 0).
    tip_label
        Tip names (unique, not missing).
    n_node
        Number of internal nodes.
    node_label
        Optional internal node labels (``n_node`` of them; empty or NA = unnamed).
    source, where
        Named in error messages.

    Returns
    -------
    skbio.TreeNode
        The rooted tree; the root has no length.

    Raises
    ------
    InputError
        Node numbers out of range, a node with two parents, a tip with children, nodes not connected
        to the root, missing or negative branch lengths, missing or duplicate tip labels.
    """
    from skbio import TreeNode

    edge = np.asarray(edge, dtype=np.int64)
    lengths = np.asarray(edge_length, dtype=np.float64)
    n_tip = len(tip_label)
    n_total = n_tip + int(n_node)
    if edge.ndim != 2 or edge.shape[1] != 2:
        raise InputError(source, "the edge matrix must have two columns", where=f"{where}, $edge")
    if lengths.shape != (edge.shape[0],):
        raise InputError(
            source,
            f"{lengths.size} branch lengths for {edge.shape[0]} edges",
            where=f"{where}, $edge.length",
        )
    if n_tip < 1 or n_node < 1:
        raise InputError(source, "the tree has no tips or no internal node", where=where)
    bad_tips = [i for i, t in enumerate(tip_label) if t is None or str(t) == ""]
    if bad_tips:
        raise InputError(
            source,
            f"{len(bad_tips)} tip label(s) are NA or empty",
            where=f"{where}, $tip.label[{bad_tips[0] + 1}]",
        )
    labels = [str(t) for t in tip_label]
    if len(set(labels)) != n_tip:
        seen: set[str] = set()
        dups = [t for t in labels if t in seen or seen.add(t)]  # type: ignore[func-returns-value]
        raise InputError(
            source, f"duplicate tip labels: {', '.join(dups[:5])}", where=f"{where}, $tip.label"
        )
    if ((edge < 1) | (edge > n_total)).any():
        i = int(np.flatnonzero(((edge < 1) | (edge > n_total)).any(axis=1))[0])
        raise InputError(
            source,
            f"edge {i + 1} names node {edge[i].tolist()} outside 1..{n_total} "
            f"({n_tip} tips + {n_node} internal nodes)",
            where=f"{where}, $edge[{i + 1}, ]",
            hint=_REDOWNLOAD,
        )
    if not np.isfinite(lengths).all() or (lengths < 0).any():
        i = int(np.flatnonzero(~np.isfinite(lengths) | (lengths < 0))[0])
        raise InputError(
            source,
            f"branch length {lengths[i]!r} of edge {i + 1} is not a finite number >= 0",
            where=f"{where}, $edge.length[{i + 1}]",
            hint="UniFrac and Faith PD need non-negative branch lengths (e.g. set tiny negative "
            "lengths from neighbour joining to 0 in R before saving)",
        )
    parents, children = edge[:, 0], edge[:, 1]
    if (parents <= n_tip).any():
        i = int(np.flatnonzero(parents <= n_tip)[0])
        raise InputError(
            source,
            f"tip {labels[parents[i] - 1]!r} (node {parents[i]}) has a child",
            where=f"{where}, $edge[{i + 1}, ]",
        )
    counts = np.bincount(children, minlength=n_total + 1)
    if counts[n_tip + 1]:
        raise InputError(
            source, f"the root (node {n_tip + 1}) has a parent", where=f"{where}, $edge"
        )
    twice = np.flatnonzero(counts > 1)
    if twice.size:
        raise InputError(
            source,
            f"node {int(twice[0])} has {int(counts[twice[0]])} parents",
            where=f"{where}, $edge",
        )
    orphans = [k for k in range(1, n_total + 1) if k != n_tip + 1 and counts[k] == 0]
    if orphans:
        k = orphans[0]
        name = labels[k - 1] if k <= n_tip else f"internal node {k}"
        raise InputError(
            source,
            f"{len(orphans)} node(s) are not joined to the tree (e.g. {name!r})",
            where=f"{where}, $edge",
        )
    nodes: list[Any] = [None] * (n_total + 1)
    for k in range(1, n_tip + 1):
        nodes[k] = TreeNode(name=labels[k - 1])
    inner = list(node_label or [])
    for k in range(n_tip + 1, n_total + 1):
        lab = inner[k - n_tip - 1] if k - n_tip - 1 < len(inner) else None
        nodes[k] = TreeNode(name=lab if lab not in (None, "") else None)
    for (p, c), length in zip(edge.tolist(), lengths.tolist(), strict=True):
        child = nodes[c]
        child.length = float(length)
        parent = nodes[p]
        parent.children.append(child)
        child.parent = parent
    root = nodes[n_tip + 1]
    # every node has one parent and the root none; a cycle would leave nodes unreachable
    reached = 0
    stack = [root]
    while stack:
        node = stack.pop()
        reached += 1
        stack.extend(node.children)
    if reached != n_total:
        raise InputError(
            source,
            f"the edges form a cycle: only {reached} of {n_total} nodes hang from the root",
            where=f"{where}, $edge",
        )
    return root


# ---------------------------------------------------------------------- inspection
def describe_r_file(path: str | Path) -> str:
    """One line listing the top-level objects of an R file and their classes (for messages)."""
    return _inventory(read_r_file(path))


# ---------------------------------------------------------------------- registry adapters
def _no_other_options(path: str | Path, fmt: str, options: dict[str, Any]) -> None:
    if options:
        raise InputError(
            path,
            f"option(s) {', '.join(sorted(options))} do not apply to format {fmt!r}",
            where=f"format {fmt!r}",
            hint="remove them from the file's options in config/datasets.yaml (this format takes "
            "`object` only)",
        )


def _phyloseq_rds_table(
    path: str | Path, *, values: str = "counts", object: str | None = None, **options: Any
) -> FeatureTable:
    _no_other_options(path, "phyloseq_rds", options)
    return read_phyloseq_table(path, values=values, object=object, expect="rds", fmt="phyloseq_rds")


def _phyloseq_rda_table(
    path: str | Path, *, values: str = "counts", object: str | None = None, **options: Any
) -> FeatureTable:
    _no_other_options(path, "phyloseq_rda", options)
    return read_phyloseq_table(path, values=values, object=object, expect="rda", fmt="phyloseq_rda")


def _phyloseq_samples(fmt: str, expect: str) -> Callable[..., pd.DataFrame]:
    def reader(
        path: str | Path,
        *,
        id_column: str | None = None,
        missing_values: Iterable[str] = (),
        object: str | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        _no_other_options(path, fmt, options)
        return read_phyloseq_samples(
            path,
            id_column=id_column,
            missing_values=missing_values,
            object=object,
            expect=expect,
            fmt=fmt,
        )

    reader.__name__ = f"read_{fmt}_samples"
    return reader


def _phyloseq_tree(fmt: str, expect: str) -> Callable[..., Any]:
    def reader(path: str | Path, *, object: str | None = None, **options: Any) -> Any:
        _no_other_options(path, fmt, options)
        _check_container(read_r_file(path), expect, fmt)
        return read_phyloseq_tree(path, object=object)

    reader.__name__ = f"read_{fmt}_tree"
    return reader


def _check_list_container(rfile: RFile) -> None:
    if rfile.kind == "rds":
        return
    raise InputError(
        rfile.path,
        "format 'rds_microbiome_list' expects an .rds file, but the file is an R workspace "
        f"(.rda/.RData) holding {_inventory(rfile)}",
        where="format 'rds_microbiome_list'",
        hint="save the list with saveRDS() or use format phyloseq_rda for a phyloseq object",
    )


def _microbiome_list_table(
    path: str | Path, *, values: str = "counts", object: str | None = None, **options: Any
) -> FeatureTable:
    _no_other_options(path, "rds_microbiome_list", options)
    _check_list_container(read_r_file(path))
    return read_microbiome_list_table(path, values=values, object=object)


def _microbiome_list_samples(
    path: str | Path,
    *,
    id_column: str | None = None,
    missing_values: Iterable[str] = (),
    object: str | None = None,
    **options: Any,
) -> pd.DataFrame:
    _no_other_options(path, "rds_microbiome_list", options)
    _check_list_container(read_r_file(path))
    return read_microbiome_list_samples(
        path, id_column=id_column, missing_values=missing_values, object=object
    )


#: Feature-table readers of this module by ``format`` name (merged into ``gutskin.io.TABLE_READERS``).
TABLE_READERS: dict[str, Callable[..., FeatureTable]] = {
    "phyloseq_rds": _phyloseq_rds_table,
    "phyloseq_rda": _phyloseq_rda_table,
    "rds_microbiome_list": _microbiome_list_table,
}

#: Sample-metadata readers by ``format`` name (merged into ``gutskin.io.SAMPLE_READERS``).
SAMPLE_READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "phyloseq_rds": _phyloseq_samples("phyloseq_rds", "rds"),
    "phyloseq_rda": _phyloseq_samples("phyloseq_rda", "rda"),
    "rds_microbiome_list": _microbiome_list_samples,
}

#: Tree readers by ``format`` name (merged into ``gutskin.io.TREE_READERS``).
TREE_READERS: dict[str, Callable[..., Any]] = {
    "phyloseq_rds": _phyloseq_tree("phyloseq_rds", "rds"),
    "phyloseq_rda": _phyloseq_tree("phyloseq_rda", "rda"),
}
