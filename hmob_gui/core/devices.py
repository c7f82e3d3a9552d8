"""Which device to compute on: CUDA when there is one, else the CPU, or what the user asks."""
from __future__ import annotations

import torch

from .errors import ConfigError


def available_devices() -> list[str]:
    """"cpu" and every CUDA device found, e.g. ["cpu", "cuda:0"]."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return devices


def device_label(device: str) -> str:
    """A human name for a device string, e.g. "cuda:0 (NVIDIA H200)"."""
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    return device


def resolve_device(request: str | torch.device | None = "auto") -> torch.device:
    """'auto' picks the first CUDA device when present, else the CPU."""
    if isinstance(request, torch.device):
        return request
    request = (request or "auto").strip().lower()
    if request == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(request)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {request!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {request!r} asked for, but no CUDA device is available; use cpu")
        if (device.index or 0) >= torch.cuda.device_count():
            raise ConfigError(f"device {request!r} does not exist; found {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise ConfigError(f"unsupported device {request!r}; use auto, cpu or cuda[:N]")
    return device
