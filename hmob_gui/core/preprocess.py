"""Turn any picture of a digit into the 28×28 input the tree was trained on, as MNIST was made.

MNIST's recipe (LeCun et al.): the ink, cropped to its bounding box, scaled
with anti-aliasing to fit a 20×20 box keeping its aspect ratio, then placed in
a 28×28 field so that its centre of mass falls on the centre. We follow it
step by step (numpy and Pillow only, no Qt), so a drawing that is small,
off-centre or in a corner reaches the tree with the same size and position
as a test digit:

1. **Ink map** — grey values to "ink" in [0, 1] (0 paper, 1 full ink). The
   polarity is given, or read from the border (the border is paper: a light
   border means dark ink). The border's level becomes 0 and the darkest ink 1,
   so faded scans and photos are stretched to MNIST's full contrast.
2. **Crop** to the bounding box of the pixels with ink > ``INK_THRESHOLD`` (the
   box sets the scale; fainter ink within a pixel of it comes along).
3. **Stroke width** (our addition; MNIST's writers all used similar pens). The
   mean stroke width is estimated as 2·Σink / Σ|∇ink| (a stroke of width w and
   length L has ink w·L and two edges of length L), on a working copy whose
   long side is ``WORK_SCALE`` × 20 px. Where it must change, the working copy
   is grey-dilated or eroded by the needed radius (an octagon growing one
   pixel a step, the last fraction of a step interpolated), re-cropped and its
   core stretched back to full ink. ``stroke_width`` says what to aim for:

   * a number: exactly that width in pixels of the 28×28 result. The drawing
     canvas uses ``MNIST_STROKE_WIDTH`` (the median of the MNIST test set):
     a brush's width is an artefact of the tool, not of the writer, so thin
     and thick brushes must give the tree the same character. Relative
     variation (pen pressure) is kept: every stroke grows or shrinks by the
     same amount.
   * a ``(low, high)`` pair: only widths outside it are brought to the nearest
     end. Loaded files use ``MNIST_STROKE_RANGE`` (10th…90th percentile of
     MNIST): a scanned digit's stroke is the writer's, kept unless MNIST has
     almost nothing like it (so 8 in 10 real test digits are left untouched).
   * ``None``: no change.
4. **Scale** the crop so its long side is 20 px, with anti-aliasing (Pillow:
   box filter — area averaging — when shrinking, bilinear when growing), and
5. **centre** it by its centre of mass on (14, 14), where MNIST's test digits
   have theirs (measured mean: row 13.99, column 14.01). Both in one
   resampling: the field's pixel grid is mapped onto the crop with a
   sub-pixel offset, so the input changes smoothly while a drawing grows
   instead of jumping a whole pixel when its centre crosses a pixel boundary.
   ``whole_pixel_shift=True`` shifts by whole pixels after scaling instead,
   MNIST-exact: a 10× enlarged test digit then comes back identical (sub-pixel:
   within half a pixel of re-centring). A shape so lopsided that centring
   would push ink out of the field is moved only as far as it fits.

Everything here costs well under a millisecond for a 280×280 canvas.
"""
from __future__ import annotations

import warnings

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import HmobError

MNIST_SIZE = 28  # side of the input field
MNIST_BOX = 20  # the digit's long side inside it
MNIST_CENTRE = (14.0, 14.0)  # (row, column) of the centre of mass, as measured on the MNIST test set
#: Mean stroke width of MNIST test digits in pixels of the 28×28 image, by :func:`estimate_stroke_width`
#: on working copies (see ``measure_mnist_stroke_widths``): median, and the 10th…90th percentiles.
MNIST_STROKE_WIDTH = 2.52
MNIST_STROKE_RANGE = (1.95, 3.44)
WORK_SCALE = 6  # the working copy for stroke widths: long side 6 × 20 = 120 px
INK_THRESHOLD = 0.2  # ink above this counts for the bounding box (faint noise and edges do not)
MIN_CONTRAST = 0.08  # ink darker than the paper by less than this is no ink
MAX_RADIUS = 3.0  # largest change of the stroke's half-width, in pixels of the 28×28 result
MAX_SIDE = 1024  # loaded images are reduced to this before anything else (speed; detail beyond is lost anyway)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DigitImageError(HmobError, ValueError):
    """An image that cannot become a digit: unreadable, or without any ink."""


