"""The soft binary decision tree of Frosst & Hinton (2017), "a hierarchical mixture of bigots".

Nodes are numbered in heap order: the root is 0, the children of node ``i`` are
``2i+1`` (left) and ``2i+2`` (right). A tree of depth D has ``2^D - 1`` inner
nodes (``0 … 2^D - 2``) followed by ``2^D`` leaves.

* Inner node i:  p_i(x) = σ(β·(x·w_i + b_i)); right with probability p_i, left 1 − p_i.
* Leaf ℓ:        Q^ℓ = softmax(φ^ℓ), a fixed distribution over classes (a "bigot").
* Path:          P^ℓ(x) = product of the branch probabilities from the root to ℓ.

Speed: all inner nodes are one matrix multiply, and path probabilities are
built level by level in log space (one broadcast add per level), so a training
step has no Python loop over nodes and its op count grows with the depth, not
with the number of nodes.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError

MAX_DEPTH = 10


@dataclass(frozen=True)
class TreeConfig:
    """Shape and regularization of a soft decision tree (everything needed to rebuild it)."""

    depth: int = 4
    input_shape: tuple[int, int, int] = (1, 28, 28)
    n_classes: int = 10
    beta: float = 1.0  # inverse temperature: fixed value, or starting value when learned
    learn_beta: bool = False
    penalty_strength: float = 0.1  # λ of the balanced-split regularizer
    penalty_decay: float = 0.5  # the penalty of a node at depth d is λ · decay^d (paper: 2^-d)
    ema_window: float = 1.0  # running-average window, in batches, at the root; × 2^d at depth d

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.depth, int) or not 1 <= self.depth <= MAX_DEPTH:
            raise ConfigError(f"tree depth must be an integer from 1 to {MAX_DEPTH}, not {self.depth!r}")
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ConfigError(f"input shape must be C×H×W with positive sizes, not {self.input_shape}")
        if self.n_classes < 2:
            raise ConfigError(f"need at least 2 classes, not {self.n_classes}")
        if not (self.beta > 0 and math.isfinite(self.beta)):
            raise ConfigError(f"β (inverse temperature) must be a positive number, not {self.beta}")
        if not (self.penalty_strength >= 0 and math.isfinite(self.penalty_strength)):
            raise ConfigError(f"λ (penalty strength) must be ≥ 0, not {self.penalty_strength}")
        if not 0 < self.penalty_decay <= 1:
            raise ConfigError(f"penalty decay must lie in (0, 1], not {self.penalty_decay}")
        if not (self.ema_window >= 1 and math.isfinite(self.ema_window)):
            raise ConfigError(f"EMA window must be ≥ 1 batch, not {self.ema_window}")

    @property
    def n_inner(self) -> int:
        return 2**self.depth - 1

    @property
    def n_leaves(self) -> int:
        return 2**self.depth

    @property
    def n_features(self) -> int:
        return math.prod(self.input_shape)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TreeConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown tree settings: {', '.join(sorted(unknown))}")
        return cls(**d)


def node_depths(depth: int) -> Tensor:
    """Depth of every inner node, in heap order."""
    return torch.cat([torch.full((2**level,), float(level)) for level in range(depth)])


class TreeOutput(NamedTuple):
    logits: Tensor  # (B, n_inner): β(x·w + b) of every inner node
    log_path: Tensor  # (B, n_nodes): log path probability of every node, inner then leaves
    leaf_log_probs: Tensor  # (n_leaves, K): log Q of every leaf


class SoftDecisionTree(nn.Module):
    """A soft decision tree; see the module docstring for the equations."""

    def __init__(self, config: TreeConfig):
        super().__init__()
        self.config = config
        n_inner, n_leaves, n_feat = config.n_inner, config.n_leaves, config.n_features
        bound = 1.0 / math.sqrt(n_feat)
        self.weight = nn.Parameter(torch.empty(n_inner, n_feat).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_inner).uniform_(-bound, bound))
        self.leaf_logits = nn.Parameter(0.1 * torch.randn(n_leaves, config.n_classes))
        log_beta = torch.tensor(math.log(config.beta))
        if config.learn_beta:
            self.log_beta = nn.Parameter(log_beta)
        else:
            self.register_buffer("log_beta", log_beta)
        depths = node_depths(config.depth)
        self.register_buffer("penalty_weights", config.penalty_strength * config.penalty_decay**depths)
        self.register_buffer("ema_decay", 1.0 - 1.0 / (config.ema_window * 2.0**depths))
        self.register_buffer("alpha_ema", torch.full((n_inner,), 0.5))
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ forward pieces

    @property
    def beta(self) -> Tensor:
        return self.log_beta.exp()

    def inner_logits(self, x: Tensor) -> Tensor:
        """β(x·w_i + b_i) for every inner node: one matrix multiply."""
        x = x.reshape(x.shape[0], -1)
        return torch.addmm(self.bias, x, self.weight.t()) * self.beta

    def path_log_probs(self, logits: Tensor) -> Tensor:
        """Log path probability of every node (B × n_nodes), level by level."""
        batch = logits.shape[0]
        log_right = F.logsigmoid(logits)
        log_left = log_right - logits  # log(1 − σ(z)) = log σ(z) − z
        # edge[:, j - 1] is the log probability of the branch into node j.
        edge = torch.stack((log_left, log_right), dim=2).reshape(batch, -1)
        level = logits.new_zeros(batch, 1)
        levels = [level]
        for d in range(self.config.depth):
            width = 2**d
            start = 2 * width - 2  # first edge into level d + 1
            level = (level.unsqueeze(2) + edge[:, start : start + 2 * width].view(batch, width, 2)).reshape(batch, 2 * width)
            levels.append(level)
        return torch.cat(levels, dim=1)

    def forward(self, x: Tensor) -> TreeOutput:
        logits = self.inner_logits(x)
        return TreeOutput(logits, self.path_log_probs(logits), F.log_softmax(self.leaf_logits, dim=1))

    # ------------------------------------------------------------------ loss

    def loss(self, x: Tensor, target: Tensor, update_ema: bool = True) -> tuple[Tensor, Tensor, Tensor, TreeOutput]:
        """Total loss, data term, penalty term and the forward output, for one batch.

        Data term. The paper writes L(x) = −log(Σ_ℓ P^ℓ(x) Σ_k T_k log Q^ℓ_k), which
        takes the log of a negative number as printed. We read it as the mixture of
        experts' expected loss that the authors' own code minimises:
        L(x) = Σ_ℓ P^ℓ(x) · (−Σ_k T_k log Q^ℓ_k), i.e. the path-probability-weighted
        cross-entropy between the target T and each leaf's distribution, averaged
        over the batch. It pushes every leaf reached by x towards T in proportion to
        how likely x is to reach it.
        """
        out = self(x)
        n_inner = self.config.n_inner
        path = out.log_path.exp()
        cross_entropy = -(target @ out.leaf_log_probs.t())  # (B, n_leaves)
        data_loss = (path[:, n_inner:] * cross_entropy).sum(1).mean()
        penalty = self.balance_penalty(path, update_ema) if self.config.penalty_strength > 0 else data_loss.new_zeros(())
        return data_loss + penalty, data_loss, penalty, out

    def balance_penalty(self, path: Tensor, update_ema: bool = True) -> Tensor:
        """C = −Σ_i λ·decay^{d_i} · ½(log α_i + log(1 − α_i)).

        α_i = Σ_x P^i(x) p_i(x) / Σ_x P^i(x) is the share of node i's probability
        mass sent right; P^i(x)·p_i(x) is exactly the path probability of i's right
        child, so α needs only column sums of ``path``.

        Running averages (paper, section 3): deeper nodes see exponentially less of
        each batch, so α is estimated with an exponentially decaying average whose
        window (``ema_window · 2^d`` batches) grows with the node's depth. The value
        used is the running average; the gradient is the current batch's (a
        straight-through estimate), so the average steadies the estimate without
        shrinking the penalty's pull by the window length.
        """
        mass = path.sum(0)
        n_inner = self.config.n_inner
        alpha_batch = mass[2 : 2 * n_inner + 1 : 2] / mass[:n_inner].clamp_min(1e-12)
        if self.training and update_ema:
            with torch.no_grad():
                steps = self.ema_steps.to(self.ema_decay.dtype)
                decay = torch.minimum(self.ema_decay, steps / (steps + 1))  # exact mean while young
                self.alpha_ema.mul_(decay).add_((1 - decay) * alpha_batch.detach())
                self.ema_steps.add_(1)
        alpha = alpha_batch + (self.alpha_ema - alpha_batch).detach()
        alpha = alpha.clamp(1e-6, 1 - 1e-6)
        return -(self.penalty_weights * 0.5 * (alpha.log() + (-alpha).log1p())).sum()

    # ------------------------------------------------------------------ prediction

    def leaf_distributions(self) -> Tensor:
        """Q^ℓ for every leaf (n_leaves × K)."""
        return F.softmax(self.leaf_logits, dim=1)

    @torch.no_grad()
    def predict_proba(self, x: Tensor, mode: str = "bigot") -> Tensor:
        """Class distribution per input: the bigot's (leaf of greatest path probability) or the mixture."""
        out = self(x)
        leaf_log_path = out.log_path[:, self.config.n_inner :]
        q = out.leaf_log_probs.exp()
        if mode == "bigot":
            return q[leaf_log_path.argmax(1)]
        if mode == "mixture":
            return leaf_log_path.exp() @ q
        raise ValueError(f"mode must be 'bigot' or 'mixture', not {mode!r}")

    @torch.no_grad()
    def predict(self, x: Tensor, mode: str = "bigot") -> Tensor:
        return self.predict_proba(x, mode).argmax(1)
