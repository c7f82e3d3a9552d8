"""The one input an export explains: a test digit by its index, or an image file.

The command line and the export dialog name an input the same way (``"7"`` is
test digit #7, anything else is an image file), and both need it as the tree
sees its training data: a float32 array of the tree's input shape, values in
[0, 1], ink bright on a dark ground. Image files go through the drawing
panel's own preprocessing (:mod:`hmob_gui.core.preprocess`, MNIST's recipe),
so a file exported here reaches the tree exactly as it does in the window.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ExportError


@dataclass(frozen=True, eq=False)
class ExplainedInput:
    """An input ready for :func:`~hmob_gui.core.explain.explain`, and how to name it."""

    x: np.ndarray  # (C, H, W) float32 in [0, 1]
    description: str  # "test digit #7 (label 2)", "digit.png"
    short: str  # a few characters for a small inset: "test #7", "digit.png"
    label: int | None = None  # the true class, when known


def parse_input_spec(text: str) -> tuple[str, int | str]:
    """``("test", index)`` for a whole number that is not an existing file, else ``("file", path)``."""
    text = str(text).strip()
    if not text:
        raise ExportError("give an input: a test digit's index (e.g. 7) or an image file")
    if text.lstrip("-").isdigit() and not Path(text).exists():
        return "test", int(text)
    return "file", text


def load_test_digit(index: int, dataset: str = "mnist", data_dir: str | os.PathLike | None = None,
                    class_names=(), progress=None) -> ExplainedInput:
    """Test image number ``index`` (0-based) of the data set, with its label."""
    from .data import load_dataset

    data = load_dataset(dataset, data_dir, progress=progress, test_only=True)
    n = len(data.test)
    if not 0 <= index < n:
        raise ExportError(f"test digit #{index} does not exist: the test set holds {n:,} images (0 … {n - 1})")
    x = data.test.images[index].astype(np.float32)[None] / 255.0
    label = int(data.test.labels[index])
    names = tuple(class_names) or data.dataset.class_names
    name = names[label] if label < len(names) else str(label)
    return ExplainedInput(x=x, description=f"test digit #{index} (label {name})", short=f"test #{index}", label=label)


def load_image_file(path: str | os.PathLike, shape: tuple[int, int, int] = (1, 28, 28)) -> ExplainedInput:
    """A picture file (PNG, JPEG, …) read as the drawing panel reads one (:mod:`.preprocess`)."""
    from .preprocess import MNIST_SIZE, load_digit_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise ExportError(f"{path}: no such image file (give an image file or a test digit's index)")
    if tuple(shape) != (1, MNIST_SIZE, MNIST_SIZE):
        raise ExportError(f"image files become 1×{MNIST_SIZE}×{MNIST_SIZE} inputs; this tree expects {tuple(shape)}")
    x = load_digit_file(path).astype(np.float32)
    return ExplainedInput(x=x, description=path.name, short=path.name if len(path.name) <= 16 else path.name[:15] + "…")


def resolve_input(spec: str, shape: tuple[int, int, int] = (1, 28, 28), dataset: str = "mnist",
                  data_dir: str | os.PathLike | None = None, class_names=(), progress=None) -> ExplainedInput:
    """The input named by ``spec`` (see :func:`parse_input_spec`)."""
    kind, value = parse_input_spec(spec)
    if kind == "test":
        found = load_test_digit(int(value), dataset, data_dir, class_names, progress)
        if tuple(found.x.shape) != tuple(shape):
            raise ExportError(f"test digits of {dataset} are {found.x.shape}, the tree expects {tuple(shape)}")
        return found
    return load_image_file(value, shape)
