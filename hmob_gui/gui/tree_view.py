"""The tree, drawn: filters, reachable classes, leaf distributions, and one input's path.

This module is pure display. It receives plain objects (a core
:class:`~hmob_gui.core.snapshot.TreeSnapshot`, optionally an
:class:`~hmob_gui.core.explain.Explanation`) and never touches a model.

Public API (used by the main window, by the draw-a-digit panel and by the
animation export; keep it stable):

``TreeView(parent=None)`` — a ``QGraphicsView``; mouse wheel zooms around the
cursor, dragging pans, a click on a node emits ``nodeClicked(int heap_index)``,
hovering shows a tooltip (node id, depth, bias, weight range, classes below;
a leaf's top classes; with an explanation, logit, P(right) and P(reach)).

* ``set_snapshot(snapshot | None)`` — show a snapshot. Items are updated in
  place (one colour-map lookup for all filters, one atlas image, one repaint);
  the scene is rebuilt only when the depth or the input shape changes. An
  explanation whose node count no longer fits is dropped; one that fits is
  kept (call ``set_explanation`` again to refresh it for the new weights).
* ``set_explanation(explanation | None)`` — overlay one input's trip: every
  edge drawn with width and opacity by the probability of reaching its child,
  the max-probability path in orange, each inner node on it labelled with its
  logit β(x·w+b) and P(right), nodes dimmed by their path probability, leaves
  tinted by path probability and the bigot leaf outlined.
* ``set_image_mode("filters" | "correlation")`` — what the node images show:
  the weights w, or x ⊙ w (needs an explanation; each pixel's contribution to
  the node's logit / β, red pushes right, blue pushes left).
* ``set_color_scale("filter" | "tree")`` — symmetric colour limits per image
  (±max|v| of each image, default: shows every filter's pattern) or one for
  the whole tree (compares magnitudes between nodes). The legend says which.
* ``set_caption(text | None)`` — the title drawn top-left (None: the snapshot's
  own label, e.g. "epoch 3 / 40").
* ``set_selected_node(node | None)``, ``fit_to_window()``, ``zoom_by(factor)``.
* ``node_images()`` — the (n_inner, H, W, 4) uint8 RGBA shown now (for tests).

``render_tree_image(snapshot, explanation=None, size=(1152, 576), caption=None,
mode="filters", color_scale="filter") -> QImage`` draws a frame headless with
exactly the same scene and items (no widget needed; a ``QApplication`` is
created if there is none, so set ``QT_QPA_PLATFORM=offscreen`` on a server).
It keeps one scene between calls and updates it in place, so rendering an
animation costs one colour-map lookup and one paint per frame.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QObject, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import (QApplication, QFrame, QGraphicsItem, QGraphicsScene, QGraphicsView,
                               QToolTip)

from ..core import topology
from . import colormaps, paint_guard
from .tree_layout import TreeLayout, label_height, layout_tree

if TYPE_CHECKING:
    from ..core.explain import Explanation
    from ..core.snapshot import TreeSnapshot

IMAGE_MODES = ("filters", "correlation")
COLOR_SCALES = ("filter", "tree")
PATH_COLOR = QColor(*colormaps.PATH_COLOR)
EDGE_COLOR = QColor(120, 120, 120)
FRAME_COLOR = QColor(150, 150, 150)
SELECTED_COLOR = QColor(110, 40, 170)
TEXT_COLOR = QColor(40, 40, 40)
MIN_TEXT_PX = 5.5  # text smaller than this on screen is not drawn (level of detail)


def _font(pixel_size: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(max(1, int(round(pixel_size))))
    f.setBold(bold)
    return f


def _cosmetic(color: QColor, width: float) -> QPen:
    """A pen whose width is in screen pixels, so lines stay visible however far we zoom out."""
    pen = QPen(color, width)
    pen.setCosmetic(True)
    return pen


_REFERENCE_PX = 100.0
_text_widths: dict[str, float] = {}


def _fit_pixel_size(text: str, width: float) -> float:
    """The font pixel size at which ``text`` is ``width`` wide (widths measured once, cached)."""
    w = _text_widths.get(text)
    if w is None:
        w = _text_widths[text] = max(QFontMetricsF(_font(_REFERENCE_PX)).horizontalAdvance(text), 1.0)
    return _REFERENCE_PX * width / w


def _prob(value) -> float:
    """A probability to draw with: NaN (a diverged or damaged model) is 0, the rest clipped to 0…1."""
    v = float(value)
    return min(max(v, 0.0), 1.0) if v == v else 0.0


def class_name(snap, k: int) -> str:
    """The name of class ``k``, or its number when the snapshot has no name for it."""
    names = snap.class_names
    return str(names[k]) if 0 <= k < len(names) else str(k)


def _scale_of(painter: QPainter) -> float:
    t = painter.worldTransform()
    return math.hypot(t.m11(), t.m12())


class TreeScene(QGraphicsScene):
    """The scene and its display state; items read the state when they paint.

    Keeping the state here (not in every item) is what makes an update cheap:
    a new snapshot changes a few arrays and one atlas image, then one repaint
    draws whatever is visible.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackgroundBrush(QBrush(Qt.white))
        self.snapshot: TreeSnapshot | None = None
        self.explanation: Explanation | None = None
        self.image_mode = "filters"
        self.color_scale = "filter"
        self.selected: int | None = None
        self.caption: str | None = None
        self.layout: TreeLayout | None = None
        self.atlas: QImage | None = None  # every node image stacked vertically
        self.rgba: np.ndarray | None = None  # (n_inner, H, W, 4), kept alive for the atlas
        self.limits: np.ndarray | None = None  # colour limit of each image
        self._structure: tuple | None = None
        self._edges: _EdgesItem | None = None
        self._inner_items: list[_InnerNodeItem] = []
        self._leaf_items: list[_LeafItem] = []
        self._labels: dict[int, str] = {}

    # ---------------------------------------------------------------- state

    def set_snapshot(self, snapshot: TreeSnapshot | None) -> None:
        structure = None if snapshot is None else (snapshot.depth, tuple(snapshot.input_shape), snapshot.n_classes)
        if self.explanation is not None and (snapshot is None or len(self.explanation.logits) != snapshot.n_inner):
            self.explanation = None
        if structure != self._structure:
            self._rebuild(snapshot)
            self._structure = structure
        self.snapshot = snapshot
        self._labels.clear()
        self._refresh()

    def set_explanation(self, explanation: Explanation | None) -> None:
        if explanation is not None and self.snapshot is not None and len(explanation.logits) != self.snapshot.n_inner:
            raise ValueError(f"explanation has {len(explanation.logits)} inner nodes, the tree {self.snapshot.n_inner}")
        self.explanation = explanation
        if self._edges is not None:
            self._edges.refresh()
        self._refresh()

    def set_image_mode(self, mode: str) -> None:
        if mode not in IMAGE_MODES:
            raise ValueError(f"image mode must be one of {IMAGE_MODES}, not {mode!r}")
        self.image_mode = mode
        self._refresh()

    def set_color_scale(self, scale: str) -> None:
        if scale not in COLOR_SCALES:
            raise ValueError(f"colour scale must be one of {COLOR_SCALES}, not {scale!r}")
        self.color_scale = scale
        self._refresh()

    def set_selected_node(self, node: int | None) -> None:
        self.selected = node
        self.update()

    @property
    def showing_correlation(self) -> bool:
        return self.image_mode == "correlation" and self.explanation is not None

    def node_values(self) -> np.ndarray | None:
        """What the node images show now, (n_inner, H, W) float: weights or x ⊙ w."""
        if self.snapshot is None:
            return None
        source = self.explanation.correlation if self.showing_correlation else self.snapshot.filters
        return colormaps.to_display_planes(source)

    def _refresh(self) -> None:
        values = self.node_values()
        if values is None:
            self.atlas = self.rgba = self.limits = None
        else:
            self.limits = colormaps.symmetric_limits(values, per_image=self.color_scale == "filter")
            n, h, w = values.shape
            self.rgba = np.ascontiguousarray(colormaps.diverging_rgba(values, self.limits))
            self.atlas = QImage(self.rgba.data, w, n * h, 4 * w, QImage.Format_RGBA8888)
        if self._edges is not None and self.explanation is None:
            self._edges.refresh()
        self.update()

    def _rebuild(self, snapshot: TreeSnapshot | None) -> None:
        for item in [self._edges, *self._inner_items, *self._leaf_items]:
            if item is not None:
                self.removeItem(item)
        self._edges, self._inner_items, self._leaf_items = None, [], []
        if snapshot is None:
            self.layout = None
            self.setSceneRect(QRectF(0, 0, 100, 100))
            return
        self.layout = layout = layout_tree(snapshot.depth)
        self.setSceneRect(QRectF(0, 0, layout.width, layout.height))
        self._edges = _EdgesItem(self)
        self.addItem(self._edges)
        for node in range(layout.n_inner):
            item = _InnerNodeItem(self, node)
            self.addItem(item)
            self._inner_items.append(item)
        for leaf in range(len(layout.leaf_x)):
            item = _LeafItem(self, leaf)
            self.addItem(item)
            self._leaf_items.append(item)

    # ---------------------------------------------------------------- text

    def reachable_label(self, node: int) -> str:
        """The classes reachable below an inner node, compact enough to fit above it."""
        text = self._labels.get(node)
        if text is None:
            snap = self.snapshot
            classes = np.flatnonzero(snap.reachable[node])
            names = [class_name(snap, k) if len(class_name(snap, k)) <= 2 else str(k) for k in classes]
            text = " ".join(names) if all(len(n) == 1 for n in names) else ",".join(names)
            self._labels[node] = text
        return text

    def tooltip(self, node: int) -> str:
        snap, layout = self.snapshot, self.layout
        if snap is None or layout is None:
            return ""
        n_inner = snap.n_inner
        lines = []
        ex = self.explanation
        if node < n_inner:
            values = self.node_values()[node]
            below = ", ".join(class_name(snap, k) for k in np.flatnonzero(snap.reachable[node]))
            what = "x ⊙ w" if self.showing_correlation else "weights"
            lines += [f"<b>node {node}</b> · depth {topology.node_depth(node)}",
                      f"bias {snap.biases[node]:+.4f} · β {snap.beta:.3g}",
                      f"{what} {values.min():+.4f} … {values.max():+.4f}",
                      f"classes below: {below}"]
            if ex is not None:
                lines.append(f"logit {ex.logits[node]:+.3f} · P(right) {ex.right_probs[node]:.3f} · "
                             f"P(reach) {ex.path_probs[node]:.3f}")
        else:
            leaf = node - n_inner
            q = snap.leaf_distributions[leaf]
            top = np.argsort(q)[::-1][:3]
            lines += [f"<b>leaf {leaf}</b> (node {node}) · depth {snap.depth}",
                      f"argmax {class_name(snap, int(q.argmax()))} ({q.max():.1%})",
                      "top: " + ", ".join(f"{class_name(snap, k)} {q[k]:.1%}" for k in top)]
            if ex is not None:
                lines.append(f"P(reach) {ex.leaf_probs[leaf]:.3f}" + (" · bigot leaf" if leaf == ex.bigot_leaf else ""))
        return "<br>".join(lines)


