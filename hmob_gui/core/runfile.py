"""Save a whole training run (settings, metrics, snapshot history, final model) and reopen it.

Same safety rules as checkpoints: a plain dict of strings, numbers, lists and
tensors, written atomically and read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import checkpoint_from_payload, read_payload, save_payload
from .errors import CheckpointError
from .history import SnapshotHistory
from .snapshot import TreeSnapshot

RUN_FORMAT = "hmob-gui run"
RUN_FORMAT_VERSION = 1
RUN_SUFFIX = ".hmobrun"


@dataclass
class SavedRun:
    settings: dict = field(default_factory=dict)  # what the GUI form held: job settings, data set…
    history: list = field(default_factory=list)  # one metrics dict per epoch
    test_metrics: dict = field(default_factory=dict)
    snapshots: list = field(default_factory=list)  # TreeSnapshot, in order
    checkpoint: dict | None = None  # the final model as a checkpoint payload, when there is one
    path: Path | None = None

    def to_history(self, budget_bytes: int | None = None) -> SnapshotHistory:
        h = SnapshotHistory(budget_bytes) if budget_bytes else SnapshotHistory()
        for s in self.snapshots:
            h.add(s)
        return h


def _snapshot_payload(s: TreeSnapshot) -> dict:
    d = s.to_arrays()
    for key in ("filters", "biases", "leaf_distributions"):
        d[key] = torch.from_numpy(np.ascontiguousarray(d[key]))
    return d


def _snapshot_from_payload(d: dict) -> TreeSnapshot:
    d = dict(d)
    for key in ("filters", "biases", "leaf_distributions"):
        if not isinstance(d.get(key), torch.Tensor):
            raise CheckpointError(f"damaged run file (snapshot {key} missing)")
        d[key] = d[key].numpy()
    return TreeSnapshot.from_arrays(d)


def save_run(path: str | os.PathLike, run: SavedRun) -> Path:
    payload = {
        "format": RUN_FORMAT,
        "format_version": RUN_FORMAT_VERSION,
        "settings": run.settings,
        "history": run.history,
        "test_metrics": run.test_metrics,
        "snapshots": [_snapshot_payload(s) for s in run.snapshots],
        "checkpoint": run.checkpoint,
    }
    return save_payload(path, payload)


def load_run(path: str | os.PathLike) -> SavedRun:
    path = Path(path).expanduser()
    payload = read_payload(path, "run file")
    if not isinstance(payload, dict) or payload.get("format") != RUN_FORMAT:
        raise CheckpointError(f"{path}: not an hmob-gui run file")
    if not isinstance(payload.get("format_version"), int) or payload["format_version"] > RUN_FORMAT_VERSION:
        raise CheckpointError(f"{path}: run file version {payload.get('format_version')!r} is newer than this app reads")
    for key, kind in (("settings", dict), ("test_metrics", dict), ("history", list), ("snapshots", list)):
        if payload.get(key) is not None and not isinstance(payload[key], kind):
            raise CheckpointError(f"{path}: damaged run file ({key} is a {type(payload[key]).__name__}, not a {kind.__name__})")
    if not all(isinstance(h, dict) for h in payload.get("history") or []):
        raise CheckpointError(f"{path}: damaged run file (history entries must be dicts)")
    if payload.get("checkpoint") is not None:
        try:
            checkpoint_from_payload(payload["checkpoint"])
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: damaged run file (its model: {exc})") from None
    try:
        snapshots = [_snapshot_from_payload(d) for d in payload.get("snapshots") or []]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: damaged run file (snapshot: {exc})") from None
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return SavedRun(
        settings=payload.get("settings") or {},
        history=payload.get("history") or [],
        test_metrics=payload.get("test_metrics") or {},
        snapshots=snapshots,
        checkpoint=payload.get("checkpoint"),
        path=path,
    )
