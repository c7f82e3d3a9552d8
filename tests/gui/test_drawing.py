"""Draw a digit (synthesized mouse and pen events) and see its soft path through the tree.

Tolerances, stated once:
* a drawing's 28×28 input: centre of mass within 0.5 px of (14, 14), MNIST's
  (the issue asks for 1 px); long side 20 px (21 counted in whole pixels when
  the sub-pixel centring straddles a pixel boundary; ≥ 19 px at least half ink);
* the same shape drawn small in a corner, or with a thin or a thick brush, against
  drawn big and centred: mean |difference| per pixel ≤ 0.05 and correlation
  ≥ 0.9 (mouse strokes are polylines, coarser than the core tests' shapes);
* a gallery digit: the view's explanation equals the core's ``explain`` exactly
  (same max path, logits within 1e-6, same bigot and mixture classes).
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from hmob_gui.core.explain import explain
from hmob_gui.gui.drawing_canvas import FRAME
from tests.test_preprocess import SHAPES

pytestmark = pytest.mark.gui


def _mouse(canvas, kind, pos: QPointF, button, buttons) -> None:
    event = QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button, buttons, Qt.NoModifier)
    QApplication.sendEvent(canvas, event)


def shape_points(shape: str, x0: float, y0: float, size: float, step: float = 4.0) -> list[QPointF]:
    """The shape's polyline in canvas widget coordinates, sampled every ``step`` pixels (as a hand moves)."""
    pts = [(FRAME + x0 + size * x, FRAME + y0 + size * y) for x, y in SHAPES[shape]]
    out = [QPointF(*pts[0])]
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        n = max(1, int(np.hypot(bx - ax, by - ay) / step))
        out += [QPointF(ax + (bx - ax) * t, ay + (by - ay) * t) for t in np.linspace(0, 1, n + 1)[1:]]
    return out


def stroke(canvas, points, release: bool = True) -> None:
    """Press, move through the points with the left button held, release."""
    _mouse(canvas, QEvent.MouseButtonPress, points[0], Qt.LeftButton, Qt.LeftButton)
    for p in points[1:]:
        _mouse(canvas, QEvent.MouseMove, p, Qt.NoButton, Qt.LeftButton)
    if release:
        _mouse(canvas, QEvent.MouseButtonRelease, points[-1], Qt.LeftButton, Qt.NoButton)


def draw_shape(qtbot, panel, shape, x0=40, y0=40, size=200, brush=16):
    panel.clear()
    qtbot.waitUntil(lambda: panel.input is None, timeout=2000)
    panel.brush.setValue(brush)
    stroke(panel.canvas, shape_points(shape, x0, y0, size))
    qtbot.waitUntil(lambda: panel.input is not None and panel.source == "drawing", timeout=2000)
    return panel.input.copy()


def centre_of_mass(x):
    x = np.asarray(x).reshape(28, 28)
    rows, cols = np.mgrid[0:28, 0:28]
    return float((x * rows).sum() / x.sum()), float((x * cols).sum() / x.sum())


def long_side(x, threshold=0.0) -> int:
    mask = np.asarray(x).reshape(28, 28) > threshold
    r, c = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(max(r[-1] - r[0] + 1, c[-1] - c[0] + 1))