class _EdgesItem(QGraphicsItem):
    """Every parent→child edge in one item: one drawLines call per width/opacity bucket."""

    BUCKETS = 12

    def __init__(self, scene: TreeScene):
        super().__init__()
        self._scene = scene
        self.setZValue(-1)
        self.setAcceptedMouseButtons(Qt.NoButton)
        coords = scene.layout.edges()
        self._lines = [QLineF(*row) for row in coords]
        self._rect = QRectF(0, 0, scene.layout.width, scene.layout.height)
        self._groups: list[tuple[QPen, list[QLineF]]] = []
        self.refresh()

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self):  # never hit by the mouse: clicks and tooltips belong to the nodes
        from PySide6.QtGui import QPainterPath

        return QPainterPath()

    def refresh(self) -> None:
        ex = self._scene.explanation
        if ex is None:
            self._groups = [(_cosmetic(EDGE_COLOR, 1.2), self._lines)]
        else:
            probs = np.nan_to_num(np.asarray(ex.path_probs[1:], dtype=np.float64), nan=0.0).clip(0.0, 1.0)
            buckets = np.minimum((np.sqrt(probs) * self.BUCKETS).astype(int), self.BUCKETS - 1)
            on_path = set(ex.max_path[1:])
            groups = []
            for b in range(self.BUCKETS):
                lines = [self._lines[i] for i in np.flatnonzero(buckets == b) if i + 1 not in on_path]
                if lines:
                    p = (b + 0.5) / self.BUCKETS
                    color = QColor(40, 40, 40, int(25 + 200 * p))
                    groups.append((_cosmetic(color, 0.6 + 5.0 * p * p), lines))
            path_pen = _cosmetic(PATH_COLOR, 5.0)
            path_pen.setCapStyle(Qt.RoundCap)
            groups.append((path_pen, [self._lines[n - 1] for n in ex.max_path[1:]]))
            self._groups = groups
        self.update()

    @paint_guard.guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        for pen, lines in self._groups:
            painter.setPen(pen)
            painter.drawLines(lines)


