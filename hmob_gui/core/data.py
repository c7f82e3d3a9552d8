"""Find, download, verify and load a data set; split it as the original notebook did.

Where data is looked for, in order: an explicit folder, the ``HMOB_DATA``
environment variable, then the per-user cache (``platformdirs``). A folder may
hold the four files directly or in a sub-folder named after the data set
(``HMOB_DATA=~/data`` with ``~/data/fashion-mnist/…`` works for every set).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .datasets import DATASETS, DatasetSpec, IdxFile, get_dataset
from .errors import ChecksumError, DataError, DataNotFoundError, DownloadError
from .idx import parse_idx, read_bytes
from .paths import user_cache_dir

ENV_VAR = "HMOB_DATA"
VALIDATION_SIZE = 10_000  # the last 10,000 training images, as in the original notebook

#: ``progress(file_name, bytes_done, bytes_total_or_None)``
ProgressCallback = Callable[[str, int, "int | None"], None]
#: ``opener(url, timeout) -> response`` with ``.read(n)`` and ``.headers``
Opener = Callable[[str, float], object]


def data_cache_dir() -> Path:
    """The per-user folder where downloaded data sets are kept."""
    return user_cache_dir() / "datasets"


def candidate_dirs(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders to look in, in order of precedence."""
    if data_dir is not None:
        roots = [Path(data_dir).expanduser()]
    elif os.environ.get(ENV_VAR):
        roots = [Path(os.environ[ENV_VAR]).expanduser()]
    else:
        return [data_cache_dir() / spec.name]
    # A root may hold the files itself or a sub-folder per data set.
    return [roots[0] / spec.name, roots[0]]


def find_file(folder: Path, f: IdxFile) -> Path | None:
    for name in (f.gz_name, f.name):
        p = folder / name
        if p.is_file():
            return p
    return None


TEST_ROLES = ("test_images", "test_labels")


def locate(spec: DatasetSpec, data_dir=None, roles=None) -> tuple[Path, dict[str, Path]]:
    """The folder to use and the files found in it (possibly fewer than needed).

    ``roles``: the files needed (default all four); a folder holding them all wins.
    """
    roles = tuple(roles or (f.role for f in spec.files))
    candidates = candidate_dirs(spec, data_dir)
    best: tuple[Path, dict[str, Path]] | None = None
    for folder in candidates:
        found = {f.role: p for f in spec.files if f.role in roles and (p := find_file(folder, f)) is not None}
        if len(found) == len(roles):
            return folder, found
        if best is None or len(found) > len(best[1]):
            best = (folder, found)
    # Nothing complete: the folder with the most files, else the root the user named
    # (or the cache), which is where a download goes.
    assert best is not None
    return best if best[1] else (candidates[-1], {})


def missing_files_message(spec: DatasetSpec, folder: Path, reason: str, roles=None) -> str:
    needed = [f for f in spec.files if roles is None or f.role in roles]
    names = "\n".join(f"  {f.gz_name}" for f in needed)
    how_many = {1: "this file", 2: "these two files", 4: "these four files"}.get(len(needed), "these files")
    return (
        f"{spec.title} is not available: {reason}.\n"
        f"Needed, gzipped or not, {how_many}:\n{names}\n"
        f"Put them in {Path(folder).absolute()}\n"
        f"(or point the app at a folder holding them: the window's \"data folder\" field, --data DIR on the "
        f"command line, or {ENV_VAR}=DIR).\n"
        f"They are published at {spec.mirrors[0]}"
    )


# --------------------------------------------------------------------------- checksums


class _Hashes:
    """A file's SHA-256 values, each computed once, however many data sets it is compared with."""

    def __init__(self, content: bytes, gz_bytes: bytes | None):
        self._data = {"content": content, "gz": gz_bytes}
        self._hex: dict[str, str | None] = {}

    def _get(self, which: str) -> str | None:
        if which not in self._hex:
            data = self._data[which]
            self._hex[which] = hashlib.sha256(data).hexdigest() if data is not None else None
        return self._hex[which]

    def match(self, f: IdxFile) -> bool:
        return ((f.content_sha256 is not None and self._get("content") == f.content_sha256)
                or (f.gz_sha256 is not None and self._get("gz") == f.gz_sha256))