def similar(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(np.abs(a - b).mean()), float(np.corrcoef(a, b)[0, 1])


@pytest.fixture
def window(make_window):
    w = make_window()
    w.draw_dock.show()
    w.draw_dock.raise_()
    return w


def test_mouse_strokes_give_a_centred_20px_input_and_explain_it(window, qtbot):
    panel = window.inference_panel
    for shape in ("two", "seven"):
        x = draw_shape(qtbot, panel, shape, x0=150, y0=20, size=110)  # top right, off-centre
        assert x.shape == (1, 28, 28) and x.dtype == np.float32 and x.max() > 0.9
        r, c = centre_of_mass(x)
        assert abs(r - 14) <= 0.5 and abs(c - 14) <= 0.5, (shape, r, c)
        assert long_side(x) in (20, 21) and long_side(x, 0.5) >= 19
        ex = window.tree_view.explanation()
        assert ex is panel.explanation
        expected = explain(window.tree_view.snapshot(), x)
        assert ex.max_path == expected.max_path
        np.testing.assert_allclose(ex.logits, expected.logits, atol=1e-5)
    assert window.errors == []


def test_small_corner_thin_and_thick_drawings_give_nearly_the_same_input(window, qtbot):
    panel = window.inference_panel
    for shape in ("two", "zero"):
        ref = draw_shape(qtbot, panel, shape, 40, 40, 200, brush=16)
        variants = {"small, bottom-left corner": (5, 190, 80, 8), "small, top-right corner": (190, 6, 80, 6),
                    "thin brush": (40, 40, 200, 4), "thick brush": (40, 40, 200, 36)}
        for name, (x0, y0, size, brush) in variants.items():
            x = draw_shape(qtbot, panel, shape, x0, y0, size, brush)
            mad, corr = similar(x, ref)
            assert mad <= 0.05 and corr >= 0.9, (shape, name, mad, corr)


def test_the_tree_view_follows_the_stroke_while_it_is_drawn(window, qtbot):
    panel = window.inference_panel
    points = shape_points("two", 40, 40, 200)
    half = len(points) // 2
    stroke(panel.canvas, points[:half], release=False)
    qtbot.waitUntil(lambda: panel.input is not None, timeout=2000)
    assert panel.canvas.is_drawing()
    first = window.tree_view.explanation()
    assert first is not None
    for p in points[half:]:
        _mouse(panel.canvas, QEvent.MouseMove, p, Qt.NoButton, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.tree_view.explanation() is not first, timeout=2000)  # still mid-stroke
    assert panel.canvas.is_drawing()
    _mouse(panel.canvas, QEvent.MouseButtonRelease, points[-1], Qt.LeftButton, Qt.NoButton)
    assert not panel.canvas.is_drawing() and len(panel.canvas.strokes) == 1
    final = explain(window.tree_view.snapshot(), panel.input)
    np.testing.assert_allclose(window.tree_view.explanation().path_probs, final.path_probs, atol=1e-6)


def test_the_path_highlight_changes_when_the_drawing_changes(window, qtbot):
    panel = window.inference_panel
    view = window.tree_view
    paths, pictures = {}, {}
    for shape in ("seven", "zero", "two"):
        draw_shape(qtbot, panel, shape)
        paths[shape] = tuple(view.explanation().max_path)
        pictures[shape] = view.grab().toImage()
    assert len(set(paths.values())) >= 2, paths  # different digits, different paths
    assert len({img.cacheKey() for img in pictures.values()}) == 3
    assert pictures["seven"] != pictures["zero"] and pictures["zero"] != pictures["two"]
    panel.clear()  # no ink: no path
    qtbot.waitUntil(lambda: view.explanation() is None, timeout=2000)
    assert "Draw a digit" in panel.prediction.bigot.text()


def test_undo_removes_the_last_stroke(window, qtbot):
    panel = window.inference_panel
    one = draw_shape(qtbot, panel, "seven")
    stroke(panel.canvas, shape_points("zero", 100, 150, 60))
    qtbot.waitUntil(lambda: not np.array_equal(panel.input, one), timeout=2000)
    assert len(panel.canvas.strokes) == 2
    panel.undo_button.click()
    qtbot.waitUntil(lambda: np.allclose(panel.input, one, atol=1e-6), timeout=2000)
    assert len(panel.canvas.strokes) == 1


def test_a_gallery_digit_gives_the_same_path_and_prediction_as_the_core(window, qtbot):
    panel = window.inference_panel
    gallery = panel.gallery.ensure_loaded()
    qtbot.waitUntil(lambda: panel.gallery.list.count() > 0, timeout=5000)
    for row in (0, 5):
        item = panel.gallery.list.item(row)
        panel.gallery.list.itemClicked.emit(item)
        index = int(item.data(Qt.UserRole))
        x = gallery.input(index)
        np.testing.assert_array_equal(panel.input, x)
        ex, expected = window.tree_view.explanation(), explain(window.current_snapshot, x)
        assert ex.max_path == expected.max_path
        np.testing.assert_allclose(ex.logits, expected.logits, atol=1e-6)
        np.testing.assert_allclose(ex.path_probs, expected.path_probs, atol=1e-6)
        assert (ex.bigot_class, ex.mixture_class) == (expected.bigot_class, expected.mixture_class)
        assert f"Tree (bigot)</b>: {expected.bigot_class} " in panel.prediction.bigot.text()
        teacher = window.teacher_predictor.predict_proba(x)
        assert f"Teacher (CNN)</b>: {int(teacher.argmax())} " in panel.prediction.teacher.text()
        assert panel.prediction.disagree == (expected.bigot_class != expected.mixture_class
                                             or expected.bigot_class != int(teacher.argmax()))
        assert panel.canvas.showing_picture()
    # drawing over the picture starts a new drawing
    draw_shape(qtbot, panel, "seven")
    assert not panel.canvas.showing_picture()


def test_gallery_by_class_and_the_digits_the_tree_gets_wrong(window, qtbot):
    from hmob_gui.core.predict import tree_answers

    panel = window.inference_panel.gallery
    g = panel.ensure_loaded()
    panel.class_box.setCurrentIndex(panel.class_box.findData(3))
    assert panel.page and all(g.labels[i] == 3 for i in panel.page)
    panel.class_box.setCurrentIndex(0)
    panel.wrong_box.setChecked(True)
    qtbot.waitUntil(panel.answers_ready, timeout=10_000)
    panel.refresh_page()
    answers = tree_answers(window.current_snapshot, g.inputs()).bigot_classes
    wrong = np.flatnonzero(answers != g.labels)
    assert set(panel.page) <= set(wrong.tolist()) and len(panel.page) == min(len(wrong), 48)
    if panel.page:
        text = panel.list.item(0).text()
        i = panel.page[0]
        teacher = int(window.teacher_predictor.predict_proba(g.input(i)).argmax())
        assert text == f"{g.labels[i]} · tree {answers[i]}\nteacher {teacher}"
    assert f"gets {len(wrong):,} wrong" in panel.status.text()
    before = list(panel.page)
    panel.random_button.click()
    assert set(panel.page) <= set(wrong.tolist())
    assert len(wrong) <= 48 or panel.page != before


def test_a_corrupt_image_shows_an_error_and_keeps_the_input(window, qtbot, tmp_path):
    panel = window.inference_panel
    kept = draw_shape(qtbot, panel, "seven")
    bad = tmp_path / "digit.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 50)
    assert not panel.open_image(bad)
    qtbot.waitUntil(lambda: len(window.errors) == 1, timeout=2000)
    title, message = window.errors[0]
    assert "digit.png" in message and title == "Cannot open the image"
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "digit.png" in boxes[-1].informativeText()
    np.testing.assert_array_equal(panel.input, kept)
    assert window.tree_view.explanation() is panel.explanation is not None
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("L", (64, 64), 255).save(blank)
    assert not panel.open_image(blank)
    qtbot.waitUntil(lambda: len(window.errors) == 2, timeout=2000)
    assert "no ink" in window.errors[1][1]
    np.testing.assert_array_equal(panel.input, kept)


def test_an_image_file_is_preprocessed_and_explained(window, qtbot, tmp_path):
    from PIL import Image

    from hmob_gui.core.preprocess import load_digit_file
    from tests.test_preprocess import draw

    path = tmp_path / "photo.jpg"
    Image.fromarray(draw("two", 30, 50, 180, 14, dark=True)).resize((900, 900)).save(path, quality=85)
    panel = window.inference_panel
    assert panel.open_image(path)
    np.testing.assert_allclose(panel.input, load_digit_file(path), atol=1e-6)
    assert panel.source == "file photo.jpg" and panel.canvas.showing_picture()
    assert window.tree_view.explanation().max_path == explain(window.current_snapshot, panel.input).max_path


def test_correlation_mode_from_the_view_menu_and_the_panel(window, qtbot):
    panel = window.inference_panel
    filters = window.tree_view.node_images()
    draw_shape(qtbot, panel, "zero")
    window.correlation_action.trigger()
    assert window.tree_view.image_mode() == "correlation" and panel.correlation_box.isChecked()
    correlation = window.tree_view.node_images()
    assert correlation.shape == filters.shape and np.any(correlation != filters)
    draw_shape(qtbot, panel, "seven")  # follows the drawing
    assert np.any(window.tree_view.node_images() != correlation)
    panel.correlation_box.setChecked(False)
    assert window.tree_view.image_mode() == "filters" and not window.correlation_action.isChecked()
    np.testing.assert_array_equal(window.tree_view.node_images(), filters)


def test_a_pen_draws_wider_when_pressed_harder(window, qtbot):
    from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent

    canvas = window.inference_panel.canvas
    pen = QPointingDevice("test pen", 1, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                          QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 1)

    def tablet(kind, x, y, pressure):
        pos = QPointF(x, y)
        event = QTabletEvent(kind, pen, pos, canvas.mapToGlobal(pos), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.NoModifier, Qt.LeftButton, Qt.LeftButton if kind != QEvent.TabletRelease else Qt.NoButton)
        QApplication.sendEvent(canvas, event)

    inked = []
    for pressure in (0.1, 1.0):
        window.inference_panel.clear()
        tablet(QEvent.TabletPress, 60, 140, pressure)
        for x in range(64, 224, 4):
            tablet(QEvent.TabletMove, x, 140, pressure)
        tablet(QEvent.TabletRelease, 224, 140, pressure)
        assert len(canvas.strokes) == 1
        inked.append(int((canvas.gray_array() < 128).sum()))
    assert inked[1] > 3 * inked[0] > 0
    qtbot.waitUntil(lambda: window.inference_panel.input is not None, timeout=2000)


def test_without_a_teacher_the_panel_says_so(make_window, qtbot, tmp_path):
    w = make_window(teacher=tmp_path / "no-teacher.pt", wait_loaded=False)
    qtbot.waitUntil(lambda: w.current_snapshot is not None, timeout=30_000)
    assert w.teacher_predictor is None
    panel = w.inference_panel
    panel.gallery.ensure_loaded()
    panel.show_gallery_digit(0)
    assert "no teacher loaded" in panel.prediction.teacher.text()
    assert panel.explanation is not None and w.tree_view.explanation() is panel.explanation
    assert "no teacher" in panel.gallery.list.item(0).text()
    assert w.errors == []


def test_the_explanation_follows_a_new_tree_of_another_depth(window, qtbot, tmp_path):
    import torch

    from hmob_gui.core.checkpoint import save_checkpoint
    from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

    panel = window.inference_panel
    x = draw_shape(qtbot, panel, "two")
    torch.manual_seed(2)
    path = tmp_path / "tree-d2.pt"
    save_checkpoint(path, "tree", SoftDecisionTree(TreeConfig(depth=2)))
    window.open_tree(path)
    qtbot.waitUntil(lambda: window.current_snapshot.depth == 2, timeout=10_000)
    ex = window.tree_view.explanation()
    assert ex is not None and len(ex.logits) == 3
    expected = explain(window.current_snapshot, x)
    assert ex.max_path == expected.max_path
    np.testing.assert_allclose(ex.logits, expected.logits, atol=1e-6)
    np.testing.assert_array_equal(panel.input, x)  # the drawing stays


def test_the_explanation_follows_the_snapshot_on_show(window, qtbot):
    """Live training and timeline scrubs show other snapshots of the same tree: the path follows."""
    import dataclasses

    panel = window.inference_panel
    x = draw_shape(qtbot, panel, "seven")
    snap = window.current_snapshot
    other = dataclasses.replace(snap, filters=-snap.filters, biases=-snap.biases, epoch=snap.epoch + 1)
    window._show_snapshot(other)  # what a live snapshot or a timeline scrub ends in
    ex = window.tree_view.explanation()
    expected = explain(other, x)
    assert ex is panel.explanation and ex.max_path == expected.max_path
    np.testing.assert_allclose(ex.logits, expected.logits, atol=1e-6)
    np.testing.assert_allclose(ex.logits, -explain(snap, x).logits, atol=1e-5)


def test_the_full_test_set_gallery_gets_its_answers_from_a_pool_thread(window, qtbot, mnist_dir):
    from hmob_gui.core.gallery import load_test_set
    from hmob_gui.core.predict import tree_answers

    gallery = window.inference_panel.gallery
    full = load_test_set(mnist_dir)
    gallery.set_gallery(full)
    assert not gallery.answers_ready()  # 10,000 digits: not in the GUI thread
    gallery.wrong_box.setChecked(True)
    assert "Finding the digits" in gallery.status.text()
    qtbot.waitUntil(gallery.answers_ready, timeout=30_000)
    expected = tree_answers(window.current_snapshot, full.inputs()).bigot_classes
    np.testing.assert_array_equal(gallery.answers.bigot_classes, expected)
    wrong = set(np.flatnonzero(expected != full.labels).tolist())
    assert gallery.page and set(gallery.page) <= wrong
    assert "10,000 digits from the MNIST test set" in gallery.status.text()
