"""One training loop for the teacher and the tree, shared by the CLI and the GUI.

The loop reports through a single callback that receives event objects (plain
dataclasses, safe to pass between threads) and obeys a :class:`TrainingControl`
that another thread uses to pause, resume or stop it between batches.
"""
from __future__ import annotations

import math
import queue
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import DataSplits
from .devices import resolve_device
from .augment import random_shift, teacher_targets_per_shift
from .errors import ConfigError, TrainingError
from .snapshot import TreeSnapshot, make_tree_snapshot
from .teacher import TeacherCNN, soft_targets
from .tree import SoftDecisionTree

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrainConfig:
    """How to train (not what): shared by teacher and tree."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"  # or "cosine" (to 0 over the run)
    weight_decay: float = 0.0
    seed: int = 0
    snapshot_every: int = 1000  # samples between snapshots; 0: only at epoch ends
    augment_shift: int = 0  # random translation of up to this many pixels per input
    device: str = "auto"
    threads: int = 0  # CPU threads for the training step; 0: automatic (see TrainingTask.cpu_threads)

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"epochs must be a whole number ≥ 1, not {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch size must be a whole number ≥ 1, not {self.batch_size!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"learning rate must be a positive number, not {self.lr!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"learning-rate schedule must be 'constant' or 'cosine', not {self.lr_schedule!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be a whole number from 0 to 2^63 − 1, not {self.seed!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight decay must be a finite number ≥ 0, not {self.weight_decay!r}")
        if not isinstance(self.snapshot_every, int) or self.snapshot_every < 0:
            raise ConfigError(f"snapshot interval must be a whole number of samples ≥ 0, not {self.snapshot_every!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ConfigError(f"threads must be a whole number ≥ 0 (0: automatic), not {self.threads!r}")
        if not isinstance(self.augment_shift, int) or not 0 <= self.augment_shift <= 8:
            raise ConfigError(f"augmentation shift must be 0…8 pixels, not {self.augment_shift!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class TrainingStarted:
    kind: str  # "teacher" or "tree"
    epochs: int
    batches_per_epoch: int
    n_train: int
    device: str


@dataclass(frozen=True)
class Preparing:
    """Work before the first batch that takes a while (the teacher labelling shifted digits)."""

    message: str
    done: int
    total: int
    unit: str = "shifts"  # what done and total count


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based epoch in progress
    epochs: int
    batch: int  # batches done in this epoch
    batches_per_epoch: int
    samples_seen: int
    total_samples: int
    loss: float  # mean loss of the batches since the previous report
    samples_per_second: float
    seconds_left: float


@dataclass(frozen=True)
class SnapshotTaken:
    snapshot: TreeSnapshot


@dataclass(frozen=True)
class EpochFinished:
    epoch: int
    epochs: int
    metrics: dict  # train_loss, train_accuracy, val_accuracy, val_loss, seconds, lr, samples_seen
    snapshot: TreeSnapshot | None


@dataclass(frozen=True)
class StateChanged:
    state: str  # "paused" or "running"


@dataclass(frozen=True)
class TrainingFinished:
    status: str  # "completed", "stopped" or "failed"
    test_metrics: dict
    history: list
    message: str = ""
    seconds: float = 0.0


Event = TrainingStarted | Preparing | BatchProgress | SnapshotTaken | EpochFinished | StateChanged | TrainingFinished
Listener = Callable[[object], None]


# --------------------------------------------------------------------------- control


class TrainingControl:
    """Pause, resume and stop, sent from any thread and obeyed between batches.

    Commands travel through a queue, so the training thread never shares mutable
    state with the caller; while paused it blocks on the queue, using no CPU.
    """

    def __init__(self) -> None:
        self._commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.paused = False
        self.stopped = False

    def pause(self) -> None:
        self._commands.put("pause")

    def resume(self) -> None:
        self._commands.put("resume")

    def stop(self) -> None:
        self._commands.put("stop")

    def _apply(self, command: str) -> None:
        if command == "pause":
            self.paused = True
        elif command == "resume":
            self.paused = False
        elif command == "stop":
            self.stopped = True

    def poll(self, on_state: Callable[[str], None] | None = None) -> bool:
        """Apply pending commands; block while paused. False when training must stop."""
        was_paused = self.paused
        while True:
            try:
                self._apply(self._commands.get(block=self.paused and not self.stopped))
            except queue.Empty:
                break
            if self.stopped:
                break
            if self.paused != was_paused and on_state:
                on_state("paused" if self.paused else "running")
                was_paused = self.paused
        if self.paused != was_paused and on_state and not self.stopped:
            on_state("paused" if self.paused else "running")
        return not self.stopped


def label_digits(teacher: nn.Module, x: Tensor, temperature: float, listener: Listener,
                 control: "TrainingControl", batch_size: int = 2048) -> Tensor | None:
    """The teacher's soft targets for ``x``, in chunks that report progress and obey pause/stop.

    Labelling 50,000 digits takes half a minute on two cores: a stop (or a closed
    window) must not wait for it. Returns None when stopped.
    """
    message = "the teacher labels the training digits"
    parts, n = [], len(x)

    def go_on() -> bool:
        return control.poll(lambda state: listener(StateChanged(state)))

    if not go_on():
        return None
    listener(Preparing(message, 0, n, unit="digits"))
    for i in range(0, n, batch_size):
        if i and not go_on():
            return None
        with torch.no_grad():
            parts.append(soft_targets(teacher, x[i : i + batch_size], temperature, batch_size=batch_size))
        listener(Preparing(message, min(i + batch_size, n), n, unit="digits"))
    if not go_on():
        return None
    return torch.cat(parts) if parts else x.new_zeros(0, 10)


# --------------------------------------------------------------------------- tasks


class TrainingTask(Protocol):
    """What differs between training the teacher and training the tree."""

    kind: str
    model: nn.Module

    def prepare(self, data: DataSplits, device: torch.device) -> None: ...
    def targets(self, x: Tensor, labels: Tensor, listener: Listener | None = None,
                control: TrainingControl | None = None) -> Tensor | None: ...  # None: stopped meanwhile
    def batch_loss(self, x: Tensor, target: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]: ...
    def evaluate(self, x: Tensor, labels: Tensor, batch_size: int = 2000) -> dict: ...
    def snapshot(self, **info) -> TreeSnapshot | None: ...
    def cpu_threads(self, batch_size: int) -> int | None: ...


class TeacherTask:
    kind = "teacher"

    def __init__(self, model: TeacherCNN):
        self.model = model

    def prepare(self, data, device):
        pass

    def targets(self, x, labels, listener=None, control=None):
        return labels

    def batch_loss(self, x, target, labels):
        logits = self.model(x)
        return F.cross_entropy(logits, target), (logits.argmax(1) == labels).sum()

    @torch.no_grad()
    def evaluate(self, x, labels, batch_size=2000):
        self.model.eval()
        loss = correct = 0.0
        for i in range(0, len(x), batch_size):
            logits = self.model(x[i : i + batch_size])
            loss += F.cross_entropy(logits, labels[i : i + batch_size], reduction="sum").item()
            correct += (logits.argmax(1) == labels[i : i + batch_size]).sum().item()
        self.model.train()
        n = max(len(x), 1)
        return {"accuracy": correct / n, "loss": loss / n}

    def snapshot(self, **info):
        return None

    def cpu_threads(self, batch_size):
        return None  # convolutions are big operations: every core helps


class TreeTask:
    """Train a tree on hard labels, or distil it on a teacher's soft targets."""

    kind = "tree"

    def __init__(self, model: SoftDecisionTree, teacher: nn.Module | None = None,
                 temperature: float = 1.0, class_names=()):
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ConfigError(f"distillation temperature must be a positive, finite number, not {temperature}")
        self.model = model
        self.teacher = teacher
        self.temperature = temperature
        self.class_names = tuple(class_names)
        #: the teacher's soft targets for the training split, when already computed (several starts share them)
        self.fixed_targets: Tensor | None = None

    def prepare(self, data, device):
        if self.teacher is not None:
            self.teacher.to(device)

    @property
    def targets_follow_input(self) -> bool:
        """With a teacher, an augmented (shifted) digit gets the teacher's answer for *that* input."""
        return self.teacher is not None

    def targets_per_shift(self, x, max_shift, progress=None):
        from .paths import user_cache_dir

        return teacher_targets_per_shift(self.teacher, x, max_shift, self.temperature,
                                         cache_dir=user_cache_dir() / "teacher-targets", progress=progress)

    def targets(self, x, labels, listener=None, control=None):
        """One-hot labels, or the teacher's soft targets (already computed, or labelled now, obeying stop)."""
        if self.teacher is None:
            return F.one_hot(labels, self.model.config.n_classes).to(x.dtype)
        if self.fixed_targets is not None and len(self.fixed_targets) == len(x):
            return self.fixed_targets
        return label_digits(self.teacher, x, self.temperature, listener or (lambda event: None),
                            control or TrainingControl())

    def batch_loss(self, x, target, labels):
        loss, _, _, out = self.model.loss(x, target)
        with torch.no_grad():
            leaf_class = out.leaf_log_probs.argmax(1)
            predicted = leaf_class[out.log_path[:, self.model.config.n_inner :].argmax(1)]
            correct = (predicted == labels).sum()
        return loss, correct

    @torch.no_grad()
    def evaluate(self, x, labels, batch_size=2000):
        model = self.model
        model.eval()
        n_inner = model.config.n_inner
        loss = bigot = mixture = 0.0
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], labels[i : i + batch_size]
            out = model(xb)
            leaf_path = out.log_path[:, n_inner:]
            q = out.leaf_log_probs
            loss += (leaf_path.exp() * -q.t()[yb]).sum().item()
            bigot += (q.argmax(1)[leaf_path.argmax(1)] == yb).sum().item()
            mixture += ((leaf_path.exp() @ q.exp()).argmax(1) == yb).sum().item()
        model.train()
        n = max(len(x), 1)
        return {"accuracy": bigot / n, "mixture_accuracy": mixture / n, "loss": loss / n}

    def snapshot(self, **info):
        return make_tree_snapshot(self.model, class_names=self.class_names, **info)

    def cpu_threads(self, batch_size):
        """One thread unless the step's matrix multiply is large.

        A tree's step is a few dozen small operations: splitting each over several
        threads costs more in hand-offs than it saves (and, when other programs or
        the GUI want the cores, much more). Measured on 2 cores, depth 8, batch 128:
        1.15 s per epoch on one thread, 0.82 s on two when nothing else runs, 2.9 s on
        two when one other busy process runs.
        """
        cfg = self.model.config
        return 1 if batch_size * cfg.n_inner * cfg.n_features < 64_000_000 else None


