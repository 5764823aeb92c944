"""Newick tree files: read, check, prune, store and load the phylogeny of a table's features.

A reader in the ``files.tree`` role (:data:`gutskin.io.TREE_READERS` ``"newick"``) and the format of the
tree the import step stores next to an imported table (``tree.nwk``, see :mod:`gutskin.layout`). The
checks are those Faith PD and UniFrac need (:mod:`gutskin.diversity.phylogeny` uses them): a rooted
tree whose tips are uniquely named and whose every branch has a finite length >= 0.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..errors import InputError
from ..layout import TREE_NWK

__all__ = ["check_tree", "import_tree", "load_tree", "prepare_tree", "read_newick", "write_newick"]


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
    buf = io.StringIO()
    tree.write(buf, format="newick")
    text = buf.getvalue()
    if not text.endswith("\n"):
        text += "\n"
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def load_tree(import_dir: str | Path) -> Any | None:
    """The tree of an imported dataset (``<import_dir>/tree.nwk``), or ``None`` when there is none.

    A missing or empty ``tree.nwk`` means the dataset has no tree.
    """
    path = Path(import_dir) / TREE_NWK
    if not path.is_file() or path.stat().st_size == 0:
        return None
    return read_newick(path)


def prepare_tree(
    tree: Any, feature_ids: Sequence[str] | np.ndarray, *, source: str | Path | None = None
) -> Any:
    """Check ``tree`` against a table's features and prune it to them.

    Parameters
    ----------
    tree
        A rooted :class:`skbio.TreeNode` with branch lengths.
    feature_ids
        The table's features; each must be a tip of the tree.
    source
        Named in error messages (the tree file).

    Returns
    -------
    skbio.TreeNode
        A copy holding only the paths to ``feature_ids`` (``TreeNode.shear``: single-child nodes are
        merged, summing their branch lengths, so every root-to-tip distance and so Faith PD and
        UniFrac are unchanged).

    Raises
    ------
    InputError
        If a feature is not a tip, or a tip name repeats, or a branch lacks a length.
    """
    check_tree(tree, source)
    wanted = [str(f) for f in feature_ids]
    tips = {t.name for t in tree.tips()}
    missing = [f for f in wanted if f not in tips]
    if missing:
        raise InputError(
            source,
            f"{len(missing)} of the table's {len(wanted)} features are not tips of the tree "
            f"(e.g. {', '.join(map(repr, missing[:3]))})",
            hint="the tree must hold every feature of the table (use the tree that came with it)",
        )
    if not wanted:
        raise InputError(source, "the table has no features to place on the tree")
    if len(wanted) == 1:
        raise InputError(
            source,
            "the table has a single feature; phylogenetic diversity needs at least two tips",
        )
    if len(tips) == len(wanted):
        out = tree.copy()
    else:
        out = tree.shear(wanted)
    out.prune()
    if out.length is not None or len(out.children) > 2:
        # pruning made an inner node the root and kept the length of the branch above it (the path to
        # the original root, which Faith PD and UniFrac count); keep it as an ordinary branch under a
        # new root, so that every Newick reader sees it and the tree stays rooted
        from skbio import TreeNode

        if out.length is None:
            out.length = 0.0
        out = TreeNode(children=[out])
    return out


def import_tree(
    tree: Any | None,
    feature_ids: Sequence[str] | np.ndarray,
    out_path: str | Path,
    *,
    source: str | Path | None = None,
) -> dict[str, Any] | None:
    """Store a dataset's tree for the diversity step (``results/import/{dataset}/tree.nwk``).

    The tree is checked and pruned to the table's features (:func:`prepare_tree`) and written as
    Newick, atomically. Without a tree (``tree=None``) an empty file is written, which
    :func:`load_tree` reads as "no tree" — so the file can be a declared output of every import job
    and a stale tree from an earlier run never survives.

    Returns
    -------
    dict or None
        ``{"file", "n_tips", "n_tips_source", "n_tips_removed", "total_branch_length"}`` for
        ``import.json``; ``None`` without a tree.

    Raises
    ------
    InputError
        As :func:`prepare_tree` (a feature that is not a tip, an unrooted tree, missing lengths).
    """
    out_path = Path(out_path)
    if tree is None:
        atomic_write(out_path, lambda fh: None)
        return None
    n_source = sum(1 for _ in tree.tips())
    pruned = prepare_tree(tree, feature_ids, source=source)
    write_newick(pruned, out_path)
    n_tips = sum(1 for _ in pruned.tips())
    total = float(sum(n.length or 0.0 for n in pruned.traverse(include_self=False)))
    return {
        "file": out_path.name,
        "n_tips": n_tips,
        "n_tips_source": n_source,
        "n_tips_removed": n_source - n_tips,
        "total_branch_length": total,
    }
