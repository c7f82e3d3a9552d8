"""The teacher: a ConvNet like the Keras MNIST-CNN example, and its soft targets.

conv 32 3×3 ReLU → conv 64 3×3 ReLU → max-pool 2 → dropout 0.25 →
dense 128 ReLU → dropout 0.5 → dense 10. For other input sizes the dense
layer's width follows from the input shape.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError


@dataclass(frozen=True)
class TeacherConfig:
    input_shape: tuple[int, int, int] = (1, 28, 28)
    n_classes: int = 10
    conv1: int = 32
    conv2: int = 64
    hidden: int = 128
    dropout_conv: float = 0.25
    dropout_dense: float = 0.5

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        c, h, w = self.input_shape
        if min(c, h, w) < 1 or h < 6 or w < 6:
            raise ConfigError(f"the teacher needs inputs of at least 1×6×6, not {self.input_shape}")
        for name in ("dropout_conv", "dropout_dense"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must lie in [0, 1)")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TeacherConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown teacher settings: {', '.join(sorted(unknown))}")
        return cls(**d)


class TeacherCNN(nn.Module):
    def __init__(self, config: TeacherConfig = TeacherConfig()):
        super().__init__()
        self.config = config
        c, h, w = config.input_shape
        self.conv1 = nn.Conv2d(c, config.conv1, 3)
        self.conv2 = nn.Conv2d(config.conv1, config.conv2, 3)
        self.drop_conv = nn.Dropout(config.dropout_conv)
        self.fc1 = nn.Linear(config.conv2 * ((h - 4) // 2) * ((w - 4) // 2), config.hidden)
        self.drop_dense = nn.Dropout(config.dropout_dense)
        self.fc2 = nn.Linear(config.hidden, config.n_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits."""
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.drop_conv(x).flatten(1)
        x = self.drop_dense(F.relu(self.fc1(x)))
        return self.fc2(x)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self(x).argmax(1)


@torch.no_grad()
def soft_targets(teacher: nn.Module, x: Tensor, temperature: float = 1.0, batch_size: int = 1000) -> Tensor:
    """softmax(logits / T) of the teacher for every input, in eval mode, batch by batch."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ConfigError(f"distillation temperature must be a positive, finite number, not {temperature}")
    was_training = teacher.training
    teacher.eval()
    try:
        parts = [F.softmax(teacher(x[i : i + batch_size]) / temperature, dim=1) for i in range(0, len(x), batch_size)]
    finally:
        teacher.train(was_training)
    return torch.cat(parts) if parts else x.new_zeros(0, 10)


class TeacherPredictor:
    """A frozen CPU copy of a teacher that answers single inputs from any thread.

    The worker thread owns the model being trained; the GUI gets one of these
    (a plain callable on numpy arrays) to show the teacher's opinion of a drawing.
    """

    def __init__(self, model: nn.Module):
        import copy

        self._model = copy.deepcopy(model).to("cpu").eval()
        for p in self._model.parameters():
            p.requires_grad_(False)
        self.input_shape = tuple(model.config.input_shape)

    @torch.no_grad()
    def predict_proba(self, x) -> "np.ndarray":
        """Class probabilities for one input (C×H×W) or a batch (N×C×H×W), values in [0, 1]."""
        import numpy as np

        arr = np.asarray(x, dtype=np.float32)
        single = arr.ndim == len(self.input_shape)
        batch = torch.from_numpy(arr.reshape(-1, *self.input_shape).copy())
        probs = F.softmax(self._model(batch), dim=1).numpy()
        return probs[0] if single else probs
