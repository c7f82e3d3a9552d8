"""Checkpoints: one file per model, safe to load from anywhere.

A checkpoint is a plain dict of strings, numbers, lists and tensors saved with
``torch.save``. It is read back with ``torch.load(weights_only=True)``, which
refuses anything but those types, so a checkpoint downloaded from the internet
can never run code. Loading always maps to the CPU, whatever device saved it.
"""
from __future__ import annotations

import datetime as _dt
import os
import pickle
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .atomic import atomic_path
from .errors import CheckpointError, ConfigError
from .teacher import TeacherCNN, TeacherConfig
from .tree import SoftDecisionTree, TreeConfig

FORMAT = "hmob-gui checkpoint"
FORMAT_VERSION = 1
KINDS = ("teacher", "tree")


@dataclass
class Checkpoint:
    kind: str
    model_config: dict
    state_dict: dict
    train_config: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # targets ("hard"/"distilled"), temperature, teacher file
    metrics: dict = field(default_factory=dict)  # test_accuracy, …
    history: list = field(default_factory=list)  # one dict per epoch
    dataset: dict = field(default_factory=dict)  # name, title, class_names
    created: str = ""
    path: Path | None = None

    def build(self):
        """The model this checkpoint describes, with its weights, on the CPU, in eval mode."""
        try:
            if self.kind == "tree":
                model = SoftDecisionTree(TreeConfig.from_dict(self.model_config))
            else:
                model = TeacherCNN(TeacherConfig.from_dict(self.model_config))
        except (ConfigError, TypeError) as exc:
            raise CheckpointError(f"{self._where()}invalid model settings: {exc}") from None
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise CheckpointError(
                f"{self._where()}its weights do not fit its settings ({' '.join(first[:2])[:300]})"
            ) from None
        broken = [name for name, t in model.state_dict().items() if t.is_floating_point() and not t.isfinite().all()]
        if broken:
            raise CheckpointError(f"{self._where()}its weights hold NaN or infinite values ({', '.join(broken[:3])}): "
                                  "such a model predicts nothing; retrain it or choose another file")
        return model.eval()

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(str(n) for n in self.dataset.get("class_names", ())) or tuple(str(i) for i in range(10))

    def _where(self) -> str:
        return f"{self.path}: " if self.path else ""

    def summary(self) -> str:
        name = self.dataset.get("title", self.dataset.get("name", "?"))
        acc = self.metrics.get("test_accuracy")
        acc_text = f", test accuracy {acc:.2%}" if isinstance(acc, float) else ""
        if self.kind == "tree":
            cfg = self.model_config
            how = self.training.get("targets", "?")
            return f"tree of depth {cfg.get('depth')} ({how}) on {name}{acc_text}"
        return f"teacher CNN on {name}{acc_text}"


def checkpoint_payload(kind: str, model, *, train_config: dict | None = None, training: dict | None = None,
                       metrics: dict | None = None, history: list | None = None, dataset: dict | None = None) -> dict:
    """The plain dict a checkpoint file holds (also embedded in saved runs)."""
    if kind not in KINDS:
        raise CheckpointError(f"unknown checkpoint kind {kind!r}")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
        "train_config": dict(train_config or {}),
        "training": dict(training or {}),
        "metrics": dict(metrics or {}),
        "history": list(history or []),
        "dataset": dict(dataset or {}),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def save_checkpoint(path: str | os.PathLike, kind: str, model, **info) -> Path:
    """Write a checkpoint atomically (temporary file, then rename)."""
    return save_payload(path, checkpoint_payload(kind, model, **info))


def save_payload(path: str | os.PathLike, payload: dict) -> Path:
    """Write atomically; a failed write (a full disk) leaves the old file, and no temporary one, behind."""
    with atomic_path(path, CheckpointError) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError as exc:  # torch's zip writer reports a failed write as RuntimeError, not OSError
            free = shutil.disk_usage(tmp.parent).free
            raise CheckpointError(f"cannot write {path}: the write failed after {tmp.stat().st_size:,} bytes "
                                  f"({free:,} bytes free on that disk; is it full?)") from exc
    return Path(path)


