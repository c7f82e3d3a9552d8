"""File ▸ Export… in the window: the dialog, the export thread, progress, Cancel, and a window that keeps running."""
from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from hmob_gui.gui import export
from hmob_gui.gui.export_dialog import ExportDialog, ExportRequest

from .test_export import gif_frames, leftovers, make_history, save_run_file

pytestmark = pytest.mark.gui
SMALL = (480, 240)


@pytest.fixture
def run_file(tmp_path_factory):
    return save_run_file(tmp_path_factory.mktemp("runs"), depth=4)


@pytest.fixture
def out_dir(tmp_path):
    """Where exports go (tmp_path also holds the window's settings file)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def open_run(qtbot, window, path) -> None:
    window.open_run(str(path))
    qtbot.waitUntil(lambda: len(window.timeline) > 5, timeout=30_000)


def test_file_export_writes_the_window_history_as_a_gif(make_window, qtbot, run_file, out_dir):
    window = make_window()
    open_run(qtbot, window, run_file)
    assert window.export_action in window.menuBar().actions()[0].menu().actions()
    window.export_action.trigger()
    dialog = window.exporter.dialog
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()  # open(), not exec(): the loop runs
    assert dialog.what() == "history" and dialog.source.currentData() == "window"
    dialog.out.setText(str(out_dir / "epochs.gif"))
    dialog.width_box.setValue(SMALL[0])
    dialog.height_box.setValue(SMALL[1])
    dialog.fps.setValue(5)
    dialog.accept()
    qtbot.waitUntil(lambda: bool(window.exporter.results), timeout=60_000)
    frames, durations, size = gif_frames(out_dir / "epochs.gif")
    assert len(frames) == len(window.timeline.history.epochs()) == 5
    assert size == SMALL and durations == [200] * 5
    assert "Exported" in window.statusBar().currentMessage()
    assert not window.errors and leftovers(out_dir) == ["epochs.gif"]

    dialog = window.exporter.ask()  # the same from a saved run file, every snapshot
    dialog.source.setCurrentIndex(1)
    dialog.source_path.setText(str(run_file))
    dialog.kind.setCurrentIndex(1)
    dialog.out.setText(str(out_dir / "samples.gif"))
    dialog.width_box.setValue(SMALL[0])
    dialog.height_box.setValue(SMALL[1])
    dialog.accept()
    qtbot.waitUntil(lambda: len(window.exporter.results) == 2, timeout=60_000)
    assert len(gif_frames(out_dir / "samples.gif")[0]) == len(window.timeline.history.samples()) == 13


def test_dialog_refuses_bad_values_and_stays_open(make_window, qtbot, run_file, out_dir):
    window = make_window()
    dialog = window.exporter.ask()
    cases = [
        ("out", str(out_dir / "anim.webm"), r".gif or .mp4"),
        ("out", str(out_dir / "missing" / "anim.gif"), "does not exist"),
        ("frames", "40:50", "selects none"),
    ]
    for field, value, message in cases:
        dialog.out.setText(str(out_dir / "ok.gif"))
        dialog.frames.setText("")
        getattr(dialog, field).setText(value)
        dialog.accept()
        assert dialog.isVisible() and dialog.accepted_request is None
        assert not dialog.error.isHidden() and message in dialog.error.text(), dialog.error.text()
    dialog.out.setText(str(out_dir / "ok.gif"))
    dialog.frames.setText("")
    dialog.source.setCurrentIndex(1)  # a run file, but none given
    dialog.accept()
    assert "choose the run file" in dialog.error.text()
    dialog.source_path.setText(str(run_file))
    dialog.mode.setCurrentIndex(1)  # correlation without an input
    dialog.accept()
    assert "give an input" in dialog.error.text()
    dialog.inference_button.setChecked(True)
    dialog.input_spec.setText("")
    dialog.out.setText(str(out_dir / "tree.png"))
    dialog.accept()
    assert "needs an input" in dialog.error.text() and dialog.isVisible()
    dialog.reject()
    assert leftovers(out_dir) == []


def test_inference_of_the_shown_tree_with_the_drawing(make_window, qtbot, out_dir):
    window = make_window()
    drawing = np.zeros((1, 28, 28), np.float32)
    drawing[0, 5:23, 13:16] = 1.0
    panel = getattr(window, "inference_panel", None)  # the Draw panel
    if panel is not None:
        panel.set_input(drawing, "drawing")
    else:
        window.inference_panel = SimpleNamespace(input=drawing, source="drawing")
    dialog = window.exporter.ask()
    assert dialog.input_choice.currentData() == "none"  # an animation shows the tree alone unless asked
    dialog.inference_button.setChecked(True)
    assert dialog.input_choice.currentData() == "drawing" and "the drawing" in dialog.input_choice.currentText()
    assert not dialog.input_spec.isEnabled()
    dialog.out.setText(str(out_dir / "tree.png"))
    dialog.width_box.setValue(SMALL[0])
    dialog.height_box.setValue(SMALL[1])
    dialog.accept()
    qtbot.waitUntil(lambda: bool(window.exporter.results), timeout=60_000)
    assert Image.open(out_dir / "tree.png").size == SMALL
    assert window.exporter.results[0].answer


def long_request(out_dir, n_epochs=6, per_epoch=39) -> ExportRequest:
    shots = tuple(make_history(depth=4, epochs=n_epochs, per_epoch=per_epoch))
    return ExportRequest(what="history", out=str(out_dir / "long.gif"), snapshots=shots,
                         options=export.AnimationOptions(kind="samples", fps=20))


def test_cancel_in_the_progress_dialog_leaves_no_file(make_window, qtbot, out_dir):
    window = make_window()
    controller = window.exporter
    cancelled = []
    controller.runner.cancelled.connect(lambda: cancelled.append(True))
    controller.start(long_request(out_dir))
    runner = controller.runner
    qtbot.waitUntil(lambda: runner.dialog is not None and runner.dialog.value() >= 3, timeout=60_000)
    assert runner.dialog.isVisible()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    qtbot.mouseClick(runner.dialog.findChild(QPushButton), Qt.LeftButton)  # the Cancel button
    qtbot.waitUntil(lambda: bool(cancelled), timeout=30_000)
    assert not runner.is_running() and not controller.results and not window.errors
    assert "cancelled" in window.statusBar().currentMessage()
    assert leftovers(out_dir) == []


def test_window_keeps_running_during_a_long_export(make_window, qtbot, out_dir):
    """The export thread draws and encodes; the GUI thread only receives progress, so its timers keep firing."""
    from PySide6.QtCore import QTimer

    window = make_window()
    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.exporter.start(long_request(out_dir, n_epochs=4, per_epoch=19))
    qtbot.waitUntil(lambda: bool(window.exporter.results), timeout=120_000)
    timer.stop()
    gaps = np.diff(ticks)
    assert len(ticks) > 20, "the GUI thread's timer hardly ran"
    print(f"{len(ticks)} ticks, longest gap {gaps.max() * 1000:.0f} ms")
    assert gaps.max() < 1.0, f"the window froze for {gaps.max():.2f} s"
    assert leftovers(out_dir) == ["long.gif"]


def test_closing_the_window_cancels_a_running_export(make_window, qtbot, out_dir):
    window = make_window()
    window.exporter.start(long_request(out_dir))
    qtbot.waitUntil(lambda: window.exporter.runner.dialog.value() >= 2, timeout=60_000)
    dialog = window.exporter.runner.dialog
    window.close()
    assert not window.exporter.runner.thread or window.exporter.runner.thread.isFinished()
    assert leftovers(out_dir) == []
    # The export's last progress signals, still queued, must not show its dialog again:
    # a shown window keeps the app running after its main window has closed.
    qtbot.wait(300)
    from shiboken6 import isValid

    assert window.exporter.runner.dialog is None and not (isValid(dialog) and dialog.isVisible())


def test_export_failure_is_reported_not_raised(make_window, qtbot, out_dir):
    window = make_window()
    request = ExportRequest(what="history", out=str(out_dir / "a.gif"), run_path=str(out_dir / "nope.hmobrun"))
    window.exporter.start(request)
    qtbot.waitUntil(lambda: bool(window.errors), timeout=30_000)
    title, message = window.errors[-1]
    assert title == "Export failed" and "no such file" in message
    assert not window.exporter.runner.is_running() and leftovers(out_dir) == []


def test_the_dialog_opens_with_settings_it_accepts_when_the_window_shows_x_times_w(make_window, qtbot, out_dir):
    """The window in correlation mode: the animation defaults to the Draw panel's input (x ⊙ w needs one)."""
    window = make_window()
    drawing = np.zeros((1, 28, 28), np.float32)
    drawing[0, 5:23, 13:16] = 1.0
    window.inference_panel.set_input(drawing, "drawing")
    window.tree_view.set_image_mode("correlation")
    dialog = window.exporter.ask()
    assert dialog.mode.currentData() == "correlation" and dialog.input_choice.currentData() == "drawing"
    dialog.out.setText(str(out_dir / "x.gif"))
    request = dialog.request()  # accepted as it opened
    assert request.options.mode == "correlation" and request.drawn_input is not None
    dialog.input_choice.setCurrentIndex(0)  # "none" with x ⊙ w: refused, and the reason shown …
    dialog.accept()
    assert dialog.isVisible() and not dialog.error.isHidden()
    dialog.input_choice.setCurrentIndex(1)  # … until a setting changes
    assert dialog.error.isHidden()
    dialog.reject()
