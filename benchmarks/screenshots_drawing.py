"""Screenshots of the Draw panel for the README (a sibling of ``screenshots.py``; run under Xvfb).

    xvfb-run -s "-screen 0 1600x1000x24" python benchmarks/screenshots_drawing.py --out resources/screenshots \\
        [--tree TREE_D4.pt] [--teacher TEACHER.pt] [--data /path/to/mnist]

1. ``drawing-depth4.png``: a "2" drawn with the mouse (synthesized strokes), its
   soft path through a depth-4 tree (orange), the 28×28 input, the prediction
   panel, the gallery, and the path's last split open in the side panel.
2. ``drawing-correlation.png``: a gallery test digit, node images showing
   x ⊙ w, a node on the path open in the side panel.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screenshots import _save, _wait  # noqa: E402


def two_strokes() -> list[list[tuple[float, float]]]:
    """A handwritten-looking 2 in canvas pixels: an arc, a diagonal, a base (one stroke)."""
    t = np.linspace(np.radians(200), np.radians(395), 30)
    arc = [(140 + 62 * np.cos(a), 95 + 55 * np.sin(a)) for a in t]
    x1, y1 = arc[-1]
    diagonal = [(x1 + (70 - x1) * s, y1 + (235 - y1) * s) for s in np.linspace(0, 1, 25)[1:]]
    base = [(70 + 140 * s, 235 + 6 * s * s) for s in np.linspace(0, 1, 20)[1:]]
    return [arc + diagonal + base]


def draw(app, canvas, strokes) -> None:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from hmob_gui.gui.drawing_canvas import FRAME

    def send(kind, x, y, button, buttons):
        pos = QPointF(x + FRAME, y + FRAME)
        QApplication.sendEvent(canvas, QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button, buttons, Qt.NoModifier))

    for points in strokes:
        send(QEvent.MouseButtonPress, *points[0], Qt.LeftButton, Qt.LeftButton)
        for x, y in points[1:]:
            send(QEvent.MouseMove, x, y, Qt.NoButton, Qt.LeftButton)
            app.processEvents()
        send(QEvent.MouseButtonRelease, *points[-1], Qt.LeftButton, Qt.NoButton)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="resources/screenshots")
    p.add_argument("--tree", default=None, help="a depth-4 tree (default: the shipped one)")
    p.add_argument("--teacher", default=None)
    p.add_argument("--data", default=None, help="MNIST folder for the full test set (default: the shipped sample)")
    p.add_argument("--gallery-digit", type=int, default=None,
                   help="row of the gallery to explain in shot 2 (default: the first the tree gets wrong)")
    args = p.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from hmob_gui.core.paths import DEFAULT_TREE, SHIPPED_TEACHER, shipped_checkpoint
    from hmob_gui.gui.main_window import MainWindow
    from hmob_gui.gui.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out = Path(args.out)
    settings = AppSettings(QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.IniFormat))
    w = MainWindow(args.tree or str(shipped_checkpoint(DEFAULT_TREE)),
                   args.teacher or str(shipped_checkpoint(SHIPPED_TEACHER)), settings=settings)
    w.ask_save_on_close = lambda: "discard"
    if args.data:
        w.training_panel.set_values({"data_dir": args.data}, validate=False)
    w.resize(1600, 1000)
    w.show()
    _wait(app, lambda: w.current_snapshot is not None and w.teacher_predictor is not None, 60)
    w.draw_dock.show()
    w.draw_dock.raise_()
    w.curves_dock.hide()  # room for the node panel and the tree
    _wait(app, lambda: False, 0.5)
    panel = w.inference_panel
    panel.gallery.ensure_loaded()

    # 1. a drawn digit and its path
    panel.brush.setValue(18)
    draw(app, panel.canvas, two_strokes())
    _wait(app, lambda: panel.explanation is not None, 10)
    w.tree_view.fit_to_window()
    w._on_node_clicked(panel.explanation.max_path[-2])  # the last split on the path, in the side panel
    _wait(app, lambda: False, 0.5)
    _save(w, out / "drawing-depth4.png")

    # 2. a gallery digit, correlation mode, a node on its path open
    gallery = panel.gallery
    if args.gallery_digit is None:
        gallery.wrong_box.setChecked(True)
        _wait(app, lambda: gallery.answers_ready() and gallery.list.count() > 0, 60)
    row = args.gallery_digit or 0
    gallery.list.setCurrentRow(row)
    panel.show_gallery_digit(int(gallery.list.item(row).data(0x0100)))  # Qt.UserRole
    w.set_correlation_mode(True)
    node = panel.explanation.max_path[1]
    w._on_node_clicked(node)
    _wait(app, lambda: False, 0.5)
    _save(w, out / "drawing-correlation.png")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
