"""Newick tree files: read, check and write the phylogeny of a table's features.

A reader in the ``files.tree`` role (:data:`gutskin.io.TREE_READERS` ``"newick"``) and the format of the
tree the import step stores next to an imported table (``tree.nwk``, see :mod:`gutskin.layout`). The
checks are those Faith PD and UniFrac need (:mod:`gutskin.diversity.phylogeny` uses them): a rooted
tree whose tips are uniquely named and whose every branch has a finite length >= 0.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["check_tree", "read_newick", "write_newick"]


def check_tree(tree: Any, source: str | Path | None) -> None:
    """Check that ``tree`` is a rooted :class:`skbio.TreeNode` with unique named tips and lengths.

    Raises
    ------
    InputError
        Naming ``source`` and what is wrong (unnamed or repeated tips, unrooted, a missing length).
    """
    from skbio import TreeNode

    if not isinstance(tree, TreeNode):
        raise InputError(source, f"expected a skbio.TreeNode, got {type(tree).__name__}")
    names: dict[str, int] = {}
    n_tips = 0
    for tip in tree.tips():
        n_tips += 1
        if tip.name is None or tip.name == "":
            raise InputError(
                source, "a tip of the tree has no name", hint="every tip must be a feature id"
            )
        names[tip.name] = names.get(tip.name, 0) + 1
    if n_tips == 0:
        raise InputError(source, "the tree has no tips")
    dups = [k for k, v in names.items() if v > 1]
    if dups:
        raise InputError(
            source,
            f"{len(dups)} tip name(s) occur more than once (e.g. {', '.join(map(repr, dups[:3]))})",
            hint="tip names must be unique feature ids",
        )
    if len(tree.children) > 2:
        raise InputError(
            source,
            f"the tree's root has {len(tree.children)} children, so the tree is unrooted (as ape's "
            "is.rooted() and scikit-bio see it)",
            hint="Faith PD and UniFrac need a rooted tree: root it first, e.g. at its midpoint "
            "(R: phangorn::midpoint(); Python: skbio TreeNode.root_at_midpoint())",
        )
    for node in tree.traverse(include_self=False):
        if node.length is None or not np.isfinite(node.length) or node.length < 0:
            name = node.name if node.name else "an unnamed internal node"
            raise InputError(
                source,
                f"branch above {name!r} has length {node.length!r}; every branch needs a finite "
                "length >= 0",
                hint="Faith PD and UniFrac need a tree with branch lengths",
            )


def read_newick(path: str | Path) -> Any:
    """Read a Newick tree (standard Newick: an underscore in an unquoted name is a space).

    Returns
    -------
    skbio.TreeNode

    Raises
    ------
    InputError
        If the file is missing, empty, not Newick, or its tips are unnamed or repeated, or a branch
        has no length.
    """
    from skbio import TreeNode

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found", hint="check the fetch or import step")
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        raise InputError(path, "the tree file is empty")
    if not text.endswith(";"):
        raise InputError(
            path,
            "not a Newick tree (it does not end with ';')",
            hint="the file may be truncated; fetch it again",
        )
    try:
        tree = TreeNode.read(io.StringIO(text), format="newick")
    except Exception as exc:  # skbio raises NewickFormatError and others
        raise InputError(path, f"cannot parse the Newick tree ({exc})") from None
    check_tree(tree, path)
    return tree


def write_newick(tree: Any, path: str | Path) -> None:
    """Write ``tree`` as Newick, atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    tree.write(buf, format="newick")
    text = buf.getvalue()
    if not text.endswith("\n"):
        text += "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