class _InnerNodeItem(QGraphicsItem):
    """One inner node: its image, the classes reachable below it, its labels on a path."""

    def __init__(self, scene: TreeScene, node: int):
        super().__init__()
        self._scene = scene
        self.node = node
        layout = scene.layout
        s = float(layout.node_size[node])
        self._image_rect = QRectF(float(layout.node_x[node]) - s / 2, float(layout.node_y[node]), s, s)
        r = self._image_rect
        self._above = label_height(s)
        pad = 0.15 * s
        self._rect = QRectF(r.left() - pad, r.top() - self._above - 2, r.width() + 2 * pad,
                            r.height() + self._above + 0.3 * s + 6)
        self.setAcceptedMouseButtons(Qt.NoButton)

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self):
        from PySide6.QtGui import QPainterPath

        path = QPainterPath()
        path.addRect(self._image_rect.adjusted(0, -self._above, 0, 0))
        return path

    @paint_guard.guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        sc, node, r = self._scene, self.node, self._image_rect
        if sc.atlas is None:
            return
        scale = _scale_of(painter)
        ex = sc.explanation
        on_path = ex is not None and node in ex.max_path
        if ex is not None and not on_path:
            painter.setOpacity(0.25 + 0.75 * math.sqrt(_prob(ex.path_probs[node])))
        h = sc.atlas.height() // sc.snapshot.n_inner
        painter.drawImage(r, sc.atlas, QRectF(0, node * h, sc.atlas.width(), h))
        if node == sc.selected:
            painter.setPen(_cosmetic(SELECTED_COLOR, 3.5))
        elif on_path:
            painter.setPen(_cosmetic(PATH_COLOR, 3.5))
        else:
            painter.setPen(_cosmetic(FRAME_COLOR, 1.0))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(r)
        painter.setOpacity(1.0)
        # the reachable classes above the image (hidden when too small to read)
        text = sc.reachable_label(node)
        px = min(0.8 * self._above, _fit_pixel_size(text, 1.15 * r.width()))
        if px * scale >= MIN_TEXT_PX:
            painter.setFont(_font(px))
            painter.setPen(TEXT_COLOR)
            painter.drawText(QRectF(r.left() - 0.1 * r.width(), r.top() - self._above, 1.2 * r.width(), self._above - 1),
                             Qt.AlignHCenter | Qt.AlignBottom, text)
        if on_path:
            px = r.width() / 7.5
            if px * scale >= MIN_TEXT_PX:
                label = QRectF(r.left() - 0.1 * r.width(), r.bottom() + 2, 1.2 * r.width(), 2.5 * px)
                painter.fillRect(label, QColor(255, 255, 255, 225))
                painter.setFont(_font(px, bold=True))
                painter.setPen(QColor(150, 70, 0))
                painter.drawText(label, Qt.AlignHCenter | Qt.AlignTop,
                                 f"logit {ex.logits[node]:+.2f}\nP(right) {ex.right_probs[node]:.2f}")


