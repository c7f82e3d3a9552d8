"""A square of paper to draw a digit on, with the mouse or a pen (pressure where the pen has it).

The canvas keeps two things: the strokes (points with their brush width, for
undo) and a grey raster of them (dark ink on white, ``SIZE`` × ``SIZE``
logical pixels), painted a segment at a time as the pointer moves, so a move
costs one short anti-aliased line. The raster is what gets preprocessed; the
tree never sees the brush width as such (see
:mod:`hmob_gui.core.preprocess`: the stroke width is normalised to MNIST's).

It can also show a picture in place of the drawing (a gallery digit, a loaded
file); the next stroke starts a new drawing.

Signals: ``strokeStarted()``, ``inkChanged()`` (after every segment, undo and
clear) and ``strokeFinished()``.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from . import paint_guard

SIZE = 280  # logical pixels of paper: ten times MNIST's 28
FRAME = 2  # the visible frame around it
DEFAULT_BRUSH = 16.0
BRUSH_RANGE = (3, 40)
_INK = QColor(0, 0, 0)
_FRAME = QColor(120, 120, 120)
_HINT = QColor(160, 160, 160)


def pressure_factor(pressure: float) -> float:
    """Brush width multiplier for a pen's pressure in [0, 1]: 0.3× light, 1× at half, 1.7× full."""
    return 0.3 + 1.4 * min(max(pressure, 0.0), 1.0)


