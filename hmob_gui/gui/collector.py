"""Python's cyclic garbage collection, run only in the GUI thread.

Automatic collection runs in whichever thread happens to allocate when a
threshold is crossed. When that is the worker thread (importing torch's
optimisers allocates a lot) and the garbage holds Qt widgets of a closed
window, the worker destroys widgets while the GUI thread destroys others:
the two threads wait for each other's locks (the GIL, Qt's) forever. So we
switch automatic collection off and collect on a timer in the GUI thread,
as pyqtgraph's ``GarbageCollector`` does, re-disabling it should a library
have switched it back on.
"""
from __future__ import annotations

import gc

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 1000

_instance: "MainThreadCollector | None" = None


class MainThreadCollector(QObject):
    """Collects generations 0/1/2 on a timer, like the interpreter would, but always in the GUI thread."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent=None):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._frozen = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.start()

    def start(self) -> None:
        gc.disable()
        if not self.timer.isActive():
            self.timer.start()

    def stop(self) -> None:
        """Back to the interpreter's automatic collection (tests, once no Qt thread is left)."""
        self.timer.stop()
        gc.enable()

    def check(self) -> None:
        if gc.isenabled():
            gc.disable()
        l0, l1, l2 = gc.get_count()
        if l0 > self.threshold[0]:
            gc.collect(2 if l2 > self.threshold[2] else 1 if l1 > self.threshold[1] else 0)

    def freeze_startup(self, busy: str = "") -> None:
        """Once the startup is over (``busy`` empty): collect, then exempt what lives on from collections.

        The modules (torch alone is ~200,000 objects) live as long as the app; without this every full
        collection walks them all (~130 ms in the GUI thread).
        """
        if busy or self._frozen:
            return
        self._frozen = True
        gc.collect()
        gc.freeze()

    def collect(self) -> int:
        """A full collection now (call from the GUI thread, e.g. after closing a window)."""
        if gc.isenabled():
            gc.disable()
        return gc.collect()


def install() -> MainThreadCollector:
    """Switch to GUI-thread collection (idempotent); needs the QApplication and the GUI thread."""
    global _instance
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        raise RuntimeError("install the collector from the GUI thread, after the QApplication exists")
    if _instance is None or not shiboken6.isValid(_instance):
        _instance = MainThreadCollector(parent=app)
    else:
        _instance.start()
    return _instance
