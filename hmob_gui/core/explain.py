"""Why did the tree decide that? Everything about one input's trip through the tree.

Works on a :class:`TreeSnapshot` with numpy alone, so the GUI can explain a
drawing on every stroke without touching the model that the worker thread owns.
Pass a model to get a float32 snapshot of it first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import topology
from .snapshot import TreeSnapshot, make_tree_snapshot


@dataclass(frozen=True, eq=False)
class Explanation:
    logits: np.ndarray  # (n_inner,) β(x·w + b)
    right_probs: np.ndarray  # (n_inner,) σ(logit): probability of going right
    path_probs: np.ndarray  # (n_nodes,) probability of reaching every node, inner then leaves
    max_path: list[int]  # heap indices from the root to the bigot leaf
    correlation: np.ndarray  # (n_inner, C, H, W): x ⊙ w_i, the pixels' contributions to each logit / β
    leaf_probs: np.ndarray  # (n_leaves,) path probability of each leaf (sums to 1)
    bigot_leaf: int  # leaf index (0-based) of greatest path probability
    bigot_distribution: np.ndarray  # (K,) that leaf's Q
    mixture_distribution: np.ndarray  # (K,) Σ_ℓ P^ℓ Q^ℓ

    @property
    def bigot_class(self) -> int:
        return int(self.bigot_distribution.argmax())

    @property
    def mixture_class(self) -> int:
        return int(self.mixture_distribution.argmax())

    @property
    def bigot_confidence(self) -> float:
        return float(self.bigot_distribution.max())


def explain(tree, x) -> Explanation:
    """Explain one input (any array of the tree's input shape, values as in training: [0, 1])."""
    snap = tree if isinstance(tree, TreeSnapshot) else make_tree_snapshot(tree, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    if x.size != int(np.prod(snap.input_shape)):
        raise ValueError(f"input has {x.size} values, the tree expects {snap.input_shape}")
    flat_x = x.reshape(-1)
    weights = snap.filters.reshape(snap.n_inner, -1).astype(np.float32, copy=False)
    correlation = weights * flat_x
    logits = snap.beta * (correlation.sum(axis=1) + snap.biases)
    log_path = topology.path_log_probs(logits.astype(np.float64)[None], snap.depth)[0]
    path_probs = np.exp(log_path)
    leaf_probs = path_probs[snap.n_inner :]
    bigot = int(np.argmax(log_path[snap.n_inner :]))
    q = snap.leaf_distributions
    return Explanation(
        logits=logits,
        right_probs=np.exp(topology.log_sigmoid(logits)),  # σ(z) without overflow for very negative z
        path_probs=path_probs,
        max_path=topology.path_to_leaf(snap.depth, bigot),
        correlation=correlation.reshape((snap.n_inner, *snap.input_shape)),
        leaf_probs=leaf_probs,
        bigot_leaf=bigot,
        bigot_distribution=q[bigot],
        mixture_distribution=leaf_probs @ q,
    )
