"""Shared fixtures: the real data set (small subsets), tiny synthetic IDX folders, temp checkpoints."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app and CLI set it, before torch loads

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist"


def real_data_dir() -> Path | None:
    candidate = Path(os.environ.get("HMOB_DATA", _DEFAULT_DATA))
    return candidate if (candidate / "t10k-labels-idx1-ubyte.gz").exists() or (candidate / "t10k-labels-idx1-ubyte").exists() else None


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Tests never write into the user's real cache (teacher targets, downloads)."""
    previous = os.environ.get("HMOB_CACHE")
    os.environ["HMOB_CACHE"] = str(tmp_path_factory.mktemp("hmob-cache"))
    yield
    if previous is None:
        os.environ.pop("HMOB_CACHE", None)
    else:
        os.environ["HMOB_CACHE"] = previous


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = real_data_dir()
    if folder is None:
        pytest.skip("real MNIST not found: set HMOB_DATA to the folder of the four IDX files")
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The full real data set, loaded once per test session."""
    from hmob_gui.core.data import load_dataset

    return load_dataset("mnist", mnist_dir, download=False)


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """A few thousand real digits: fast enough for unit tests, real enough to mean something."""
    return mnist.subset(n_train=5000, n_val=1000, n_test=2000)


def make_idx_folder(folder: Path, n_train: int = 12, n_test: int = 4, seed: int = 0, gz: bool = True) -> Path:
    """A tiny, structurally valid MNIST-like folder (random pixels)."""
    from hmob_gui.core.data import write_idx_gz
    from hmob_gui.core.idx import encode_idx

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        if gz:
            write_idx_gz(folder / f"{name}.gz", arr)
        else:
            (folder / name).write_bytes(encode_idx(arr))
    return folder
