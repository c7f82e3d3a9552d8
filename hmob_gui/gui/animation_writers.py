"""Write frames into a GIF or an MP4 file as they come, in bounded memory. No Qt here.

GIF: streamed with Pillow's own GIF encoder (``GifImagePlugin.getheader`` and
``getdata``: header, then one image block per frame, then the trailer).
Pillow's ``save_all`` and imageio's GIF writer keep every frame in memory
until the end (0.66 MB per 1152×576 frame, and a depth-4 history may hold
thousands of snapshots). One fixed palette serves every frame
(:class:`GifPalette`), so colours never flicker from frame to frame. Each
frame after the first stores only the rectangle that changed, with the pixels
that did not change inside it made transparent (the previous frame shows
through): between two epochs only ~4 % of a depth-4 frame changes, and this
halves the file compared with whole rectangles.

MP4: frames piped to ffmpeg through ``imageio-ffmpeg`` (the optional ``mp4``
extra), H.264 in yuv420p, which plays everywhere but needs even sides.
"""
from __future__ import annotations

import math
from typing import BinaryIO, Iterable, Sequence

import numpy as np

from ..core.errors import ExportError

MAX_FPS = 50.0  # GIF delays count in hundredths of a second, and viewers slow down anything under 2
MP4_HINT = "MP4 export needs ffmpeg: install the mp4 extra: pip install -e '.[mp4]' (or pip install imageio-ffmpeg)"


def check_fps(fps: float) -> float:
    fps = float(fps)
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ExportError(f"frame rate must be above 0 and at most {MAX_FPS:g} frames a second, not {fps:g}")
    return fps


def gif_frame_ms(fps: float) -> int:
    """A GIF frame's duration in ms: 1/fps rounded to the hundredths of a second a GIF can store."""
    return 10 * max(2, round(100 / check_fps(fps)))


def pack_rgb(colors) -> np.ndarray:
    """(…, 3) uint8 colours → 0xRRGGBB integers (uint32), one per colour."""
    c = np.asarray(colors, dtype=np.uint32).reshape(-1, 3)
    return (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    p = np.asarray(packed, dtype=np.uint32)
    return np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], axis=-1).astype(np.uint8)


TRANSPARENT = 255  # palette index of "unchanged since the previous frame"; colours use 0 … 254


class GifPalette:
    """One 255-colour palette for a whole GIF, and the exact nearest palette entry of any colour.

    Built from a few sample frames: the colours the caller reserves (paper,
    text, path, class colours, steps of the colour ramp), then the most
    frequent exact colours, then a median cut of all the others. Pixels are
    mapped by exact nearest colour, each new colour once (a 16 M-entry table):
    Pillow's own palette mapping approximates on a coarse grid and turned the
    white background grey.
    """

    N_FIXED = 112  # reserved plus most frequent colours; the other 143 by median cut

    def __init__(self, colors: np.ndarray):
        self.colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)[:TRANSPARENT]
        self._colors_i = self.colors.astype(np.int32)
        self._lut = np.zeros(1 << 24, dtype=np.uint8)
        self._known = np.zeros(1 << 24, dtype=bool)

    @classmethod
    def from_frames(cls, frames: Iterable[np.ndarray], reserved: Sequence = ()) -> "GifPalette":
        """``frames``: packed 0xRRGGBB arrays (see :func:`pack_rgb`)."""
        from PIL import Image

        values, counts = np.unique(np.concatenate([np.asarray(f, dtype=np.uint32).ravel() for f in frames]),
                                   return_counts=True)
        fixed: list[int] = []
        for v in (pack_rgb(reserved) if len(reserved) else []):
            if int(v) not in fixed:
                fixed.append(int(v))
        for v in values[np.argsort(counts, kind="stable")[::-1]]:
            if len(fixed) >= cls.N_FIXED:
                break
            if int(v) not in fixed:
                fixed.append(int(v))
        colors = [unpack_rgb(np.array(fixed, dtype=np.uint32))]
        rest = ~np.isin(values, np.array(fixed, dtype=np.uint32))
        room = TRANSPARENT - len(fixed)
        if rest.sum() <= room:
            colors.append(unpack_rgb(values[rest]))
        else:  # weigh by frequency, but cap it so that rare hues (a thin red line) still get a colour
            pixels = unpack_rgb(np.repeat(values[rest], np.minimum(counts[rest], 64)))
            q = Image.fromarray(pixels.reshape(1, -1, 3)).quantize(colors=room, method=Image.Quantize.MEDIANCUT)
            colors.append(np.asarray(q.getpalette()[: 3 * room], dtype=np.uint8).reshape(-1, 3))
        return cls(np.concatenate(colors))

    def indices(self, packed: np.ndarray) -> np.ndarray:
        """The palette index (uint8) of every pixel of a packed 0xRRGGBB array."""
        packed = np.asarray(packed, dtype=np.uint32)
        new = np.unique(packed[~self._known[packed]])
        for start in range(0, len(new), 4096):
            chunk = new[start:start + 4096]
            d = ((unpack_rgb(chunk).astype(np.int32)[:, None, :] - self._colors_i[None, :, :]) ** 2).sum(-1)
            self._lut[chunk] = d.argmin(1).astype(np.uint8)
            self._known[chunk] = True
        return self._lut[packed]

    def palette_bytes(self) -> bytes:
        full = np.zeros((256, 3), dtype=np.uint8)
        full[: len(self.colors)] = self.colors
        return full.tobytes()


