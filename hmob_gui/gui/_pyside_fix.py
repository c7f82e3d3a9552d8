"""A guard against a reference-counting bug of PySide6 6.12.0 on Python 3.11.

PySide6 6.12.0 (shiboken6 6.12.0) drops one reference to ``None`` on every
call of a Qt method that returns nothing (``QPainter.drawRect``, ``setPen``,
…). Python 3.12+ makes ``None`` immortal, so it does not matter there; on
3.11 ``None``'s count reaches zero after a few thousand paint calls and the
interpreter aborts ("deallocating None"). Versions 6.6 … 6.11 are fine: pin
``PySide6-Essentials<6.12`` (or a fixed later release). Where the broken
combination is installed anyway, we give ``None`` a reference count no
program can exhaust, which is what Python 3.12 does for it.
"""
from __future__ import annotations

import ctypes
import sys

BROKEN = ("6.12.0",)
_applied = False


def needed() -> bool:
    if sys.version_info >= (3, 12):
        return False
    try:
        import shiboken6
    except ImportError:
        return False
    return getattr(shiboken6, "__version__", "") in BROKEN


def apply() -> bool:
    """Make ``None`` effectively immortal when the broken PySide6 is installed; True if applied."""
    global _applied
    if _applied or not needed():
        return _applied
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40  # ob_refcnt is the first field of every object
    _applied = True
    return True