class _LeafItem(QGraphicsItem):
    """One leaf: its class distribution as bars, its argmax digit and confidence."""

    def __init__(self, scene: TreeScene, leaf: int):
        super().__init__()
        self._scene = scene
        self.leaf = leaf
        self.node = scene.layout.n_inner + leaf
        layout = scene.layout
        w = layout.leaf_w
        self._bars = QRectF(float(layout.leaf_x[leaf]) - w / 2, layout.leaf_y, w, layout.leaf_h)
        self._rect = self._bars.adjusted(-4, -4, 4, 0.45 * w)
        self.setAcceptedMouseButtons(Qt.NoButton)

    def boundingRect(self) -> QRectF:
        return self._rect

    @paint_guard.guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        sc, snap, r = self._scene, self._scene.snapshot, self._bars
        if snap is None:
            return
        scale = _scale_of(painter)
        q = snap.leaf_distributions[self.leaf]
        if not np.isfinite(q).all():  # a damaged or diverged model: draw what can be drawn
            q = np.nan_to_num(q, nan=0.0, posinf=1.0, neginf=0.0).clip(0.0, 1.0)
        top = int(q.argmax())
        ex = sc.explanation
        if ex is not None:
            p = _prob(ex.leaf_probs[self.leaf])
            painter.fillRect(self._rect.adjusted(0, 0, 0, -2),
                             QColor(*colormaps.PATH_COLOR, int(15 + 110 * math.sqrt(p))))
        if r.width() * scale < 12:  # far away: one block in the argmax class's colour
            painter.fillRect(r, QColor(*colormaps.class_color(top)))
        else:
            k = len(q)
            bar_w = r.width() / k
            for c in range(k):
                bh = float(q[c]) * r.height()
                color = QColor(*colormaps.class_color(c))
                if c != top:
                    color.setAlpha(150)
                painter.fillRect(QRectF(r.left() + c * bar_w, r.bottom() - bh, bar_w * 0.92, bh), color)
            painter.setPen(_cosmetic(FRAME_COLOR, 0.8))
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(r)
        if self.node == sc.selected or (ex is not None and self.leaf == ex.bigot_leaf):
            painter.setPen(_cosmetic(SELECTED_COLOR if self.node == sc.selected else PATH_COLOR, 3.5))
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(r.adjusted(-2, -2, 2, 2))
        px = 0.3 * r.width()
        if px * scale >= MIN_TEXT_PX:
            painter.setFont(_font(px, bold=True))
            painter.setPen(QColor(*colormaps.class_color(top)).darker(130))
            label = class_name(snap, top)
            if len(label) > 3:
                label = str(top)
            text_rect = QRectF(r.left() - 6, r.bottom() + 1, r.width() + 12, px * 1.3)
            painter.drawText(text_rect, Qt.AlignHCenter | Qt.AlignVCenter, label)
            small = px * 0.5
            if small * scale >= MIN_TEXT_PX:
                painter.setFont(_font(small))
                painter.setPen(TEXT_COLOR)
                painter.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), small * 1.4),
                                 Qt.AlignRight | Qt.AlignVCenter, f"{q[top]:.0%}")


