"""Colour maps as uint8 lookup tables, applied to many images at once with numpy.

Weights and pixel contributions are signed, so they get a *diverging* map
centred on 0 (blue − / white 0 / red +) with symmetric limits: white always
means zero, whatever the scale. One LUT lookup turns all the filters of a
snapshot into RGBA at once, which is what keeps a depth-8 update cheap.
"""
from __future__ import annotations

import numpy as np

#: anchor colours of the diverging map, from −1 to +1 (ColorBrewer RdBu, reversed)
_DIVERGING_ANCHORS = np.array([
    (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
], dtype=np.float64)

#: one colour per class (Tableau 10): leaf bars, argmax digits
CLASS_COLORS = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)

#: what a NaN (not-a-number) value is drawn as
NAN_RGBA = (160, 160, 160, 255)

#: the max-probability path: orange, far from both ends of the blue–red map
PATH_COLOR = (255, 140, 0)


def _build_lut(anchors: np.ndarray, n: int = 256) -> np.ndarray:
    positions = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, n)
    lut = np.empty((n, 4), dtype=np.uint8)
    for c in range(3):
        lut[:, c] = np.round(np.interp(t, positions, anchors[:, c]))
    lut[:, 3] = 255
    return lut


DIVERGING_LUT = _build_lut(_DIVERGING_ANCHORS)


def class_color(k: int) -> tuple[int, int, int]:
    return CLASS_COLORS[k % len(CLASS_COLORS)]


def symmetric_limits(values: np.ndarray, per_image: bool) -> np.ndarray:
    """max |v| of each image (per_image) or of all of them, as an (N,) array; never 0.

    Non-finite values (a diverged or damaged model) are left out, so one inf does not wash out the rest.
    """
    flat = np.abs(values.reshape(len(values), -1))
    if not np.isfinite(flat).all():
        flat = np.where(np.isfinite(flat), flat, 0)
    limits = flat.max(axis=1) if per_image else np.full(len(values), flat.max() if flat.size else 1.0)
    return np.where(limits > 0, limits, 1.0).astype(np.float32)


def diverging_rgba(values: np.ndarray, limits: np.ndarray, lut: np.ndarray = DIVERGING_LUT) -> np.ndarray:
    """(N, H, W) signed values → (N, H, W, 4) uint8 RGBA; value ±limits[i] maps to the ends.

    Whatever the values: beyond the limits (±inf included) they take the end colours, NaN is grey.
    """
    v = values.astype(np.float32, copy=False)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        scale = (len(lut) - 1) / 2.0 / np.asarray(limits, dtype=np.float64)
        scale = np.nan_to_num(scale, nan=0.0, posinf=1e30, neginf=0.0).clip(0.0, 1e30).astype(np.float32)
        idx = v * scale.reshape((-1,) + (1,) * (v.ndim - 1))
        idx += (len(lut) - 1) / 2.0
    np.clip(idx, 0, len(lut) - 1, out=idx)  # beyond the limits: the ends
    if not np.isfinite(idx).all():  # rare: a diverged or damaged model
        idx[np.isposinf(v)] = len(lut) - 1
        idx[np.isneginf(v)] = 0
        idx[np.isnan(v) | np.isnan(idx)] = len(lut)  # one past the map: the grey appended here
        lut = np.concatenate([lut, np.array([NAN_RGBA], dtype=lut.dtype)])
    return lut[np.rint(idx).astype(np.intp)]


def to_display_planes(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) → (N, H, W): one plane per image (the mean over channels when C > 1)."""
    images = np.asarray(images)
    if images.ndim == 4:
        return images[:, 0] if images.shape[1] == 1 else images.astype(np.float32).mean(axis=1)
    return images


def colorbar_rgba(width: int = 256, height: int = 1) -> np.ndarray:
    """A horizontal strip of the diverging map, left −, right +."""
    idx = np.linspace(0, len(DIVERGING_LUT) - 1, width).round().astype(np.intp)
    return np.ascontiguousarray(np.broadcast_to(DIVERGING_LUT[idx][None], (height, width, 4)))
