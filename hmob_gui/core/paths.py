"""Where the app's own files are: shipped checkpoints, resources, per-user folders."""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def checkpoints_dir() -> Path:
    """The shipped checkpoints (``HMOB_CHECKPOINTS`` overrides, for tests and packagers)."""
    return Path(os.environ.get("HMOB_CHECKPOINTS", _REPO / "checkpoints"))


def resources_dir() -> Path:
    return Path(os.environ.get("HMOB_RESOURCES", _REPO / "resources"))


def shipped_checkpoint(name: str) -> Path:
    return checkpoints_dir() / name


def user_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("hmob-gui", appauthor=False))


SHIPPED_TEACHER = "teacher.pt"
SHIPPED_TREES = {
    "depth 4, distilled": "tree-d4-distilled.pt",
    "depth 4, hard labels": "tree-d4-hard.pt",
    "depth 8, distilled": "tree-d8-distilled.pt",
    "depth 8, hard labels": "tree-d8-hard.pt",
}
DEFAULT_TREE = "tree-d4-distilled.pt"


def user_cache_dir() -> Path:
    import platformdirs

    return Path(os.environ.get("HMOB_CACHE", platformdirs.user_cache_dir("hmob-gui", appauthor=False)))
