"""Index arithmetic of a complete binary tree in heap order (root 0, children 2i+1, 2i+2).

Shared by the model, the snapshots, the explanations and the tree view, so that
every part of the app numbers nodes the same way.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def n_inner(depth: int) -> int:
    return 2**depth - 1


def n_leaves(depth: int) -> int:
    return 2**depth


def node_depth(node: int) -> int:
    """Depth of a node (root 0) from its heap index."""
    return (node + 1).bit_length() - 1


def children(node: int) -> tuple[int, int]:
    return 2 * node + 1, 2 * node + 2


def parent(node: int) -> int:
    return (node - 1) // 2


@lru_cache(maxsize=None)
def leaf_ranges(depth: int) -> tuple[np.ndarray, np.ndarray]:
    """For every inner node, the half-open range [start, end) of leaf indices below it."""
    starts, ends = [], []
    for d in range(depth):
        span = 2 ** (depth - d)
        for p in range(2**d):
            starts.append(p * span)
            ends.append((p + 1) * span)
    s, e = np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)
    s.setflags(write=False)
    e.setflags(write=False)
    return s, e


def path_to_leaf(depth: int, leaf: int) -> list[int]:
    """Heap indices of the nodes from the root to leaf number ``leaf`` (0-based), leaf node last."""
    node = n_inner(depth) + leaf
    path = [node]
    while node > 0:
        node = parent(node)
        path.append(node)
    return path[::-1]


def reachable_classes(depth: int, leaf_classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Boolean (n_inner × K): which classes are the argmax of some leaf below each inner node."""
    one_hot = np.zeros((len(leaf_classes) + 1, n_classes), dtype=np.int32)
    one_hot[np.arange(1, len(leaf_classes) + 1), leaf_classes] = 1
    cumulative = one_hot.cumsum(axis=0)
    starts, ends = leaf_ranges(depth)
    return (cumulative[ends] - cumulative[starts]) > 0


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z), stable for any z (and much faster than np.logaddexp)."""
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))


def path_log_probs(logits: np.ndarray, depth: int, leaves_only: bool = False) -> np.ndarray:
    """Log path probability of every node (N × n_nodes), or of every leaf, from inner-node logits (N × n_inner).

    The numpy twin of ``SoftDecisionTree.path_log_probs``: one broadcast add per level.
    """
    log_right = log_sigmoid(logits)
    log_left = log_right - logits
    level = np.zeros((len(logits), 1), dtype=logits.dtype)
    levels = [level]
    for d in range(depth):
        start, width = 2**d - 1, 2**d
        level = np.stack((level + log_left[:, start : start + width], level + log_right[:, start : start + width]),
                         axis=2).reshape(len(logits), 2 * width)
        levels.append(level)
    return level if leaves_only else np.concatenate(levels, axis=1)
