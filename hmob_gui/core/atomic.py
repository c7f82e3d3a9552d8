"""Write files so that a crash, a full disk or a cancel never leaves half a file behind."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import HmobError


def check_writable(path: str | os.PathLike, error=HmobError) -> Path:
    """Refuse early, with the reason, a path whose folder we cannot write to."""
    path = Path(path).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise error(f"{path} is a folder; give a file name")
    if not folder.exists():
        raise error(f"cannot write {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise error(f"cannot write {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise error(f"cannot write {path}: no permission to write in {folder}")
    if path.exists() and not os.access(path, os.W_OK):
        raise error(f"cannot write {path}: the file is read-only")
    return path


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for a moment, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, error=HmobError) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The result gets the old file's permissions, or those of any new file (mkstemp's
    temporary files are private, 0600, which a shared checkpoint or picture must not stay).
    """
    path = check_writable(path, error)
    mode = path.stat().st_mode & 0o777 if path.is_file() else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, error=HmobError) -> Path:
    with atomic_path(path, error) as tmp:
        tmp.write_bytes(data)
    return Path(path)
