"""Ask the tree why: draw a digit (or open one, or pick a test digit) and see its soft path.

The panel holds the drawing canvas, the 28×28 input exactly as the tree
sees it, the brush and file controls, the prediction panel and the gallery.
It owns the *input* and turns it into an
:class:`~hmob_gui.core.explain.Explanation` of the tree on show, with numpy
alone in the GUI thread (preprocessing ~1 ms, explaining ~0.2 ms at depth 8):

* while a stroke is drawn, on every pointer move — coalesced to at most one
  update per event-loop turn and per ``MIN_UPDATE_GAP_MS`` (a 60 Hz screen
  shows no more) — and at once when the stroke ends;
* when the tree on show changes (``set_snapshot``: a live training snapshot,
  another checkpoint, a timeline scrub; any depth), for the same input;
* when the teacher changes (``set_teacher``; None: the panel says so).

Drawings are preprocessed with the stroke width brought to MNIST's median
(``MNIST_STROKE_WIDTH``: a brush width says nothing about the digit), opened
files keep theirs unless MNIST has almost none like it, and gallery digits
are used as they are (they are MNIST).

Signals: ``explanationChanged(Explanation | None)`` (the window hands it to
the tree view), ``failed(title, message)`` (a file that is not a digit; the
current input stays), ``inputChanged()``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSlider, QVBoxLayout, QWidget)

from ..core.preprocess import (IMAGE_SUFFIXES, MNIST_STROKE_RANGE, MNIST_STROKE_WIDTH, DigitImageError,
                               EmptyDigitError, ink_map, preprocess_digit, read_gray_image)
from .drawing_canvas import BRUSH_RANGE, DEFAULT_BRUSH, DrawingCanvas
from .gallery_panel import GalleryPanel
from .prediction_panel import PredictionPanel

MIN_UPDATE_GAP_MS = 16
PREVIEW_SCALE = 3  # the 28×28 input shown 84 px wide, whole pixels
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"


class InferencePanel(QWidget):
    explanationChanged = Signal(object)
    failed = Signal(str, str)
    inputChanged = Signal()

    def __init__(self, data_dir=None, settings=None, parent=None):
        """``data_dir``: a callable giving the data folder for the gallery; ``settings``: for the last folder."""
        super().__init__(parent)
        self.settings = settings
        self.snapshot = None
        self.teacher = None
        self.input: np.ndarray | None = None  # (1, 28, 28) float32 in [0, 1], what the tree sees
        self.source: str | None = None  # "drawing", "file NAME" or "gallery, MNIST test digit #I (a K)"
        self.explanation = None
        self.teacher_probs: np.ndarray | None = None
        self.last_update_ms = 0.0  # preprocessing + explanation + prediction panel, for the benchmark
        self._last_update = 0.0
        self._build(data_dir)

    # ================================================================ building

    def _build(self, data_dir) -> None:
        self.canvas = DrawingCanvas()
        self.preview = QLabel()
        self.preview.setFixedSize(28 * PREVIEW_SCALE + 2, 28 * PREVIEW_SCALE + 2)
        self.preview.setStyleSheet("border: 1px solid #888; background: white;")
        self.preview.setToolTip("The 28×28 input, exactly what the tree sees (dark = ink = 1)")
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setStyleSheet("color: #555;")
        self.brush = QSlider(Qt.Horizontal)
        self.brush.setRange(*BRUSH_RANGE)
        self.brush.setValue(int(DEFAULT_BRUSH))
        self.brush.setToolTip("Brush width on the canvas. The tree sees every drawing with MNIST's stroke "
                              "width, so the brush changes how it looks to you, not to the tree.")
        self.brush_label = QLabel()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Remove the last stroke (Ctrl+Z)")
        self.clear_button = QPushButton("Clear")
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open a picture of one digit: PNG, JPEG…, any size, dark on light or light on dark")
        self.correlation_box = QCheckBox("show x ⊙ w in the tree")
        self.correlation_box.setToolTip("Correlation mode (View menu, Ctrl+K): each node's image becomes the input "
                                        "times its weights, what pushes the input right (red) or left (blue) there")

        # beside the preview: where the input comes from, the brush, the buttons, the mode
        brush_row = QHBoxLayout()
        brush_row.addWidget(QLabel("Brush"))
        brush_row.addWidget(self.brush, 1)
        brush_row.addWidget(self.brush_label)
        buttons = QHBoxLayout()
        for b in (self.undo_button, self.clear_button, self.open_button):
            buttons.addWidget(b)
        side = QVBoxLayout()
        side.setSpacing(3)
        side.addWidget(self.source_label)
        side.addLayout(brush_row)
        side.addLayout(buttons)
        side.addWidget(self.correlation_box)
        preview_row = QHBoxLayout()
        preview_row.addWidget(self.preview, 0, Qt.AlignTop)
        preview_row.addLayout(side, 1)

        self.prediction = PredictionPanel()
        self.gallery = GalleryPanel(data_dir)
        draw_box = QGroupBox("Draw a digit")
        draw_layout = QVBoxLayout(draw_box)
        draw_layout.addWidget(self.canvas, 0, Qt.AlignHCenter)
        draw_layout.addLayout(preview_row)
        prediction_box = QGroupBox("Prediction")
        QVBoxLayout(prediction_box).addWidget(self.prediction)
        gallery_box = QGroupBox("Real test digits")
        QVBoxLayout(gallery_box).addWidget(self.gallery)
        gallery_box.setMinimumHeight(240)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(draw_box)
        layout.addWidget(prediction_box)
        layout.addWidget(gallery_box, 1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.setMinimumWidth(self.canvas.width() + 90)  # the canvas, the margins, a scroll bar; room for the buttons

        self._update_timer = QTimer(self)
        self._update_timer.setSingleShot(True)
        self._update_timer.timeout.connect(self.update_from_canvas)
        self.canvas.strokeStarted.connect(self._on_stroke_started)
        self.canvas.inkChanged.connect(self._schedule_update)
        self.canvas.strokeFinished.connect(self.update_from_canvas)
        self.brush.valueChanged.connect(self._on_brush)
        self.undo_button.clicked.connect(self.canvas.undo)
        self.clear_button.clicked.connect(self.clear)
        self.open_button.clicked.connect(self.open_image_dialog)
        self.gallery.digitChosen.connect(self.show_gallery_digit)
        self.canvas.setFocusPolicy(Qt.ClickFocus)
        undo = QShortcut(QKeySequence.Undo, self)
        undo.setContext(Qt.WidgetWithChildrenShortcut)
        undo.activated.connect(self.canvas.undo)
        self._on_brush(self.brush.value())
        self._show_preview()
        self._show_prediction()

    def _on_brush(self, value: int) -> None:
        self.canvas.set_brush_width(value)
        self.brush_label.setText(f"{value} px")

    # ================================================================ models

    def set_snapshot(self, snapshot) -> None:
        """The tree on show changed: explain the same input with it (any depth)."""
        self.snapshot = snapshot
        self.gallery.set_snapshot(snapshot)
        self._explain()

    def set_teacher(self, predictor) -> None:
        self.teacher = predictor
        self.gallery.set_teacher(predictor)
        self._predict_teacher()
        self._show_prediction()

    # ================================================================ the input

    def _on_stroke_started(self) -> None:
        self.source = "drawing"

    def _schedule_update(self) -> None:
        """Coalesce pointer moves: one update per event-loop turn, at most one per MIN_UPDATE_GAP_MS."""
        if self._update_timer.isActive():
            return
        since = (time.perf_counter() - self._last_update) * 1000
        self._update_timer.start(max(0, int(MIN_UPDATE_GAP_MS - since)))

    def update_from_canvas(self) -> None:
        """Preprocess the drawing and explain it now."""
        self._update_timer.stop()
        if self.canvas.showing_picture():
            return
        try:
            x = preprocess_digit(self.canvas.gray_array(), ink_is_dark=True, stroke_width=MNIST_STROKE_WIDTH)
        except EmptyDigitError:
            x = None
        self.set_input(x, "drawing" if x is not None else None)

    def set_input(self, x: np.ndarray | None, source: str | None) -> None:
        """Explain this input (1×28×28 in [0, 1]) with the tree on show; None clears."""
        started = time.perf_counter()
        self.input = None if x is None else np.asarray(x, dtype=np.float32).reshape(1, 28, 28)
        self.source = source
        self._show_preview()
        self._predict_teacher()
        self._explain()
        self._last_update = time.perf_counter()
        self.last_update_ms = (self._last_update - started) * 1000
        self.inputChanged.emit()

    def clear(self) -> None:
        self.canvas.clear()  # its inkChanged schedules the update, which finds no ink

    def show_gallery_digit(self, index: int) -> None:
        g = self.gallery.ensure_loaded()
        self.canvas.show_picture(255 - g.images[index], smooth=False)
        self.set_input(g.input(index), f"gallery, MNIST test digit #{int(g.indices[index])} (a {int(g.labels[index])})")

    def open_image_dialog(self) -> None:
        start = self.settings.last_dir("images") if self.settings is not None else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a digit image", start or "", IMAGE_FILTER)
        if path:
            if self.settings is not None:
                self.settings.set_last_dir("images", path)
            self.open_image(path)

    def open_image(self, path) -> bool:
        """Show and explain an image file; a bad one reports why (``failed``) and keeps the current input."""
        path = Path(path)
        try:
            gray = read_gray_image(path)
            x = preprocess_digit(gray, None, stroke_width=MNIST_STROKE_RANGE)
        except EmptyDigitError as exc:
            self.failed.emit("Not a digit image", f"{path}: {exc}")
            return False
        except DigitImageError as exc:
            self.failed.emit("Cannot open the image", str(exc))
            return False
        self.canvas.show_picture(np.round(255 - 255 * ink_map(gray)).astype(np.uint8))  # as read: dark ink
        self.set_input(x, f"file {path.name}")
        return True

    # ================================================================ answers

    def _predict_teacher(self) -> None:
        self.teacher_probs = None
        if self.teacher is None or self.input is None:
            return
        if tuple(getattr(self.teacher, "input_shape", (1, 28, 28))) != (1, 28, 28):
            return
        self.teacher_probs = np.asarray(self.teacher.predict_proba(self.input), dtype=np.float64)

    def _explain(self) -> None:
        snap = self.snapshot
        ex = None
        if self.input is not None and snap is not None and tuple(snap.input_shape) == (1, 28, 28):
            from ..core.explain import explain  # here: it imports torch, which the window loads after showing

            ex = explain(snap, self.input)
        self.explanation = ex
        self._show_prediction()
        self.explanationChanged.emit(ex)

    def _show_prediction(self) -> None:
        snap = self.snapshot
        if self.input is None:
            why = "Draw a digit, open an image or pick one from the gallery"
        elif snap is None:
            why = "No tree loaded"
        elif tuple(snap.input_shape) != (1, 28, 28):
            why = f"This tree takes {snap.input_shape} inputs, not 28×28 digits"
        else:
            why = ""
        self.prediction.show_prediction(self.explanation, self.teacher_probs, teacher_available=self.teacher is not None,
                                        class_names=snap.class_names if snap is not None else (), why_none=why)
        self.source_label.setText("← the 28×28 input the tree sees" if self.source is None
                                  else f"← the 28×28 input the tree sees, from the {self.source}")

    def _show_preview(self) -> None:
        side = 28 * PREVIEW_SCALE
        if self.input is None:
            pix = QPixmap(side, side)
            pix.fill(Qt.white)
        else:
            paper = np.ascontiguousarray(255 - np.round(self.input[0] * 255).astype(np.uint8))
            img = QImage(paper.data, 28, 28, 28, QImage.Format_Grayscale8)
            pix = QPixmap.fromImage(img.scaled(side, side, Qt.IgnoreAspectRatio, Qt.FastTransformation))
        self.preview.setPixmap(pix)