# -------------------------------------------------------------------- overlay


def describe_snapshot(snap) -> str:
    """The default caption: when the snapshot was taken, in words."""
    if snap.kind == "samples" and snap.total_epochs:
        return f"epoch {snap.epoch + 1} / {snap.total_epochs} · {snap.samples_seen:,} samples"
    if snap.kind in ("epoch", "final") and snap.total_epochs:
        return f"after epoch {snap.epoch} / {snap.total_epochs}"
    if snap.kind == "initial":
        return "initial (random) weights"
    return snap.label()


@paint_guard.guarded
def paint_overlay(painter: QPainter, scene: TreeScene, rect: QRectF) -> None:
    """Caption (top-left) and colour legend (bottom-left), in device pixels of ``rect``."""
    snap = scene.snapshot
    if snap is None:
        painter.setFont(_font(15))
        painter.setPen(TEXT_COLOR)
        painter.drawText(rect, Qt.AlignCenter, "No tree loaded")
        return
    caption = scene.caption if scene.caption is not None else describe_snapshot(snap)
    if caption:
        painter.setFont(_font(15, bold=True))
        fm = QFontMetricsF(painter.font())
        box = QRectF(rect.left() + 8, rect.top() + 6, fm.horizontalAdvance(caption) + 14, fm.height() + 6)
        painter.fillRect(box, QColor(255, 255, 255, 215))
        painter.setPen(TEXT_COLOR)
        painter.drawText(box, Qt.AlignCenter, caption)
    # colour bar
    bar = colormaps.colorbar_rgba(160, 1)
    bar_img = QImage(bar.data, bar.shape[1], 1, 4 * bar.shape[1], QImage.Format_RGBA8888)
    what = ("x ⊙ w: red pushes right, blue left" if scene.showing_correlation
            else "weights: red +, blue −, white 0")
    scale = "symmetric scale per filter (±max|v|)" if scene.color_scale == "filter" else "one symmetric scale for the tree"
    lines = [what, scale]
    if scene.explanation is not None:
        lines.append("orange: max-probability path; edge width: P(reach)")
    painter.setFont(_font(11))
    fm = QFontMetricsF(painter.font())
    width = max(160.0, *(fm.horizontalAdvance(t) for t in lines)) + 16
    # Bar at y0, its end labels above it, one text line every 14 px below: the last one ends 6 px above the edge.
    x0, y0 = rect.left() + 10, rect.bottom() - 30 - 14 * (len(lines) - 1)
    box = QRectF(x0 - 6, y0 - 20, width, 50 + 14 * (len(lines) - 1))
    painter.fillRect(box, QColor(255, 255, 255, 225))
    painter.drawImage(QRectF(x0, y0, 160, 10), bar_img)
    painter.setPen(QPen(FRAME_COLOR, 1))
    painter.drawRect(QRectF(x0, y0, 160, 10))
    painter.setPen(TEXT_COLOR)
    if scene.color_scale == "tree" and scene.limits is not None:
        m = float(scene.limits[0])
        ends = (f"−{m:.2g}", f"+{m:.2g}")
    else:
        ends = ("−max", "+max")
    painter.drawText(QRectF(x0 - 4, y0 - 15, 60, 14), Qt.AlignLeft, ends[0])
    painter.drawText(QRectF(x0 + 60, y0 - 15, 40, 14), Qt.AlignHCenter, "0")
    painter.drawText(QRectF(x0 + 100, y0 - 15, 64, 14), Qt.AlignRight, ends[1])
    for i, t in enumerate(lines):
        painter.drawText(QPointF(x0, y0 + 24 + 14 * i), t)


