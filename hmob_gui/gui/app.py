"""``hmob-gui`` (and ``python -m hmob_gui``): the application's entry point.

Creates the QApplication, shows the main window at once and lets the worker
load the shipped models behind it. Unexpected errors go to a dialog, not to
a dead window (sys.excepthook), wherever they happen.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback

_started = time.perf_counter()


def configure_threads() -> None:
    """Make torch's OpenMP threads wait passively (call before torch is imported).

    The training threads share the cores with the GUI thread (and, on a shared
    machine, with other programs). With OpenMP's default busy-waiting, a team
    thread that loses its core leaves the others spinning at the next barrier:
    on a loaded 2-core machine we measured a depth-8 training step 20–50×
    slower. Passive waiting keeps training fast and the window responsive. A
    user's own OMP_WAIT_POLICY wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(prog="hmob-gui", description="Watch a CNN being distilled into a soft decision tree.")
    p.add_argument("--checkpoint", metavar="TREE.pt", default=None,
                   help="tree checkpoint to open (default: the shipped depth-4 distilled tree)")
    p.add_argument("--teacher", metavar="TEACHER.pt", default=None,
                   help="teacher checkpoint (default: the shipped teacher)")
    p.add_argument("--run", metavar="RUN.hmobrun", default=None, help="a saved run to open")
    return p.parse_args(argv)


class ErrorReporter:
    """Routes uncaught exceptions from any thread to a dialog in the GUI thread."""

    def __init__(self, window):
        from PySide6.QtCore import QObject, Signal

        class _Bridge(QObject):
            report = Signal(str, str)

        self.bridge = _Bridge()
        self.bridge.report.connect(window.show_error)
        self._previous = sys.excepthook

    def install(self) -> None:
        sys.excepthook = self.hook
        threading.excepthook = lambda args: self.hook(args.exc_type, args.exc_value, args.exc_traceback)

    def hook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous(exc_type, exc, tb)
            return
        from ..core.errors import HmobError

        if issubclass(exc_type, HmobError):
            self.bridge.report.emit("Error", str(exc))
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(text)
        self.bridge.report.emit("Unexpected error",
                                f"{exc_type.__name__}: {exc}\n\nThe app keeps running; please report this:\n\n"
                                + "".join(traceback.format_exception(exc_type, exc, tb)[-4:]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_threads()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName("hmob-gui")
    app.setApplicationName("hmob-gui")
    app.setApplicationDisplayName("hmob-gui")
    from . import collector

    guard = collector.install()  # cyclic garbage is collected in this thread only (see collector.py)

    from ..core.paths import DEFAULT_TREE, SHIPPED_TEACHER, shipped_checkpoint
    from .main_window import MainWindow

    tree = args.checkpoint or str(shipped_checkpoint(DEFAULT_TREE))
    teacher = args.teacher or str(shipped_checkpoint(SHIPPED_TEACHER))
    window = MainWindow(tree, teacher, started_at=_started)
    ErrorReporter(window).install()
    window.worker.worker.busyChanged.connect(guard.freeze_startup)  # queued: runs in this thread
    window.show()
    if args.run:
        window.open_run(args.run)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
