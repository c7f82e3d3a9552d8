"""Real test digits to explain: the full MNIST test set when it is on disk, else a shipped sample.

The sample (``resources/gallery/mnist-test-sample.npz``: 30 test digits per
class, their labels and their index in the MNIST test set) lets the app
explain real digits offline. It was made with :func:`write_sample`::

    python -c "from hmob_gui.core.gallery import write_sample; write_sample(data_dir='/path/to/mnist')"

MNIST: Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA 3.0 (see the README next
to the sample). Test digits are already as the tree expects them (28×28,
centred, ink 1), so they are explained as they are, without preprocessing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, HmobError
from .paths import resources_dir

SAMPLE_FILE = "gallery/mnist-test-sample.npz"
PER_CLASS = 30
MAX_SAMPLE_BYTES = 300_000


@dataclass(frozen=True, eq=False)
class Gallery:
    images: np.ndarray  # (N, 28, 28) uint8, MNIST's own pixels
    labels: np.ndarray  # (N,) int64
    indices: np.ndarray  # (N,) each digit's index in the MNIST test set
    source: str  # "sample" (shipped) or "test set" (the full one, from the data folder)

    def __len__(self) -> int:
        return len(self.labels)

    def input(self, i: int) -> np.ndarray:
        """Digit ``i`` as the tree's input: (1, 28, 28) float32 in [0, 1]."""
        return (self.images[i].astype(np.float32) / 255.0)[None]

    def inputs(self, which=None) -> np.ndarray:
        """Several digits (all by default) as inputs: (n, 1, 28, 28) float32."""
        images = self.images if which is None else self.images[np.asarray(which)]
        return (images.astype(np.float32) / 255.0)[:, None]

    def describe(self) -> str:
        where = "the MNIST test set" if self.source == "test set" else "a shipped sample of the MNIST test set"
        return f"{len(self):,} digits from {where}"


def sample_path() -> Path:
    return resources_dir() / SAMPLE_FILE


def load_sample(path: str | os.PathLike | None = None) -> Gallery:
    """The shipped sample (never unpickles: plain arrays only)."""
    path = Path(path) if path is not None else sample_path()
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels, indices = z["images"], z["labels"].astype(np.int64), z["indices"].astype(np.int64)
    except FileNotFoundError:
        raise DataError(f"{path}: the gallery sample is missing (reinstall the app, or point it at MNIST)") from None
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not a gallery sample ({exc})") from None
    if images.dtype != np.uint8 or images.ndim != 3 or len(images) != len(labels) or len(labels) != len(indices):
        raise DataError(f"{path}: not a gallery sample (arrays of unexpected shapes)")
    return Gallery(images, labels, indices, "sample")


def load_test_set(data_dir: str | os.PathLike | None = None) -> Gallery:
    """The full MNIST test set from the data folder (the two test files only, checked; no download)."""
    from .data import locate, verify_content
    from .datasets import get_dataset
    from .errors import DataNotFoundError
    from .idx import parse_idx, read_bytes

    spec = get_dataset("mnist")
    folder, found = locate(spec, data_dir)
    arrays = {}
    for role, ndim in (("test_images", 3), ("test_labels", 1)):
        if role not in found:
            raise DataNotFoundError(f"MNIST's test set is not in {folder}")
        path = found[role]
        raw = path.read_bytes()
        content = read_bytes(path)
        verify_content(spec.file(role), raw if raw[:2] == b"\x1f\x8b" else None, content, str(path))
        arrays[role] = parse_idx(content, str(path), expect_ndim=ndim)
    images, labels = arrays["test_images"], arrays["test_labels"].astype(np.int64)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataError(f"{found['test_images']}: not MNIST's test images")
    return Gallery(images, labels, np.arange(len(labels), dtype=np.int64), "test set")


def load_gallery(data_dir: str | os.PathLike | None = None) -> Gallery:
    """The full test set when the data is there, else the shipped sample."""
    try:
        return load_test_set(data_dir)
    except (HmobError, OSError):
        return load_sample()


def make_sample(images: np.ndarray, labels: np.ndarray, per_class: int = PER_CLASS, seed: int = 0) -> dict:
    """``per_class`` random test digits of each class, ordered by class then test index."""
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([np.sort(rng.choice(np.flatnonzero(labels == k), per_class, replace=False))
                             for k in range(int(labels.max()) + 1)])
    return {"images": images[chosen].astype(np.uint8), "labels": labels[chosen].astype(np.uint8),
            "indices": chosen.astype(np.uint16)}


def write_sample(path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                 per_class: int = PER_CLASS, seed: int = 0) -> Path:
    """Write the shipped sample from the full test set (how ``resources/gallery`` was made)."""
    full = load_test_set(data_dir)
    path = Path(path) if path is not None else sample_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **make_sample(full.images, full.labels, per_class, seed))
    if path.stat().st_size > MAX_SAMPLE_BYTES:
        raise DataError(f"{path}: the sample is {path.stat().st_size:,} bytes, over {MAX_SAMPLE_BYTES:,}")
    return path
