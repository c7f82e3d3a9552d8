"""Export what the window shows: the learning as an animation, one input's reasoning as pictures.

Frames are painted by the tree view's own scene, items and overlay
(:class:`~hmob_gui.gui.tree_view.TreeScene`, ``paint_overlay``) into an
offscreen ``QImage``, placed exactly as ``render_tree_image`` places them, so
what is exported is what is seen. No widget is involved: this runs headless
(``QT_QPA_PLATFORM=offscreen``) from the CLI, and in the window's export thread.

Threads: a ``QGraphicsScene`` must stay in the thread that made it, so each
:class:`FrameRenderer` owns its scene (not the shared one behind
``render_tree_image``); make the renderer in the thread that renders.

By the output's suffix:

* a history (:func:`export_history`): ``.gif`` always, ``.mp4`` when
  ``imageio-ffmpeg`` is installed (the ``mp4`` extra); frame rate, size, frame
  range, and optionally one input's path, explained again on every frame with
  that frame's snapshot, so the path is seen to change as the tree learns.
* an inference (:func:`export_inference`): ``.png`` (Pillow), ``.svg`` (Qt's
  ``QSvgGenerator``: lines and text stay vectors, node images are embedded),
  ``.gif`` (two frames: the filters, then the correlation maps x ⊙ w).

The file writers are in :mod:`.animation_writers`. Every file is written
beside its target and renamed at the end (:func:`~hmob_gui.core.atomic.atomic_path`):
a cancel, an error or a full disk leaves nothing behind, not even the
temporary file.
"""
from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Sequence

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication

from ..core.atomic import atomic_path, check_writable
from ..core.errors import ExportError
from . import colormaps
from .animation_writers import (MP4_HINT, GifPalette, GifWriter, Mp4Writer, check_fps, even_size, gif_frame_ms,
                                mp4_available)
from .tree_view import COLOR_SCALES, IMAGE_MODES, TreeScene, frame_target, paint_frame, prepare_scene

if TYPE_CHECKING:
    from ..core.explain import Explanation
    from ..core.inputs import ExplainedInput
    from ..core.snapshot import TreeSnapshot

HISTORY_KINDS = ("epochs", "samples")
ANIMATION_SUFFIXES = (".gif", ".mp4")
PICTURE_SUFFIXES = (".png", ".svg", ".gif")
DEFAULT_SIZE = (1152, 576)
MIN_SIZE, MAX_SIZE = (320, 200), (7680, 4320)

ProgressCallback = Callable[[int, int], None]  # (frames done, frames in all)
CancelCheck = Callable[[], bool]


class ExportCancelled(ExportError):
    """The user cancelled; nothing was written."""


# ============================================================================ options and parsing


def parse_size(text: str) -> tuple[int, int]:
    """``"1152x576"`` → (1152, 576), refused with the reason when out of range."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise ExportError(f"size must be WIDTHxHEIGHT in pixels, e.g. 1152x576, not {text!r}") from None
    return check_size((w, h))


def check_size(size: Sequence[int]) -> tuple[int, int]:
    w, h = int(size[0]), int(size[1])
    if not (MIN_SIZE[0] <= w <= MAX_SIZE[0] and MIN_SIZE[1] <= h <= MAX_SIZE[1]):
        raise ExportError(f"size {w}x{h} is out of range: width {MIN_SIZE[0]}…{MAX_SIZE[0]}, "
                          f"height {MIN_SIZE[1]}…{MAX_SIZE[1]} pixels")
    return w, h


def parse_frame_range(text: str | None) -> slice | None:
    """``"A:B"`` (or ``"A:"``, ``":B"``, ``"A:B:STEP"``): frames A … B−1, Python-style, counted from 0."""
    if text is None or str(text).strip() in ("", ":"):
        return None
    parts = str(text).strip().split(":")
    try:
        if len(parts) == 1:  # a single frame
            i = int(parts[0])
            return slice(i, i + 1 if i != -1 else None)
        if len(parts) > 3:
            raise ValueError
        values = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise ExportError(f"frame range must look like A:B (e.g. 0:40, 10:, :-1, 0::2), not {text!r}") from None
    if len(values) == 3 and values[2] is not None and values[2] <= 0:
        raise ExportError(f"frame range step must be positive, not {values[2]}")
    return slice(*values)


def check_output(path: str | Path, allowed: Sequence[str], what: str) -> str:
    """Refuse early, with the reason, an output whose format we cannot tell or write, or whose folder we cannot
    write to; return its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise ExportError(f"{path}: cannot tell the format; {what} can be written as "
                          + ", ".join(allowed[:-1]) + f" or {allowed[-1]} (give the file that ending)")
    if suffix == ".mp4" and not mp4_available():
        raise ExportError(MP4_HINT)
    check_writable(path, ExportError)
    return suffix


