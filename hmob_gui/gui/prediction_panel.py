"""What the tree and the teacher make of the input, side by side, and whether they agree.

The tree answers twice (Frosst & Hinton): the *bigot* — the one leaf on the
most probable path, with its confidence — and the *mixture* of all leaves
weighted by their path probabilities. The teacher (the CNN) answers with its
softmax. Bars compare the mixture's (orange) and the teacher's (grey)
probabilities; a red line says when any two answers differ.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from . import colormaps

_TEACHER_BRUSH = (90, 90, 90, 170)
_MIXTURE_BRUSH = (*colormaps.PATH_COLOR, 220)
_KEY = "<span style='color:rgb({},{},{});'>■</span> "  # the colour key of the bars, before each answer
_MIXTURE_KEY = _KEY.format(*_MIXTURE_BRUSH[:3])
_TEACHER_KEY = _KEY.format(*_TEACHER_BRUSH[:3])


def _name(class_names, k: int) -> str:
    return class_names[k] if k < len(class_names) else str(k)


class PredictionPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.digit = QLabel("–")
        self.digit.setAlignment(Qt.AlignCenter)
        self.digit.setMinimumWidth(56)
        self.digit.setStyleSheet("font-size: 34pt; font-weight: bold;")
        self.bigot = QLabel()
        self.mixture = QLabel()
        self.teacher = QLabel()
        for label in (self.bigot, self.mixture, self.teacher):
            label.setTextFormat(Qt.RichText)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.RichText)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.digit, 0, 0, 3, 1)
        grid.addWidget(self.bigot, 0, 1)
        grid.addWidget(self.mixture, 1, 1)
        grid.addWidget(self.teacher, 2, 1)
        grid.setColumnStretch(1, 1)
        self.bars = pg.PlotWidget(background="w")
        self.bars.setFixedHeight(105)
        self.bars.setYRange(0, 1, padding=0.02)
        self.bars.setMouseEnabled(x=False, y=False)
        self.bars.hideButtons()
        self.bars.getPlotItem().setMenuEnabled(False)
        self.bars.getAxis("left").setWidth(28)
        self._mixture_bars = pg.BarGraphItem(x=np.arange(10) - 0.2, height=np.zeros(10), width=0.4,
                                             brush=pg.mkBrush(*_MIXTURE_BRUSH))
        self._teacher_bars = pg.BarGraphItem(x=np.arange(10) + 0.2, height=np.zeros(10), width=0.4,
                                             brush=pg.mkBrush(*_TEACHER_BRUSH))
        self.bars.addItem(self._mixture_bars)
        self.bars.addItem(self._teacher_bars)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addWidget(self.verdict)
        layout.addWidget(self.bars)
        self.disagree = False
        self._n_classes = 0
        self.show_prediction(None, None, teacher_available=False)

    def _set_classes(self, class_names) -> None:
        n = len(class_names)
        if n != self._n_classes:
            self._n_classes = n
            self.bars.getAxis("bottom").setTicks([[(k, _name(class_names, k)[:3]) for k in range(n)]])
            self.bars.setXRange(-0.6, n - 0.4, padding=0)

    def show_prediction(self, explanation, teacher_probs, *, teacher_available: bool, class_names=(),
                        why_none: str = "Draw a digit, open an image or pick one from the gallery") -> None:
        """Show the answers for one input; ``explanation`` None shows ``why_none`` instead."""
        names = tuple(class_names) or tuple(str(k) for k in range(10))
        self._set_classes(names)
        ex = explanation
        if ex is None:
            self.digit.setText("–")
            self.digit.setStyleSheet("font-size: 34pt; font-weight: bold; color: #999;")
            self.bigot.setText(f"<i>{why_none}</i>")
            self.mixture.setText("")
            self.teacher.setText("")
            self.verdict.setText("")
            self.disagree = False
            self._mixture_bars.setOpts(x=np.arange(len(names)) - 0.2, height=np.zeros(len(names)))
            self._teacher_bars.setOpts(x=np.arange(len(names)) + 0.2, height=np.zeros(len(names)))
            return
        b, m = ex.bigot_class, ex.mixture_class
        color = "#%02x%02x%02x" % colormaps.class_color(b)
        self.digit.setText(_name(names, b))
        self.digit.setStyleSheet(f"font-size: 34pt; font-weight: bold; color: {color};")
        self.bigot.setText(f"<b>Tree (bigot)</b>: {_name(names, b)} · confidence {ex.bigot_confidence:.0%}"
                           f"<br><small>leaf {ex.bigot_leaf}, reached with P = {ex.leaf_probs[ex.bigot_leaf]:.2f}</small>")
        self.mixture.setText(f"{_MIXTURE_KEY}<b>Tree (mixture)</b>: {_name(names, m)} · {ex.mixture_distribution[m]:.0%}")
        problems = []
        if b != m:
            problems.append(f"the bigot says {_name(names, b)}, the mixture {_name(names, m)}")
        if teacher_probs is not None:
            t = int(np.argmax(teacher_probs))
            self.teacher.setText(f"{_TEACHER_KEY}<b>Teacher (CNN)</b>: {_name(names, t)} · {teacher_probs[t]:.1%}")
            if t != b:
                problems.append(f"the tree says {_name(names, b)}, the teacher {_name(names, t)}")
            teacher_heights = np.asarray(teacher_probs, dtype=float)
        else:
            reason = "no teacher loaded" if not teacher_available else "the teacher takes another input shape"
            self.teacher.setText(f"{_TEACHER_KEY}<b>Teacher (CNN)</b>: <i>{reason}</i>")
            teacher_heights = np.zeros(len(ex.mixture_distribution))
        self.disagree = bool(problems)
        if problems:
            self.verdict.setText("<span style='color:#b00000; font-weight:bold;'>⚠ Disagreement: "
                                 + "; ".join(problems) + "</span>")
        elif teacher_probs is not None:
            self.verdict.setText("<span style='color:#2a7a2a;'>✓ bigot, mixture and teacher agree</span>")
        else:
            self.verdict.setText("<span style='color:#2a7a2a;'>✓ bigot and mixture agree</span>")
        k = np.arange(len(ex.mixture_distribution))
        self._mixture_bars.setOpts(x=k - 0.2, height=np.asarray(ex.mixture_distribution, dtype=float))
        self._teacher_bars.setOpts(x=k + 0.2, height=teacher_heights)
