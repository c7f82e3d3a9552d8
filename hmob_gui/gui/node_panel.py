"""The side panel for a clicked node: its filter at full size, its numbers, the classes below.

For an inner node: the image large (weights, or x ⊙ w when the tree view shows
correlations), its value range on a 0-centred colour bar, bias, β, depth and
the classes reachable below it. For a leaf: its class distribution as bars
and its argmax. With an explanation: logit, P(right) and P(reach) too.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core import topology
from . import colormaps

IMAGE_SIDE = 252  # 9 × 28: whole pixels, no blur


class NodePanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Click a node of the tree")
        self.title.setStyleSheet("font-weight: bold; font-size: 13pt;")
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignCenter)
        self.image.setMinimumSize(IMAGE_SIDE, IMAGE_SIDE)
        self.colorbar = QLabel()
        self.colorbar.setAlignment(Qt.AlignCenter)
        self.range_label = QLabel()
        self.range_label.setAlignment(Qt.AlignCenter)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.RichText)
        self.details.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.details.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        self.bars = pg.PlotWidget(background="w")
        self.bars.setMinimumHeight(180)
        self.bars.setLabel("left", "probability")
        self.bars.setYRange(0, 1, padding=0.02)
        self.bars.setMouseEnabled(x=False, y=False)
        self.bars.hide()
        layout = QVBoxLayout(self)
        for w in (self.title, self.image, self.colorbar, self.range_label, self.bars, self.details):
            layout.addWidget(w)
        bar = colormaps.colorbar_rgba(IMAGE_SIDE, 12)
        self._bar_array = bar
        self.colorbar.setPixmap(QPixmap.fromImage(QImage(bar.data, bar.shape[1], bar.shape[0], 4 * bar.shape[1],
                                                         QImage.Format_RGBA8888).copy()))
        self.node: int | None = None
        self._pixels: np.ndarray | None = None
        self.clear()

    def clear(self) -> None:
        self.node = None
        self.title.setText("Click a node of the tree")
        self.image.clear()
        self.colorbar.hide()
        self.range_label.clear()
        self.details.clear()
        self.bars.hide()

    def show_node(self, snapshot, node: int | None, explanation=None, correlation: bool = False) -> None:
        """Show ``node`` (heap index) of ``snapshot``; None or out of range clears the panel."""
        if snapshot is None or node is None or node >= snapshot.n_inner + snapshot.n_leaves:
            self.clear()
            return
        self.node = node
        if node < snapshot.n_inner:
            self._show_inner(snapshot, node, explanation, correlation and explanation is not None)
        else:
            self._show_leaf(snapshot, node, explanation)

    def _show_inner(self, snap, node, ex, correlation) -> None:
        source = ex.correlation if correlation else snap.filters
        values = colormaps.to_display_planes(source[node : node + 1]).astype(np.float32)
        limit = colormaps.symmetric_limits(values, per_image=True)
        rgba = np.ascontiguousarray(colormaps.diverging_rgba(values, limit)[0])
        self._pixels = rgba
        h, w = rgba.shape[:2]
        img = QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()
        side = IMAGE_SIDE
        self.image.setPixmap(QPixmap.fromImage(img.scaled(side, side, Qt.KeepAspectRatio, Qt.FastTransformation)))
        self.image.show()
        self.colorbar.show()
        self.bars.hide()
        what = "x ⊙ w" if correlation else "weights"
        v = values[0]
        self.title.setText(f"Node {node} · depth {topology.node_depth(node)}")
        self.range_label.setText(f"−{limit[0]:.3g}   ←  0  →   +{limit[0]:.3g}<br>"
                                 f"{what}: min {v.min():+.4f}, max {v.max():+.4f}, mean {v.mean():+.4f}")
        below = ", ".join(snap.class_names[k] for k in np.flatnonzero(snap.reachable[node])) or "none"
        left, right = topology.children(node)
        lines = [f"<b>bias</b> {snap.biases[node]:+.4f} &nbsp; <b>β</b> {snap.beta:.4g}",
                 f"<b>classes below</b>: {below}",
                 f"<b>children</b>: {left} (left, logit &lt; 0), {right} (right, logit &gt; 0)",
                 f"<b>snapshot</b>: {snap.label()}"]
        if ex is not None:
            lines.append(f"<b>this input</b>: logit {ex.logits[node]:+.3f}, P(right) {ex.right_probs[node]:.3f}, "
                         f"P(reach) {ex.path_probs[node]:.3f}")
        self.details.setText("<br>".join(lines))

    def _show_leaf(self, snap, node, ex) -> None:
        leaf = node - snap.n_inner
        q = snap.leaf_distributions[leaf]
        top = int(q.argmax())
        self.title.setText(f"Leaf {leaf} (node {node}) · argmax {snap.class_names[top]}")
        self.image.hide()
        self.colorbar.hide()
        self.range_label.setText("")
        self.bars.clear()
        brushes = [pg.mkBrush(*colormaps.class_color(k), 255 if k == top else 150) for k in range(len(q))]
        self.bars.addItem(pg.BarGraphItem(x=np.arange(len(q)), height=q, width=0.8, brushes=brushes))
        ticks = [(k, snap.class_names[k] if len(snap.class_names[k]) <= 3 else str(k)) for k in range(len(q))]
        self.bars.getAxis("bottom").setTicks([ticks])
        self.bars.show()
        order = np.argsort(q)[::-1][:5]
        lines = ["<b>top classes</b>: " + ", ".join(f"{snap.class_names[k]} {q[k]:.1%}" for k in order),
                 f"<b>path</b>: {' → '.join(str(n) for n in topology.path_to_leaf(snap.depth, leaf))}",
                 f"<b>snapshot</b>: {snap.label()}"]
        if ex is not None:
            lines.append(f"<b>this input</b>: P(reach) {ex.leaf_probs[leaf]:.3f}"
                         + (" — the bigot leaf" if leaf == ex.bigot_leaf else ""))
        self.details.setText("<br>".join(lines))