class DrawingCanvas(QWidget):
    strokeStarted = Signal()
    inkChanged = Signal()
    strokeFinished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFixedSize(SIZE + 2 * FRAME, SIZE + 2 * FRAME)
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setCursor(Qt.CrossCursor)
        self.setToolTip("Draw a digit: left button or pen (pressure changes the width).\n"
                        "The tree sees it as MNIST digits were made: cropped, scaled to 20 px, "
                        "centred by its centre of mass, strokes brought to MNIST's width.")
        self.brush_width = DEFAULT_BRUSH
        self.strokes: list[list[tuple[float, float, float]]] = []  # each point: x, y, width
        self._current: list[tuple[float, float, float]] | None = None
        self._picture: QImage | None = None
        self._picture_smooth = True
        self._raster = QImage(SIZE, SIZE, QImage.Format_Grayscale8)
        self._raster.fill(255)

    def sizeHint(self) -> QSize:
        return QSize(SIZE + 2 * FRAME, SIZE + 2 * FRAME)

    # ---------------------------------------------------------------- public API

    def set_brush_width(self, width: float) -> None:
        self.brush_width = float(min(max(width, BRUSH_RANGE[0]), BRUSH_RANGE[1]))

    def is_empty(self) -> bool:
        return not self.strokes and self._current is None

    def is_drawing(self) -> bool:
        """A stroke is in progress."""
        return self._current is not None

    def showing_picture(self) -> bool:
        return self._picture is not None

    def gray_array(self) -> np.ndarray:
        """The drawing as grey levels, (SIZE, SIZE) uint8, dark ink (0) on white (255): a copy."""
        bits = np.frombuffer(self._raster.constBits(), np.uint8).reshape(SIZE, self._raster.bytesPerLine())
        return bits[:, :SIZE].copy()

    def clear(self) -> None:
        self.strokes.clear()
        self._current = None
        self._picture = None
        self._redraw()
        self.inkChanged.emit()

    def undo(self) -> None:
        """Remove the last stroke (nothing happens while a picture is shown or nothing is drawn)."""
        if self._picture is not None or not self.strokes:
            return
        self.strokes.pop()
        self._redraw()
        self.inkChanged.emit()

    def show_picture(self, gray: np.ndarray | None, smooth: bool = True) -> None:
        """Show a picture (H×W uint8, dark on light) instead of the drawing; None shows the drawing again."""
        if gray is None:
            self._picture = None
        else:
            g = np.ascontiguousarray(gray, dtype=np.uint8)
            self._picture = QImage(g.data, g.shape[1], g.shape[0], g.strides[0], QImage.Format_Grayscale8).copy()
            self._picture_smooth = smooth
        self.update()

    # ---------------------------------------------------------------- strokes

    def begin_stroke(self, pos: QPointF, width: float) -> None:
        if self._picture is not None:  # drawing over a picture starts a new drawing
            self._picture = None
            self.strokes.clear()
            self._redraw()
        self._current = [(pos.x() - FRAME, pos.y() - FRAME, width)]
        self.strokeStarted.emit()
        self._paint_segment(self._current[0], self._current[0])
        self.inkChanged.emit()

    def extend_stroke(self, pos: QPointF, width: float) -> None:
        if self._current is None:
            return
        point = (pos.x() - FRAME, pos.y() - FRAME, width)
        last = self._current[-1]
        if abs(point[0] - last[0]) < 0.5 and abs(point[1] - last[1]) < 0.5:
            return
        self._current.append(point)
        self._paint_segment(last, point)
        self.inkChanged.emit()

    def end_stroke(self) -> None:
        if self._current is None:
            return
        self.strokes.append(self._current)
        self._current = None
        self.strokeFinished.emit()

    @staticmethod
    def _segment(painter: QPainter, a, b) -> None:
        """One piece of a stroke: a dot where it starts (a is b), else a line of the mean width."""
        painter.setPen(QPen(_INK, 0.5 * (a[2] + b[2]), Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
        if a is b:
            painter.drawPoint(QPointF(a[0], a[1]))
        else:
            painter.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))

    def _paint_segment(self, a, b) -> None:
        painter = QPainter(self._raster)
        painter.setRenderHint(QPainter.Antialiasing)
        self._segment(painter, a, b)
        painter.end()
        r = 0.5 * (a[2] + b[2]) / 2 + 2
        dirty = QRectF(min(a[0], b[0]) - r + FRAME, min(a[1], b[1]) - r + FRAME,
                       abs(a[0] - b[0]) + 2 * r, abs(a[1] - b[1]) + 2 * r)
        self.update(dirty.toAlignedRect())

    def _redraw(self) -> None:
        """Paint every stroke again, exactly as it was painted while drawn (after undo or clear)."""
        self._raster.fill(255)
        painter = QPainter(self._raster)
        painter.setRenderHint(QPainter.Antialiasing)
        for stroke in self.strokes:
            self._segment(painter, stroke[0], stroke[0])
            for a, b in zip(stroke, stroke[1:]):
                self._segment(painter, a, b)
        painter.end()
        self.update()

    # ---------------------------------------------------------------- events

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self.begin_stroke(event.position(), self.brush_width)
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:
        if self._current is not None and event.buttons() & Qt.LeftButton:
            self.extend_stroke(event.position(), self.brush_width)
            event.accept()
        else:
            event.ignore()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self._current is not None:
            self.extend_stroke(event.position(), self.brush_width)
            self.end_stroke()
            event.accept()
        else:
            event.ignore()

    def tabletEvent(self, event) -> None:
        """A pen: its pressure scales the brush (accepted, so Qt sends no mouse events for it)."""
        width = self.brush_width * pressure_factor(event.pressure())
        kind = event.type()
        if kind == event.Type.TabletPress:
            self.begin_stroke(event.position(), width)
        elif kind == event.Type.TabletMove:
            self.extend_stroke(event.position(), width)
        elif kind == event.Type.TabletRelease:
            self.extend_stroke(event.position(), width)
            self.end_stroke()
        event.accept()

    @paint_guard.guarded
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.white)
        area = QRectF(FRAME, FRAME, SIZE, SIZE)
        if self._picture is not None:
            pic = self._picture
            s = min(SIZE / pic.width(), SIZE / pic.height())
            target = QRectF(0, 0, pic.width() * s, pic.height() * s)
            target.moveCenter(area.center())
            painter.setRenderHint(QPainter.SmoothPixmapTransform, self._picture_smooth)
            painter.drawImage(target, pic)
        else:
            painter.drawImage(area.topLeft(), self._raster)
            if self.is_empty():
                painter.setPen(_HINT)
                font = QFont()
                font.setPixelSize(15)
                painter.setFont(font)
                painter.drawText(area, Qt.AlignCenter, "Draw a digit here")
        painter.setPen(QPen(_FRAME, FRAME))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(QRectF(FRAME / 2, FRAME / 2, SIZE + FRAME, SIZE + FRAME))
        painter.end()