def verify_content(f: IdxFile, gz_bytes: bytes | None, content: bytes, source: str) -> None:
    """Accept the file if its content hash, or its original .gz hash, matches."""
    if f.content_sha256 is None and f.gz_sha256 is None:
        return
    hashes = _Hashes(content, gz_bytes)
    if hashes.match(f):
        return
    wanted = next((d for d in DATASETS.values() if f in d.files), None)
    wanted_title = wanted.title if wanted else "the chosen data set"
    for other in DATASETS.values():
        if other is not wanted and hashes.match(other.file(f.role)):
            raise ChecksumError(
                f"{source} is {other.title}'s {f.name}, not {wanted_title}'s: this folder holds {other.title}. "
                f"Choose the data set {other.name!r}, or a folder holding {wanted_title}'s files "
                "(keep this one: it is intact)."
            )
    raise ChecksumError(
        f"{source}: content does not match the published SHA-256 of {f.name} "
        f"(a damaged or altered file). Delete it to fetch it again."
    )


# --------------------------------------------------------------------------- download


def _default_opener(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "hmob-gui"})
    return urllib.request.urlopen(request, timeout=timeout)


def download_file(
    spec: DatasetSpec,
    f: IdxFile,
    folder: Path,
    progress: ProgressCallback | None = None,
    opener: Opener | None = None,
    timeout: float = 30.0,
    chunk: int = 1 << 16,
) -> Path:
    """Fetch one file from the first mirror that works, verify it, and move it into place."""
    opener = opener or _default_opener
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for mirror in spec.mirrors:
        url = mirror + f.gz_name
        tmp = None
        try:
            response = opener(url, timeout)
            total = None
            headers = getattr(response, "headers", None)
            if headers is not None and headers.get("Content-Length"):
                total = int(headers.get("Content-Length"))
            fd, tmp = tempfile.mkstemp(prefix=f".{f.gz_name}.", suffix=".part", dir=folder)
            done = 0
            with os.fdopen(fd, "wb") as out:
                while True:
                    block = response.read(chunk)
                    if not block:
                        break
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(f.gz_name, done, total)
            close = getattr(response, "close", None)
            if close:
                close()
            if total is not None and done != total:
                raise DownloadError(f"{url}: connection closed after {done:,} of {total:,} bytes")
            gz_bytes = Path(tmp).read_bytes()
            content = read_bytes(tmp)  # raises DataError when the gzip is damaged
            verify_content(f, gz_bytes, content, url)
            final = folder / f.gz_name
            os.replace(tmp, final)
            tmp = None
            return final
        except (urllib.error.URLError, OSError, DataError) as exc:
            reason = getattr(exc, "reason", None) or exc
            errors.append(f"{url}: {reason}")
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
    raise DownloadError("could not download " + f.gz_name + ":\n  " + "\n  ".join(errors))


