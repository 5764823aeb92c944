"""Random rooted trees (scikit-bio ``TreeNode``) for the phylogenetic tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def random_tree(
    n_tips: int,
    *,
    seed: int,
    max_children: int = 2,
    zero_fraction: float = 0.0,
    root_length: float | None = None,
    prefix: str = "F",
) -> tuple[Any, list[str]]:
    """A random rooted tree with tips ``{prefix}0 .. {prefix}{n_tips - 1}``.

    Random groups of 2 .. ``max_children`` subtrees are joined under a new node (``max_children`` > 2
    gives polytomies) until two remain, which become the root's children. Branch lengths are
    exponential (mean 0.1); a ``zero_fraction`` of them are 0. ``root_length`` is the length given to
    the root's own branch (``None``: none). Returns the tree and the tip names in tip-number order.
    """
    from skbio import TreeNode

    rng = np.random.default_rng(seed)

    def length() -> float:
        return 0.0 if rng.random() < zero_fraction else float(rng.exponential(0.1))

    names = [f"{prefix}{j}" for j in range(n_tips)]
    nodes = [TreeNode(name=nm, length=length()) for nm in names]
    while len(nodes) > 2:
        k = int(min(rng.integers(2, max_children + 1), len(nodes) - 1))
        picked = sorted(rng.choice(len(nodes), size=k, replace=False).tolist(), reverse=True)
        children = [nodes.pop(i) for i in picked]
        nodes.append(TreeNode(length=length(), children=children))
    root = TreeNode(children=nodes, length=root_length)
    return root, names
