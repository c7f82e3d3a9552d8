"""A gallery of real MNIST test digits to explain: by class, at random, or those the tree gets wrong.

The digits come from :mod:`hmob_gui.core.gallery` (the full test set when the
data is on disk, else the shipped sample), loaded the first time the gallery
is shown. Each thumbnail says its true class, the tree's answer (red when
wrong) and the teacher's.

"The tree gets it wrong" needs the tree's answer for every digit: one batch
computation (:func:`~hmob_gui.core.predict.tree_answers`), redone when the tree
changes. Over the 10,000 test digits it takes ~0.1 s, so it runs on a pool
thread (at most one at a time, at most once a second while a tree is
training, not while the gallery is hidden) and comes back by a signal; over
the 300-digit sample it runs at once. The teacher answers only for the digits on show (a batch of ≤ 48).
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from ..core.gallery import Gallery, load_gallery
from ..core.predict import tree_answers

PAGE = 48  # digits on show at once
THUMB = 56  # thumbnail side: 2 × 28, whole pixels
SYNC_LIMIT = 2000  # galleries up to this size get their answers at once, larger ones on a pool thread
MIN_JOB_GAP_S = 1.0  # while a tree trains, recompute the answers at most this often
_WRONG = QColor(190, 0, 0)


class _AnswersRelay(QObject):
    done = Signal(object, object)  # token, TreeAnswers or the exception raised


class _AnswersJob(QRunnable):
    """The tree's answers over the whole gallery, on a pool thread (numpy releases the GIL)."""

    def __init__(self, snapshot, inputs, token, relay: _AnswersRelay):
        super().__init__()
        self.snapshot, self.inputs, self.token, self.relay = snapshot, inputs, token, relay

    def run(self) -> None:
        try:
            result = tree_answers(self.snapshot, self.inputs)
        except Exception as exc:  # reported in the GUI thread
            result = exc
        self.relay.done.emit(self.token, result)


def thumbnail(image: np.ndarray) -> QPixmap:
    """A 28×28 uint8 digit (ink high) as a dark-on-white pixmap, enlarged by whole pixels."""
    paper = np.ascontiguousarray(255 - image)
    img = QImage(paper.data, paper.shape[1], paper.shape[0], paper.strides[0], QImage.Format_Grayscale8)
    return QPixmap.fromImage(img.scaled(THUMB, THUMB, Qt.KeepAspectRatio, Qt.FastTransformation))


