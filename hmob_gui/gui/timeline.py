"""The timeline under the tree: a slider over every snapshot kept, and a replay button.

The snapshots live in the core's :class:`~hmob_gui.core.history.SnapshotHistory`,
whose byte budget thins the sample snapshots (never the epoch ones) when a
long run would not fit, so the timeline's memory stays bounded.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

PLAY_INTERVAL_MS = 120
REFRESH_MS = 250  # while snapshots pour in, the slider and its label follow at most 4 times a second


class Timeline(QWidget):
    """``snapshotChosen(TreeSnapshot)`` when the user scrubs or replays; ``liveChanged(bool)``."""

    snapshotChosen = Signal(object)
    liveChanged = Signal(bool)

    def __init__(self, parent=None, budget_bytes: int | None = None):
        super().__init__(parent)
        self._budget = budget_bytes
        self._history = None  # created on first use: the core's history module imports torch,
        #                       which the window must not wait for before it appears
        self.play_button = QToolButton()
        self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPlay))
        self.play_button.setToolTip("Replay the learning from the position of the slider")
        self.play_button.setCheckable(True)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("Every snapshot kept: each epoch's, and one every N samples")
        self.label = QLabel("no snapshots")
        self.label.setMinimumWidth(190)
        self.live_box = QCheckBox("live")
        self.live_box.setToolTip("Follow training as it happens")
        self.live_box.setChecked(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.live_box)
        self._dirty = False
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self.flush)
        self._timer = QTimer(self)
        self._timer.setInterval(PLAY_INTERVAL_MS)
        self._timer.timeout.connect(self._advance)
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderPressed.connect(self._on_pressed)
        self.play_button.toggled.connect(self._on_play)
        self.live_box.toggled.connect(self._on_live)
        self._update_range()

    # -------------------------------------------------------------- public

    @property
    def history(self):
        """The :class:`~hmob_gui.core.history.SnapshotHistory` behind the slider."""
        if self._history is None:
            from ..core.history import SnapshotHistory

            self._history = SnapshotHistory(self._budget) if self._budget else SnapshotHistory()
        return self._history

    def __len__(self) -> int:
        return 0 if self._history is None else len(self._history)

    def is_live(self) -> bool:
        return self.live_box.isChecked()

    def set_live(self, live: bool) -> None:
        self.live_box.setChecked(live)

    def clear(self) -> None:
        self.history.clear()
        self._update_range()

    def add(self, snapshot) -> None:
        """Keep a snapshot; when live, move the slider to it without emitting snapshotChosen."""
        self.history.add(snapshot)
        if self._refresh.isActive():
            self._dirty = True  # shown at the end of the interval (or when asked for)
        else:
            self._update_range()
            self._refresh.start()

    def set_snapshots(self, snapshots) -> None:
        self.history.clear()
        for s in snapshots:
            self.history.add(s)
        self._update_range()

    def snapshots(self) -> list:
        return self.history.samples()

    def flush(self) -> None:
        """Bring the slider up to date with every snapshot added so far."""
        self._refresh.stop()
        if self._dirty:
            self._update_range()

    def _on_pressed(self) -> None:
        self.flush()
        self.set_live(False)

    def current(self):
        self.flush()
        i = self.slider.value()
        return self.history[i] if 0 <= i < len(self) else None

    # -------------------------------------------------------------- internals

    def _update_range(self) -> None:
        self._dirty = False
        n = len(self)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        if self.is_live() or self.slider.value() >= n:
            self.slider.setValue(max(n - 1, 0))
        self.slider.blockSignals(False)
        self.slider.setEnabled(n > 1)
        self.play_button.setEnabled(n > 1)
        self._show_label()

    def _show_label(self) -> None:
        s = self.current()
        n = len(self)
        if s is None:
            self.label.setText("no snapshots")
        else:
            self.label.setText(f"{s.label()}  ({self.slider.value() + 1} of {n})")

    def _on_slider(self, index: int) -> None:
        self._show_label()
        s = self.current()
        if s is not None:
            if index < len(self.history) - 1:
                self.set_live(False)
            self.snapshotChosen.emit(s)

    def _on_play(self, playing: bool) -> None:
        if playing:
            self.set_live(False)
            if self.slider.value() >= len(self.history) - 1:
                self.slider.setValue(0)
            self._timer.start()
            self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPause))
        else:
            self._timer.stop()
            self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPlay))

    def _advance(self) -> None:
        if self.slider.value() >= len(self.history) - 1:
            self.play_button.setChecked(False)
            return
        self.slider.setValue(self.slider.value() + 1)

    def _on_live(self, live: bool) -> None:
        if live:
            self.play_button.setChecked(False)
            self._update_range()
            s = self.current()
            if s is not None:
                self.snapshotChosen.emit(s)
        self.liveChanged.emit(live)
