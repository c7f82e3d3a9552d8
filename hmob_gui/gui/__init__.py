"""The desktop app (PySide6 + pyqtgraph): watch the tree learn, live, and look inside it.

Everything here only displays and commands :mod:`hmob_gui.core`; the one
thread that touches torch models is :class:`hmob_gui.gui.worker.ModelWorker`.
"""

from . import _pyside_fix

_pyside_fix.apply()
