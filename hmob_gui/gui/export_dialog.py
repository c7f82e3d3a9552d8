"""File ▸ Export…: choose what to export, then write it in a thread of its own, with progress and Cancel.

The export runs in a ``QThread`` (:class:`ExportWorker`), which makes its own
:class:`~hmob_gui.gui.export.FrameRenderer` — hence its own ``QGraphicsScene``
— inside that thread, because a scene must live in one thread only. We chose
a thread over frames drawn in the GUI thread in ``QTimer`` chunks because
encoding costs as much as drawing (a GIF frame: palette lookup and LZW; an
MP4 frame: a pipe to ffmpeg), so every chunk would still stall the window; in
the thread, the window only receives progress signals.

Cancel sets a ``threading.Event`` from the GUI thread (the worker's event loop
is busy with the export, so a queued signal would arrive after it ended); the
export checks it between frames and leaves no file behind. The progress
dialog is not modal: a modal ``QProgressDialog`` runs ``processEvents`` inside
``setValue``.

Nothing here touches a model: the window hands over plain snapshots (or file
names, read in the thread), the worker hands back an
:class:`~hmob_gui.gui.export.ExportResult` or a message.
"""
from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressDialog, QPushButton,
                               QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from ..core.errors import ExportError, HmobError
from ..core.wording import count
from . import export
from .animation_writers import mp4_available

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
TREE_FILTER = "Trees: checkpoints and runs (*.pt *.hmobrun);;All files (*)"
RUN_FILTER = "hmob-gui runs (*.hmobrun);;All files (*)"


@dataclass(frozen=True)
class ExportRequest:
    """Everything an export needs, as plain values: made in the GUI thread, carried out in the export thread."""

    what: str  # "history" or "inference"
    out: str
    snapshots: tuple = ()  # a history from the window (immutable snapshots)…
    run_path: str | None = None  # …or from a saved run, read in the export thread
    snapshot: object = None  # an inference's tree from the window (TreeSnapshot)…
    tree_path: str | None = None  # …or from a checkpoint or run file
    options: export.AnimationOptions = export.AnimationOptions()  # size, fps, colour scale (and a history's rest)
    input_spec: str | None = None  # a test digit's index or an image file…
    drawn_input: object = None  # …or an input already made (ExplainedInput), e.g. the drawing
    dataset: str = "mnist"  # where test digits come from, unless a file says otherwise
    data_dir: str | None = None


def run_export(request: ExportRequest, progress=None, cancelled=None) -> export.ExportResult:
    """Carry a request out (any thread; it makes its own renderer): read files, find the input, write."""
    from ..core.inputs import resolve_input

    dataset, data_dir = request.dataset, request.data_dir
    if request.what == "history":
        source = list(request.snapshots)
        if request.run_path:
            source = export.load_history_file(request.run_path)
            dataset = str(source.settings.get("dataset") or dataset)
            data_dir = source.settings.get("data_dir") or data_dir
        first = export.history_frames(source, request.options.kind, request.options.frames)[0]
    else:
        if request.tree_path:
            tree = export.load_tree_file(request.tree_path)
            first, dataset, data_dir = tree.snapshot, tree.dataset, tree.data_dir or data_dir
        elif request.snapshot is not None:
            first = request.snapshot
        else:
            raise ExportError("there is no tree to export: open or train one first")
    inp = request.drawn_input
    if inp is None and request.input_spec:
        inp = resolve_input(request.input_spec, tuple(first.input_shape), dataset, data_dir, first.class_names)
    if cancelled is not None and cancelled():
        raise export.ExportCancelled("export cancelled; no file was written")
    if request.what == "history":
        return export.export_history(source, request.out, replace(request.options, input=inp), progress, cancelled)
    if inp is None:
        raise ExportError("an inference needs an input: a test digit's index, an image file or the drawing")
    o = request.options
    return export.export_inference(first, inp, request.out, o.size, o.fps, o.color_scale, progress, cancelled)


# ============================================================================ the thread