@dataclass(frozen=True)
class AnimationOptions:
    """How to animate a history (the CLI's flags and the dialog's fields)."""

    kind: str = "epochs"  # "epochs": the initial tree and one frame per epoch; "samples": every snapshot
    fps: float = 4.0
    size: tuple[int, int] = DEFAULT_SIZE
    frames: slice | None = None  # which of those frames (None: all)
    input: ExplainedInput | None = None  # overlay this input's path, explained with each frame's snapshot
    mode: str = "filters"  # or "correlation" (x ⊙ w; needs an input)
    color_scale: str = "filter"

    def checked(self) -> "AnimationOptions":
        if self.kind not in HISTORY_KINDS:
            raise ExportError(f"animation kind must be one of {', '.join(HISTORY_KINDS)}, not {self.kind!r}")
        check_fps(self.fps)
        check_size(self.size)
        if self.mode not in IMAGE_MODES:
            raise ExportError(f"image mode must be one of {', '.join(IMAGE_MODES)}, not {self.mode!r}")
        if self.mode == "correlation" and self.input is None:
            raise ExportError("correlation maps (x ⊙ w) need an input: give one to show its path")
        if self.color_scale not in COLOR_SCALES:
            raise ExportError(f"colour scale must be one of {', '.join(COLOR_SCALES)}, not {self.color_scale!r}")
        return self


@dataclass(frozen=True)
class ExportResult:
    path: Path
    frames: int
    size: tuple[int, int]
    nbytes: int
    seconds: float
    answer: str = ""  # an inference: what the tree says, e.g. "7 (93%)"

    def summary(self) -> str:
        what = f"{self.frames} frames" if self.frames != 1 else "1 frame"
        return (f"{self.path}: {what}, {self.size[0]}×{self.size[1]}, {format_bytes(self.nbytes)}, "
                f"{self.seconds:.1f} s")


def format_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.0f} kB"
    return f"{n / 1_000_000:.2f} MB"


# ============================================================================ frames


def history_frames(source, kind: str = "epochs", frames: slice | None = None) -> list[TreeSnapshot]:
    """The snapshots an animation shows, in order: from a SnapshotHistory, a SavedRun or a list."""
    if kind not in HISTORY_KINDS:
        raise ExportError(f"animation kind must be one of {', '.join(HISTORY_KINDS)}, not {kind!r}")
    snapshots = getattr(source, "snapshots", source)  # a SavedRun holds them in order
    if hasattr(snapshots, "samples"):  # a SnapshotHistory
        snapshots = snapshots.epochs() if kind == "epochs" else snapshots.samples()
    else:
        snapshots = [s for s in snapshots if kind == "samples" or s.kind != "samples"]
    if not snapshots:
        raise ExportError("there is nothing to animate: the history holds no snapshots"
                          + (" of epochs" if kind == "epochs" else ""))
    chosen = snapshots[frames] if frames is not None else list(snapshots)
    if not chosen:
        raise ExportError(f"the frame range {frames.start}:{frames.stop} selects none of the "
                          f"{len(snapshots)} {kind[:-1]} frames (counted from 0)")
    return list(chosen)


