"""The tree view: in-place updates, the explanation overlay, the offscreen renderer."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _snapshot(depth=4, seed=0, **info):
    import torch

    from hmob_gui.core.snapshot import make_tree_snapshot
    from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

    torch.manual_seed(seed)
    return make_tree_snapshot(SoftDecisionTree(TreeConfig(depth=depth)), dtype=np.float32, **info)


def _digit():
    x = np.zeros((28, 28), np.float32)
    x[6:22, 12:16] = 1.0  # a "1"
    return x


def test_set_snapshot_updates_in_place_and_rebuilds_only_on_depth_change(qtbot):
    from hmob_gui.gui.tree_view import TreeView

    view = TreeView()
    qtbot.addWidget(view)
    view.resize(800, 500)
    view.show()
    a, b = _snapshot(seed=0), _snapshot(seed=1)
    view.set_snapshot(a)
    items = list(view.scene().items())
    first = view.node_images()
    view.set_snapshot(b)
    assert list(view.scene().items()) == items  # same items, new pictures
    assert np.any(view.node_images() != first)
    view.set_snapshot(_snapshot(depth=5))
    assert len(view.scene().items()) != len(items)
    assert view.node_images().shape[0] == 31


def test_colour_map_is_centred_on_zero():
    from hmob_gui.gui import colormaps

    values = np.array([[[-2.0, 0.0, 2.0]]], np.float32)
    rgba = colormaps.diverging_rgba(values, colormaps.symmetric_limits(values, per_image=True))[0, 0]
    assert tuple(rgba[1, :3]) == tuple(colormaps.DIVERGING_LUT[128, :3])  # near white at 0
    assert rgba[0, 2] > rgba[0, 0] and rgba[2, 0] > rgba[2, 2]  # negative blue, positive red


def test_colour_map_survives_nan_and_inf():
    from hmob_gui.gui import colormaps

    values = np.array([[[np.nan, -np.inf, -1.0, 0.0, 1.0, np.inf]]], np.float32)
    limits = colormaps.symmetric_limits(values, per_image=True)
    assert limits[0] == 1.0  # the finite values set the scale, not the inf
    rgba = colormaps.diverging_rgba(values, limits)[0, 0]
    lut = colormaps.DIVERGING_LUT
    assert tuple(rgba[0]) == colormaps.NAN_RGBA
    assert tuple(rgba[1]) == tuple(lut[0]) and tuple(rgba[2]) == tuple(lut[0])
    assert tuple(rgba[5]) == tuple(lut[-1]) and tuple(rgba[4]) == tuple(lut[-1])
    assert tuple(rgba[3, :3]) == tuple(lut[128, :3])


def test_a_damaged_snapshot_paints_without_raising(qtbot):
    """NaN filters and leaves (a diverged model) draw as grey; a failing paint is logged, never raised."""
    from hmob_gui.gui import paint_guard
    from hmob_gui.gui.tree_view import TreeView

    snap = _snapshot()
    snap.filters[:] = np.nan
    snap.leaf_distributions[:] = np.nan
    view = TreeView()
    qtbot.addWidget(view)
    view.resize(800, 500)
    view.show()
    before = paint_guard.failures
    view.set_snapshot(snap)
    image = view.grab().toImage()
    assert image.width() > 0
    assert paint_guard.failures == before  # drawn (grey), not merely survived

    @paint_guard.guarded
    def broken_paint():
        raise ValueError("boom")

    before = paint_guard.failures
    assert broken_paint() is None
    assert paint_guard.failures == before + 1


def test_explanation_overlay_and_correlation_mode(qtbot):
    from hmob_gui.core.explain import explain
    from hmob_gui.gui.tree_view import TreeView

    view = TreeView()
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    snap = _snapshot()
    view.set_snapshot(snap)
    plain = view.grab().toImage()
    ex = explain(snap, _digit())
    view.set_explanation(ex)
    with_path = view.grab().toImage()
    assert plain != with_path
    filters = view.node_images()
    view.set_image_mode("correlation")
    assert np.any(view.node_images() != filters)
    view.set_image_mode("filters")
    assert np.array_equal(view.node_images(), filters)
    with pytest.raises(ValueError):
        view.set_image_mode("nonsense")
    view.set_snapshot(_snapshot(depth=3))  # the explanation no longer fits: dropped
    assert view.explanation() is None


def test_clicking_a_node_and_its_tooltip(qtbot):
    from PySide6.QtCore import Qt

    from hmob_gui.gui.tree_view import TreeView

    view = TreeView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    snap = _snapshot(depth=2)
    view.set_snapshot(snap)
    layout = view.tree_scene.layout
    root = view.mapFromScene(float(layout.node_x[0]), float(layout.node_y[0] + layout.node_size[0] / 2))
    with qtbot.waitSignal(view.nodeClicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=root)
    assert blocker.args == [0]
    assert "bias" in view.tree_scene.tooltip(0) and "depth 0" in view.tree_scene.tooltip(0)
    leaf = view.tree_scene.tooltip(snap.n_inner)
    assert "argmax" in leaf and "top:" in leaf


def test_render_tree_image_reuses_one_scene(qtbot):
    from hmob_gui.core.explain import explain
    from hmob_gui.gui import tree_view

    snap = _snapshot()
    img = tree_view.render_tree_image(snap, size=(640, 320), caption="frame 1")
    assert (img.width(), img.height()) == (640, 320)
    scene = tree_view._offscreen_scene
    img2 = tree_view.render_tree_image(_snapshot(seed=3), size=(640, 320), caption="frame 1")
    assert tree_view._offscreen_scene is scene
    assert img != img2
    ex = explain(snap, _digit())
    img3 = tree_view.render_tree_image(snap, ex, size=(640, 320), mode="correlation")
    assert img3 != img
    deep = tree_view.render_tree_image(_snapshot(depth=8), size=(1152, 576))
    assert deep.width() == 1152


def test_timeline_scrubs_and_replays(qtbot):
    from hmob_gui.gui.timeline import Timeline

    timeline = Timeline()
    qtbot.addWidget(timeline)
    snaps = [_snapshot(depth=2, seed=i, kind="samples", samples_seen=100 * i, total_epochs=3) for i in range(5)]
    for s in snaps:
        timeline.add(s)
    assert timeline.is_live() and timeline.current() is snaps[-1]
    assert "samples 400" in timeline.label.text()
    chosen = []
    timeline.snapshotChosen.connect(chosen.append)
    timeline.slider.setValue(1)
    assert chosen == [snaps[1]] and not timeline.is_live()
    timeline.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not timeline.play_button.isChecked(), timeout=5000)
    assert chosen[1:] == snaps[2:]  # replayed to the end, one snapshot at a time
    timeline.set_live(True)
    timeline.add(_snapshot(depth=2, seed=9, kind="epoch", epoch=1, samples_seen=500, total_epochs=3))
    assert timeline.label.text().startswith("epoch 1 / 3")


def _wheel(view, pos, delta):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    global_pos = QPointF(view.viewport().mapToGlobal(pos))
    event = QWheelEvent(QPointF(pos), global_pos, QPoint(0, 0), QPoint(0, delta), Qt.NoButton,
                        Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


@pytest.mark.parametrize("depth", [4, 8])
def test_wheel_zooms_about_the_mouse_and_not_beyond_half_the_whole_tree(qtbot, depth):
    from PySide6.QtCore import QPoint

    from hmob_gui.gui.tree_view import TreeView

    view = TreeView()
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_snapshot(_snapshot(depth=depth))
    fit = view.transform().m11()
    for pos in (QPoint(200, 150), QPoint(700, 400), QPoint(450, 60)):  # off centre in x and in y
        before = view.mapToScene(pos)
        _wheel(view, pos, 240)
        after = view.mapToScene(pos)
        assert view.transform().m11() > fit
        scale = view.transform().m11()  # scene units per pixel: 1/scale
        assert abs(after.x() - before.x()) * scale < 2 and abs(after.y() - before.y()) * scale < 2
    for _ in range(30):
        _wheel(view, QPoint(450, 250), -480)
    assert view.transform().m11() >= 0.5 * fit - 1e-9
    assert view.transform().m11() < 0.6 * fit  # zoomed out as far as allowed
    view.fit_to_window()
    assert abs(view.transform().m11() - fit) < 1e-9
