"""What to train, as one value: the CLI builds it from flags, the GUI from its form.

A job loads the data, builds the model (and the teacher for distillation),
runs the shared :class:`Trainer` and can save the result as a checkpoint, so
the CLI and the GUI train exactly the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .checkpoint import checkpoint_payload, load_model, save_payload
from .data import DataSplits, load_dataset
from .datasets import get_dataset
from .errors import ConfigError
from .restarts import StartChoice, choose_start, shared_soft_targets
from .teacher import TeacherCNN, TeacherConfig
from .training import TeacherTask, Trainer, TrainingControl, TrainingResult, TrainConfig, TreeTask
from .tree import SoftDecisionTree, TreeConfig

TARGETS = ("distilled", "hard")
MAX_RESTARTS = 100


@dataclass(frozen=True)
class TeacherJob:
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=15, augment_shift=2))
    dataset: str = "mnist"
    data_dir: str | None = None
    kind = "teacher"

    def build_model(self) -> TeacherCNN:
        torch.manual_seed(self.train.seed)
        return TeacherCNN(self.teacher)

    def make_task(self, model, class_names, teacher=None):
        return TeacherTask(model)

    def training_info(self) -> dict:
        return {"targets": "hard"}


@dataclass(frozen=True)
class TreeJob:
    tree: TreeConfig = field(default_factory=TreeConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40, lr=0.01))
    targets: str = "distilled"  # or "hard"
    temperature: float = 1.0
    teacher_path: str | None = None  # used when no teacher model is handed to run_job
    dataset: str = "mnist"
    data_dir: str | None = None
    restarts: int = 1  # candidate starts tried before the long run (see restarts.py); 1: just the seed's
    restart_epochs: int = 2  # epochs each candidate is trained before the best is chosen
    kind = "tree"

    def __post_init__(self):
        if self.targets not in TARGETS:
            raise ConfigError(f"targets must be 'distilled' or 'hard', not {self.targets!r}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ConfigError(f"distillation temperature must be a positive, finite number, not {self.temperature}")
        if not isinstance(self.restarts, int) or not 1 <= self.restarts <= MAX_RESTARTS:
            raise ConfigError(f"starts to try must be a whole number from 1 to {MAX_RESTARTS}, not {self.restarts!r}")
        if not isinstance(self.restart_epochs, int) or self.restart_epochs < 1:
            raise ConfigError(f"epochs per start must be a whole number ≥ 1, not {self.restart_epochs!r}")
        if self.restarts > 1 and self.train.seed + self.restarts > 2**63:
            raise ConfigError(f"seed {self.train.seed} + {self.restarts} starts goes past 2^63 − 1")

    def build_model(self) -> SoftDecisionTree:
        torch.manual_seed(self.train.seed)
        return SoftDecisionTree(self.tree)

    def make_task(self, model, class_names, teacher=None):
        return TreeTask(model, teacher if self.targets == "distilled" else None, self.temperature, class_names)

    def training_info(self) -> dict:
        info = {"targets": self.targets}
        if self.restarts > 1:
            info["restarts"] = self.restarts
            info["restart_epochs"] = self.restart_epochs
        if self.targets == "distilled":
            info["temperature"] = self.temperature
            if self.teacher_path:
                info["teacher"] = Path(self.teacher_path).name
        return info


@dataclass
class JobOutcome:
    job: TeacherJob | TreeJob
    model: torch.nn.Module
    result: TrainingResult
    data: DataSplits
    start: StartChoice | None = None  # how the start was chosen, when several were tried

    def checkpoint_metrics(self) -> dict:
        m = {f"test_{k}": v for k, v in self.result.test_metrics.items()}
        if self.result.history:
            last = self.result.history[-1]
            m.update({k: last[k] for k in ("val_accuracy", "train_accuracy", "train_loss") if k in last})
            m["epochs_trained"] = last["epoch"]
        m["status"] = self.result.status
        return m

    def checkpoint_payload(self) -> dict:
        """The trained model as a checkpoint dict (what :meth:`save` writes)."""
        spec = self.data.dataset
        return checkpoint_payload(
            self.job.kind, self.model.to("cpu"),
            train_config=self.job.train.to_dict(), training=self.training_info(),
            metrics=self.checkpoint_metrics(), history=self.result.history,
            dataset={"name": spec.name, "title": spec.title, "class_names": list(spec.class_names)},
        )

    def training_info(self) -> dict:
        info = self.job.training_info()
        if self.start is not None:
            info["start"] = self.start.to_dict()
        return info

    def save(self, path) -> Path:
        return save_payload(path, self.checkpoint_payload())


def load_teacher(path) -> TeacherCNN:
    model, _ = load_model(path, expect_kind="teacher")
    return model


def run_job(job, listener=None, control: TrainingControl | None = None, data: DataSplits | None = None,
            teacher: torch.nn.Module | None = None, model: torch.nn.Module | None = None,
            progress=None) -> JobOutcome:
    """Train what ``job`` describes; ``data``, ``teacher`` and ``model`` may be given to skip loading."""
    if data is None:
        data = load_dataset(job.dataset, job.data_dir, progress=progress)
    spec = data.dataset
    shape = (1, *spec.image_shape)
    if job.kind == "tree" and tuple(job.tree.input_shape) != shape:
        job = replace(job, tree=replace(job.tree, input_shape=shape))
    if job.kind == "teacher" and tuple(job.teacher.input_shape) != shape:
        job = replace(job, teacher=replace(job.teacher, input_shape=shape))
    if job.kind == "tree" and job.targets == "distilled" and teacher is None:
        if not job.teacher_path:
            raise ConfigError("distillation needs a teacher: give a teacher checkpoint (--teacher) or use hard labels")
        teacher = load_teacher(job.teacher_path)
    listener = listener or (lambda event: None)
    control = control or TrainingControl()
    start, targets = None, None
    if job.kind == "tree" and job.restarts > 1 and model is None:
        targets = shared_soft_targets(job, data, teacher, listener, control)
        if not control.stopped:  # (a stop while labelling: the run below stops at once)
            model, start = choose_start(job, data, teacher, listener, control, targets)
    model = model if model is not None else job.build_model()
    task = job.make_task(model, spec.class_names, teacher)
    if targets is not None:
        task.fixed_targets = targets
    result = Trainer(task, data, job.train, listener, control).run()
    return JobOutcome(job, model, result, data, start)