class GalleryPanel(QWidget):
    digitChosen = Signal(int)  # an index into ``gallery``
    answersChanged = Signal()  # the tree's answers over the gallery were (re)computed

    def __init__(self, data_dir=None, parent=None):
        """``data_dir``: a callable giving the data folder to look in (None: $HMOB_DATA, the cache)."""
        super().__init__(parent)
        self._data_dir = data_dir or (lambda: None)
        self.gallery: Gallery | None = None
        self.snapshot = None
        self.teacher = None
        self.answers = None  # TreeAnswers over the whole gallery, for ``_answers_token``
        self._answers_token = None
        self._job_running = False
        self._last_job = 0.0
        self._relays: list[_AnswersRelay] = []
        self._teacher_cache: dict[int, int] = {}
        self._order: np.ndarray | None = None
        self._rng = np.random.default_rng(0)
        self.page: list[int] = []
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._update_answers)

        self.class_box = QComboBox()
        self.class_box.addItem("all digits", None)
        for k in range(10):
            self.class_box.addItem(f"only {k}s", k)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Show another random choice of digits")
        self.wrong_box = QCheckBox("tree wrong")
        self.wrong_box.setToolTip("Only the digits the tree (its bigot leaf) classifies wrongly")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.class_box, 1)
        row.addWidget(self.random_button)
        row.addWidget(self.wrong_box)
        self.list = QListWidget()
        self.list.setViewMode(QListView.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setGridSize(QSize(THUMB + 22, THUMB + 34))
        self.list.setResizeMode(QListView.Adjust)
        self.list.setMovement(QListView.Static)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(True)
        self.list.setMinimumHeight(THUMB + 40)
        font = self.list.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        self.list.setFont(font)
        self.status = QLabel("Gallery: not loaded yet")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)

        self.class_box.currentIndexChanged.connect(lambda _: self.refresh_page())
        self.wrong_box.toggled.connect(self._on_wrong_toggled)
        self.random_button.clicked.connect(self.reshuffle)
        self.list.itemClicked.connect(lambda item: self.digitChosen.emit(int(item.data(Qt.UserRole))))
        self.list.itemActivated.connect(lambda item: self.digitChosen.emit(int(item.data(Qt.UserRole))))

    # ---------------------------------------------------------------- loading

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.ensure_loaded if self.gallery is None else self._update_answers)

    def ensure_loaded(self) -> Gallery:
        """Load the gallery now if it is not yet (the full test set when found, else the sample)."""
        if self.gallery is None:
            self.set_gallery(load_gallery(self._data_dir()))
        return self.gallery

    def set_gallery(self, gallery: Gallery) -> None:
        self.gallery = gallery
        self._inputs = gallery.inputs()  # (N, 1, 28, 28) float32, kept: the answers are recomputed often
        self._order = self._rng.permutation(len(gallery))
        self._teacher_cache.clear()
        self.answers = self._answers_token = None
        self._update_answers()
        self.refresh_page()

    # ---------------------------------------------------------------- models

    def _fits(self, snapshot) -> bool:
        return snapshot is not None and tuple(snapshot.input_shape) == (1, 28, 28)

    def set_snapshot(self, snapshot) -> None:
        """The tree shown changed: its answers about the digits follow."""
        if snapshot is self.snapshot:
            return
        self.snapshot = snapshot
        if self.gallery is not None:
            self._update_answers()
            self.refresh_page()

    def set_teacher(self, predictor) -> None:
        self.teacher = predictor
        self._teacher_cache.clear()
        if self.gallery is not None:
            self.refresh_page()

    def _update_answers(self) -> None:
        """Recompute the tree's answers over the gallery: now (small), or on a pool thread (large)."""
        snap = self.snapshot
        if self.gallery is None or not self._fits(snap) or self._answers_token is snap:
            return
        if len(self.gallery) <= SYNC_LIMIT:
            self._on_answers(snap, tree_answers(snap, self._inputs))
            return
        if self._job_running:
            return  # _on_answers starts the next one
        if not self.isVisible():
            return  # hidden (another dock tab in front): showEvent catches up
        wait = MIN_JOB_GAP_S - (time.monotonic() - self._last_job)
        if wait > 0:
            self._later.start(int(wait * 1000) + 1)
            return
        self._job_running = True
        self._last_job = time.monotonic()
        relay = _AnswersRelay()
        relay.done.connect(self._on_answers)
        self._relays.append(relay)  # alive until the answer is delivered
        QThreadPool.globalInstance().start(_AnswersJob(snap, self._inputs, snap, relay))

    def _on_answers(self, token, result) -> None:
        self._relays = [r for r in self._relays if r is not self.sender()]
        self._job_running = False
        if isinstance(result, Exception):
            self.status.setText(f"Could not compute the tree's answers: {result}")
            return
        self.answers, self._answers_token = result, token
        if token is not self.snapshot:  # the tree changed meanwhile
            self._update_answers()
        self.refresh_page()
        self.answersChanged.emit()

    def answers_ready(self) -> bool:
        return self.answers is not None and self._answers_token is self.snapshot

    def wait_job_done(self, timeout_ms: int = 10_000) -> bool:
        """For tests and scripts: let the pool thread finish (the answer still arrives by the event loop)."""
        return QThreadPool.globalInstance().waitForDone(timeout_ms)

    # ---------------------------------------------------------------- the page

    def _on_wrong_toggled(self, on: bool) -> None:
        if on:
            self._update_answers()
        self.refresh_page()

    def reshuffle(self) -> None:
        if self.gallery is not None:
            self._order = self._rng.permutation(len(self.gallery))
            self.refresh_page()

    def candidates(self) -> np.ndarray | None:
        """Indices matching the filters, in the current random order; None while the answers are pending."""
        g = self.gallery
        if g is None:
            return None
        order = self._order
        k = self.class_box.currentData()
        if k is not None:
            order = order[g.labels[order] == k]
        if self.wrong_box.isChecked():
            if not self._fits(self.snapshot):
                return np.zeros(0, dtype=np.int64)
            if self.answers is None:
                return None
            order = order[self.answers.bigot_classes[order] != g.labels[order]]
        return order

    def _tree_answers_for(self, indices) -> np.ndarray | None:
        if not self._fits(self.snapshot) or not len(indices):
            return None
        if self.answers_ready():
            return self.answers.bigot_classes[indices]
        return tree_answers(self.snapshot, self._inputs[indices]).bigot_classes  # ≤ 48 digits: instant

    def _teacher_answers_for(self, indices) -> list[int | None]:
        if self.teacher is None or not len(indices):
            return [None] * len(indices)
        missing = [i for i in indices if i not in self._teacher_cache]
        if missing:
            try:
                probs = self.teacher.predict_proba(self._inputs[missing])
            except Exception:  # a teacher for other inputs: no answers rather than no gallery
                return [None] * len(indices)
            for i, p in zip(missing, np.asarray(probs).reshape(len(missing), -1)):
                self._teacher_cache[int(i)] = int(np.argmax(p))
        return [self._teacher_cache[i] for i in indices]

    def refresh_page(self) -> None:
        """Show the first ``PAGE`` candidates with their answers (items reused when the page is the same)."""
        g = self.gallery
        cand = self.candidates()
        if g is None or cand is None:
            self.list.clear()
            self.page = []
            self.status.setText("Finding the digits the tree gets wrong…" if g is not None else "Gallery: not loaded yet")
            return
        page = [int(i) for i in cand[:PAGE]]
        tree = self._tree_answers_for(page)
        teacher = self._teacher_answers_for(page)
        if page != self.page:
            self.list.clear()
            for i in page:
                item = QListWidgetItem(QIcon(thumbnail(g.images[i])), "")
                item.setData(Qt.UserRole, i)
                self.list.addItem(item)
            self.page = page
        for row, i in enumerate(page):
            item = self.list.item(row)
            label = int(g.labels[i])
            t = None if tree is None else int(tree[row])
            text = f"{label} · tree {t if t is not None else '–'}"
            text += f"\nteacher {teacher[row]}" if teacher[row] is not None else "\nno teacher"
            item.setText(text)
            item.setForeground(QBrush(_WRONG) if t is not None and t != label else QBrush())
            item.setToolTip(f"MNIST test digit #{int(g.indices[i])}: a {label}<br>tree (bigot): "
                            f"{t if t is not None else '—'}<br>teacher: "
                            f"{teacher[row] if teacher[row] is not None else '— (none loaded)'}")
        self._show_status(len(cand))

    def _show_status(self, n_candidates: int) -> None:
        g = self.gallery
        parts = [g.describe()]
        if not self._fits(self.snapshot):
            parts.append("the tree takes other inputs than 28×28 digits" if self.snapshot is not None else "no tree")
        elif self.answers_ready():
            wrong = int((self.answers.bigot_classes != g.labels).sum())
            parts.append(f"the tree gets {wrong:,} wrong ({wrong / len(g):.1%})")
        shown = min(PAGE, n_candidates)
        parts.append(f"showing {shown} of {n_candidates:,}" if n_candidates else "none match")
        self.status.setText(" · ".join(parts))