class EmptyDigitError(DigitImageError):
    """The picture holds no ink (a blank canvas, a uniform image)."""


# --------------------------------------------------------------------------- reading files


def read_gray_image(path: str | Path) -> np.ndarray:
    """A digit image file as grey levels in [0, 1] (H×W float32); any size, format, polarity.

    Colour becomes luminance. A transparent background counts as paper: where
    an image has real transparency, its opacity is the ink (ink on a
    transparent layer, whatever its colour), returned as light-on-dark.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # Pillow warns about huge images; above its limit it refuses (handled below). Either way the
            # user gets our message, not a warning on the terminal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            im.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced size directly
            im.load()
            if max(im.size) > MAX_SIDE:
                im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
                alpha = rgba[..., 3]
                if alpha.min() < 0.9:  # real transparency: the opaque strokes are the ink
                    return alpha
            gray = im.convert("F") if im.mode in ("I", "I;16", "F") else im.convert("L")
            arr = np.asarray(gray, dtype=np.float32)
    except FileNotFoundError:
        raise DigitImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DigitImageError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise DigitImageError(f"{path}: not an image Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP…), "
                              "or the file is damaged") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DigitImageError(f"{path}: the image is far too large to be a digit") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise DigitImageError(f"{path}: the image is damaged or truncated ({exc})") from None
    if arr.size == 0:
        raise DigitImageError(f"{path}: the image is empty")
    if arr.max() > 1.0:  # 8- or 16-bit grey levels
        arr = arr / (255.0 if arr.max() <= 255.0 else 65535.0)
    return np.clip(arr, 0.0, 1.0)


def load_digit_file(path: str | Path, stroke_width=MNIST_STROKE_RANGE) -> np.ndarray:
    """Read an image file and preprocess it (polarity from the border): (1, 28, 28) float32."""
    try:
        return preprocess_digit(read_gray_image(path), None, stroke_width=stroke_width)
    except EmptyDigitError as exc:
        raise EmptyDigitError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- the steps


def _border(a: np.ndarray) -> np.ndarray:
    k = max(1, min(a.shape) // 50)
    return np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])


def ink_map(gray: np.ndarray, ink_is_dark: bool | None = None) -> np.ndarray:
    """Grey levels (H×W, uint8 0…255 or float 0…1) → ink in [0, 1], paper 0 (step 1)."""
    g = np.asarray(gray)
    if g.ndim == 3 and g.shape[0] == 1:
        g = g[0]
    if g.ndim != 2:
        raise DigitImageError(f"a digit image must be one grey plane (H×W), not shaped {g.shape}")
    if g.size == 0:
        raise EmptyDigitError("the image is empty")
    if g.dtype == np.uint8:
        g = g.astype(np.float32) * np.float32(1 / 255)
    else:
        g = g.astype(np.float32, copy=False)
        if not np.isfinite(g).all():
            raise DigitImageError("the image holds NaN or infinite values")
    if ink_is_dark is None:
        ink_is_dark = bool(np.median(_border(g)) > 0.5)
    v = 1.0 - g if ink_is_dark else g
    paper = float(np.median(_border(v)))
    full = float(v.max())
    if full - paper < MIN_CONTRAST:
        raise EmptyDigitError("no ink found: the picture is blank (or nearly uniform)")
    ink = (v - paper) * (1.0 / (full - paper))
    return np.clip(ink, 0.0, 1.0, out=ink)


def ink_bbox(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), half-open, of the pixels with ink > threshold; None if there are none."""
    mask = ink > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _fit_size(h: int, w: int, side: int) -> tuple[int, int]:
    """(height, width) of an h×w image scaled so its long side is ``side``."""
    s = side / max(h, w)
    return max(1, int(round(h * s))), max(1, int(round(w * s)))


