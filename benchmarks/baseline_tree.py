"""A straightforward soft decision tree, as the common public PyTorch implementations write it.

Used only as the speed baseline that ``bench_core.py`` measures in the same run:
path probabilities by repeating and multiplying tensors level by level, and the
balanced-split penalty with a Python loop over every inner node (which is what
makes such code slow at depth 8: hundreds of tiny ops forward and backward).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BaselineTree(nn.Module):
    def __init__(self, depth: int, n_features: int = 784, n_classes: int = 10, lam: float = 0.1):
        super().__init__()
        self.depth = depth
        self.inner = nn.Linear(n_features, 2**depth - 1)
        self.leaf_logits = nn.Parameter(0.1 * torch.randn(2**depth, n_classes))
        self.lam = lam

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        p = torch.sigmoid(self.inner(x.reshape(batch, -1)))
        mu = x.new_ones(batch, 1, 1)
        penalty = x.new_zeros(())
        begin, end = 0, 1
        for layer in range(self.depth):
            layer_p = p[:, begin:end].unsqueeze(2)  # (B, nodes, 1)
            parent_mu = mu.view(batch, -1)
            for node in range(end - begin):  # the per-node loop of the public implementations
                reach = parent_mu[:, node]
                alpha = (reach * layer_p[:, node, 0]).sum() / reach.sum()
                alpha = alpha.clamp(1e-6, 1 - 1e-6)
                penalty = penalty - self.lam * 2.0**-layer * 0.5 * (torch.log(alpha) + torch.log(1 - alpha))
            mu = mu.view(batch, -1, 1).repeat(1, 1, 2)
            mu = mu * torch.cat((1 - layer_p, layer_p), dim=2)
            begin, end = end, end + 2 ** (layer + 1)
        mu = mu.view(batch, -1)
        log_q = F.log_softmax(self.leaf_logits, dim=1)
        data = (mu * -(target @ log_q.t())).sum(1).mean()
        return data + penalty