OVERLAY_TOP = 34.0  # room kept free for the caption when fitting
OVERLAY_BOTTOM = 64.0  # and for the legend


# -------------------------------------------------------------------- the widget


class _TooltipFilter(QObject):
    """Answers the viewport's tooltip events with the node under the mouse (text built on demand)."""

    def __init__(self, view: "TreeView"):
        super().__init__(view)
        self._view = view

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.ToolTip:
            self._view.show_tooltip(event.pos(), event.globalPos())
            return True
        return False


class TreeView(QGraphicsView):
    """Zoomable, pannable view of a :class:`TreeScene` (see the module docstring)."""

    nodeClicked = Signal(int)
    snapshotApplied = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tree_scene = TreeScene(self)
        self.setScene(self.tree_scene)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.NoAnchor)  # zoom_by keeps the point under the mouse
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.FullViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.DontSavePainterState, False)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # drag to pan, wheel to zoom, double-click to fit
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMinimumSize(320, 200)
        self._auto_fit = True
        self._fit_scale = 0.0  # the scale that shows the whole tree (set by fit_to_window)
        self._press_pos = None
        self.last_paint_ms = 0.0  # how long the last repaint took (the window paces live updates by it)
        self._tooltips = _TooltipFilter(self)
        self.viewport().installEventFilter(self._tooltips)

    # ---------------------------------------------------------------- public API

    def snapshot(self) -> TreeSnapshot | None:
        return self.tree_scene.snapshot

    def explanation(self) -> Explanation | None:
        return self.tree_scene.explanation

    def set_snapshot(self, snapshot: TreeSnapshot | None) -> None:
        old = self.tree_scene._structure
        self.tree_scene.set_snapshot(snapshot)
        if self.tree_scene._structure != old:
            self._auto_fit = True
            # A tree-sized margin all round: room to pan any part of the tree to the middle, and to
            # keep the point under the mouse in place when zooming (the view cannot scroll past its rect)
            r = self.tree_scene.sceneRect()
            self.setSceneRect(r.adjusted(-r.width(), -r.height(), r.width(), r.height()))
        if self._auto_fit:
            self.fit_to_window()
        self.viewport().update()
        self.snapshotApplied.emit()

    def set_explanation(self, explanation: Explanation | None) -> None:
        self.tree_scene.set_explanation(explanation)
        self.viewport().update()

    def set_image_mode(self, mode: str) -> None:
        self.tree_scene.set_image_mode(mode)
        self.viewport().update()

    def image_mode(self) -> str:
        return self.tree_scene.image_mode

    def set_color_scale(self, scale: str) -> None:
        self.tree_scene.set_color_scale(scale)
        self.viewport().update()

    def set_caption(self, text: str | None) -> None:
        self.tree_scene.caption = text
        self.viewport().update()

    def set_selected_node(self, node: int | None) -> None:
        self.tree_scene.set_selected_node(node)
        self.viewport().update()

    def node_images(self) -> np.ndarray | None:
        rgba = self.tree_scene.rgba
        return None if rgba is None else rgba.copy()

    def fit_to_window(self) -> None:
        """Show the whole tree (leaving room for the caption and the legend)."""
        self._auto_fit = True
        rect = self.tree_scene.sceneRect()
        vp = self.viewport().rect()
        if vp.width() < 10 or vp.height() < 10 or rect.width() <= 0 or rect.height() <= 0:
            return
        usable_h = max(vp.height() - OVERLAY_TOP - OVERLAY_BOTTOM, vp.height() * 0.5)
        s = min(vp.width() / rect.width(), usable_h / rect.height())
        self._fit_scale = s
        self.setTransform(QTransform.fromScale(s, s))
        center = rect.center()
        self.centerOn(QPointF(center.x(), center.y() - (OVERLAY_TOP - OVERLAY_BOTTOM) / 2 / s))

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom keeping the scene point at ``anchor`` (a viewport position; default its centre) in place.

        Out to half the whole-tree view, in to 40 screen pixels per scene unit. The anchoring is done
        here, not by Qt's ``AnchorUnderMouse``, which follows the last mouse *move* and so drifts when
        the wheel turns before the mouse has moved.
        """
        current = self.transform().m11()
        lowest = 0.5 * self._fit_scale if self._fit_scale else 0.01
        factor = max(lowest, min(40.0, current * factor)) / current
        if abs(factor - 1.0) < 1e-9:
            return
        if anchor is None:
            anchor = self.viewport().rect().center()
        fixed = self.mapToScene(anchor)
        self.scale(factor, factor)
        moved = self.mapFromScene(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self._auto_fit = False

    def node_at(self, pos) -> int | None:
        """The node under a viewport position, or None."""
        for item in self.items(pos):
            node = getattr(item, "node", None)
            if node is not None:
                return node
        return None

    # ---------------------------------------------------------------- events

    def wheelEvent(self, event) -> None:
        self.zoom_by(1.0015 ** event.angleDelta().y(), event.position().toPoint())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit_to_window()

    def mousePressEvent(self, event) -> None:
        self._press_pos = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        pos = event.position().toPoint()
        if self._press_pos is not None and (pos - self._press_pos).manhattanLength() < 5:
            node = self.node_at(pos)
            if node is not None and event.button() == Qt.LeftButton:
                self.nodeClicked.emit(node)
        elif self._press_pos is not None:
            self._auto_fit = False  # the user panned
        self._press_pos = None

    def mouseDoubleClickEvent(self, event) -> None:
        if self.node_at(event.position().toPoint()) is None:
            self.fit_to_window()
        super().mouseDoubleClickEvent(event)

    def show_tooltip(self, pos, global_pos) -> None:
        node = self.node_at(pos)
        if node is not None:
            QToolTip.showText(global_pos, self.tree_scene.tooltip(node), self.viewport())
        else:
            QToolTip.hideText()

    def paintEvent(self, event) -> None:
        started = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_ms = (time.perf_counter() - started) * 1000

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        try:
            painter.resetTransform()
            paint_overlay(painter, self.tree_scene, QRectF(self.viewport().rect()))
        finally:
            painter.restore()


# -------------------------------------------------------------------- offscreen


_offscreen_scene: TreeScene | None = None
_own_app = None  # the QApplication we had to create, kept alive


def prepare_scene(scene: "TreeScene", snapshot: TreeSnapshot, explanation: Explanation | None = None,
                  caption: str | None = None, mode: str = "filters", color_scale: str = "filter") -> None:
    """Put one frame's content into ``scene`` (shared by the offscreen renderer and the exporter)."""
    scene.explanation = None
    scene.set_snapshot(snapshot)
    scene.image_mode = mode if mode in IMAGE_MODES else "filters"
    scene.color_scale = color_scale
    scene.set_explanation(explanation)
    scene.caption = caption


