"""The tree's answers for many inputs at once, with numpy alone.

:func:`~hmob_gui.core.explain.explain` tells everything about one input; the
gallery needs only the answers, for up to 10,000 digits every time the tree
changes. Here that is one matrix product and one pass per level of depth
(a depth-8 tree over the 10,000 test digits: a few tens of milliseconds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .topology import path_log_probs

if TYPE_CHECKING:  # snapshot.py imports torch; the window must open before torch loads
    from .snapshot import TreeSnapshot

CHUNK = 2048  # inputs per matrix product (bounds the memory: 2048 × 255 logits)


@dataclass(frozen=True, eq=False)
class TreeAnswers:
    bigot_classes: np.ndarray  # (N,) the argmax of each input's max-probability leaf (the paper's prediction)
    mixture_classes: np.ndarray  # (N,) the argmax of Σ_ℓ P^ℓ(x) Q^ℓ


def leaf_log_probs(snapshot: TreeSnapshot, inputs: np.ndarray) -> np.ndarray:
    """(N, n_leaves) log path probability of every leaf for every input (N × C × H × W, in [0, 1])."""
    x = np.asarray(inputs, dtype=np.float32).reshape(len(inputs), -1)
    weights = snapshot.filters.reshape(snapshot.n_inner, -1).astype(np.float32, copy=False)
    logits = (x @ weights.T + snapshot.biases) * np.float32(snapshot.beta)
    return path_log_probs(logits, snapshot.depth, leaves_only=True)


def tree_answers(snapshot: TreeSnapshot, inputs: np.ndarray) -> TreeAnswers:
    """The bigot's and the mixture's class for every input, as :func:`explain` gives them one by one."""
    n = len(inputs)
    bigot = np.empty(n, dtype=np.int64)
    mixture = np.empty(n, dtype=np.int64)
    q = snapshot.leaf_distributions.astype(np.float32, copy=False)
    for i in range(0, n, CHUNK):
        log_leaves = leaf_log_probs(snapshot, inputs[i : i + CHUNK])
        bigot[i : i + CHUNK] = q.argmax(axis=1)[log_leaves.argmax(axis=1)]
        mixture[i : i + CHUNK] = (np.exp(log_leaves) @ q).argmax(axis=1)
    return TreeAnswers(bigot, mixture)