def frame_caption(snapshot: TreeSnapshot, kind: str) -> str:
    """"epochs passed: 12 / 40" or "samples passed: 25,000", as the original animations said."""
    if kind == "epochs":
        total = f" / {snapshot.total_epochs}" if snapshot.total_epochs else ""
        return f"epochs passed: {snapshot.epoch}{total}"
    return f"samples passed: {snapshot.samples_seen:,}"


def tree_answer(snapshot: TreeSnapshot, explanation: Explanation) -> str:
    """What the tree says for the input: its bigot leaf's class and confidence."""
    k = explanation.bigot_class
    name = snapshot.class_names[k] if k < len(snapshot.class_names) else str(k)
    return f"{name} ({explanation.bigot_confidence:.0%})"


@dataclass(frozen=True)
class Inset:
    """The input, drawn small in the top-right corner, with a few words under it."""

    image: np.ndarray  # (H, W) in [0, 1], ink bright
    lines: tuple[str, ...] = ()


class FrameRenderer:
    """Paints frames with a scene of its own; make and use it in one thread (see the module docstring)."""

    def __init__(self, size: Sequence[int] = DEFAULT_SIZE, color_scale: str = "filter"):
        ensure_application()
        self.size = check_size(size)
        self.color_scale = color_scale
        self.scene = TreeScene()

    def _set(self, snapshot, explanation, caption, mode) -> None:
        prepare_scene(self.scene, snapshot, explanation, caption, mode, self.color_scale)

    def scene_target(self) -> QRectF:
        """Where the whole scene lands in the frame, in pixels (as ``render_tree_image`` places it)."""
        return frame_target(self.scene, self.size)

    def _paint(self, painter: QPainter, inset: Inset | None) -> None:
        paint_frame(painter, self.scene, self.size)
        if inset is not None:
            _paint_inset(painter, inset, self.size[0])

    def render(self, snapshot: TreeSnapshot, explanation: Explanation | None = None, caption: str | None = None,
               mode: str = "filters", inset: Inset | None = None) -> QImage:
        """One frame as a ``QImage`` (RGB32), exactly as the tree view draws it."""
        self._set(snapshot, explanation, caption, mode)
        w, h = self.size
        image = QImage(w, h, QImage.Format_RGB32)
        image.fill(Qt.white)
        painter = QPainter(image)
        self._paint(painter, inset)
        painter.end()
        return image

    def render_svg(self, snapshot: TreeSnapshot, explanation: Explanation | None = None, caption: str | None = None,
                   mode: str = "filters", inset: Inset | None = None, title: str = "") -> bytes:
        """The same frame as SVG: lines and text stay vectors, node images are embedded pictures."""
        from PySide6.QtSvg import QSvgGenerator

        self._set(snapshot, explanation, caption, mode)
        w, h = self.size
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.WriteOnly)
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(QSize(w, h))
        generator.setResolution(96)  # so that browsers (96 px per inch) show it at w×h pixels
        generator.setViewBox(QRectF(0, 0, w, h))
        generator.setTitle(title or (caption or "soft decision tree"))
        generator.setDescription("exported by hmob-gui")
        atlas = self.scene.atlas
        if atlas is not None:  # see _put_back_node_images: a tiny stand-in, replaced node by node below
            self.scene.atlas = QImage(1, self.scene.snapshot.n_inner, QImage.Format_RGBA8888)
            self.scene.atlas.fill(Qt.white)
        painter = QPainter(generator)
        painter.fillRect(QRectF(0, 0, w, h), Qt.white)
        try:
            self._paint(painter, inset)
        finally:
            painter.end()
            self.scene.atlas = atlas
        buffer.close()
        return _put_back_node_images(bytes(data.data()), self.scene)


_SVG_IMAGE = re.compile(rb'(<image\b[^>]*?xlink:href=")(data:image/png;base64,[^"]*)(")')