def frame_target(scene: "TreeScene", size: tuple[int, int]) -> QRectF:
    """Where the whole scene lands in a frame of ``size`` pixels, between the caption and the legend."""
    w, h = int(size[0]), int(size[1])
    area = QRectF(6, OVERLAY_TOP, w - 12, max(h - OVERLAY_TOP - OVERLAY_BOTTOM, h * 0.5))
    source = scene.sceneRect()
    s = min(area.width() / source.width(), area.height() / source.height())
    target = QRectF(0, 0, source.width() * s, source.height() * s)
    target.moveCenter(area.center())
    return target


def paint_frame(painter: QPainter, scene: "TreeScene", size: tuple[int, int]) -> None:
    """The scene and its caption and legend, as one frame of ``size`` pixels."""
    painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    scene.render(painter, frame_target(scene, size), scene.sceneRect(), Qt.KeepAspectRatio)
    paint_overlay(painter, scene, QRectF(0, 0, int(size[0]), int(size[1])))


def render_tree_image(snapshot: TreeSnapshot, explanation: Explanation | None = None,
                      size: tuple[int, int] = (1152, 576), caption: str | None = None,
                      mode: str = "filters", color_scale: str = "filter") -> QImage:
    """Draw one frame of the tree headless, with the window's own scene and items."""
    global _offscreen_scene, _own_app
    if QApplication.instance() is None:
        _own_app = QApplication([])
    if _offscreen_scene is None:
        _offscreen_scene = TreeScene()
    prepare_scene(_offscreen_scene, snapshot, explanation, caption, mode, color_scale)
    image = QImage(int(size[0]), int(size[1]), QImage.Format_RGB32)
    image.fill(Qt.white)
    painter = QPainter(image)
    paint_frame(painter, _offscreen_scene, size)
    painter.end()
    return image
