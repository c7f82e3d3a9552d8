"""Shift augmentation, and the teacher's answers for every shifted digit.

A random translation of up to ``s`` pixels has (2s+1)² possible outcomes. For
distillation on augmented digits we want the teacher's soft targets for the
exact shifted input, not for the original; running the teacher on every batch
would cost more than training the tree. So the teacher labels each training
digit once per possible shift, up front (cached on disk, keyed by the teacher's
weights and the data), and training looks the answers up by shift.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .teacher import soft_targets


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Translate each image by up to ``max_shift`` pixels (zero fill).

    Returns the shifted batch and each image's shift id in ``0 … (2s+1)² − 1``
    (the index into :func:`shifted_copies` / :func:`teacher_targets_per_shift`).
    """
    b, c, h, w = x.shape
    side = 2 * max_shift + 1
    padded = F.pad(x, (max_shift, max_shift, max_shift, max_shift))
    offsets = torch.randint(0, side, (2, b), generator=generator).to(x.device)
    rows = torch.arange(h, device=x.device)[None, :] + offsets[0][:, None]  # (b, h)
    cols = torch.arange(w, device=x.device)[None, :] + offsets[1][:, None]  # (b, w)
    batch_idx = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch_idx, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous(), offsets[0] * side + offsets[1]


def shift_images(x: Tensor, shift_id: int, max_shift: int) -> Tensor:
    """All images translated by the shift that ``random_shift`` calls ``shift_id``."""
    side = 2 * max_shift + 1
    r, c = divmod(shift_id, side)
    padded = F.pad(x, (max_shift, max_shift, max_shift, max_shift))
    h, w = x.shape[-2:]
    return padded[..., r : r + h, c : c + w]


def _digest(*tensors: Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def teacher_targets_per_shift(
    teacher: torch.nn.Module,
    x: Tensor,
    max_shift: int,
    temperature: float = 1.0,
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """(n_shifts, N, K) soft targets of the teacher for every shift of every image, float16."""
    n_shifts = (2 * max_shift + 1) ** 2
    path = None
    if cache_dir is not None:
        key = _digest(*teacher.state_dict().values()) + "-" + _digest(x[:: max(1, len(x) // 2000)])
        path = Path(cache_dir) / f"teacher-targets-{key}-n{len(x)}-s{max_shift}-T{temperature:g}.pt"
        if path.is_file():
            try:
                table = torch.load(path, map_location="cpu", weights_only=True)
                if isinstance(table, Tensor) and table.shape[:2] == (n_shifts, len(x)):
                    return table.to(x.device)
            except Exception:
                pass  # a damaged cache is recomputed
    parts = []
    for shift_id in range(n_shifts):
        parts.append(soft_targets(teacher, shift_images(x, shift_id, max_shift), temperature, batch_size=2048).half())
        if progress:
            progress(shift_id + 1, n_shifts)
    table = torch.stack(parts)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(table.cpu(), tmp)
            os.replace(tmp, path)
        except OSError:
            pass  # no cache is only slower
    return table