def resize(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased resize of a float image: box filter (area average) shrinking, bilinear growing."""
    if a.shape == (height, width):
        return a.astype(np.float32, copy=True)
    method = Image.Resampling.BOX if height <= a.shape[0] and width <= a.shape[1] else Image.Resampling.BILINEAR
    out = np.asarray(Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F").resize((width, height), method))
    return np.clip(out, 0.0, 1.0)


def estimate_stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: 2·Σink / Σ|∇ink| (ink w·L, two edges of length L)."""
    a = np.pad(ink.astype(np.float32, copy=False), 1)
    gx = a[1:-1, 1:] - a[1:-1, :-1]
    gy = a[1:, 1:-1] - a[:-1, 1:-1]
    gx = 0.5 * (gx[:, 1:] + gx[:, :-1])  # central differences on the pixel grid: isotropic enough
    gy = 0.5 * (gy[1:] + gy[:-1])
    edge = float(np.sqrt(gx * gx + gy * gy).sum())
    return 2.0 * float(a.sum()) / edge if edge > 0 else 0.0


def _step(a: np.ndarray, op, square: bool) -> np.ndarray:
    """One step of grey dilation (op=np.maximum) or erosion (np.minimum): a cross, or a 3×3 square."""
    out = a.copy()
    op(out[1:], a[:-1], out=out[1:])
    op(out[:-1], a[1:], out=out[:-1])
    if square:  # separable: the rows' result, then along columns
        a = out.copy()
    op(out[:, 1:], a[:, :-1], out=out[:, 1:])
    op(out[:, :-1], a[:, 1:], out=out[:, :-1])
    return out


def grey_morphology(ink: np.ndarray, radius: float) -> np.ndarray:
    """Dilate (radius > 0) or erode (radius < 0) by a near-disc (alternate cross and square steps).

    A fractional radius interpolates between the last two whole steps, so the
    width changes smoothly with the radius. The image must have a margin of
    at least ``ceil(|radius|)`` pixels of paper when dilating.
    """
    if radius == 0:
        return ink
    op = np.maximum if radius > 0 else np.minimum
    steps, frac = divmod(abs(radius), 1.0)
    a = ink
    for i in range(int(steps)):
        a = _step(a, op, square=i % 2 == 1)
    if frac > 1e-3:
        b = _step(a, op, square=int(steps) % 2 == 1)
        a = a + np.float32(frac) * (b - a)
    return a


def _target_width(width: float, stroke_width) -> float:
    if stroke_width is None:
        return width
    if np.ndim(stroke_width) == 0:
        return float(stroke_width)
    low, high = (float(v) for v in stroke_width)
    return min(max(width, low), high)


def _region(ink: np.ndarray, bbox, margin: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The bounding box plus ``margin`` pixels all round (zeros beyond the image), and the box inside it.

    The box sets the scale; the margin lets the faint edges of the ink just
    outside it (anti-aliasing, MNIST's own faint pixels) come along.
    """
    top, bottom, left, right = bbox
    h, w = ink.shape
    t, b, l, r = max(0, top - margin), min(h, bottom + margin), max(0, left - margin), min(w, right + margin)
    region = ink[t:b, l:r]
    pads = ((margin - (top - t), margin - (b - bottom)), (margin - (left - l), margin - (r - right)))
    if any(p for pair in pads for p in pair):
        region = np.pad(region, pads)
    return region, (margin, margin + bottom - top, margin, margin + right - left)


def working_copy(ink: np.ndarray, bbox, box: int = MNIST_BOX) -> tuple[np.ndarray, float]:
    """The ink resized so the box's long side is ``WORK_SCALE`` × ``box``, with room to grow; and
    the final pixels per working pixel."""
    top, bottom, left, right = bbox
    long = max(bottom - top, right - left)
    side = WORK_SCALE * box
    region, _ = _region(ink, bbox, int(np.ceil(long / box)))  # one final pixel of margin
    factor = side / long
    h, w = (max(1, round(n * factor)) for n in region.shape)
    return np.pad(resize(region, h, w), int(np.ceil(MAX_RADIUS * WORK_SCALE)) + 2), box / side


def normalize_stroke_width(ink: np.ndarray, bbox, stroke_width, box: int = MNIST_BOX):
    """Step 3: ``(image, bbox)`` with the mean stroke width brought to ``stroke_width`` (see the module docstring).

    Returns its arguments unchanged when nothing needs to change, else a
    working copy (the box's long side ``WORK_SCALE`` × ``box`` pixels) and the
    bounding box of its ink.
    """
    if stroke_width is None:
        return ink, bbox
    work, scale = working_copy(ink, bbox, box)
    changed = False
    for _ in range(2):  # the estimate is biased for faint, thin strokes: correct a second time
        width = estimate_stroke_width(work) * scale
        target = _target_width(width, stroke_width)
        if abs(target - width) < 0.05:
            break
        radius = float(np.clip((target - width) / 2, -MAX_RADIUS, MAX_RADIUS)) / scale
        work = grey_morphology(work, radius)
        peak = float(work.max())
        if peak <= INK_THRESHOLD:
            raise EmptyDigitError("the strokes vanished when thinned: draw with a finer brush")
        if peak < 1.0:  # a thin faint stroke, grown: its core becomes full ink, as in MNIST
            work = np.minimum(work * (1.0 / peak), 1.0)
        changed = True
    if not changed:
        return ink, bbox
    new_bbox = ink_bbox(work)
    if new_bbox is None:
        raise EmptyDigitError("the strokes vanished when thinned: draw with a finer brush")
    return work, new_bbox


def _centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    mass = float(a.sum())
    return (float(a.sum(axis=1) @ np.arange(a.shape[0], dtype=np.float64)) / mass,
            float(a.sum(axis=0) @ np.arange(a.shape[1], dtype=np.float64)) / mass)


def centre_in_field(patch: np.ndarray, size: int = MNIST_SIZE, centre=MNIST_CENTRE) -> np.ndarray:
    """Place an already scaled patch in a size×size field, centre of mass on ``centre``, whole pixels."""
    h, w = patch.shape
    com_r, com_c = _centre_of_mass(patch)
    top = int(np.clip(np.floor(centre[0] - com_r + 0.5), 0, size - h))
    left = int(np.clip(np.floor(centre[1] - com_c + 0.5), 0, size - w))
    field = np.zeros((size, size), dtype=np.float32)
    field[top : top + h, left : left + w] = patch
    return field


def _resample(source: np.ndarray, size: tuple[int, int], region: tuple[float, float, float, float],
              shrinking: bool) -> np.ndarray:
    """Pillow: the (left, top, right, bottom) region of ``source`` (continuous coordinates) to (width, height)."""
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    out = Image.fromarray(np.ascontiguousarray(source, dtype=np.float32), mode="F").resize(size, method, box=region)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def scale_into_field(ink: np.ndarray, bbox, box: int = MNIST_BOX, size: int = MNIST_SIZE,
                     centre=MNIST_CENTRE) -> np.ndarray:
    """Steps 4 and 5 in one resampling: the box's long side to ``box``, centre of mass on ``centre``, sub-pixel.

    The field's pixel grid is mapped onto the image (Pillow's ``resize`` with a
    fractional source box), so the centring costs no second resampling. The
    centre moves only if the bounding box would otherwise leave the field.
    """
    top, bottom, left, right = bbox
    s = box / max(bottom - top, right - left)  # field pixels per image pixel
    span = size / s  # image pixels across the field
    region, (t, b, l, r) = _region(ink, bbox, int(np.ceil(1 / s)))
    com_r, com_c = _centre_of_mass(region)
    # index coordinates: field u = (x − com)·s + centre; the box's edges (t − ½, b − ½) stay in [−½, size − ½]
    c_r = float(np.clip(centre[0], -0.5 + (com_r - t + 0.5) * s, size - 0.5 - (b - 0.5 - com_r) * s))
    c_c = float(np.clip(centre[1], -0.5 + (com_c - l + 0.5) * s, size - 0.5 - (r - 0.5 - com_c) * s))
    y0 = com_r + 0.5 - (c_r + 0.5) / s  # the field's top-left corner, in Pillow's continuous coordinates
    x0 = com_c + 0.5 - (c_c + 0.5) / s
    h, w = region.shape
    pt, pl = int(np.ceil(max(0.0, -y0))) + 1, int(np.ceil(max(0.0, -x0))) + 1
    pb, pr = int(np.ceil(max(0.0, y0 + span - h))) + 1, int(np.ceil(max(0.0, x0 + span - w))) + 1
    source = np.pad(region, ((pt, pb), (pl, pr)))
    return _resample(source, (size, size), (x0 + pl, y0 + pt, x0 + pl + span, y0 + pt + span), s < 1)


def place_whole_pixels(ink: np.ndarray, bbox, box: int = MNIST_BOX, size: int = MNIST_SIZE,
                       centre=MNIST_CENTRE) -> np.ndarray:
    """Steps 4 and 5 as MNIST: scale the box to fit ``box``, then shift by whole pixels to centre it."""
    top, bottom, left, right = bbox
    ph, pw = _fit_size(bottom - top, right - left, box)
    my, mx = (bottom - top) / ph, (right - left) / pw  # image pixels per patch pixel
    margin = int(np.ceil(max(my, mx))) + 1
    region, (t, b, l, r) = _region(ink, bbox, margin)
    # the patch, with one pixel of margin all round for the faint ink just outside the box
    patch = _resample(region, (pw + 2, ph + 2), (l - mx, t - my, r + mx, b + my), my > 1 or mx > 1)
    return centre_in_field(patch, size + 2, (centre[0] + 1, centre[1] + 1))[1:-1, 1:-1]


def preprocess_digit(gray_image: np.ndarray, ink_is_dark: bool | None = None, *,
                     stroke_width=MNIST_STROKE_RANGE, whole_pixel_shift: bool = False,
                     box: int = MNIST_BOX, size: int = MNIST_SIZE) -> np.ndarray:
    """Any grey picture of one digit → the tree's input, (1, size, size) float32 in [0, 1], ink 1.

    ``gray_image``: H×W grey levels (uint8 0…255 or float 0…1), any size.
    ``ink_is_dark``: True for dark ink on light paper, False for light on dark,
    None to read it from the border. ``stroke_width``: see the module docstring
    (default: keep the writer's width unless MNIST has almost none like it).
    ``whole_pixel_shift``: centre by whole pixels after scaling (MNIST-exact:
    a 10× enlarged test digit comes back identical) instead of sub-pixel (the
    default: the input changes smoothly while a drawing grows, no 1-px jumps).
    Raises :class:`EmptyDigitError` when there is no ink.
    """
    ink = ink_map(gray_image, ink_is_dark)
    bbox = ink_bbox(ink)
    if bbox is None:
        raise EmptyDigitError("no ink found: the picture is blank (or nearly uniform)")
    ink, bbox = normalize_stroke_width(ink, bbox, stroke_width, box)
    centre = (MNIST_CENTRE[0] * size / MNIST_SIZE, MNIST_CENTRE[1] * size / MNIST_SIZE)
    place = place_whole_pixels if whole_pixel_shift else scale_into_field
    return place(ink, bbox, box, size, centre)[None]


def measure_mnist_stroke_widths(images: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """The stroke width of each MNIST digit (N×28×28 uint8) as step 3 measures it (to calibrate the targets)."""
    widths = np.empty(len(images))
    for i, img in enumerate(images):
        ink = ink_map(img, ink_is_dark=False)
        work, scale = working_copy(ink, ink_bbox(ink), box)
        widths[i] = estimate_stroke_width(work) * scale
    return widths
