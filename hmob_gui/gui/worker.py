"""The one thread that owns the models: loads, trains, saves; the GUI only sends commands.

``ModelWorker`` lives in a ``QThread``. It holds the current tree, the teacher,
the last training outcome and the loaded data; nothing else touches them. The
GUI talks to it through :class:`WorkerHandle` (GUI thread): commands travel as
queued signals, and pause / resume / stop go through the core's thread-safe
:class:`~hmob_gui.core.training.TrainingControl` (a training run blocks the
worker's event loop, so those cannot wait in its queue). The worker answers
with plain objects only: float32 ``TreeSnapshot``s, core training events
(dataclasses), ``TeacherPredictor``s, ``SavedRun``s and strings.

Worker → GUI signals (all queued):

* ``treeLoaded(TreeSnapshot, ModelInfo)`` — a tree is now current (startup,
  file, run, or the end of a training); the snapshot is float32 (exact).
* ``teacherLoaded(TeacherPredictor, ModelInfo)`` — a teacher is now current.
* ``devicesFound(list[str])`` — "cpu" and every CUDA device.
* ``busyChanged(str)`` — what the worker is doing ("" when idle).
* ``trainingStarted(TrainingStarted)``, ``batchProgress(BatchProgress)``,
  ``snapshotTaken(TreeSnapshot)``, ``epochFinished(EpochFinished)``,
  ``stateChanged(str)``, ``trainingFinished(TrainingFinished)`` — the core's
  events, re-emitted (the teacher's training, when asked for, comes first).
* ``requestFinished(str status)`` — a training request is over: "completed",
  "stopped" or "failed" (after the last trainingFinished).
* ``runLoaded(SavedRun)``, ``saved(str what, str path)``,
  ``failed(str title, str message)`` — a file was read / written / refused.
* ``notice(str)`` — something to say in the status bar (e.g. no shipped tree yet).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QThread, Signal, Slot

from .training_request import TrainingRequest


@dataclass(frozen=True)
class ModelInfo:
    """What the window shows about the current tree or teacher."""

    kind: str  # "tree" or "teacher"
    summary: str
    path: str = ""  # the file it came from, "" when trained in this window
    metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # model_config + training info


@dataclass(frozen=True)
class RunContents:
    """What the GUI holds of a run, sent to the worker to be saved with the current tree."""

    settings: dict
    history: list
    test_metrics: dict
    snapshots: list


def _describe_unexpected(exc: BaseException) -> str:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n\n" + "".join(tb[-6:])


class ModelWorker(QObject):
    treeLoaded = Signal(object, object)
    teacherLoaded = Signal(object, object)
    devicesFound = Signal(list)
    busyChanged = Signal(str)
    trainingStarted = Signal(object)
    batchProgress = Signal(object)
    snapshotTaken = Signal(object)
    epochFinished = Signal(object)
    stateChanged = Signal(str)
    trainingFinished = Signal(object)
    requestFinished = Signal(str)
    runLoaded = Signal(object)
    saved = Signal(str, str)
    failed = Signal(str, str)
    notice = Signal(str)

    def __init__(self):
        super().__init__()
        self._tree = None  # SoftDecisionTree
        self._tree_payload_info: dict = {}  # what a saved checkpoint of it should carry
        self._outcome = None  # JobOutcome of the last tree training
        self._teacher = None  # TeacherCNN
        self._teacher_path: str | None = None
        self._teacher_outcome = None
        self._data_cache: dict = {}

    # ------------------------------------------------------------------ helpers

    def _guarded(self, title: str, fn) -> bool:
        from ..core.errors import HmobError

        try:
            fn()
            return True
        except HmobError as exc:
            self.failed.emit(title, str(exc))
        except Exception as exc:  # a bug: report it, keep the app and the current model
            self.failed.emit(title, "Unexpected error (please report it):\n" + _describe_unexpected(exc))
        return False

    def _emit_tree(self, model, info: ModelInfo, **snapshot_info) -> None:
        import numpy as np

        from ..core.snapshot import make_tree_snapshot

        snap = make_tree_snapshot(model, dtype=np.float32, **snapshot_info)
        self.treeLoaded.emit(snap, info)

    def _set_tree_from_checkpoint(self, ckpt, path: str) -> None:
        model = ckpt.build()  # raises CheckpointError: the current tree stays
        self._tree, self._outcome = model, None
        self._tree_payload_info = dict(train_config=ckpt.train_config, training=ckpt.training,
                                       metrics=ckpt.metrics, history=ckpt.history, dataset=ckpt.dataset)
        epochs = int(ckpt.metrics.get("epochs_trained", len(ckpt.history)) or 0)
        info = ModelInfo("tree", ckpt.summary(), path, ckpt.metrics, ckpt.history,
                         {"model": ckpt.model_config, "training": ckpt.training, "train": ckpt.train_config})
        self._emit_tree(model, info, epoch=epochs, total_epochs=epochs, kind="final",
                        class_names=ckpt.class_names)

    def _set_teacher(self, model, info: ModelInfo, path: str | None) -> None:
        from ..core.teacher import TeacherPredictor

        self._teacher, self._teacher_path = model, path
        self.teacherLoaded.emit(TeacherPredictor(model), info)

    # ------------------------------------------------------------------ loading

    @Slot(str, str)
    def load_startup(self, tree_path: str, teacher_path: str) -> None:
        """Load the models the window opens with; a missing teacher is not an error."""
        from pathlib import Path

        self.busyChanged.emit("loading the models")
        if tree_path and not Path(tree_path).is_file():
            self.notice.emit(f"No tree to show yet: {tree_path} is missing. Open a checkpoint or train a tree.")
        elif tree_path:
            self.load_tree(tree_path)
        if teacher_path and Path(teacher_path).is_file():
            self.load_teacher(teacher_path)
        self._guarded("Devices", self._find_devices)
        self.busyChanged.emit("")

    def _find_devices(self) -> None:
        from ..core.devices import available_devices

        self.devicesFound.emit(available_devices())

    @Slot(str)
    def load_tree(self, path: str) -> None:
        from ..core.checkpoint import load_checkpoint

        def load():
            ckpt = load_checkpoint(path, expect_kind="tree")
            self._set_tree_from_checkpoint(ckpt, path)

        self._guarded("Could not open the tree checkpoint", load)

    @Slot(str)
    def load_teacher(self, path: str) -> None:
        from ..core.checkpoint import load_model

        def load():
            model, ckpt = load_model(path, expect_kind="teacher")
            self._teacher_outcome = None
            self._set_teacher(model, ModelInfo("teacher", ckpt.summary(), path, ckpt.metrics, ckpt.history), path)

        self._guarded("Could not open the teacher checkpoint", load)

    # ------------------------------------------------------------------ training

    def _data(self, request: TrainingRequest):
        from ..core.data import load_dataset

        job = request.tree_job
        key = (job.dataset, job.data_dir)
        if key not in self._data_cache:
            self._data_cache = {key: load_dataset(job.dataset, job.data_dir)}
        data = self._data_cache[key]
        if request.train_limit:
            n = request.train_limit
            data = data.subset(n, max(n // 4, 100), max(n // 4, 100))
        return data

    def _listener(self, event) -> None:
        from ..core import training as t
        from ..core.restarts import StartChosen

        if isinstance(event, t.BatchProgress):
            self.batchProgress.emit(event)
        elif isinstance(event, t.SnapshotTaken):
            self.snapshotTaken.emit(event.snapshot)
        elif isinstance(event, t.EpochFinished):
            self.epochFinished.emit(event)
        elif isinstance(event, t.StateChanged):
            self.stateChanged.emit(event.state)
        elif isinstance(event, t.TrainingStarted):
            self.trainingStarted.emit(event)
        elif isinstance(event, t.TrainingFinished):
            self.trainingFinished.emit(event)
        elif isinstance(event, StartChosen):
            self.notice.emit(f"Start: {event.choice.summary()}")
        elif isinstance(event, t.Preparing):
            if event.total <= 1 or not event.unit:
                self.busyChanged.emit(event.message)
            elif event.unit in ("samples", "digits"):
                self.busyChanged.emit(f"{event.message}: {event.done / event.total:.0%}")
            else:
                self.busyChanged.emit(f"{event.message} ({event.done} of {event.total} {event.unit})")

    @Slot(object, object)
    def train(self, request: TrainingRequest, control) -> None:
        """Train what the form asked for (a new teacher first, when asked), obeying ``control``."""
        status = "failed"

        def run():
            nonlocal status
            from ..core.jobs import load_teacher, run_job

            self.busyChanged.emit("loading the data set")
            data = self._data(request)
            teacher = None
            if request.needs_teacher:
                if request.teacher_job is not None:
                    self.busyChanged.emit("training the teacher")
                    outcome = run_job(request.teacher_job, self._listener, control, data=data)
                    if outcome.result.status != "completed":
                        status = outcome.result.status
                        return
                    self._teacher_outcome = outcome
                    teacher = outcome.model
                    acc = outcome.result.test_metrics.get("accuracy")
                    summary = "teacher CNN trained here" + (f", test accuracy {acc:.2%}" if acc is not None else "")
                    self._set_teacher(teacher, ModelInfo("teacher", summary, "", outcome.checkpoint_metrics(),
                                                         outcome.result.history), None)
                elif self._teacher is not None and self._teacher_path == request.teacher_path:
                    teacher = self._teacher
                else:
                    self.busyChanged.emit("loading the teacher")
                    teacher = load_teacher(request.teacher_path)
            self.busyChanged.emit("training the tree")
            outcome = run_job(request.tree_job, self._listener, control, data=data, teacher=teacher)
            status = outcome.result.status
            # completed, stopped (the partly trained tree) or failed (its last good weights): current now
            self._outcome, self._tree = outcome, outcome.model
            self._tree_payload_info = {}
            last = outcome.result.history[-1]["epoch"] if outcome.result.history else 0
            acc = outcome.result.test_metrics.get("accuracy")
            summary = (f"tree of depth {request.tree_job.tree.depth} ({request.tree_job.targets}) trained here"
                       + (f", test accuracy {acc:.2%}" if acc is not None else f", {status}")
                       + (f"; {outcome.start.summary()}" if outcome.start is not None else ""))
            info = ModelInfo("tree", summary, "", outcome.checkpoint_metrics(), outcome.result.history,
                             {"model": outcome.model.config.to_dict(), "training": outcome.training_info()})
            self._emit_tree(outcome.model, info, epoch=last, total_epochs=request.tree_job.train.epochs,
                            kind="final", samples_seen=outcome.result.history[-1]["samples_seen"] if last else 0,
                            class_names=data.dataset.class_names)

        try:
            self._guarded("Training failed", run)
        finally:
            self.busyChanged.emit("")
            self.requestFinished.emit(status)

    # ------------------------------------------------------------------ saving

    def _payload(self, kind: str) -> dict:
        from ..core.checkpoint import checkpoint_payload
        from ..core.errors import CheckpointError

        if kind == "teacher":
            if self._teacher_outcome is not None:
                return self._teacher_outcome.checkpoint_payload()
            if self._teacher is None:
                raise CheckpointError("there is no teacher to save")
            return checkpoint_payload("teacher", self._teacher)
        if self._outcome is not None:
            return self._outcome.checkpoint_payload()
        if self._tree is None:
            raise CheckpointError("there is no tree to save")
        return checkpoint_payload("tree", self._tree, **self._tree_payload_info)

    @Slot(str, str)
    def save_checkpoint(self, path: str, kind: str = "tree") -> None:
        from ..core.checkpoint import save_payload

        def save():
            save_payload(path, self._payload(kind))
            self.saved.emit(f"{kind} checkpoint", path)

        self._guarded("Could not save the checkpoint", save)

    @Slot(str, object)
    def save_run(self, path: str, contents: RunContents) -> None:
        from ..core.runfile import SavedRun, save_run

        def save():
            payload = self._payload("tree") if self._tree is not None else None
            run = SavedRun(settings=contents.settings, history=contents.history,
                           test_metrics=contents.test_metrics, snapshots=contents.snapshots, checkpoint=payload)
            save_run(path, run)
            self.saved.emit("run", path)

        self.busyChanged.emit("saving the run")
        self._guarded("Could not save the run", save)
        self.busyChanged.emit("")

    @Slot(str)
    def open_run(self, path: str) -> None:
        from ..core.checkpoint import checkpoint_from_payload
        from ..core.runfile import load_run

        def load():
            run = load_run(path)
            ckpt = checkpoint_from_payload(run.checkpoint, "tree", run.path) if run.checkpoint else None
            if ckpt is not None:
                ckpt.build()  # refuse a damaged model before anything changes
            self.runLoaded.emit(run)
            if ckpt is not None:
                self._set_tree_from_checkpoint(ckpt, path)

        self.busyChanged.emit("opening the run")
        self._guarded("Could not open the run", load)
        self.busyChanged.emit("")

    @Slot(str)
    def shutdown(self, save_path: str) -> None:
        """The last command: save when asked, then end the thread's event loop."""
        if save_path:
            self.save_checkpoint(save_path)
        QThread.currentThread().quit()


