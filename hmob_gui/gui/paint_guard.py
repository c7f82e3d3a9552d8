"""Paint code that cannot take the app down: an exception inside ``paint()`` is logged once, not raised.

Qt calls ``paint``/``paintEvent`` from C++; a Python exception escaping
there is at best a dialog per repaint (dozens a second) and at worst a
crash. An odd snapshot (a damaged file, a diverged training) should cost
one item's picture, not the window. Each distinct failure is logged once
with its traceback; painting goes on with the next item.
"""
from __future__ import annotations

import functools
import logging
import traceback

log = logging.getLogger("hmob_gui.paint")
_seen: set[tuple[str, str, str]] = set()
failures = 0  # how many paints failed since the start (for tests)


def report(where: str, exc: BaseException) -> None:
    """Log a paint failure once per (where, exception type, message)."""
    global failures
    failures += 1
    key = (where, type(exc).__name__, str(exc)[:200])
    if key in _seen:
        return
    _seen.add(key)
    log.error("painting %s failed (shown once; painting goes on): %s",
              where, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())


def guarded(fn):
    """Decorate a ``paint``/``paintEvent``-like function or method: exceptions are reported, never raised."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - nothing may escape into Qt's paint machinery
            report(fn.__qualname__, exc)
            return None

    return wrapper
