"""MNIST-style preprocessing, the gallery sample and the tree's batch answers (numpy, no Qt).

Tolerances, stated once:
* centre of mass within 0.25 px of (14, 14) (MNIST's own: within 0.5), the ink's
  long side 20 px (21 counted in whole pixels when the sub-pixel centring
  straddles a pixel boundary; ≥ 19 px of it at least half ink);
* one shape drawn big, small, in a corner, thin or thick: mean |difference| per
  pixel ≤ 0.04 and correlation ≥ 0.93 with the big centred one (the hardest: small
  with a thick brush, where loops partly fill);
* a real test digit, enlarged 10× and preprocessed again: whole-pixel mode gives it
  back exactly (max |difference| < 0.02) for ≥ 95 % of digits and within a 1-px
  shift for the rest; the default sub-pixel mode within mean |difference| ≤ 0.06
  (half a pixel of re-centring). The tree's answer: unchanged for all digits in
  whole-pixel mode; in sub-pixel mode unchanged for ≥ 92 % (a half-pixel shift tips
  borderline digits: 4 % for the shipped-style trees) with accuracy within 1.5 points.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hmob_gui.core import preprocess as P
from hmob_gui.core.gallery import Gallery, load_gallery, load_sample, load_test_set, make_sample
from hmob_gui.core.predict import tree_answers

SHAPES = {  # polylines in unit coordinates
    "two": [(0.2, 0.25), (0.35, 0.08), (0.6, 0.05), (0.78, 0.2), (0.75, 0.42), (0.2, 0.95), (0.85, 0.95)],
    "seven": [(0.15, 0.1), (0.85, 0.1), (0.45, 0.95)],
    "zero": [(0.5 + 0.3 * np.cos(t), 0.5 + 0.45 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)],
}


def draw(shape, x0, y0, size, width, canvas=280, dark=False, supersample=4):
    """A shape drawn with a round brush, anti-aliased; light ink on black unless ``dark``."""
    ss = supersample
    im = Image.new("L", (canvas * ss, canvas * ss), 0)
    d = ImageDraw.Draw(im)
    pts = [((x0 + size * x) * ss, (y0 + size * y) * ss) for x, y in SHAPES[shape]]
    d.line(pts, fill=255, width=max(1, int(width * ss)), joint="curve")
    r = width * ss / 2
    for x, y in pts:
        d.ellipse([x - r, y - r, x + r, y + r], fill=255)
    a = np.asarray(im.resize((canvas, canvas), Image.Resampling.BOX))
    return 255 - a if dark else a


def centre_of_mass(x):
    x = np.asarray(x).reshape(28, 28)
    rows, cols = np.mgrid[0:28, 0:28]
    return float((x * rows).sum() / x.sum()), float((x * cols).sum() / x.sum())


def long_side(x, threshold=0.0):
    mask = np.asarray(x).reshape(28, 28) > threshold
    r, c = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return max(r[-1] - r[0] + 1, c[-1] - c[0] + 1)


def similar(a, b) -> tuple[float, float]:
    a, b = np.ravel(a), np.ravel(b)
    return float(np.abs(a - b).mean()), float(np.corrcoef(a, b)[0, 1])


# --------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_drawing_is_scaled_to_20_px_and_centred(shape):
    x = P.preprocess_digit(draw(shape, 150, 20, 110, 9), ink_is_dark=False, stroke_width=P.MNIST_STROKE_WIDTH)
    assert x.shape == (1, 28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    r, c = centre_of_mass(x)
    assert abs(r - 14) <= 0.25 and abs(c - 14) <= 0.25
    assert long_side(x) in (20, 21)
    assert long_side(x, 0.5) >= 19


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_small_thin_thick_or_off_centre_give_the_same_character(shape):
    ref = P.preprocess_digit(draw(shape, 40, 40, 200, 12), False, stroke_width=P.MNIST_STROKE_WIDTH)
    variants = {"thin": (40, 40, 200, 3), "thick": (40, 40, 200, 30), "small in a corner": (5, 200, 70, 6),
                "small, thick brush": (200, 10, 70, 14)}
    for name, (x0, y0, size, width) in variants.items():
        x = P.preprocess_digit(draw(shape, x0, y0, size, width), False, stroke_width=P.MNIST_STROKE_WIDTH)
        mad, corr = similar(x, ref)
        assert mad <= 0.04 and corr >= 0.93, (name, mad, corr)


def test_stroke_width_is_brought_to_the_target():
    for width in (2, 6, 25):
        x = P.preprocess_digit(draw("two", 40, 40, 200, width), False, stroke_width=P.MNIST_STROKE_WIDTH)
        assert abs(P.estimate_stroke_width(x[0]) - P.MNIST_STROKE_WIDTH) < 0.4, width
    # a range leaves widths inside it alone
    ink = P.ink_map(draw("two", 40, 40, 200, 18), False)
    bbox = P.ink_bbox(ink)
    assert P.normalize_stroke_width(ink, bbox, (0.5, 10.0)) == (ink, bbox)


def test_polarity_is_read_from_the_border():
    light = P.preprocess_digit(draw("seven", 30, 30, 200, 14))
    dark = P.preprocess_digit(draw("seven", 30, 30, 200, 14, dark=True))
    np.testing.assert_allclose(light, dark, atol=1e-5)
    # a faded scan: grey ink on grey paper, stretched to full contrast
    faded = (120 + 0.3 * (255 - draw("seven", 30, 30, 200, 14, dark=True))).astype(np.uint8)
    assert similar(P.preprocess_digit(faded), light)[0] < 0.01


def test_blank_or_bad_pictures_are_refused_with_a_reason():
    with pytest.raises(P.EmptyDigitError, match="no ink"):
        P.preprocess_digit(np.zeros((280, 280), np.uint8), False)
    with pytest.raises(P.EmptyDigitError, match="no ink"):
        P.preprocess_digit(np.full((50, 60), 200, np.uint8))
    with pytest.raises(P.DigitImageError, match="grey plane"):
        P.preprocess_digit(np.zeros((4, 5, 3)))
    with pytest.raises(P.DigitImageError, match="NaN"):
        P.preprocess_digit(np.full((10, 10), np.nan))


def test_files_any_format_size_and_polarity(tmp_path):
    ref = P.preprocess_digit(draw("two", 40, 40, 200, 12), False)
    Image.fromarray(draw("two", 40, 40, 200, 12, dark=True)).resize((1400, 1400)).save(tmp_path / "big.jpg", quality=90)
    Image.fromarray(draw("two", 40, 40, 200, 12)).convert("RGB").save(tmp_path / "light-on-dark.png")
    ink = draw("two", 40, 40, 200, 12)
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = ink  # black strokes on a transparent layer
    Image.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    for name in ("big.jpg", "light-on-dark.png", "transparent.png"):
        x = P.load_digit_file(tmp_path / name)
        assert similar(x, ref)[0] < 0.03, name


def test_corrupt_or_missing_files_raise_digit_image_errors(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(P.DigitImageError, match="broken.png"):
        P.read_gray_image(bad)
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(P.DigitImageError, match="not an image"):
        P.read_gray_image(text)
    truncated = tmp_path / "cut.png"
    Image.fromarray(draw("two", 40, 40, 200, 12)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(P.DigitImageError, match="cut.png"):
        P.read_gray_image(truncated)
    with pytest.raises(P.DigitImageError, match="no such file"):
        P.read_gray_image(tmp_path / "missing.png")


def test_preprocessing_is_fast():
    images = [draw("two", 40, 40, 200, w) for w in (3, 12, 30)]
    for img in images:  # warm up
        P.preprocess_digit(img, False, stroke_width=P.MNIST_STROKE_WIDTH)
    best = min(_timed(P.preprocess_digit, img, False, stroke_width=P.MNIST_STROKE_WIDTH)
               for img in images for _ in range(5))
    assert best < 0.02  # 10× the 2 ms target: a loose bound for a shared CI machine (the benchmark measures)


def _timed(f, *args, **kw):
    import time

    t = time.perf_counter()
    f(*args, **kw)
    return time.perf_counter() - t


# --------------------------------------------------------------------------- real MNIST


@pytest.mark.realdata
def test_real_test_digits_survive_being_preprocessed_again(mnist):
    digits = mnist.test.images[:200]
    exact, shifted, mads = 0, 0, []
    for img in digits:
        big = np.kron(img, np.ones((10, 10), np.uint8))  # enlarged 10×, as if scanned
        ref = img.astype(np.float32) / 255
        whole = P.preprocess_digit(big, stroke_width=None, whole_pixel_shift=True)[0]
        if np.abs(whole - ref).max() < 0.02:
            exact += 1
        else:
            best = min(np.abs(np.roll(whole, (dr, dc), (0, 1)) - ref).max()
                       for dr in (-1, 0, 1) for dc in (-1, 0, 1))
            shifted += best < 0.02
        mads.append(similar(P.preprocess_digit(big), ref)[0])
    assert exact >= 0.95 * len(digits)
    assert exact + shifted == len(digits)
    assert max(mads) <= 0.06 and np.median(mads) <= 0.035


@pytest.mark.realdata
def test_real_digits_preprocessed_again_keep_the_trees_answer(mnist):
    import torch

    from hmob_gui.core.snapshot import make_tree_snapshot
    from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

    torch.manual_seed(0)
    x, y = mnist.train.tensors()
    model = SoftDecisionTree(TreeConfig(depth=4))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):  # a few seconds of learning (~85 % accuracy): answers that mean something
        for i in range(0, 30_000, 100):
            loss = model.loss(x[i : i + 100], torch.nn.functional.one_hot(y[i : i + 100], 10).float())[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
    snap = make_tree_snapshot(model, dtype=np.float32)
    digits, labels = mnist.test.images[:300], mnist.test.labels[:300]
    bigs = [np.kron(img, np.ones((10, 10), np.uint8)) for img in digits]
    before = tree_answers(snap, digits.astype(np.float32)[:, None] / 255).bigot_classes
    whole = np.stack([P.preprocess_digit(b, stroke_width=None, whole_pixel_shift=True) for b in bigs])
    np.testing.assert_array_equal(tree_answers(snap, whole).bigot_classes, before)
    after = tree_answers(snap, np.stack([P.preprocess_digit(b) for b in bigs])).bigot_classes
    assert (after == before).mean() >= 0.92
    assert (before == labels).mean() > 0.8
    assert (after == labels).mean() >= (before == labels).mean() - 0.015


@pytest.mark.realdata
def test_mnist_stroke_width_constants_match_the_data(mnist):
    widths = P.measure_mnist_stroke_widths(mnist.test.images)  # ~2 s
    assert abs(np.median(widths) - P.MNIST_STROKE_WIDTH) < 0.1
    assert abs(np.percentile(widths, 10) - P.MNIST_STROKE_RANGE[0]) < 0.1
    assert abs(np.percentile(widths, 90) - P.MNIST_STROKE_RANGE[1]) < 0.15


# --------------------------------------------------------------------------- gallery and batch answers


def test_shipped_sample_is_credited_small_and_plain_arrays():
    from hmob_gui.core.gallery import sample_path

    path = sample_path()
    assert path.stat().st_size < 300_000
    readme = (path.parent / "README.md").read_text()
    assert "LeCun" in readme and "CC BY-SA 3.0" in readme
    g = load_sample()
    assert g.source == "sample" and len(g) == 300
    assert g.images.shape == (300, 28, 28) and g.images.dtype == np.uint8
    assert np.bincount(g.labels, minlength=10).tolist() == [30] * 10
    assert len(set(g.indices.tolist())) == 300 and g.indices.max() < 10_000


@pytest.mark.realdata
def test_sample_is_what_write_sample_makes_from_the_test_set(mnist_dir):
    full = load_test_set(mnist_dir)
    assert full.source == "test set" and len(full) == 10_000
    made = make_sample(full.images, full.labels)
    g = load_sample()
    np.testing.assert_array_equal(made["images"], g.images)
    np.testing.assert_array_equal(full.images[g.indices], g.images)
    np.testing.assert_array_equal(full.labels[g.indices], g.labels)
    assert load_gallery(mnist_dir).source == "test set"


def test_gallery_falls_back_to_the_sample_without_data(tmp_path):
    g = load_gallery(tmp_path / "nothing-here")
    assert g.source == "sample" and len(g) == 300
    assert g.input(0).shape == (1, 28, 28) and g.inputs([0, 1]).shape == (2, 1, 28, 28)


def test_batch_answers_match_explain_one_by_one():
    import torch

    from hmob_gui.core.explain import explain
    from hmob_gui.core.snapshot import make_tree_snapshot
    from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

    g = load_sample()
    for depth in (3, 6):
        torch.manual_seed(depth)
        model = SoftDecisionTree(TreeConfig(depth=depth))
        with torch.no_grad():
            model.weight.mul_(20)  # confident splits, so bigot and mixture answers differ between inputs
        snap = make_tree_snapshot(model, dtype=np.float32)
        answers = tree_answers(snap, g.inputs())
        with np.errstate(over="ignore"):
            one_by_one = [explain(snap, x) for x in g.inputs()]
        np.testing.assert_array_equal(answers.bigot_classes, [e.bigot_class for e in one_by_one])
        np.testing.assert_array_equal(answers.mixture_classes, [e.mixture_class for e in one_by_one])
        assert isinstance(g, Gallery)