def _put_back_node_images(svg: bytes, scene: TreeScene) -> bytes:
    """Give every node its own picture in the SVG.

    The items draw each node as one row of a shared atlas image (``drawImage``
    with a source rectangle); Qt's SVG generator ignores that rectangle and
    embeds the whole atlas, squeezed, in every node (and encodes it once per
    node: 12 s for a depth-8 tree). So the SVG is painted with a 1-pixel-wide
    stand-in atlas, and the pictures it embedded are replaced here by each
    node's own image. The nodes are the first pictures painted, in order (the
    edges hold none; the legend and the inset come after the scene).
    """
    import base64
    import io

    from PIL import Image

    if scene.rgba is None or scene.snapshot is None:
        return svg
    n = scene.snapshot.n_inner
    found = list(_SVG_IMAGE.finditer(svg))
    if len(found) < n:
        raise ExportError(f"SVG: {len(found)} node pictures were drawn, the tree has {n} nodes")
    parts, last = [], 0
    for node, m in enumerate(found[:n]):
        png = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(scene.rgba[node])).save(png, format="PNG")
        parts += [svg[last:m.start(2)], b"data:image/png;base64,", base64.b64encode(png.getvalue())]
        last = m.end(2)
    parts.append(svg[last:])
    return b"".join(parts)


_own_app = None


def ensure_application() -> None:
    """Fonts and scenes need a QApplication; make one (headless: QT_QPA_PLATFORM=offscreen) if none runs."""
    global _own_app
    if QApplication.instance() is None:
        _own_app = QApplication([])


def _paint_inset(painter: QPainter, inset: Inset, width: int) -> None:
    gray = np.clip(np.asarray(inset.image, dtype=np.float32), 0, 1)
    pixels = np.ascontiguousarray(255 - np.round(gray * 255).astype(np.uint8))  # dark ink on white, as drawn
    h, w = pixels.shape
    image = QImage(pixels.data, w, h, w, QImage.Format_Grayscale8)
    side = 72.0
    font = QFont()
    font.setPixelSize(11)
    painter.setFont(font)
    line_h = 14.0
    text_w = max([side] + [painter.fontMetrics().horizontalAdvance(t) + 4.0 for t in inset.lines])
    box = QRectF(width - text_w - 18, 6, text_w + 12, side + 10 + line_h * len(inset.lines))
    painter.fillRect(box, QColor(255, 255, 255, 230))
    pic = QRectF(box.center().x() - side / 2, box.top() + 5, side, side)
    painter.save()
    painter.setRenderHint(QPainter.SmoothPixmapTransform, False)
    painter.drawImage(pic, image)
    painter.restore()
    painter.setPen(QPen(QColor(150, 150, 150), 1))
    painter.drawRect(pic)
    painter.setPen(QColor(40, 40, 40))
    for i, text in enumerate(inset.lines):
        painter.drawText(QRectF(box.left(), pic.bottom() + 3 + i * line_h, box.width(), line_h),
                         Qt.AlignHCenter | Qt.AlignVCenter, text)


