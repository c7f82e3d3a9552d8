"""The main window: the tree in the middle, the form, the node panel, the curves, the timeline.

It wires widgets to the worker and owns nothing of torch: it receives plain
snapshots, events and predictors through the worker's signals, keeps the
snapshot history (timeline) and the metrics (curves), and draws only the
latest snapshot when they arrive faster than the view can draw them.

State other modules use (issue 4, the draw-a-digit panel):
``current_snapshot`` (the float32 snapshot of the current tree, exact for
explanations), ``displayed_snapshot`` (what the view shows now, maybe a past
one), ``teacher_predictor`` (a ``TeacherPredictor`` or None), ``tree_view``,
and the signals ``currentSnapshotChanged(TreeSnapshot)`` and
``teacherChanged(object)``. The "Draw" dock (:class:`InferencePanel`) explains an input
with the tree on show and hands the explanation to the tree view.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QVBoxLayout, QWidget)

from ..core.wording import count
from . import collector
from .curves import CurvesPanel
from .inference_panel import InferencePanel
from .node_panel import NodePanel
from .settings import AppSettings
from .timeline import Timeline
from .training_panel import TrainingPanel
from .training_request import form_values_from_run
from .tree_view import TreeView
from .worker import RunContents, WorkerHandle

MIN_DRAW_GAP_MS = 100  # at most 10 tree redraws a second while training (every snapshot stays in the timeline)
DRAW_SHARE = 0.05  # and at most ~5% of the time spent redrawing the tree: the GUI thread shares the cores
#                    and the GIL with the training (a depth-8 redraw costs ~15 ms: ~5 redraws a second)
CHECKPOINT_FILTER = "Checkpoints (*.pt);;All files (*)"
RUN_FILTER = "hmob-gui runs (*.hmobrun);;All files (*)"


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class MainWindow(QMainWindow):
    currentSnapshotChanged = Signal(object)
    teacherChanged = Signal(object)

    def __init__(self, tree_path: str | None = None, teacher_path: str | None = None,
                 settings: AppSettings | None = None, started_at: float | None = None):
        super().__init__()
        collector.install()  # before the worker thread starts: it must never collect Qt garbage
        self.setWindowTitle("hmob-gui — a soft decision tree, learning")
        self.started_at = started_at if started_at is not None else time.perf_counter()
        self.first_tree_drawn_s: float | None = None
        self.settings = settings or AppSettings()
        self.current_snapshot = None
        self.displayed_snapshot = None
        self.teacher_predictor = None
        self.tree_info = None
        self.teacher_info = None
        self.errors: list[tuple[str, str]] = []  # every error shown, for tests and the log
        self.saved_files: list[tuple[str, str]] = []  # (what, path) of every file the worker wrote
        self._error_boxes: dict = {}  # title → (the dialog on show, how many errors it stands for)
        self.state = "idle"
        self.training_kind = "tree"
        self.samples_seen = 0  # of the training in progress (the latest progress report)
        self._n_train = 1
        self._test_metrics: dict = {}
        self._opened_run: str | None = None
        self._pending_snapshot = None
        self._last_draw = 0.0
        self._last_apply_ms = 0.0
        self._closing = False
        self._export = None  # ExportController, made on first use
        self._training_began = False  # whether the current request got past loading and preparing
        self._running_request = None  # the TrainingRequest being carried out
        self._run_settings: dict | None = None  # the settings that made the history shown (saved with runs)
        self._model_label_before = ""

        self._build_widgets()
        self._build_actions()
        self.worker = WorkerHandle(self)
        self._connect_worker()
        self.resize(1500, 950)
        self.resizeDocks([self.training_dock, self.node_dock], [330, 330], Qt.Horizontal)
        self.resizeDocks([self.node_dock, self.curves_dock], [430, 470], Qt.Vertical)
        self.settings.restore_window(self)
        saved = self.settings.form_values()
        if saved:
            self.training_panel.set_values(saved, validate=False)
        self._busy_message = "Loading the models…"
        self.statusBar().showMessage(self._busy_message)
        self.worker.load_startup(tree_path or "", teacher_path or "")

    # ================================================================ building

    def _build_widgets(self) -> None:
        self.tree_view = TreeView()
        self.timeline = Timeline()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.progress_label = QLabel("Not training")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree_view, 1)
        layout.addWidget(self.timeline)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.progress_label)
        layout.addLayout(row)
        self.setCentralWidget(central)

        self.training_panel = TrainingPanel()
        self.node_panel = NodePanel()
        self.curves = CurvesPanel()
        self.training_dock = self._dock("Training", self.training_panel, Qt.LeftDockWidgetArea)
        self.node_dock = self._dock("Node", self.node_panel, Qt.RightDockWidgetArea)
        self.curves_dock = self._dock("Curves", self.curves, Qt.RightDockWidgetArea)
        self.inference_panel = InferencePanel(data_dir=lambda: self.training_panel.values().get("data_dir") or None,
                                              settings=self.settings)
        self.draw_dock = self._dock("Draw", self.inference_panel, Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.training_dock, self.draw_dock)
        self.training_dock.raise_()
        self.model_label = QLabel()
        self.statusBar().addPermanentWidget(self.model_label)

        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_pending)
        self._latest_progress = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(250)
        self._progress_timer.timeout.connect(self._show_progress)

        self.tree_view.nodeClicked.connect(self._on_node_clicked)
        self.timeline.snapshotChosen.connect(self._show_snapshot)
        self.training_panel.startRequested.connect(self.start_training)
        self.training_panel.pauseRequested.connect(self.pause_training)
        self.training_panel.resumeRequested.connect(self.resume_training)
        self.training_panel.stopRequested.connect(self.stop_training)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None, tip=None):
            a = QAction(text, self)
            a.triggered.connect(slot)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            return a

        self.open_tree_action = action("Open tree checkpoint…", self.open_tree_dialog, QKeySequence.Open)
        self.open_teacher_action = action("Open teacher checkpoint…", self.open_teacher_dialog)
        self.open_run_action = action("Open run…", self.open_run_dialog, "Ctrl+Shift+O")
        self.save_tree_action = action("Save tree checkpoint…", self.save_tree_dialog, QKeySequence.Save)
        self.save_teacher_action = action("Save teacher checkpoint…", self.save_teacher_dialog)
        self.save_run_action = action("Save run…", self.save_run_dialog, "Ctrl+Shift+S",
                                      "Settings, metrics and every snapshot kept, with the tree")
        self.export_action = action("Export…", self.export_dialog, "Ctrl+E",
                                    "The learning as an animation (GIF, MP4), or an input's path as a picture")
        quit_action = action("Quit", self.close, QKeySequence.Quit)
        file_menu = self.menuBar().addMenu("&File")
        for a in (self.open_tree_action, self.open_teacher_action, self.open_run_action, None,
                  self.save_tree_action, self.save_teacher_action, self.save_run_action, None,
                  self.export_action, None, quit_action):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)

        self.fit_action = action("Fit to window", self.tree_view.fit_to_window, "Ctrl+0")
        zoom_in = action("Zoom in", lambda: self.tree_view.zoom_by(1.25), QKeySequence.ZoomIn)
        zoom_out = action("Zoom out", lambda: self.tree_view.zoom_by(0.8), QKeySequence.ZoomOut)
        view_menu = self.menuBar().addMenu("&View")
        for a in (self.fit_action, zoom_in, zoom_out):
            view_menu.addAction(a)
        view_menu.addSeparator()
        scale_group = QActionGroup(self)
        self.scale_actions = {}
        for key, text in (("filter", "Colour scale per filter"), ("tree", "One colour scale for the tree")):
            a = action(text, lambda checked=False, k=key: self.tree_view.set_color_scale(k))
            a.setCheckable(True)
            a.setChecked(key == "filter")
            scale_group.addAction(a)
            view_menu.addAction(a)
            self.scale_actions[key] = a
        view_menu.addSeparator()
        self.correlation_action = action("Node images: x ⊙ w (correlation with the input)", self.set_correlation_mode,
                                         "Ctrl+K", "Each node shows the input times its weights instead of the weights")
        self.correlation_action.setCheckable(True)
        view_menu.addAction(self.correlation_action)
        view_menu.addSeparator()
        for dock in (self.training_dock, self.draw_dock, self.node_dock, self.curves_dock):
            view_menu.addAction(dock.toggleViewAction())
        self._connect_inference()

        self.start_action = action("Start", self.training_panel._on_start, "Ctrl+R")
        self.pause_action = action("Pause / resume", self.training_panel._on_pause, "Ctrl+P")
        self.stop_action = action("Stop", self.stop_training, "Ctrl+.")
        train_menu = self.menuBar().addMenu("&Training")
        for a in (self.start_action, self.pause_action, self.stop_action):
            train_menu.addAction(a)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(action("About", self._about))

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("toolbar_main")
        for a in (self.open_tree_action, self.save_tree_action, self.open_run_action, self.save_run_action, None,
                  self.fit_action, zoom_in, zoom_out):
            toolbar.addSeparator() if a is None else toolbar.addAction(a)

    def _connect_worker(self) -> None:
        w = self.worker.worker
        w.treeLoaded.connect(self._on_tree_loaded)
        w.teacherLoaded.connect(self._on_teacher_loaded)
        w.devicesFound.connect(self.training_panel.set_devices)
        w.busyChanged.connect(self._on_busy)
        w.trainingStarted.connect(self._on_training_started)
        w.batchProgress.connect(self._on_batch_progress)
        w.snapshotTaken.connect(self._on_snapshot)
        w.epochFinished.connect(self._on_epoch_finished)
        w.stateChanged.connect(self._on_state_changed)
        w.trainingFinished.connect(self._on_training_finished)
        w.requestFinished.connect(self._on_request_finished)
        w.runLoaded.connect(self._on_run_loaded)
        w.saved.connect(self._on_saved)
        w.failed.connect(self.show_error)
        w.notice.connect(self._on_notice)
        # Only bound methods of this window (a GUI-thread QObject) above: Qt then queues every call into the
        # GUI thread. A lambda has no receiver object and would run in the worker thread, touching widgets there.

    def _connect_inference(self) -> None:
        panel = self.inference_panel
        self.tree_view.snapshotApplied.connect(lambda: panel.set_snapshot(self.tree_view.snapshot()))
        self.teacherChanged.connect(panel.set_teacher)
        panel.explanationChanged.connect(self._on_explanation)
        panel.failed.connect(self.show_error)
        panel.correlation_box.toggled.connect(self.set_correlation_mode)

    def set_correlation_mode(self, on: bool) -> None:
        """Node images show x ⊙ w (True) or the weights (False)."""
        on = bool(on)
        self.correlation_action.setChecked(on)
        self.inference_panel.correlation_box.setChecked(on)
        self.tree_view.set_image_mode("correlation" if on else "filters")
        if self.node_panel.node is not None:
            self._refresh_node_panel()

    def _on_explanation(self, explanation) -> None:
        self.tree_view.set_explanation(explanation)
        if self.node_panel.node is not None:
            self._refresh_node_panel()

    # ================================================================ showing trees

    def _show_snapshot(self, snapshot) -> None:
        """Draw a snapshot now (the user chose it, or a model was loaded)."""
        self._pending_snapshot = None
        self._draw_timer.stop()
        self._apply(snapshot)

    def draw_gap_ms(self) -> float:
        """The least time between two live redraws, from what the last one cost."""
        cost = self._last_apply_ms + self.tree_view.last_paint_ms
        return max(MIN_DRAW_GAP_MS, cost / DRAW_SHARE)

    def _show_later(self, snapshot) -> None:
        """Draw the newest snapshot soon; older ones still waiting are skipped (coalescing)."""
        self._pending_snapshot = snapshot
        if not self._draw_timer.isActive():
            wait = self.draw_gap_ms() - (time.perf_counter() - self._last_draw) * 1000
            self._draw_timer.start(max(0, int(wait)))

    def _draw_pending(self) -> None:
        snapshot, self._pending_snapshot = self._pending_snapshot, None
        if snapshot is not None:
            self._apply(snapshot)

    def _apply(self, snapshot) -> None:
        started = time.perf_counter()
        self.displayed_snapshot = snapshot
        self.tree_view.set_snapshot(snapshot)
        self._last_draw = time.perf_counter()
        self._last_apply_ms = (self._last_draw - started) * 1000
        if self.node_panel.node is not None:
            self._refresh_node_panel()

    def _refresh_node_panel(self) -> None:
        self.node_panel.show_node(self.displayed_snapshot, self.node_panel.node, self.tree_view.explanation(),
                                  self.tree_view.image_mode() == "correlation")

    def _on_node_clicked(self, node: int) -> None:
        self.tree_view.set_selected_node(node)
        self.node_panel.node = node
        self._refresh_node_panel()
        self.node_dock.show()

    # ================================================================ worker answers

    def _on_tree_loaded(self, snapshot, info) -> None:
        self.current_snapshot = snapshot
        self.tree_info = info
        from_training = info.path == ""  # the end of a training in this window
        if not from_training and info.path != self._opened_run:
            self.timeline.clear()
            self.timeline.add(snapshot)
            self.curves.tree.set_history(info.history)
            self._test_metrics = {k[5:]: v for k, v in info.metrics.items() if k.startswith("test_")}
        self._opened_run = None
        if not from_training or self.timeline.is_live():
            self._show_snapshot(snapshot)
        self.model_label.setText(f"Tree: {info.summary}")
        self.statusBar().showMessage(f"Tree: {info.summary}" + (f" — {info.path}" if info.path else ""), 8000)
        if self.first_tree_drawn_s is None:
            self.first_tree_drawn_s = time.perf_counter() - self.started_at
        self.currentSnapshotChanged.emit(snapshot)

    def _on_teacher_loaded(self, predictor, info) -> None:
        self.teacher_predictor = predictor
        self.teacher_info = info
        self.model_label.setToolTip(f"Teacher: {info.summary}")
        self.teacherChanged.emit(predictor)

    def _on_saved(self, what: str, path: str) -> None:
        self.saved_files.append((what, path))
        self.statusBar().showMessage(f"Saved the {what} to {path}", 8000)

    def _on_notice(self, text: str) -> None:
        self.statusBar().showMessage(text, 30000)

    def _on_busy(self, what: str) -> None:
        if what:
            self._busy_message = what[0].upper() + what[1:] + "…"
            self.statusBar().showMessage(self._busy_message)
            if self.state != "idle":
                self.progress_label.setText(self._busy_message)
        else:
            if self.statusBar().currentMessage() == self._busy_message:  # not a notice or an error said since
                self.statusBar().clearMessage()
            self._busy_message = ""
        self._update_actions()

    def _on_training_started(self, event) -> None:
        self._training_began = True
        self.training_kind = event.kind
        self._n_train = event.n_train
        curves = self.curves.curves_for(event.kind)
        curves.reset(event.n_train)
        self.curves.show_kind(event.kind)
        if event.kind == "tree":
            self.timeline.clear()
            self._test_metrics = {}
            # the loaded tree is not what the view shows any more (the trained one replaces it at the end)
            self.model_label.setText(f"Tree: in training on {event.device}")
        self.progress.setValue(0)
        self._on_busy("")  # the preparation is over: the progress bar speaks from here on
        self.progress_label.setText(f"{event.kind} on {event.device}: starting…")

    def _on_batch_progress(self, p) -> None:
        self.samples_seen = p.samples_seen
        self.curves.curves_for(self.training_kind).add_batch(p.samples_seen, p.loss)
        self._latest_progress = p
        if not self._progress_timer.isActive():  # at most 4 redraws a second: the CPU is the training's
            self._show_progress()
            self._progress_timer.start()

    def _show_progress(self) -> None:
        p, self._latest_progress = self._latest_progress, None
        if p is None:
            return
        self.progress.setValue(int(1000 * p.samples_seen / max(p.total_samples, 1)))
        paused = " · paused" if self.state == "paused" else ""
        self.progress_label.setText(
            f"{self.training_kind} · epoch {p.epoch}/{p.epochs} · {p.samples_seen:,}/{p.total_samples:,} samples · "
            f"{p.samples_per_second:,.0f} samples/s · {format_seconds(p.seconds_left)} left{paused}")

    def _on_snapshot(self, snapshot) -> None:
        self.timeline.add(snapshot)
        if self.timeline.is_live():
            self._show_later(snapshot)

    def _on_epoch_finished(self, event) -> None:
        self.curves.curves_for(self.training_kind).add_epoch(event.metrics)
        if event.snapshot is not None:
            self._on_snapshot(event.snapshot)

    def _on_state_changed(self, state: str) -> None:
        if self.state in ("running", "paused"):
            self._set_state(state)
        self.progress_label.setText(self.progress_label.text().replace(" · paused", "")
                                    + (" · paused" if state == "paused" else ""))

    def _on_training_finished(self, event) -> None:
        self._show_progress()  # the last report first, then the outcome over it
        self._progress_timer.stop()
        if event.status == "failed":
            self.show_error("Training stopped", event.message)
        if self.training_kind == "tree":
            self._test_metrics = dict(event.test_metrics)
        acc = event.test_metrics.get("accuracy")
        acc_text = f", test accuracy {acc:.2%}" if acc is not None else ""
        self.progress_label.setText(f"{self.training_kind} {event.status} in {format_seconds(event.seconds)}{acc_text}")

    def _on_request_finished(self, status: str) -> None:
        self.timeline.flush()
        self._set_state("idle")
        if status == "completed":
            self.progress.setValue(1000)
        if not self._training_began:  # the loaded tree is still the current one
            self.model_label.setText(self._model_label_before)
            if status == "failed":
                self.progress_label.setText("Training failed before it began (see the message)")
        if self._running_request is not None:
            self._run_settings = dict(self._running_request.settings)  # what trained what the window shows
            self._running_request = None

    def _on_run_loaded(self, run) -> None:
        self._opened_run = str(run.path) if run.checkpoint else None
        self.timeline.set_live(False)
        self.timeline.set_snapshots(run.snapshots)
        self.timeline.set_live(True)
        self.curves.tree.set_history(run.history)
        self._test_metrics = dict(run.test_metrics)
        self._run_settings = dict(run.settings) if run.settings else None
        if run.settings:
            self.training_panel.set_values(form_values_from_run(run.settings))
        if not run.checkpoint and len(self.timeline.history):
            self._show_snapshot(self.timeline.history.latest())
        self.statusBar().showMessage(f"Opened the run {run.path} ({count(len(run.snapshots), 'snapshot')})", 8000)

    # ================================================================ commands

    def start_training(self, request) -> None:
        if self.state != "idle":
            return
        self.settings.set_form_values(self.training_panel.values())
        self.timeline.set_live(True)
        self._set_state("running")
        self.progress_label.setText("Starting…")
        self._training_began = False
        self._running_request = request
        self._model_label_before = self.model_label.text()
        self.model_label.setText("Tree: preparing a training")
        self.worker.start_training(request)

    def pause_training(self) -> None:
        if self.state == "running":
            self.worker.pause()

    def resume_training(self) -> None:
        if self.state == "paused":
            self.worker.resume()

    def stop_training(self) -> None:
        if self.state in ("running", "paused"):
            self._set_state("stopping")
            self.progress_label.setText("Stopping…")
            self.worker.stop()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.training_panel.set_state(state)
        self._update_actions()

    def _update_actions(self) -> None:
        idle = self.state == "idle"
        for a in (self.open_tree_action, self.open_teacher_action, self.open_run_action, self.save_tree_action,
                  self.save_teacher_action, self.save_run_action):
            a.setEnabled(idle)

    # ---------------------------------------------------------------- files

    def _ask_open(self, title: str, kind: str, filter_: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, title, self.settings.last_dir(kind), filter_)
        if path:
            self.settings.set_last_dir(kind, path)
        return path or None

    def _ask_save(self, title: str, kind: str, filter_: str, name: str) -> str | None:
        start = str(Path(self.settings.last_dir(kind) or Path.home()) / name)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filter_)
        if path:
            self.settings.set_last_dir(kind, path)
        return path or None

    def open_tree_dialog(self) -> None:
        path = self._ask_open("Open a tree checkpoint", "checkpoints", CHECKPOINT_FILTER)
        if path:
            self.open_tree(path)

    def open_tree(self, path) -> None:
        """Load a tree checkpoint in the worker; a bad file shows why and keeps the current tree."""
        self.worker.load_tree(path)

    def open_teacher_dialog(self) -> None:
        path = self._ask_open("Open a teacher checkpoint", "checkpoints", CHECKPOINT_FILTER)
        if path:
            self.worker.load_teacher(path)

    def open_run_dialog(self) -> None:
        path = self._ask_open("Open a run", "runs", RUN_FILTER)
        if path:
            self.open_run(path)

    def open_run(self, path) -> None:
        self.worker.open_run(path)

    def _tree_file_name(self) -> str:
        """tree-dD.pt for the tree a save would write: the one in training, else the current one."""
        if self._running_request is not None:
            return f"tree-d{self._running_request.tree_job.tree.depth}.pt"
        return f"tree-d{self.current_snapshot.depth if self.current_snapshot is not None else 4}.pt"

    def save_tree_dialog(self) -> None:
        path = self._ask_save("Save the tree", "checkpoints", CHECKPOINT_FILTER, self._tree_file_name())
        if path:
            self.worker.save_checkpoint(path, "tree")

    def save_teacher_dialog(self) -> None:
        path = self._ask_save("Save the teacher", "checkpoints", CHECKPOINT_FILTER, "teacher.pt")
        if path:
            self.worker.save_checkpoint(path, "teacher")

    def save_run_dialog(self) -> None:
        path = self._ask_save("Save the run", "runs", RUN_FILTER, "run.hmobrun")
        if path:
            self.save_run(path)

    def run_contents(self) -> RunContents:
        settings = self._run_settings if self._run_settings is not None else self.training_panel.values()
        return RunContents(settings=settings, history=list(self.curves.tree.history),
                           test_metrics=dict(self._test_metrics), snapshots=self.timeline.snapshots())

    def save_run(self, path) -> None:
        self.worker.save_run(path, self.run_contents())

    @property
    def exporter(self):
        """The :class:`~hmob_gui.gui.export_dialog.ExportController` (imported on first use)."""
        if self._export is None:
            from .export_dialog import ExportController

            self._export = ExportController(self)
        return self._export

    def export_dialog(self) -> None:
        self.exporter.ask()

    # ---------------------------------------------------------------- errors

    def show_error(self, title: str, message: str) -> None:
        """Tell the user what went wrong, without blocking the event loop.

        One dialog per title at a time: while it is open, the same kind of error again only counts
        ("… (3 times)") and shows the latest message, so a repeating error cannot pile up dialogs.
        """
        self.errors.append((title, message))
        self.statusBar().showMessage(f"{title}: {message.splitlines()[0] if message else ''}", 10000)
        open_box = self._error_boxes.get(title)
        if open_box is not None and shiboken6.isValid(open_box[0]) and open_box[0].isVisible():
            box, count = open_box[0], open_box[1] + 1
            self._error_boxes[title] = (box, count)
            box.setText(f"{title} ({count} times; the latest below)")
            box.setInformativeText(message)
            return
        box = QMessageBox(QMessageBox.Warning, title, title, QMessageBox.Ok, self)
        box.setInformativeText(message)
        box.setAttribute(Qt.WA_DeleteOnClose)
        self._error_boxes[title] = (box, 1)
        box.open()

    def open_error_dialogs(self) -> list:
        """The error dialogs on show now (for tests)."""
        return [b for b, _ in self._error_boxes.values() if shiboken6.isValid(b) and b.isVisible()]

    def _about(self) -> None:
        QMessageBox.about(self, "About hmob-gui",
                          "<b>hmob-gui</b><br>Distil a CNN into a soft decision tree "
                          "(Frosst &amp; Hinton 2017, “a hierarchical mixture of bigots”) and watch it learn.")

    # ---------------------------------------------------------------- closing

    def ask_save_on_close(self) -> str:
        """"save", "discard" or "cancel" — tests replace this to decide without a dialog."""
        answer = QMessageBox.question(
            self, "Training in progress", "Training is still running. Save the trained model?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def ask_close_save_path(self) -> str | None:
        return self._ask_save("Save the trained tree", "checkpoints", CHECKPOINT_FILTER, self._tree_file_name())

    def closeEvent(self, event) -> None:
        save_path = None
        if self.state != "idle" and not self._closing:
            choice = self.ask_save_on_close()
            if choice == "save":
                save_path = self.ask_close_save_path()
                if not save_path:
                    choice = "cancel"
            if choice == "cancel":
                event.ignore()
                return
        self._closing = True
        if self._export is not None:
            self._export.shutdown()  # cancels a running export: no half-written file
        self.settings.save_window(self)
        self.settings.set_form_values(self.training_panel.values())
        self.settings.sync()
        self.progress_label.setText("Stopping the worker…")
        self.setCursor(Qt.WaitCursor)
        self.worker.shutdown(save_path)
        event.accept()