def read_payload(path: str | os.PathLike, what: str = "checkpoint"):
    """``torch.load(weights_only=True)`` onto the CPU, every failure turned into one :class:`CheckpointError`.

    Shared by checkpoints and run files: the one place where a file from anywhere is unpickled,
    with the only unpickler that refuses code. ``what`` names the file's kind in messages.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a {what} file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on old pickle protocols are not for the user
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message goes on to suggest weights_only=False, the very thing not to do: name the culprit only.
        culprit = re.search(r"GLOBAL (\S+)|Unsupported operand (\d+)", str(exc))
        if culprit and culprit.group(2):  # a byte that is no pickle instruction at all: garbage, not code
            raise CheckpointError(f"{path}: not a readable {what} (not a PyTorch file, or a corrupt one: "
                                  f"unknown byte {culprit.group(2)} where data should start)") from None
        found = f" ({culprit.group(1)})" if culprit else ""
        raise CheckpointError(
            f"{path}: refused: the file holds objects other than weights and settings{found}, which could run "
            "code when opened; it was not opened"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError, ImportError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable {what} (truncated or corrupt file?) — {detail}") from None
    except Exception:  # any other failure of the unpickler (IndexError, KeyError, …) is still a bad file
        raise CheckpointError(f"{path}: not a readable {what} (not a PyTorch file, or a corrupt one)") from None


def load_checkpoint(path: str | os.PathLike, expect_kind: str | None = None) -> Checkpoint:
    """Read and check a checkpoint; raise :class:`CheckpointError` with the reason when it is not one."""
    path = Path(path).expanduser()
    return checkpoint_from_payload(read_payload(path), expect_kind, path)


def checkpoint_from_payload(payload, expect_kind: str | None = None, path: Path | None = None) -> Checkpoint:
    """Check a loaded dict and wrap it; the message names ``path`` when given."""
    where = f"{path}: " if path else ""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{where}not an hmob-gui checkpoint (a file from another program?)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{where}checkpoint format version {version!r} is newer than this app reads ({FORMAT_VERSION}); update hmob-gui"
        )
    kind = payload.get("kind")
    if kind not in KINDS:
        raise CheckpointError(f"{where}unknown model kind {kind!r}")
    if expect_kind is not None and kind != expect_kind:
        raise CheckpointError(f"{where}this is a {kind} checkpoint, but a {expect_kind} was expected")
    for key in ("model_config", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{where}damaged checkpoint ({key} missing)")
    if not all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values()):
        raise CheckpointError(f"{where}damaged checkpoint (weights are not tensors)")
    for key, expected in (("train_config", dict), ("training", dict), ("metrics", dict), ("history", list),
                          ("dataset", dict)):
        if payload.get(key) is not None and not isinstance(payload[key], expected):
            raise CheckpointError(f"{where}damaged checkpoint ({key} is a {type(payload[key]).__name__}, "
                                  f"not a {expected.__name__})")
    if not all(isinstance(h, dict) for h in payload.get("history") or []):
        raise CheckpointError(f"{where}damaged checkpoint (history entries must be dicts)")
    names = (payload.get("dataset") or {}).get("class_names")
    n_classes = payload["model_config"].get("n_classes", 10)
    if names is not None and (not isinstance(names, (list, tuple)) or len(names) != n_classes):
        raise CheckpointError(f"{where}damaged checkpoint ({len(names) if isinstance(names, (list, tuple)) else 'no'} "
                              f"class names for a model of {n_classes} classes)")
    return Checkpoint(
        kind=kind,
        model_config=payload["model_config"],
        state_dict=payload["state_dict"],
        train_config=payload.get("train_config") or {},
        training=payload.get("training") or {},
        metrics=payload.get("metrics") or {},
        history=payload.get("history") or [],
        dataset=payload.get("dataset") or {},
        created=str(payload.get("created", "")),
        path=path,
    )


def load_model(path: str | os.PathLike, expect_kind: str | None = None):
    """Load a checkpoint and build its model: ``(model, checkpoint)``."""
    ckpt = load_checkpoint(path, expect_kind)
    return ckpt.build(), ckpt