def download_dataset(
    spec: DatasetSpec | str,
    folder: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    opener: Opener | None = None,
    roles=None,
) -> Path:
    """Download whichever of the four files (or of ``roles``) are missing into ``folder`` (default: the cache)."""
    spec = get_dataset(spec)
    folder = Path(folder) if folder is not None else data_cache_dir() / spec.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataNotFoundError(missing_files_message(
            spec, folder, f"cannot create the folder to download into ({exc.strerror or exc})", roles)) from None
    for f in spec.files:
        if (roles is None or f.role in roles) and find_file(folder, f) is None:
            try:
                download_file(spec, f, folder, progress, opener)
            except DownloadError as exc:
                raise DataNotFoundError(
                    missing_files_message(spec, folder, "the download failed (offline?)", roles) + f"\n\n{exc}"
                ) from None
    return folder


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Split:
    """Images (uint8, N×H×W) and labels (int64, N) of one part of a data set."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, n: int | None) -> "Split":
        if n is None or n >= len(self):
            return self
        return Split(self.images[:n], self.labels[:n])

    def tensors(self, device="cpu"):
        """Float32 images in [0, 1] shaped N×1×H×W, and int64 labels, on ``device``."""
        import torch

        x = torch.from_numpy(self.images).to(device=device, dtype=torch.float32).div_(255.0)
        return x.unsqueeze(1), torch.from_numpy(self.labels).to(device)


@dataclass(frozen=True)
class DataSplits:
    """Train (50,000), validation (last 10,000 training images) and test (10,000)."""

    dataset: DatasetSpec
    train: Split
    val: Split
    test: Split
    folder: Path | None = None

    def subset(self, n_train: int | None = None, n_val: int | None = None, n_test: int | None = None) -> "DataSplits":
        """The first n of each part: for tests and quick runs."""
        return DataSplits(self.dataset, self.train.take(n_train), self.val.take(n_val), self.test.take(n_test), self.folder)


def _load_file(spec: DatasetSpec, f: IdxFile, path: Path, verify: bool, ndim: int) -> np.ndarray:
    raw = path.read_bytes() if verify else None
    content = read_bytes(path)
    if verify:
        verify_content(f, raw if raw[:2] == b"\x1f\x8b" else None, content, str(path))
    return parse_idx(content, str(path), expect_ndim=ndim)


def _check_pair(spec: DatasetSpec, images: np.ndarray, labels: np.ndarray, paths: Iterable[Path]) -> None:
    img_path, lab_path = paths
    if images.dtype != np.uint8:
        raise DataError(f"{img_path}: images must be unsigned bytes, found {images.dtype}")
    if tuple(images.shape[1:]) != tuple(spec.image_shape):
        raise DataError(f"{img_path}: images are {images.shape[1:]}, expected {spec.image_shape}")
    if len(images) != len(labels):
        raise DataError(f"{img_path} holds {len(images):,} images but {lab_path} holds {len(labels):,} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(spec.class_names)):
        raise DataError(f"{lab_path}: labels must lie in 0…{len(spec.class_names) - 1}, found {labels.min()}…{labels.max()}")


def _check_named_folder(spec: DatasetSpec, data_dir) -> None:
    """A folder the user named (flag or HMOB_DATA) must exist: a typo is reported, never created."""
    named, how = (data_dir, "the data folder") if data_dir is not None else (os.environ.get(ENV_VAR) or None, ENV_VAR)
    if named is None:
        return
    root = Path(named).expanduser()
    if root.is_dir():
        return
    what = "is not a folder" if root.exists() else "does not exist"
    names = ", ".join(f.gz_name for f in spec.files)
    raise DataNotFoundError(
        f"{how} {root.absolute()} {what}. Point it at the folder holding the four {spec.title} files "
        f"({names}, gzipped or not), or create it and run `hmob download --data {root}`."
    )


def load_dataset(
    dataset: DatasetSpec | str = "mnist",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    verify: bool = True,
    progress: ProgressCallback | None = None,
    opener: Opener | None = None,
    validation_size: int = VALIDATION_SIZE,
    test_only: bool = False,
) -> DataSplits:
    """Load a data set, downloading it into the chosen folder first when it is missing.

    ``test_only``: read only the two test files (evaluating or explaining needs no
    training images); train and validation are then empty.
    """
    spec = get_dataset(dataset)
    _check_named_folder(spec, data_dir)
    roles = TEST_ROLES if test_only else tuple(f.role for f in spec.files)
    folder, found = locate(spec, data_dir, roles)
    if len(found) < len(roles):
        if not download:
            raise DataNotFoundError(missing_files_message(spec, folder, "files missing", roles))
        download_dataset(spec, folder, progress, opener, roles)
        folder, found = locate(spec, folder, roles)
    arrays = {}
    for f in spec.files:
        if f.role in roles:
            arrays[f.role] = _load_file(spec, f, found[f.role], verify, 3 if f.role.endswith("images") else 1)
    if test_only:
        _check_pair(spec, arrays["test_images"], arrays["test_labels"], (found["test_images"], found["test_labels"]))
        test = Split(arrays["test_images"], arrays["test_labels"].astype(np.int64))
        empty = Split(test.images[:0], test.labels[:0])
        return DataSplits(dataset=spec, train=empty, val=empty, test=test, folder=folder)
    for part in ("train", "test"):
        _check_pair(spec, arrays[f"{part}_images"], arrays[f"{part}_labels"],
                    (found[f"{part}_images"], found[f"{part}_labels"]))
    n_train_total = len(arrays["train_labels"])
    if n_train_total <= validation_size:
        raise DataError(f"{found['train_labels']}: only {n_train_total:,} training images; "
                        f"need more than the {validation_size:,} kept for validation")
    cut = n_train_total - validation_size
    tr_x, tr_y = arrays["train_images"], arrays["train_labels"].astype(np.int64)
    return DataSplits(
        dataset=spec,
        train=Split(tr_x[:cut], tr_y[:cut]),
        val=Split(tr_x[cut:], tr_y[cut:]),
        test=Split(arrays["test_images"], arrays["test_labels"].astype(np.int64)),
        folder=folder,
    )


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (tests and tools)."""
    from .idx import encode_idx

    path.write_bytes(gzip.compress(encode_idx(array), mtime=0))
