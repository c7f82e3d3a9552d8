"""Where every node of a complete binary tree goes in the scene (pure numbers, no Qt).

Leaves are laid out evenly on the bottom row; every inner node sits centred
over the leaves of its subtree, so a depth-8 tree's 256 leaves never overlap.
A node's filter image is as large as the room between it and its sibling
allows, up to a cap of a fourteenth of the tree's width: shallow trees get even,
big filters, and deep trees become a "fractal" whose upper levels are readable
when the whole tree is fitted to the window (roughly 2:1) and whose lower
levels are read by zooming in. Text sizes and gaps follow each level's size.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..core import topology

MIN_NODE = 36.0
LEAF_BARS_RATIO = 0.8  # leaf bar height / leaf width
MARGIN = 24.0


def label_height(size: float) -> float:
    """Room above an inner node of this size for its reachable-class text."""
    return max(14.0, 0.15 * size)


@dataclass(frozen=True)
class TreeLayout:
    depth: int
    leaf_pitch: float
    node_x: np.ndarray  # (n_inner,) centre x of each inner node's image
    node_y: np.ndarray  # (n_inner,) top y of the image
    node_size: np.ndarray  # (n_inner,) side of the square image
    leaf_x: np.ndarray  # (n_leaves,) centre x
    leaf_y: float  # top y of the bars
    leaf_w: float
    leaf_h: float  # height of the bars
    width: float
    height: float

    @property
    def n_inner(self) -> int:
        return len(self.node_x)

    def anchor_bottom(self, node: int) -> tuple[float, float]:
        """Where edges leave a node (bottom centre of its image)."""
        return float(self.node_x[node]), float(self.node_y[node] + self.node_size[node])

    def anchor_top(self, node: int) -> tuple[float, float]:
        """Where edges enter a node (above its class-set text, or the leaf's bars)."""
        if node < self.n_inner:
            return float(self.node_x[node]), float(self.node_y[node] - label_height(self.node_size[node]))
        return float(self.leaf_x[node - self.n_inner]), self.leaf_y - 3.0

    def edges(self) -> np.ndarray:
        """(n_nodes − 1, 4): x0, y0, x1, y1 of the edge into every node 1 … n_nodes − 1."""
        n_nodes = self.n_inner + len(self.leaf_x)
        out = np.empty((n_nodes - 1, 4), dtype=np.float64)
        for child in range(1, n_nodes):
            out[child - 1, :2] = self.anchor_bottom(topology.parent(child))
            out[child - 1, 2:] = self.anchor_top(child)
        return out


def leaf_pitch(depth: int) -> float:
    """Horizontal room per leaf: generous for shallow trees, compact for deep ones."""
    return float(np.clip(1600.0 / 2**depth, 60.0, 128.0))


@lru_cache(maxsize=16)
def layout_tree(depth: int) -> TreeLayout:
    n_leaves = topology.n_leaves(depth)
    pitch = leaf_pitch(depth)
    width = 2 * MARGIN + n_leaves * pitch
    cap = max(112.0, width / 14.0)
    starts, ends = topology.leaf_ranges(depth)
    leaf_x = MARGIN + (np.arange(n_leaves) + 0.5) * pitch
    node_x = MARGIN + (starts + ends) / 2.0 * pitch
    node_size = np.empty(len(starts))
    node_y = np.empty(len(starts))
    y = MARGIN
    for d in range(depth):
        level = slice(2**d - 1, 2 ** (d + 1) - 1)
        size = float(np.clip(0.8 * pitch * 2 ** (depth - d), MIN_NODE, cap))
        y += label_height(size)
        node_size[level] = size
        node_y[level] = y
        y += size + 0.3 * size + 24.0  # labels under the image, then the edges' run
    leaf_w = 0.84 * pitch
    leaf_h = LEAF_BARS_RATIO * leaf_w
    leaf_y = y + 4.0
    height = leaf_y + leaf_h + 0.45 * leaf_w + MARGIN
    for a in (leaf_x, node_x, node_size, node_y):
        a.setflags(write=False)
    return TreeLayout(depth, pitch, node_x, node_y, node_size, leaf_x, leaf_y, leaf_w, leaf_h, width, height)
