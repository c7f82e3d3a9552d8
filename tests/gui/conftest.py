"""GUI test fixtures: offscreen Qt, isolated QSettings, small checkpoints, windows that always close.

Cyclic garbage is collected in the GUI thread only (as the app does, see
``hmob_gui.gui.collector``): a collection that starts in a worker thread and
destroys a closed window's widgets deadlocks against the GUI thread.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app sets it (see hmob_gui.gui.app.configure_threads)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

import hmob_gui.gui  # noqa: E402,F401  (applies the PySide6 6.12.0 guard before any widget exists)

SMALL_RUN = {  # a short real training: depth 3 on 2,000 images, a snapshot every 200 samples
    "depth": "3", "train_limit": "2000", "epochs": "1", "snapshot_every": "200", "batch_size": "100",
    "lr": "0.01", "targets": "hard", "device": "cpu", "seed": "0",
}


@pytest.fixture(scope="package", autouse=True)
def gui_thread_gc(qapp):
    """No automatic collection while the GUI tests run; a timer collects in the GUI thread instead."""
    import gc

    from hmob_gui.gui import collector

    was_enabled = gc.isenabled()
    guard = collector.install()
    yield guard
    guard.collect()
    if was_enabled:
        guard.stop()


@pytest.fixture(autouse=True)
def collect_after_test(gui_thread_gc):
    """Each test's leftovers are collected here, in the GUI thread."""
    yield
    gui_thread_gc.collect()


@pytest.fixture(scope="session")
def gui_checkpoints(tmp_path_factory) -> dict:
    """Tree and teacher checkpoints: the shipped ones when present, else small untrained ones."""
    from hmob_gui.core.paths import DEFAULT_TREE, SHIPPED_TEACHER, shipped_checkpoint

    tree, teacher = shipped_checkpoint(DEFAULT_TREE), shipped_checkpoint(SHIPPED_TEACHER)
    if tree.is_file() and teacher.is_file():
        return {"tree": tree, "teacher": teacher, "shipped": True}
    import torch

    from hmob_gui.core.checkpoint import save_checkpoint
    from hmob_gui.core.teacher import TeacherCNN
    from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    dataset = {"name": "mnist", "title": "MNIST", "class_names": [str(i) for i in range(10)]}
    save_checkpoint(folder / "tree-d4-distilled.pt", "tree", SoftDecisionTree(TreeConfig(depth=4)), dataset=dataset)
    save_checkpoint(folder / "tree-d8-distilled.pt", "tree", SoftDecisionTree(TreeConfig(depth=8)), dataset=dataset)
    save_checkpoint(folder / "teacher.pt", "teacher", TeacherCNN(), dataset=dataset)
    return {"tree": folder / "tree-d4-distilled.pt", "teacher": folder / "teacher.pt",
            "tree_d8": folder / "tree-d8-distilled.pt", "shipped": False}


@pytest.fixture
def app_settings(tmp_path):
    """Settings in a temporary file, so tests never touch the user's."""
    from PySide6.QtCore import QSettings

    from hmob_gui.gui.settings import AppSettings

    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


@pytest.fixture
def make_window(qtbot, gui_checkpoints, app_settings, gui_thread_gc):
    """Open main windows; each one is closed (training discarded) and its worker ended afterwards."""
    from hmob_gui.gui.main_window import MainWindow

    windows = []

    def make(tree=None, teacher=None, wait_loaded=True):
        w = MainWindow(str(tree or gui_checkpoints["tree"]), str(teacher or gui_checkpoints["teacher"]),
                       settings=app_settings)
        w.ask_save_on_close = lambda: "discard"
        windows.append(w)
        w.show()
        if wait_loaded:
            qtbot.waitUntil(lambda: w.current_snapshot is not None and w.teacher_predictor is not None,
                            timeout=30_000)
        return w

    yield make
    from PySide6.QtCore import QCoreApplication, QEvent

    for w in windows:
        w.close()
        assert w.worker.thread.wait(60_000), "the worker thread did not end"
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)  # the windows are gone now, in this thread
    windows.clear()
    gui_thread_gc.collect()


@pytest.fixture
def small_run(mnist_dir) -> dict:
    """Form values for a short training on real data (skipped when MNIST is absent)."""
    return {**SMALL_RUN, "data_dir": str(mnist_dir)}


def images_differ(a, b) -> bool:
    import numpy as np

    return a is not None and b is not None and (a.shape != b.shape or bool(np.any(a != b)))


def wait_saved(qtbot, window, save, timeout=30_000) -> None:
    """Call ``save()`` and wait until the window heard that the file was written.

    (Not ``qtbot.waitSignal`` on the worker's signal: its slot would run in the worker thread and stop a
    GUI-thread timer from there.)
    """
    n = len(window.saved_files)
    save()
    qtbot.waitUntil(lambda: len(window.saved_files) > n, timeout=timeout)


def wait_idle(qtbot, window, timeout=120_000) -> None:
    qtbot.waitUntil(lambda: window.state == "idle", timeout=timeout)


@pytest.fixture
def tmp_out(tmp_path) -> Path:
    return tmp_path
