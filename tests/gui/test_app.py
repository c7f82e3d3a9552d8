"""The entry point: arguments, the real startup path, errors to dialogs."""
from __future__ import annotations

import sys
import threading

import pytest

pytestmark = pytest.mark.gui


def test_arguments():
    from hmob_gui.gui.app import parse_args

    args = parse_args(["--checkpoint", "t.pt", "--teacher", "teacher.pt"])
    assert (args.checkpoint, args.teacher, args.run) == ("t.pt", "teacher.pt", None)
    assert parse_args([]).checkpoint is None


_DRIVER = """
import sys, threading
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
for fmt in (QSettings.NativeFormat, QSettings.IniFormat):  # QSettings(org, app) uses the native one
    QSettings.setPath(fmt, QSettings.UserScope, sys.argv[1])
qt_app = QApplication(sys.argv[:1])  # main() uses the running application, as under a test or a shell
from hmob_gui.gui import app as app_module
from hmob_gui.gui.main_window import MainWindow
hook = sys.excepthook
def poll():
    ws = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if ws and ws[0].current_snapshot is not None and ws[0].teacher_predictor is not None:
        w = ws[0]
        print("depth", w.current_snapshot.depth, "teacher", w.teacher_predictor is not None,
              "hook", sys.excepthook is not hook, "drawn", w.tree_view.node_images() is not None, flush=True)
        w.close()
    else:
        QTimer.singleShot(50, poll)
QTimer.singleShot(50, poll)
sys.exit(app_module.main(sys.argv[2:]))
"""


def test_main_opens_the_window_with_the_given_checkpoints(gui_checkpoints, tmp_path):
    """The real entry point, in its own process (as a user starts it), closed once the tree is drawn.

    Its settings go to tmp_path (and XDG_CONFIG_HOME too), never to the user's own.
    """
    import os
    import subprocess

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(tmp_path), "--checkpoint", str(gui_checkpoints["tree"]),
         "--teacher", str(gui_checkpoints["teacher"])],
        capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "depth 4 teacher True hook True drawn True" in out.stdout
    written = [p.name for p in tmp_path.rglob("*.conf")] + [p.name for p in tmp_path.rglob("*.ini")]
    assert written, "the window's settings were written somewhere other than the test's folder"


def test_unexpected_errors_go_to_a_dialog(make_window, qtbot):
    from hmob_gui.core.errors import CheckpointError
    from hmob_gui.gui.app import ErrorReporter

    w = make_window(wait_loaded=False)
    reporter = ErrorReporter(w)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        reporter.hook(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: len(w.errors) == 1, timeout=5000)
    assert w.errors[0][0] == "Unexpected error" and "boom" in w.errors[0][1]
    thread = threading.Thread(target=lambda: reporter.hook(CheckpointError, CheckpointError("bad file"), None))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(w.errors) >= 2, timeout=5000)  # from another thread, shown in the GUI thread
    assert w.errors[1] == ("Error", "bad file")


_EXPORT_THEN_QUIT = """
import sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
    QSettings.setPath(fmt, QSettings.UserScope, sys.argv[1])
qt_app = QApplication(sys.argv[:1])
from hmob_gui.gui import app as app_module
from hmob_gui.gui.export import AnimationOptions
from hmob_gui.gui.export_dialog import ExportRequest
from hmob_gui.gui.main_window import MainWindow
def window():
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
def start_export():
    w = window()
    if len(w.timeline) < 5:
        QTimer.singleShot(50, start_export)
        return
    options = AnimationOptions(kind="samples", size=(3840, 2160))
    w.exporter.start(ExportRequest(what="history", out=sys.argv[2], snapshots=tuple(w.timeline.snapshots()),
                                   options=options))
    QTimer.singleShot(2500, close)  # frames done by then, their progress signals queued
def close():
    print("closing", window().exporter.runner.is_running(), flush=True)
    window().close()
QTimer.singleShot(50, start_export)
sys.exit(app_module.main(sys.argv[3:]))
"""


def test_quitting_during_an_export_ends_the_app(tmp_path):
    """Closing the window mid-export cancels it, and the process exits (it once lingered, windowless)."""
    import os
    import subprocess

    from hmob_gui.core.runfile import SavedRun, save_run

    from .test_export import make_history

    run = save_run(tmp_path / "long.hmobrun", SavedRun(snapshots=make_history(depth=4, epochs=6, per_epoch=39)))
    out_gif = tmp_path / "big.gif"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = subprocess.run([sys.executable, "-c", _EXPORT_THEN_QUIT, str(tmp_path), str(out_gif), "--run", str(run)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "closing True" in out.stdout  # the export was still running when the window closed
    assert not out_gif.exists() and not list(tmp_path.glob(".big*"))
