"""What the app remembers between sessions (QSettings): window layout, form, folders.

Tests point QSettings at a temporary folder (``QSettings.setPath``) so that
they never read or change a user's settings.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QSettings

ORGANIZATION = "hmob-gui"
APPLICATION = "hmob-gui"


class AppSettings:
    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings(ORGANIZATION, APPLICATION)

    # -------------------------------------------------------------- window

    def restore_window(self, window) -> bool:
        geometry = self.q.value("window/geometry")
        state = self.q.value("window/state")
        restored = bool(geometry) and window.restoreGeometry(geometry)
        if state:
            window.restoreState(state)
        return restored

    def save_window(self, window) -> None:
        self.q.setValue("window/geometry", window.saveGeometry())
        self.q.setValue("window/state", window.saveState())

    # -------------------------------------------------------------- form and view

    def form_values(self) -> dict:
        text = self.q.value("training/form", "")
        try:
            values = json.loads(text) if text else {}
        except (TypeError, ValueError):
            return {}
        return values if isinstance(values, dict) else {}

    def set_form_values(self, values: dict) -> None:
        self.q.setValue("training/form", json.dumps(values))

    def value(self, key: str, default=None):
        v = self.q.value(key, default)
        return default if v is None else v

    def set_value(self, key: str, value) -> None:
        self.q.setValue(key, value)

    def last_dir(self, kind: str) -> str:
        return str(self.q.value(f"dirs/{kind}", "") or "")

    def set_last_dir(self, kind: str, path: str) -> None:
        from pathlib import Path

        self.q.setValue(f"dirs/{kind}", str(Path(path).parent))

    def sync(self) -> None:
        self.q.sync()