class GifWriter:
    """Streams frames (packed 0xRRGGBB arrays of one size) into an open binary file."""

    def __init__(self, fp: BinaryIO, palette: GifPalette, frame_ms: int, loop: int = 0):
        self.fp = fp
        self.palette = palette
        self.frame_ms = int(frame_ms)
        self.loop = loop  # 0: forever
        self.frames = 0
        self._previous: np.ndarray | None = None

    def _image(self, indices: np.ndarray):
        from PIL import Image

        h, w = indices.shape
        im = Image.frombuffer("P", (w, h), np.ascontiguousarray(indices).tobytes(), "raw", "P", 0, 1)
        im.putpalette(self.palette.palette_bytes())
        return im

    def append(self, packed: np.ndarray) -> None:
        from PIL.GifImagePlugin import getdata, getheader

        indices = self.palette.indices(packed)
        params = {"duration": self.frame_ms, "disposal": 1}  # 1: keep this frame, draw the next one over it
        if self._previous is None:
            header, _ = getheader(self._image(indices), None, {"loop": self.loop, "duration": self.frame_ms})
            for chunk in header:
                self.fp.write(chunk)
            offset, part = (0, 0), indices
        else:
            if indices.shape != self._previous.shape:
                raise ExportError(f"frame {self.frames + 1} is {indices.shape[::-1]}, the GIF {self._previous.shape[::-1]}")
            changed = indices != self._previous
            rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
            if len(rows):  # the rectangle that changed; inside it, what did not change shows through
                y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            else:  # the same picture again: one see-through pixel, so the frame (and its time) still counts
                y0, y1, x0, x1 = 0, 1, 0, 1
            offset = (x0, y0)
            part = np.where(changed[y0:y1, x0:x1], indices[y0:y1, x0:x1], TRANSPARENT).astype(np.uint8)
            params["transparency"] = TRANSPARENT
        for chunk in getdata(self._image(part), offset, **params):
            self.fp.write(chunk)
        self._previous = indices
        self.frames += 1

    def close(self) -> None:
        self.fp.write(b";")  # the GIF trailer
        self.fp.flush()


def mp4_available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def even_size(size: Sequence[int]) -> tuple[int, int]:
    """H.264 in yuv420p needs even sides: one pixel more where a side is odd."""
    w, h = int(size[0]), int(size[1])
    return w + w % 2, h + h % 2


class Mp4Writer:
    """Frames ((H, W, 3) uint8 RGB of one even size) piped to ffmpeg, written as H.264 MP4."""

    def __init__(self, path, size: tuple[int, int], fps: float):
        try:
            import imageio_ffmpeg
        except ImportError:
            raise ExportError(MP4_HINT) from None
        if tuple(size) != even_size(size):
            raise ExportError(f"MP4 frames need even sides, not {size[0]}x{size[1]}")
        self._gen = imageio_ffmpeg.write_frames(
            str(path), tuple(size), fps=check_fps(fps), codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=8, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-f", "mp4", "-movflags", "+faststart"])  # -f: a temporary name has no .mp4 ending
        self._gen.send(None)
        self.frames = 0

    def append(self, rgb: np.ndarray) -> None:
        self._gen.send(np.ascontiguousarray(rgb, dtype=np.uint8))
        self.frames += 1

    def close(self) -> None:
        self._gen.close()
