"""Live training curves (pyqtgraph): loss and accuracy per epoch, and a smoothed batch loss.

The x axis is in epochs for every curve, so the smoothed batch loss (drawn at
fractional epochs as batches go by) lines up with the per-epoch points.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

SMOOTHING = 0.15  # weight of the newest report in the batch-loss moving average
REDRAW_MS = 250  # the batch-loss curve is redrawn at most 4 times a second (it competes with training)


def _plot(title: str, y_label: str, legend_offset=(-8, 8)) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#333", size="10pt")
    w.setLabel("bottom", "epoch")
    w.setLabel("left", y_label)
    for side in ("left", "bottom"):  # losses of 0.3 read as 0.3, not "300 (x0.001)"
        w.getAxis(side).enableAutoSIPrefix(False)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.addLegend(offset=legend_offset, labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 210),
                pen=pg.mkPen(200, 200, 200))
    w.setMinimumHeight(140)
    return w


class TrainingCurves(QWidget):
    """Loss and accuracy of one model's training (the tree's or the teacher's)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = _plot("loss", "loss")
        self.acc_plot = _plot("accuracy", "accuracy", legend_offset=(-8, -8))  # bottom right: accuracy rises
        self.acc_plot.setYRange(0, 1, padding=0.02)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.acc_plot)
        self.batch_curve = self.loss_plot.plot(pen=pg.mkPen((150, 150, 150), width=1.2), name="batch (smoothed)")
        self.batch_curve.setDownsampling(auto=True, method="peak")  # long runs stay cheap to redraw
        self.batch_curve.setClipToView(True)
        self.train_loss_curve = self.loss_plot.plot(pen=pg.mkPen((31, 119, 180), width=2), symbol="o", symbolSize=5,
                                                    symbolBrush=(31, 119, 180), name="train")
        self.val_loss_curve = self.loss_plot.plot(pen=pg.mkPen((214, 39, 40), width=2), symbol="s", symbolSize=5,
                                                  symbolBrush=(214, 39, 40), name="validation")
        self.train_acc_curve = self.acc_plot.plot(pen=pg.mkPen((31, 119, 180), width=2), symbol="o", symbolSize=5,
                                                  symbolBrush=(31, 119, 180), name="train")
        self.val_acc_curve = self.acc_plot.plot(pen=pg.mkPen((214, 39, 40), width=2), symbol="s", symbolSize=5,
                                                symbolBrush=(214, 39, 40), name="validation")
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._draw_batches)
        self.reset()

    def reset(self, n_train: int = 0) -> None:
        self.n_train = max(int(n_train), 1)
        self._batch = np.empty((2, 1024))  # x, y of the smoothed batch loss; grows by doubling
        self._n_batch = 0
        self._smoothed: float | None = None
        self.history: list[dict] = []
        for c in (self.batch_curve, self.train_loss_curve, self.val_loss_curve, self.train_acc_curve,
                  self.val_acc_curve):
            c.setData([], [])

    def add_batch(self, samples_seen: int, loss: float) -> None:
        if not np.isfinite(loss):
            return
        self._smoothed = loss if self._smoothed is None else (1 - SMOOTHING) * self._smoothed + SMOOTHING * loss
        if self._n_batch == self._batch.shape[1]:
            self._batch = np.concatenate([self._batch, np.empty_like(self._batch)], axis=1)
        self._batch[:, self._n_batch] = (samples_seen / self.n_train, self._smoothed)
        self._n_batch += 1
        if not self._redraw.isActive():
            self._redraw.start()

    def _draw_batches(self) -> None:
        n = self._n_batch
        self.batch_curve.setData(self._batch[0, :n], self._batch[1, :n])

    @property
    def batch_points(self) -> int:
        return self._n_batch

    def add_epoch(self, metrics: dict) -> None:
        self.history.append(dict(metrics))
        self._draw_history()

    def set_history(self, history: list) -> None:
        """Show a finished run's per-epoch metrics (from a checkpoint or a saved run)."""
        self.reset()
        self.history = [dict(m) for m in history or [] if isinstance(m, dict) and "epoch" in m]
        self._draw_history()

    def _draw_history(self) -> None:
        def series(key):
            xs = [m["epoch"] for m in self.history if isinstance(m.get(key), (int, float)) and np.isfinite(m[key])]
            ys = [m[key] for m in self.history if isinstance(m.get(key), (int, float)) and np.isfinite(m[key])]
            return xs, ys

        self.train_loss_curve.setData(*series("train_loss"))
        self.val_loss_curve.setData(*series("val_loss"))
        self.train_acc_curve.setData(*series("train_accuracy"))
        self.val_acc_curve.setData(*series("val_accuracy"))


class CurvesPanel(QTabWidget):
    """One tab per model being trained: the tree, and the teacher when one is trained here."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tree = TrainingCurves()
        self.teacher = TrainingCurves()
        self.addTab(self.tree, "Tree")
        self.addTab(self.teacher, "Teacher")

    def curves_for(self, kind: str) -> TrainingCurves:
        return self.teacher if kind == "teacher" else self.tree

    def show_kind(self, kind: str) -> None:
        self.setCurrentWidget(self.curves_for(kind))