# --------------------------------------------------------------------------- the loop


@dataclass
class TrainingResult:
    status: str
    history: list = field(default_factory=list)
    test_metrics: dict = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0


class Trainer:
    """Runs a :class:`TrainingTask` over the training split and reports as it goes."""

    #: seconds between two BatchProgress events (the GUI cannot show more anyway)
    progress_interval = 0.1

    def __init__(self, task: TrainingTask, data: DataSplits, config: TrainConfig,
                 listener: Listener | None = None, control: TrainingControl | None = None):
        self.task = task
        self.data = data
        self.config = config
        self.listener = listener or (lambda event: None)
        self.control = control or TrainingControl()
        self.device = resolve_device(config.device)
        self._last_good: dict | None = None
        self._last_snapshot: TreeSnapshot | None = None

    # ------------------------------------------------------------------ helpers

    def _emit(self, event) -> None:
        self.listener(event)

    def _preparing(self, done: int, total: int) -> None:
        self._emit(Preparing("the teacher labels every shifted training digit", done, total))

    def _remember_good_state(self) -> None:
        self._last_good = {k: v.detach().clone() for k, v in self.task.model.state_dict().items()}

    #: a weight beyond this has diverged (trained trees and teachers stay below ~10; float16 snapshots end at 65,504)
    divergence_limit = 1e4

    def _params_finite(self) -> bool:
        """False when a weight is NaN, infinite or has run away beyond :attr:`divergence_limit`."""
        return all(bool(p.detach().abs().max() <= self.divergence_limit) for p in self.task.model.parameters()
                   if p.numel())

    def _take_snapshot(self, epoch: int, samples: int, kind: str) -> TreeSnapshot | None:
        snap = self.task.snapshot(epoch=epoch, samples_seen=samples, kind=kind, total_epochs=self.config.epochs)
        if snap is not None:
            self._last_snapshot = snap
        return snap

    def _make_optimizer(self) -> torch.optim.Optimizer:
        params = [p for p in self.task.model.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.config.lr, weight_decay=self.config.weight_decay,
                                foreach=True)

    # ------------------------------------------------------------------ run

    def run(self) -> TrainingResult:
        threads = self.config.threads or (self.task.cpu_threads(self.config.batch_size)
                                          if hasattr(self.task, "cpu_threads") else None)
        if self.device.type != "cpu" or not threads:
            return self._run()
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return self._run()
        finally:
            torch.set_num_threads(previous)

    def _run(self) -> TrainingResult:
        cfg, task, model = self.config, self.task, self.task.model
        started = time.perf_counter()
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        model.to(self.device)
        model.train()
        task.prepare(self.data, self.device)
        x_train, y_train = self.data.train.tensors(self.device)
        x_val, y_val = self.data.val.tensors(self.device)
        per_shift = cfg.augment_shift > 0 and getattr(task, "targets_follow_input", False)
        if per_shift:
            targets = task.targets_per_shift(x_train, cfg.augment_shift, self._preparing)
        else:
            targets = task.targets(x_train, y_train, self._emit, self.control)
        n = len(y_train)
        if n == 0:
            raise ConfigError("the training split is empty")
        batches = math.ceil(n / cfg.batch_size)
        total = n * cfg.epochs
        if targets is None:  # stopped while the teacher labelled the digits
            self._emit(TrainingStarted(task.kind, cfg.epochs, batches, n, str(self.device)))
            seconds = time.perf_counter() - started
            self._emit(TrainingFinished("stopped", {}, [], "", seconds))
            return TrainingResult("stopped", seconds=seconds)
        optimizer = self._make_optimizer()
        scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * batches)
                     if cfg.lr_schedule == "cosine" else None)

        self._emit(TrainingStarted(task.kind, cfg.epochs, batches, n, str(self.device)))
        self._remember_good_state()
        snap = self._take_snapshot(0, 0, "initial")
        if snap is not None:
            self._emit(SnapshotTaken(snap))

        history: list[dict] = []
        samples = 0
        next_snapshot = cfg.snapshot_every or math.inf
        active_seconds = 0.0
        status, message = "completed", ""

        def on_state(state: str) -> None:
            self._emit(StateChanged(state))

        try:
            for epoch in range(1, cfg.epochs + 1):
                epoch_started = time.perf_counter()
                perm = torch.randperm(n, generator=generator).to(self.device)
                loss_sum = torch.zeros((), device=self.device)
                correct_sum = torch.zeros((), dtype=torch.long, device=self.device)
                report_loss, report_batches = 0.0, 0
                last_report = tick = time.perf_counter()
                for b in range(batches):
                    if not self.control.poll(on_state):
                        status = "stopped"
                        break
                    now = time.perf_counter()
                    if now - tick > 0.5:  # we were paused: do not count that time
                        epoch_started += now - tick
                        last_report = now
                    idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                    xb, yb = x_train[idx], y_train[idx]
                    if cfg.augment_shift:
                        xb, shift_ids = random_shift(xb, cfg.augment_shift, generator)
                    tb = targets[shift_ids, idx].to(xb.dtype) if per_shift else targets[idx]
                    loss, correct = task.batch_loss(xb, tb, yb)
                    loss_value = loss.item()
                    if not math.isfinite(loss_value):
                        raise TrainingError(
                            f"the loss became {loss_value} at epoch {epoch}, batch {b + 1}: training stopped "
                            "and the last good weights were kept. Try a smaller learning rate."
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                    loss_sum += loss.detach() * len(idx)
                    correct_sum += correct
                    samples += len(idx)
                    report_loss += loss_value
                    report_batches += 1
                    tick = time.perf_counter()
                    if samples >= next_snapshot:
                        while next_snapshot <= samples:
                            next_snapshot += cfg.snapshot_every
                        if not self._params_finite():
                            raise TrainingError(
                                f"training diverged at epoch {epoch}, batch {b + 1} (weights became NaN, infinite or "
                                f"larger than {self.divergence_limit:g}): it stopped and the last good weights were "
                                "kept. Try a smaller learning rate.")
                        self._remember_good_state()
                        snap = self._take_snapshot(epoch - 1, samples, "samples")
                        if snap is not None:
                            self._emit(SnapshotTaken(snap))
                    if tick - last_report >= self.progress_interval or b == batches - 1:
                        elapsed = active_seconds + (tick - epoch_started)
                        rate = samples / elapsed if elapsed > 0 else 0.0
                        self._emit(BatchProgress(
                            epoch, cfg.epochs, b + 1, batches, samples, total,
                            report_loss / max(report_batches, 1), rate,
                            (total - samples) / rate if rate > 0 else math.inf,
                        ))
                        report_loss, report_batches, last_report = 0.0, 0, tick
                if status == "stopped":
                    break
                train_seconds = time.perf_counter() - epoch_started
                active_seconds += train_seconds
                epoch_loss = loss_sum.item() / n
                if not math.isfinite(epoch_loss) or not self._params_finite():
                    raise TrainingError(f"training diverged during epoch {epoch} (weights became NaN, infinite or larger "
                                        f"than {self.divergence_limit:g}): the last good weights were kept. "
                                        "Try a smaller learning rate.")
                val = task.evaluate(x_val, y_val) if len(y_val) else {}
                metrics = {
                    "epoch": epoch,
                    "train_loss": epoch_loss,
                    "train_accuracy": correct_sum.item() / n,
                    "val_accuracy": val.get("accuracy", float("nan")),
                    "val_loss": val.get("loss", float("nan")),
                    "seconds": time.perf_counter() - epoch_started,  # with validation
                    "train_seconds": train_seconds,
                    "lr": optimizer.param_groups[0]["lr"],
                    "samples_seen": samples,
                }
                if "mixture_accuracy" in val:
                    metrics["val_mixture_accuracy"] = val["mixture_accuracy"]
                history.append(metrics)
                self._remember_good_state()
                snap = self._take_snapshot(epoch, samples, "epoch")
                self._emit(EpochFinished(epoch, cfg.epochs, metrics, snap))
        except TrainingError as exc:
            status, message = "failed", str(exc)
            self._restore_last_good()
        test_metrics = {}
        if status != "failed" and len(self.data.test):
            x_test, y_test = self.data.test.tensors(self.device)
            test_metrics = task.evaluate(x_test, y_test)
        seconds = time.perf_counter() - started
        self._emit(TrainingFinished(status, test_metrics, history, message, seconds))
        return TrainingResult(status, history, test_metrics, message, seconds)

    def _restore_last_good(self) -> None:
        if self._last_good is not None:
            self.task.model.load_state_dict(self._last_good)

    @property
    def last_snapshot(self) -> TreeSnapshot | None:
        """The snapshot of the last good weights (kept when training fails)."""
        return self._last_snapshot