class WorkerHandle(QObject):
    """The GUI thread's side: starts the worker thread and sends it commands."""

    _load_startup = Signal(str, str)
    _load_tree = Signal(str)
    _load_teacher = Signal(str)
    _train = Signal(object, object)
    _save_checkpoint = Signal(str, str)
    _save_run = Signal(str, object)
    _open_run = Signal(str)
    _shutdown = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("hmob-model-worker")
        self.worker = ModelWorker()
        self.worker.moveToThread(self.thread)
        self.thread.finished.connect(self.worker.deleteLater)
        self._load_startup.connect(self.worker.load_startup)
        self._load_tree.connect(self.worker.load_tree)
        self._load_teacher.connect(self.worker.load_teacher)
        self._train.connect(self.worker.train)
        self._save_checkpoint.connect(self.worker.save_checkpoint)
        self._save_run.connect(self.worker.save_run)
        self._open_run.connect(self.worker.open_run)
        self._shutdown.connect(self.worker.shutdown)
        self.worker.requestFinished.connect(self._on_request_finished)
        self._control = None
        self.training = False
        self.thread.start()

    # -------------------------------------------------------------- commands

    def load_startup(self, tree_path: str, teacher_path: str) -> None:
        self._load_startup.emit(str(tree_path or ""), str(teacher_path or ""))

    def load_tree(self, path) -> None:
        self._load_tree.emit(str(path))

    def load_teacher(self, path) -> None:
        self._load_teacher.emit(str(path))

    def start_training(self, request: TrainingRequest) -> None:
        from ..core.training import TrainingControl

        if self.training:
            return
        self._control = TrainingControl()
        self.training = True
        self._train.emit(request, self._control)

    def pause(self) -> None:
        if self._control is not None:
            self._control.pause()

    def resume(self) -> None:
        if self._control is not None:
            self._control.resume()

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()

    def save_checkpoint(self, path, kind: str = "tree") -> None:
        self._save_checkpoint.emit(str(path), kind)

    def save_run(self, path, contents: RunContents) -> None:
        self._save_run.emit(str(path), contents)

    def open_run(self, path) -> None:
        self._open_run.emit(str(path))

    def shutdown(self, save_path: str | None = None, timeout_ms: int = 120_000) -> bool:
        """Stop any training, save when asked, end the thread; True once it has ended."""
        if self.thread.isFinished() or not self.thread.isRunning():
            return True
        self.stop()
        self._shutdown.emit(str(save_path or ""))
        return self.thread.wait(timeout_ms)

    def _on_request_finished(self, status: str) -> None:
        self.training = False
        self._control = None