class ExportWorker(QObject):
    """Runs one request in the export thread."""

    progressed = Signal(int, int)
    finished = Signal(object)  # ExportResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, request: ExportRequest):
        super().__init__()
        self.request = request
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            result = run_export(self.request, self.progressed.emit, self.cancel_event.is_set)
        except export.ExportCancelled:
            self.cancelled.emit()
        except HmobError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug: say what, keep the window alive
            tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
            self.failed.emit(f"{type(exc).__name__}: {exc}\n\n" + "".join(tb[-4:]))
        else:
            self.finished.emit(result)


class ExportRunner(QObject):
    """Starts exports in a thread, one at a time, with a progress dialog whose Cancel works."""

    finished = Signal(object)  # ExportResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent_widget: QWidget | None = None):
        super().__init__(parent_widget)
        self._parent_widget = parent_widget
        self.thread: QThread | None = None
        self.worker: ExportWorker | None = None
        self.dialog: QProgressDialog | None = None

    def is_running(self) -> bool:
        return self.thread is not None

    def start(self, request: ExportRequest) -> None:
        if self.is_running():
            raise ExportError("an export is already running; wait for it or cancel it")
        self.thread = QThread()
        self.thread.setObjectName("export")
        self.worker = ExportWorker(request)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.progressed.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.dialog = QProgressDialog(f"Exporting {Path(request.out).name}…", "Cancel", 0, 0, self._parent_widget)
        self.dialog.setWindowTitle("Export")
        self.dialog.setWindowModality(Qt.NonModal)  # a modal one would run processEvents in setValue
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.setMinimumDuration(0)
        self.dialog.canceled.connect(self.cancel)
        self.dialog.show()
        self.thread.start()

    def cancel(self) -> None:
        """Ask the export to stop (from the GUI thread); it stops before its next frame."""
        if self.worker is not None:
            self.worker.cancel_event.set()
            if self.dialog is not None:
                self.dialog.setLabelText("Cancelling…")

    def _on_progress(self, done: int, total: int) -> None:
        if self.dialog is not None:
            if self.dialog.maximum() != total:
                self.dialog.setMaximum(total)
            self.dialog.setValue(done)
            self.dialog.setLabelText(f"Exporting frame {done} of {total}…")

    def _end(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
            self.thread.deleteLater()
        if self.worker is not None:
            self.worker.deleteLater()
        self.thread = self.worker = None

    def _on_finished(self, result) -> None:
        self._end()
        self.finished.emit(result)

    def _on_failed(self, message: str) -> None:
        self._end()
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self._end()
        self.cancelled.emit()

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Cancel a running export and wait for its thread (the window is closing)."""
        if self.thread is None:
            return
        self.cancel()
        self.thread.quit()  # its loop ends once the export returns
        self.thread.wait(timeout_ms)
        # Its last progress signals are still queued: with the dialog gone they find nothing to show
        # (a QProgressDialog given a value shows itself again, and a shown window keeps the app alive).
        self._end()


# ============================================================================ the dialog


class ExportDialog(QDialog):
    """What to export, from where, how, and to which file; refuses bad values with the reason, in place."""

    def __init__(self, parent=None, *, snapshots=(), snapshot=None, color_scale: str = "filter", mode: str = "filters",
                 folder: str = "", drawn_input=None, dataset: str = "mnist", data_dir: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self._snapshots = tuple(snapshots)
        self._snapshot = snapshot
        self._drawn_input = drawn_input
        self._folder = folder or str(Path.home())
        self._dataset, self._data_dir = dataset, data_dir
        self._color_scale = color_scale
        self.accepted_request: ExportRequest | None = None
        n_epochs = sum(1 for s in self._snapshots if s.kind != "samples")

        self.history_button = QRadioButton("The learning, as an animation")
        self.inference_button = QRadioButton("One input's path through the tree, as a picture")
        self._what = QButtonGroup(self)
        for b in (self.history_button, self.inference_button):
            self._what.addButton(b)
        self.source = QComboBox()
        self.source_path = QLineEdit()
        self.source_browse = QPushButton("Browse…")
        self.kind = QComboBox()
        self.kind.addItem(f"one frame per epoch ({n_epochs} in this window)", "epochs")
        self.kind.addItem(f"every snapshot ({len(self._snapshots)} in this window)", "samples")
        self.frames = QLineEdit()
        self.frames.setPlaceholderText("all — or A:B, counted from 0 (e.g. 0:40, 10:, ::2)")
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0.1, 50.0)
        self.fps.setDecimals(1)
        self.fps.setSuffix(" frames/s")
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, (lo, hi), value in ((self.width_box, (export.MIN_SIZE[0], export.MAX_SIZE[0]), export.DEFAULT_SIZE[0]),
                                     (self.height_box, (export.MIN_SIZE[1], export.MAX_SIZE[1]), export.DEFAULT_SIZE[1])):
            box.setRange(lo, hi)
            box.setValue(value)
            box.setSuffix(" px")
        self.input_choice = QComboBox()  # items depend on what is exported (see _on_what)
        self.input_spec = QLineEdit()
        self.input_spec.setPlaceholderText("test digit index (e.g. 7) or an image file")
        self.input_browse = QPushButton("Browse…")
        self.mode = QComboBox()
        self.mode.addItem("filters (weights)", "filters")
        self.mode.addItem("x ⊙ w of the input (correlation)", "correlation")
        self.out = QLineEdit()
        self.out_browse = QPushButton("Browse…")
        self.formats = QLabel()
        self.formats.setWordWrap(True)
        self.formats.setStyleSheet("color: #555")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020")
        self.error.hide()

        form = QFormLayout()
        what_box = QVBoxLayout()
        what_box.addWidget(self.history_button)
        what_box.addWidget(self.inference_button)
        form.addRow("Export", what_box)
        form.addRow("From", self._row(self.source, self.source_path, self.source_browse))
        form.addRow("Frames", self.kind)
        form.addRow("Frame range", self.frames)
        form.addRow("Frame rate", self.fps)
        form.addRow("Size", self._row(self.width_box, QLabel("×"), self.height_box))
        input_row = self._row(self.input_choice, self.input_spec, self.input_browse)
        form.addRow("Input", input_row)
        form.addRow("Node images", self.mode)
        form.addRow("Save as", self._row(self.out, self.out_browse))
        self._labels = {w: form.labelForField(w) for w in (self.kind, self.frames, self.fps, self.mode)}
        self._input_row = input_row
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.formats)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.history_button.toggled.connect(self._on_what)
        self.source.currentIndexChanged.connect(self._on_source)
        self.input_choice.currentIndexChanged.connect(self._on_input_choice)
        self.source_browse.clicked.connect(self._browse_source)
        self.input_browse.clicked.connect(self._browse_input)
        self.out_browse.clicked.connect(self._browse_out)
        self.mode.currentIndexChanged.connect(lambda _: self._suggest_out())
        for w in (self.input_choice, self.mode, self.source, self.kind):  # a refusal is about the old values
            w.currentIndexChanged.connect(lambda _: self.error.hide())
        if mode == "correlation" and drawn_input is not None:  # x ⊙ w needs an input
            self.mode.setCurrentIndex(1)
        (self.history_button if self._snapshots or snapshot is None else self.inference_button).setChecked(True)
        self._on_what()

    @staticmethod
    def _row(*widgets) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in widgets:
            layout.addWidget(w, 1 if isinstance(w, QLineEdit) else 0)
        if not any(isinstance(w, QLineEdit) for w in widgets):
            layout.addStretch(1)
        return row

    # -------------------------------------------------------------- state

    def what(self) -> str:
        return "history" if self.history_button.isChecked() else "inference"

    def _on_what(self, *_) -> None:
        history = self.what() == "history"
        self.source.blockSignals(True)
        self.source.clear()
        if history:
            self.source.addItem(f"this window's history ({count(len(self._snapshots), 'snapshot')})", "window")
            self.source.addItem("a saved run file:", "file")
            if not self._snapshots:
                self.source.setCurrentIndex(1)
        else:
            self.source.addItem("the tree shown now", "window")
            self.source.addItem("a tree checkpoint or run file:", "file")
            if self._snapshot is None:
                self.source.setCurrentIndex(1)
        self.source.blockSignals(False)
        self.input_choice.blockSignals(True)
        self.input_choice.clear()
        if history:
            self.input_choice.addItem("none: the tree alone", "none")
        if self._drawn_input is not None:
            self.input_choice.addItem(f"the Draw panel's input ({self._drawn_input.description})", "drawing")
        self.input_choice.addItem("a test digit or an image file:", "spec")
        if history and self.mode.currentData() == "correlation" and self._drawn_input is not None:
            self.input_choice.setCurrentIndex(1)  # x ⊙ w needs an input: the one the window shows
        self.input_choice.blockSignals(False)
        self._on_input_choice()
        for w in (self.kind, self.frames, self.mode):
            w.setVisible(history)
            self._labels[w].setVisible(history)
        self.fps.setValue(4.0 if history else 0.5)
        if history:
            self.formats.setText("GIF always; MP4 too (" + ("available" if mp4_available() else
                                 "install the mp4 extra: pip install -e '.[mp4]'") + "). "
                                 "With an input, its path is drawn on every frame, explained by that frame's tree.")
        else:
            self.formats.setText("PNG or SVG: the tree with the input's path; GIF: two frames, the filters "
                                 "then the correlation maps x ⊙ w (the frame rate sets how long each shows).")
        self._on_source()
        self._suggest_out()

    def _on_source(self, *_) -> None:
        from_file = self.source.currentData() == "file"
        self.source_path.setEnabled(from_file)
        self.source_browse.setEnabled(from_file)

    def _on_input_choice(self, *_) -> None:
        spec = self.input_choice.currentData() == "spec"
        self.input_spec.setEnabled(spec)
        self.input_browse.setEnabled(spec)

    def _suggest_out(self) -> None:
        current = self.out.text().strip()
        if current and Path(current).stem not in ("epochs", "samples", "infer", "tree"):
            return  # the user's own name stays
        name = "epochs.gif" if self.what() == "history" else "infer.gif"
        self.out.setText(str(Path(current).parent / name) if current else str(Path(self._folder) / name))

    # -------------------------------------------------------------- browsing

    def _browse_source(self) -> None:
        history = self.what() == "history"
        path, _ = QFileDialog.getOpenFileName(self, "Open a run" if history else "Open a tree", self._folder,
                                              RUN_FILTER if history else TREE_FILTER)
        if path:
            self.source_path.setText(path)

    def _browse_input(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "An image of a digit", self._folder, IMAGE_FILTER)
        if path:
            self.input_spec.setText(path)

    def _browse_out(self) -> None:
        if self.what() == "history":
            filters = "GIF animation (*.gif)" + (";;MP4 video (*.mp4)" if mp4_available() else "")
        else:
            filters = "GIF, two frames (*.gif);;PNG picture (*.png);;SVG drawing (*.svg)"
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.out.text() or self._folder, filters)
        if path:
            self.out.setText(path)

    # -------------------------------------------------------------- the request

    def request(self) -> ExportRequest:
        """The export the fields describe; ExportError says which field is wrong and why."""
        history = self.what() == "history"
        out = self.out.text().strip()
        if not out:
            raise ExportError("choose a file to save to")
        export.check_output(out, export.ANIMATION_SUFFIXES if history else export.PICTURE_SUFFIXES,
                            "an animation" if history else "an inference")
        from_file = self.source.currentData() == "file"
        source_path = self.source_path.text().strip() or None
        if from_file and not source_path:
            raise ExportError("choose the " + ("run file" if history else "checkpoint or run file") + " to export from")
        if from_file and not Path(source_path).expanduser().is_file():
            raise ExportError(f"{source_path}: no such file")
        if not from_file and history and not self._snapshots:
            raise ExportError("this window has no history yet: train a tree, open a run, or export from a run file")
        if not from_file and not history and self._snapshot is None:
            raise ExportError("there is no tree shown: open or train one, or export from a file")
        choice = self.input_choice.currentData()
        drawn = self._drawn_input if choice == "drawing" else None
        spec = (self.input_spec.text().strip() or None) if choice == "spec" else None
        if spec is not None:
            from ..core.inputs import parse_input_spec

            kind, value = parse_input_spec(spec)
            if kind == "file" and not Path(value).expanduser().is_file():
                raise ExportError(f"{value}: no such image file (give an image file or a test digit's index)")
        has_input = drawn is not None or spec is not None
        if not history and not has_input:
            raise ExportError("an inference needs an input: a test digit's index, an image file or the drawing")
        options = export.AnimationOptions(
            kind=self.kind.currentData(), fps=self.fps.value(), size=(self.width_box.value(), self.height_box.value()),
            frames=export.parse_frame_range(self.frames.text()) if history else None,
            mode=self.mode.currentData() if history else "filters", color_scale=self._color_scale)
        if options.mode == "correlation" and not has_input:
            raise ExportError("x ⊙ w (correlation) shows an input's pixels: give an input, or show the filters")
        export.AnimationOptions.checked(replace(options, mode="filters"))
        if history and not from_file:
            export.history_frames(self._snapshots, options.kind, options.frames)  # a range that selects nothing
        return ExportRequest(
            what=self.what(), out=out,
            snapshots=self._snapshots if history and not from_file else (),
            run_path=source_path if history and from_file else None,
            snapshot=self._snapshot if not history and not from_file else None,
            tree_path=source_path if not history and from_file else None,
            options=options, input_spec=spec, drawn_input=drawn, dataset=self._dataset, data_dir=self._data_dir)

    def accept(self) -> None:
        try:
            self.accepted_request = self.request()
        except HmobError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()


# ============================================================================ the window's side


def panel_input(x, source: str | None) -> object:
    """The Draw panel's input ((1, 28, 28) array and its "source" words) as an export input; None if none."""
    if x is None:
        return None
    import re

    from ..core.inputs import ExplainedInput

    source = source or "the input"
    if source == "drawing":
        description, short = "the drawing", "drawing"
    elif source.startswith("file "):
        description = source[5:]
        short = description if len(description) <= 16 else description[:15] + "…"
    else:
        found = re.search(r"#(\d+)", source)
        description, short = source, (f"test #{found.group(1)}" if found else source[:16])
    x = np.asarray(x, dtype=np.float32)
    return ExplainedInput(x=x.reshape(1, *x.shape[-2:]), description=description, short=short)


class ExportController(QObject):
    """The window's File ▸ Export…: opens the dialog with the window's state, runs the export, reports."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.runner = ExportRunner(window)
        self.dialog: ExportDialog | None = None
        self.results: list = []  # every export finished (for tests and the log)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)  # bound methods: always called in this (the GUI) thread
        self.runner.cancelled.connect(self._on_cancelled)

    def _drawn_input(self):
        panel = getattr(self.window, "inference_panel", None)  # the Draw panel (issue 4), when there is one
        return panel_input(getattr(panel, "input", None), getattr(panel, "source", None))

    def ask(self) -> ExportDialog | None:
        """Open the dialog (``open()``, never ``exec()``: the event loop and training go on); export on accept."""
        w = self.window
        if self.runner.is_running():
            w.statusBar().showMessage("An export is already running", 8000)
            return None
        settings = w.training_panel.values() if hasattr(w, "training_panel") else {}
        self.dialog = ExportDialog(
            w, snapshots=w.timeline.snapshots(), snapshot=w.displayed_snapshot or w.current_snapshot,
            color_scale=w.tree_view.tree_scene.color_scale, mode=w.tree_view.image_mode(),
            folder=w.settings.last_dir("exports"),
            drawn_input=self._drawn_input(), dataset=str(settings.get("dataset") or "mnist"),
            data_dir=settings.get("data_dir") or None)
        self.dialog.setAttribute(Qt.WA_DeleteOnClose)
        self.dialog.accepted.connect(lambda d=self.dialog: self.start(d.accepted_request))
        self.dialog.finished.connect(lambda _: setattr(self, "dialog", None))
        self.dialog.open()
        return self.dialog

    def start(self, request: ExportRequest) -> None:
        self.window.settings.set_last_dir("exports", request.out)
        self.window.statusBar().showMessage(f"Exporting {request.out}…")
        self.runner.start(request)

    def _on_finished(self, result) -> None:
        self.results.append(result)
        self.window.statusBar().showMessage(f"Exported {result.summary()}", 15000)

    def _on_failed(self, message: str) -> None:
        self.window.show_error("Export failed", message)

    def _on_cancelled(self) -> None:
        self.window.statusBar().showMessage("Export cancelled; no file was written", 10000)

    def shutdown(self) -> None:
        self.runner.shutdown()
