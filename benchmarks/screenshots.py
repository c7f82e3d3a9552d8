"""Take the README's screenshots of the real window (run it under Xvfb or on a desktop).

A script, not part of the app: it drives the window by polling the event loop.

    xvfb-run -s "-screen 0 1600x1000x24" python benchmarks/screenshots.py --out resources/screenshots \\
        --data /work/shared/data/mnist [--tree-d8 TREE.pt] [--teacher TEACHER.pt]

1. ``training-depth4.png``: a depth-4 tree being distilled, mid-run (live view,
   curves, progress, a node open in the side panel).
2. ``tree-depth8.png``: a depth-8 tree, whole, with a node open.
3. ``tree-depth8-zoom.png``: the same tree zoomed in on one subtree.
PNGs are reduced to 256 colours when they would exceed 500 kB.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MAX_BYTES = 500_000


def _save(widget, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(path))
    if path.stat().st_size > MAX_BYTES:
        from PIL import Image

        Image.open(path).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path}: {path.stat().st_size / 1000:.0f} kB", flush=True)


def _wait(app, condition, timeout: float) -> bool:
    """Run the event loop until ``condition()`` (a script, not the app: it may poll)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="resources/screenshots")
    p.add_argument("--data", required=True)
    p.add_argument("--tree-d4", default=None, help="tree the window opens with (default: the shipped one)")
    p.add_argument("--tree-d8", default=None)
    p.add_argument("--teacher", default=None)
    p.add_argument("--train-images", type=int, default=20_000)
    p.add_argument("--epochs-before-shot", type=int, default=2)
    args = p.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from hmob_gui.core.paths import DEFAULT_TREE, SHIPPED_TEACHER, SHIPPED_TREES, shipped_checkpoint
    from hmob_gui.gui.main_window import MainWindow
    from hmob_gui.gui.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out = Path(args.out)
    teacher = args.teacher or str(shipped_checkpoint(SHIPPED_TEACHER))
    import tempfile

    settings = AppSettings(QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.IniFormat))
    w = MainWindow(args.tree_d4 or str(shipped_checkpoint(DEFAULT_TREE)), teacher, settings=settings)
    w.ask_save_on_close = lambda: "discard"
    w.resize(1600, 1000)
    w.show()
    _wait(app, lambda: w.current_snapshot is not None, 30)

    # 1. a depth-4 tree being distilled
    w.training_panel.set_values({"depth": "4", "targets": "distilled", "teacher_source": "file",
                                 "teacher_path": teacher, "train_limit": str(args.train_images), "epochs": "10",
                                 "snapshot_every": "1000", "device": "cpu", "data_dir": args.data, "lr": "0.01"})
    request = w.training_panel.validate()
    if request is None:
        print("refused:", w.training_panel.error_label.text())
        return 1
    w.start_training(request)
    _wait(app, lambda: len(w.curves.tree.history) >= args.epochs_before_shot and w.samples_seen
          > (args.epochs_before_shot + 0.4) * w._n_train, 900)
    w._on_node_clicked(2)
    _wait(app, lambda: False, 0.5)
    _save(w, out / "training-depth4.png")
    w.stop_training()
    _wait(app, lambda: w.state == "idle", 60)

    # 2. a depth-8 tree
    tree_d8 = args.tree_d8 or str(shipped_checkpoint(SHIPPED_TREES["depth 8, distilled"]))
    w.open_tree(tree_d8)
    _wait(app, lambda: w.current_snapshot.depth == 8, 60)
    w.tree_view.fit_to_window()
    w._on_node_clicked(5)
    _wait(app, lambda: False, 0.5)
    _save(w, out / "tree-depth8.png")

    # 3. zoomed in on one subtree
    layout = w.tree_view.tree_scene.layout
    leaf = 100  # under node 21 (depth 4), whose subtree holds leaves 96…111
    w.tree_view.zoom_by(11.0)
    w.tree_view.centerOn(float(layout.leaf_x[leaf]), float(layout.leaf_y - 0.04 * layout.height))
    w._on_node_clicked(int(layout.n_inner + 100))
    _wait(app, lambda: False, 0.5)
    _save(w.tree_view, out / "tree-depth8-zoom.png")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