def packed_rgb(image: QImage) -> np.ndarray:
    """(H, W) uint32 0xRRGGBB of an RGB32 image: one integer per pixel, for palette lookups."""
    if image.format() != QImage.Format_RGB32:
        image = image.convertToFormat(QImage.Format_RGB32)
    h, w = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(h, image.bytesPerLine() // 4)
    return rows[:, :w] & 0xFFFFFF


def rgb_array(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of an image."""
    packed = packed_rgb(image)
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=-1).astype(np.uint8)


def reserved_colors() -> list[tuple[int, int, int]]:
    """Colours a GIF must keep exact: paper, text, path, frames, classes, and steps of the colour ramp."""
    from .tree_view import EDGE_COLOR, FRAME_COLOR, PATH_COLOR, SELECTED_COLOR, TEXT_COLOR

    colors = [(255, 255, 255), (0, 0, 0), (150, 70, 0)]  # paper, ink, the logit labels on the path
    colors += [c.getRgb()[:3] for c in (TEXT_COLOR, EDGE_COLOR, FRAME_COLOR, PATH_COLOR, SELECTED_COLOR)]
    for c in colormaps.CLASS_COLORS:
        colors += [tuple(c), QColor(*c).darker(130).getRgb()[:3]]  # bars, and the leaves' argmax digits
    lut = colormaps.DIVERGING_LUT[:, :3]
    colors += [tuple(int(v) for v in lut[i]) for i in np.linspace(0, len(lut) - 1, 17).round().astype(int)]
    return colors


# ============================================================================ exports


@dataclass(frozen=True)
class LoadedTree:
    snapshot: TreeSnapshot  # float32 when it came from a model
    dataset: str  # the data set it learned, for test digits
    data_dir: str | None  # where that data set was, if the file says


def load_tree_file(path: str | Path) -> LoadedTree:
    """The tree of a checkpoint (.pt) or of a saved run (.hmobrun: its final model, else its last snapshot)."""
    from ..core.checkpoint import checkpoint_from_payload, load_checkpoint
    from ..core.runfile import RUN_SUFFIX, load_run
    from ..core.snapshot import make_tree_snapshot

    path = Path(path).expanduser()
    if path.suffix.lower() == RUN_SUFFIX:
        run = load_run(path)
        dataset, data_dir = str(run.settings.get("dataset") or "mnist"), run.settings.get("data_dir") or None
        if run.checkpoint is None:
            if not run.snapshots:
                raise ExportError(f"{path}: the run holds no tree (no final model, no snapshot)")
            return LoadedTree(run.snapshots[-1], dataset, data_dir)
        ckpt = checkpoint_from_payload(run.checkpoint, "tree", path)
    else:
        ckpt = load_checkpoint(path, "tree")
        dataset, data_dir = str(ckpt.dataset.get("name") or "mnist"), None
    snapshot = make_tree_snapshot(ckpt.build(), kind="final", class_names=ckpt.class_names, dtype=np.float32)
    return LoadedTree(snapshot, dataset, data_dir)


def load_history_file(path: str | Path):
    """A saved run (:class:`~hmob_gui.core.runfile.SavedRun`); a checkpoint is refused with the reason."""
    from ..core.errors import CheckpointError
    from ..core.runfile import RUN_SUFFIX, load_run

    path = Path(path).expanduser()
    try:
        return load_run(path)
    except CheckpointError as exc:
        if path.suffix.lower() != RUN_SUFFIX and path.is_file():
            raise ExportError(f"{exc}; a history is kept in a run file ({RUN_SUFFIX}): save one from the window "
                              "(File ▸ Save run…) or with hmob train-tree --save-run") from None
        raise


def _explain(snapshot, x):
    from ..core.explain import explain

    if tuple(x.shape) != tuple(snapshot.input_shape):
        raise ExportError(f"the input is {tuple(x.shape)}, the tree expects {tuple(snapshot.input_shape)}")
    return explain(snapshot, x)


def _check_cancel(cancelled: CancelCheck | None) -> None:
    if cancelled is not None and cancelled():
        raise ExportCancelled("export cancelled; no file was written")


@contextlib.contextmanager
def _atomic_output(out: Path):
    """:func:`atomic_path` with export's own error type."""
    with atomic_path(out, ExportError) as tmp:
        yield tmp


def _open_output(path: Path) -> BinaryIO:
    """The temporary file a stream is written to (tests replace this to simulate a full disk)."""
    return open(path, "wb")


def export_history(source, out: str | Path, options: AnimationOptions = AnimationOptions(),
                   progress: ProgressCallback | None = None, cancelled: CancelCheck | None = None) -> ExportResult:
    """Animate a history (SnapshotHistory, SavedRun or list of snapshots) into a GIF or an MP4."""
    started = time.perf_counter()
    out = Path(out).expanduser()
    suffix = check_output(out, ANIMATION_SUFFIXES, "an animation")
    options = options.checked()
    frames = history_frames(source, options.kind, options.frames)
    size = even_size(options.size) if suffix == ".mp4" else check_size(options.size)
    inp = options.input
    if inp is not None and tuple(inp.x.shape) != tuple(frames[0].input_shape):
        raise ExportError(f"the input is {tuple(inp.x.shape)}, the tree expects {tuple(frames[0].input_shape)}")
    _check_cancel(cancelled)
    renderer = FrameRenderer(size, options.color_scale)
    n = len(frames)

    def draw(i: int) -> QImage:
        s = frames[i]
        explanation = inset = None
        if inp is not None:
            explanation = _explain(s, inp.x)
            inset = Inset(inp.x[0], (inp.short, f"tree: {tree_answer(s, explanation)}"))
        return renderer.render(s, explanation, frame_caption(s, options.kind), options.mode, inset)

    with _atomic_output(out) as tmp:
        if suffix == ".gif":
            samples = {i: packed_rgb(draw(i)) for i in sorted({0, n // 2, n - 1})}
            palette = GifPalette.from_frames(samples.values(), reserved_colors())
            with _open_output(tmp) as fp:
                writer = GifWriter(fp, palette, gif_frame_ms(options.fps))
                for i in range(n):
                    _check_cancel(cancelled)
                    writer.append(samples.pop(i) if i in samples else packed_rgb(draw(i)))
                    if progress is not None:
                        progress(i + 1, n)
                writer.close()
        else:
            writer = Mp4Writer(tmp, size, options.fps)
            try:
                for i in range(n):
                    _check_cancel(cancelled)
                    writer.append(rgb_array(draw(i)))
                    if progress is not None:
                        progress(i + 1, n)
            finally:
                writer.close()
    return ExportResult(out, n, size, out.stat().st_size, time.perf_counter() - started)


def inference_caption(snapshot: TreeSnapshot, explanation: Explanation, description: str, mode: str) -> str:
    shows = "x ⊙ w (correlation)" if mode == "correlation" else "filters"
    who = f"{description}: " if description else ""
    return f"{who}the tree says {tree_answer(snapshot, explanation)} · {shows}"


def export_inference(snapshot: TreeSnapshot, inp: ExplainedInput, out: str | Path, size: Sequence[int] = DEFAULT_SIZE,
                     fps: float = 0.5, color_scale: str = "filter", progress: ProgressCallback | None = None,
                     cancelled: CancelCheck | None = None) -> ExportResult:
    """The tree with one input's path: PNG or SVG (filters), or a GIF of filters then correlation maps."""
    started = time.perf_counter()
    out = Path(out).expanduser()
    suffix = check_output(out, PICTURE_SUFFIXES, "an inference")
    size = check_size(size)
    if color_scale not in COLOR_SCALES:
        raise ExportError(f"colour scale must be one of {', '.join(COLOR_SCALES)}, not {color_scale!r}")
    frame_ms = gif_frame_ms(fps) if suffix == ".gif" else 0
    explanation = _explain(snapshot, inp.x)
    _check_cancel(cancelled)
    renderer = FrameRenderer(size, color_scale)
    inset = Inset(inp.x[0], (inp.short,))
    modes = ("filters", "correlation") if suffix == ".gif" else ("filters",)

    def caption(mode):
        return inference_caption(snapshot, explanation, inp.description, mode)

    with _atomic_output(out) as tmp:
        if suffix == ".svg":
            data = renderer.render_svg(snapshot, explanation, caption("filters"), "filters", inset,
                                       title=f"{inp.description}: soft decision tree")
            with _open_output(tmp) as fp:
                fp.write(data)
        elif suffix == ".png":
            from PIL import Image

            rgb = rgb_array(renderer.render(snapshot, explanation, caption("filters"), "filters", inset))
            with _open_output(tmp) as fp:
                Image.fromarray(rgb).save(fp, format="PNG")
        else:
            frames = []
            for mode in modes:
                _check_cancel(cancelled)
                frames.append(packed_rgb(renderer.render(snapshot, explanation, caption(mode), mode, inset)))
            palette = GifPalette.from_frames(frames, reserved_colors())
            with _open_output(tmp) as fp:
                writer = GifWriter(fp, palette, frame_ms)
                for i, frame in enumerate(frames):
                    _check_cancel(cancelled)
                    writer.append(frame)
                    if progress is not None:
                        progress(i + 1, len(frames))
                writer.close()
        if progress is not None and suffix != ".gif":
            progress(1, 1)
    return ExportResult(out, len(modes), size, out.stat().st_size, time.perf_counter() - started,
                        tree_answer(snapshot, explanation))
