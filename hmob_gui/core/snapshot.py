"""Plain, copyable pictures of a tree's state: what the GUI draws and the exports animate.

A snapshot holds numpy arrays only (no torch modules), so it can cross threads
in a Qt signal, be kept in a history, and be written to disk. Filters are stored
as float16 by default: a depth-8 tree has 255 filters of 784 values, 400 kB in
float16 instead of 800 kB.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import topology


@dataclass(frozen=True, eq=False)
class TreeSnapshot:
    depth: int
    input_shape: tuple[int, int, int]
    filters: np.ndarray  # (n_inner, C, H, W), float16 or float32
    biases: np.ndarray  # (n_inner,), float32
    beta: float
    leaf_distributions: np.ndarray  # (n_leaves, K), float32, rows sum to 1
    epoch: int = 0  # epochs completed when taken
    samples_seen: int = 0
    kind: str = "epoch"  # "initial", "samples", "epoch" or "final"
    total_epochs: int = 0
    class_names: tuple[str, ...] = ()
    leaf_classes: np.ndarray = field(init=False)  # (n_leaves,), argmax of each leaf
    reachable: np.ndarray = field(init=False)  # (n_inner, K) bool

    def __post_init__(self):
        self._check()
        leaf_classes = self.leaf_distributions.argmax(axis=1)
        object.__setattr__(self, "leaf_classes", leaf_classes)
        object.__setattr__(
            self, "reachable", topology.reachable_classes(self.depth, leaf_classes, self.n_classes)
        )
        # Exactly one name per class, whatever a file said: missing ones are numbered.
        names = tuple(str(n) for n in self.class_names)[: self.n_classes]
        object.__setattr__(self, "class_names", names + tuple(str(i) for i in range(len(names), self.n_classes)))

    def _check(self) -> None:
        """Refuse arrays that do not describe a tree (damaged or crafted files), with the reason."""
        depth = self.depth
        if not isinstance(depth, (int, np.integer)) or not 1 <= depth <= 10:
            raise ValueError(f"snapshot depth must be 1…10, not {depth!r}")
        shape = tuple(self.input_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"snapshot input shape must be C×H×W, not {shape}")
        n_inner, n_leaves = 2**depth - 1, 2**depth
        if getattr(self.filters, "shape", None) != (n_inner, *shape):
            raise ValueError(f"filters are {getattr(self.filters, 'shape', None)}, a depth-{depth} tree needs {(n_inner, *shape)}")
        if getattr(self.biases, "shape", None) != (n_inner,):
            raise ValueError(f"biases are {getattr(self.biases, 'shape', None)}, a depth-{depth} tree needs ({n_inner},)")
        q = self.leaf_distributions
        if getattr(q, "ndim", 0) != 2 or q.shape[0] != n_leaves or q.shape[1] < 1:
            raise ValueError(f"leaf distributions are {getattr(q, 'shape', None)}, a depth-{depth} tree needs ({n_leaves}, K)")

    @property
    def n_inner(self) -> int:
        return self.filters.shape[0]

    @property
    def n_leaves(self) -> int:
        return self.leaf_distributions.shape[0]

    @property
    def n_classes(self) -> int:
        return self.leaf_distributions.shape[1]

    @property
    def nbytes(self) -> int:
        return self.filters.nbytes + self.biases.nbytes + self.leaf_distributions.nbytes + self.reachable.nbytes + self.leaf_classes.nbytes

    def reachable_sets(self) -> list[list[int]]:
        """For every inner node, the sorted classes reachable below it."""
        return [np.flatnonzero(row).tolist() for row in self.reachable]

    def label(self) -> str:
        if self.kind in ("epoch", "final") and self.total_epochs:
            return f"epoch {self.epoch} / {self.total_epochs}"
        if self.kind == "initial":
            return "initial"
        return f"samples {self.samples_seen:,}"

    def to_arrays(self) -> dict:
        """Plain dict of arrays and scalars (for saving with torch or numpy)."""
        return {
            "depth": self.depth, "input_shape": list(self.input_shape),
            "filters": self.filters, "biases": self.biases, "beta": self.beta,
            "leaf_distributions": self.leaf_distributions, "epoch": self.epoch,
            "samples_seen": self.samples_seen, "kind": self.kind,
            "total_epochs": self.total_epochs, "class_names": list(self.class_names),
        }

    @classmethod
    def from_arrays(cls, d: dict) -> "TreeSnapshot":
        """Rebuild from :meth:`to_arrays`; ValueError names what is wrong in a damaged dict."""
        if not isinstance(d, dict):
            raise ValueError("a snapshot must be a dict")
        return cls(
            depth=int(d["depth"]), input_shape=tuple(int(v) for v in d["input_shape"]),
            filters=np.asarray(d["filters"]), biases=np.asarray(d["biases"], dtype=np.float32),
            beta=float(d["beta"]), leaf_distributions=np.asarray(d["leaf_distributions"], dtype=np.float32),
            epoch=int(d["epoch"]), samples_seen=int(d["samples_seen"]), kind=str(d["kind"]),
            total_epochs=int(d.get("total_epochs", 0)), class_names=tuple(d.get("class_names", ())),
        )


@torch.no_grad()
def make_tree_snapshot(model, *, epoch: int = 0, samples_seen: int = 0, kind: str = "epoch",
                       total_epochs: int = 0, class_names=(), dtype=np.float16) -> TreeSnapshot:
    """Copy a :class:`SoftDecisionTree`'s parameters into a :class:`TreeSnapshot`."""
    cfg = model.config
    weights = model.weight.detach().to("cpu", torch.float32).numpy()
    if np.dtype(dtype) == np.float16 and not np.abs(weights).max(initial=0.0) < 65000:
        dtype = np.float32  # beyond float16's range (a diverging or odd model): keep the values, not inf
    filters = weights.astype(dtype, copy=True)
    return TreeSnapshot(
        depth=cfg.depth,
        input_shape=cfg.input_shape,
        filters=filters.reshape((cfg.n_inner, *cfg.input_shape)),
        biases=model.bias.detach().to("cpu", torch.float32).numpy().copy(),
        beta=float(model.beta),
        leaf_distributions=model.leaf_distributions().detach().to("cpu", torch.float32).numpy().copy(),
        epoch=epoch, samples_seen=samples_seen, kind=kind, total_epochs=total_epochs,
        class_names=tuple(class_names),
    )
