"""Export (offscreen): GIFs read back with Pillow, MP4, PNG, SVG; captions, changed filters, cancel, bad paths."""
from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from PIL import Image

from hmob_gui.core.errors import ExportError
from hmob_gui.core.inputs import ExplainedInput
from hmob_gui.gui import export
from hmob_gui.gui.animation_writers import GifPalette, mp4_available, pack_rgb

SMALL = (480, 240)  # small frames keep the tests quick; the size itself is tested


def make_history(depth=3, epochs=4, per_epoch=2, seed=0, frozen_nodes=()):
    """A history without data: every step changes the filters (except ``frozen_nodes``) and the leaves."""
    import torch

    from hmob_gui.core.snapshot import make_tree_snapshot
    from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

    torch.manual_seed(seed)
    tree = SoftDecisionTree(TreeConfig(depth=depth))
    rng = np.random.default_rng(seed)
    shots = [make_tree_snapshot(tree, kind="initial", total_epochs=epochs)]
    samples, step = 0, 500
    for epoch in range(1, epochs + 1):
        for k in range(per_epoch + 1):
            with torch.no_grad():
                delta = torch.from_numpy(rng.normal(0, 0.5, tuple(tree.weight.shape)).astype(np.float32))
                for node in frozen_nodes:
                    delta[node] = 0
                tree.weight += delta
                for p in tree.parameters():
                    if p is not tree.weight and p.dtype.is_floating_point and p.ndim == 2:
                        p += torch.from_numpy(rng.normal(0, 0.5, tuple(p.shape)).astype(np.float32))
            samples += step
            kind = "epoch" if k == per_epoch else "samples"
            shots.append(make_tree_snapshot(tree, kind=kind, epoch=epoch if kind == "epoch" else epoch - 1,
                                            samples_seen=samples, total_epochs=epochs))
    return shots


@pytest.fixture(scope="module")
def history():
    return make_history()


@pytest.fixture(scope="module")
def digit():
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 6:22, 12:16] = 1.0  # a "1"
    return ExplainedInput(x=x, description="a drawn one", short="one")


def save_run_file(folder, depth):
    """A run file of a small history (4 epochs, 2 sample snapshots each) in ``folder``."""
    from hmob_gui.core.runfile import SavedRun, save_run

    return save_run(folder / "run.hmobrun", SavedRun(snapshots=make_history(depth=depth, epochs=4, per_epoch=2)))


def gif_frames(path):
    """Every frame of a GIF as RGB arrays, and each frame's duration (ms)."""
    frames, durations = [], []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info.get("duration"))
            frames.append(np.asarray(im.convert("RGB")))
        return frames, durations, im.size


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------------------------- GIF


def test_epoch_gif_frames_size_duration_and_captions(history, tmp_path):
    out = tmp_path / "epochs.gif"
    result = export.export_history(history, out, export.AnimationOptions(kind="epochs", fps=4, size=SMALL))
    frames, durations, size = gif_frames(out)
    epochs = [s for s in history if s.kind != "samples"]
    assert len(frames) == result.frames == len(epochs) == 5  # the initial tree and one frame per epoch
    assert size == SMALL and all(f.shape == (SMALL[1], SMALL[0], 3) for f in frames)
    assert durations == [250] * len(frames)
    assert result.nbytes == out.stat().st_size > 0 and "kB" in result.summary()
    caption = (slice(0, 30), slice(0, 200))  # top-left, where "epochs passed: n / 4" is written
    assert not np.array_equal(frames[0][caption], frames[-1][caption])
    assert export.frame_caption(epochs[2], "epochs") == "epochs passed: 2 / 4"
    assert leftovers(tmp_path) == ["epochs.gif"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's private 0600


def test_sample_gif_has_every_snapshot_and_a_frame_range(history, tmp_path):
    out = tmp_path / "samples.gif"
    export.export_history(history, out, export.AnimationOptions(kind="samples", fps=10, size=SMALL))
    frames, durations, _ = gif_frames(out)
    assert len(frames) == len(history) and durations == [100] * len(history)
    assert export.frame_caption(history[3], "samples") == f"samples passed: {history[3].samples_seen:,}"
    part = tmp_path / "part.gif"
    export.export_history(history, part, export.AnimationOptions(kind="samples", size=SMALL,
                                                                 frames=export.parse_frame_range("2:9:3")))
    assert gif_frames(part)[0].__len__() == len(range(2, 9, 3))


def test_gif_frames_match_the_renderer_and_the_window_drawing(history, tmp_path):
    """What is exported is what is seen: GIF frames ≈ the renderer's, which = render_tree_image's pixels."""
    from hmob_gui.gui.tree_view import render_tree_image

    out = tmp_path / "e.gif"
    export.export_history(history, out, export.AnimationOptions(size=SMALL))
    frames, _, _ = gif_frames(out)
    renderer = export.FrameRenderer(SMALL)
    snap = [s for s in history if s.kind != "samples"][3]
    caption = export.frame_caption(snap, "epochs")
    ours = export.rgb_array(renderer.render(snap, caption=caption))
    window = export.rgb_array(render_tree_image(snap, size=SMALL, caption=caption))
    assert np.array_equal(ours, window)
    error = np.abs(frames[3].astype(int) - ours.astype(int))
    assert error.mean() < 2.0 and np.percentile(error.max(-1), 99) < 24  # 255 colours, no visible change
    white = (ours == 255).all(-1)
    assert (frames[3][white] == 255).all()  # the paper stays exactly white
    for i, snap in enumerate(s for s in history if s.kind != "samples"):  # every frame, as composited by a reader
        drawn = export.rgb_array(renderer.render(snap, caption=export.frame_caption(snap, "epochs")))
        assert np.abs(frames[i].astype(int) - drawn.astype(int)).mean() < 2.0, f"frame {i}"


def test_consecutive_epoch_frames_differ_where_the_filters_changed(tmp_path):
    frozen = (3,)
    shots = [s for s in make_history(frozen_nodes=frozen, per_epoch=0) if s.kind != "samples"]
    renderer = export.FrameRenderer(SMALL)
    a, b = (export.rgb_array(renderer.render(s, caption="")) for s in shots[1:3])
    scale = renderer.scene_target().width() / renderer.scene.sceneRect().width()
    origin = renderer.scene_target().topLeft()
    layout = renderer.scene.layout

    def node_box(node):
        size = float(layout.node_size[node]) * scale
        x = origin.x() + (float(layout.node_x[node]) - float(layout.node_size[node]) / 2) * scale
        y = origin.y() + float(layout.node_y[node]) * scale
        return slice(int(y) + 2, int(y + size) - 2), slice(int(x) + 2, int(x + size) - 2)

    assert not np.array_equal(a[node_box(0)], b[node_box(0)])  # its filter changed
    assert np.array_equal(a[node_box(frozen[0])], b[node_box(frozen[0])])  # this one did not
    out = tmp_path / "e.gif"
    export.export_history(shots, out, export.AnimationOptions(size=SMALL))
    frames, _, _ = gif_frames(out)
    assert not np.array_equal(frames[1][node_box(0)], frames[2][node_box(0)])


def test_input_path_is_followed_on_every_frame(history, digit, tmp_path):
    plain, with_path = tmp_path / "plain.gif", tmp_path / "path.gif"
    export.export_history(history, plain, export.AnimationOptions(size=SMALL))
    export.export_history(history, with_path, export.AnimationOptions(size=SMALL, input=digit))
    a, _, _ = gif_frames(plain)
    b, _, _ = gif_frames(with_path)
    assert len(a) == len(b)
    orange = np.array([255, 140, 0])
    assert all(not (f == orange).all(-1).any() for f in a)  # no path without an input
    assert all((f == orange).all(-1).sum() > 50 for f in b)  # the max-probability path, every frame
    corr = tmp_path / "corr.gif"
    export.export_history(history, corr, export.AnimationOptions(size=SMALL, input=digit, mode="correlation"))
    assert len(gif_frames(corr)[0]) == len(a)


def test_identical_frames_still_count(history, tmp_path):
    snap = history[0]
    out = tmp_path / "same.gif"
    export.export_history([snap, snap, snap], out, export.AnimationOptions(kind="samples", fps=2, size=SMALL))
    frames, durations, _ = gif_frames(out)
    assert len(frames) == 3 and durations == [500] * 3


def test_palette_keeps_reserved_colours_exact():
    frame = pack_rgb(np.random.default_rng(0).integers(0, 256, (5000, 3))).reshape(50, 100)
    reserved = [(255, 255, 255), (255, 140, 0), (31, 119, 180)]
    palette = GifPalette.from_frames([frame], reserved)
    assert len(palette.colors) <= 256
    idx = palette.indices(pack_rgb(reserved))
    assert [tuple(palette.colors[i]) for i in idx] == reserved


# ---------------------------------------------------------------------------------------------- MP4


@pytest.mark.skipif(not mp4_available(), reason="imageio-ffmpeg (the mp4 extra) is not installed")
def test_mp4_has_every_frame_at_an_even_size(history, tmp_path):
    import imageio.v2 as iio

    out = tmp_path / "epochs.mp4"
    result = export.export_history(history, out, export.AnimationOptions(fps=5, size=(481, 241)))
    assert result.size == (482, 242)  # H.264 wants even sides
    reader = iio.get_reader(out, "ffmpeg")
    try:
        assert reader.count_frames() == 5 and tuple(reader.get_meta_data()["size"]) == (482, 242)
    finally:
        reader.close()
    assert leftovers(tmp_path) == ["epochs.mp4"]


def test_mp4_without_ffmpeg_says_what_to_install(history, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "mp4_available", lambda: False)
    with pytest.raises(ExportError, match=r"pip install -e '\.\[mp4\]'"):
        export.export_history(history, tmp_path / "a.mp4")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------- inference


def test_inference_png_svg_and_two_frame_gif(history, digit, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    snap = history[-1]
    png = export.export_inference(snap, digit, tmp_path / "tree.png", size=SMALL)
    assert png.answer and Image.open(tmp_path / "tree.png").size == SMALL
    export.export_inference(snap, digit, tmp_path / "tree.svg", size=SMALL)
    text = (tmp_path / "tree.svg").read_text()
    assert text.startswith("<?xml") and "a drawn one" in text and text.count("<image") >= snap.n_inner
    renderer = QSvgRenderer(str(tmp_path / "tree.svg"))
    assert renderer.isValid()
    image = QImage(*SMALL, QImage.Format_RGB32)
    image.fill(Qt.white)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    from_svg = export.rgb_array(image).astype(int)
    from_png = np.asarray(Image.open(tmp_path / "tree.png").convert("RGB")).astype(int)
    assert np.abs(from_svg - from_png).mean() < 3.0  # each node shows its own filter, not the whole atlas

    gif = export.export_inference(snap, digit, tmp_path / "infer.gif", size=SMALL, fps=0.5)
    frames, durations, size = gif_frames(tmp_path / "infer.gif")
    assert gif.frames == len(frames) == 2 and durations == [2000, 2000] and size == SMALL
    assert not np.array_equal(frames[0][:30, :400], frames[1][:30, :400])  # "filters" vs "x ⊙ w" caption
    assert not np.array_equal(frames[0][40:-70], frames[1][40:-70])  # weights, then correlation maps
    assert sorted(leftovers(tmp_path)) == ["infer.gif", "tree.png", "tree.svg"]


def test_inference_refuses_a_wrong_input_shape(history, tmp_path):
    bad = ExplainedInput(x=np.zeros((1, 14, 14), np.float32), description="small", short="small")
    with pytest.raises(ExportError, match="the tree expects"):
        export.export_inference(history[-1], bad, tmp_path / "t.png")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------- safety


def test_cancel_after_some_frames_leaves_no_file(history, tmp_path):
    seen = []

    def cancelled():
        return len(seen) >= 3

    with pytest.raises(export.ExportCancelled):
        export.export_history(history, tmp_path / "s.gif", export.AnimationOptions(kind="samples", size=SMALL),
                              progress=lambda done, total: seen.append(done), cancelled=cancelled)
    assert seen == [1, 2, 3]
    assert leftovers(tmp_path) == []  # neither the GIF nor its temporary file


def test_existing_file_survives_a_cancelled_export(history, tmp_path):
    out = tmp_path / "keep.gif"
    out.write_bytes(b"an older export")
    with pytest.raises(export.ExportCancelled):
        export.export_history(history, out, export.AnimationOptions(size=SMALL), cancelled=lambda: True)
    assert out.read_bytes() == b"an older export" and leftovers(tmp_path) == ["keep.gif"]


def test_unwritable_paths_are_refused_with_the_reason(history, tmp_path):
    # Tests run as root, for whom chmod-read-only folders are writable; so: a missing folder and a file as folder.
    with pytest.raises(ExportError, match="does not exist"):
        export.export_history(history, tmp_path / "missing" / "a.gif")
    (tmp_path / "plain").write_text("a file")
    with pytest.raises(ExportError, match="is not a folder"):
        export.export_history(history, tmp_path / "plain" / "a.gif")
    (tmp_path / "folder.gif").mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        export.export_history(history, tmp_path / "folder.gif")
    with pytest.raises(ExportError, match=r"\.gif or \.mp4"):
        export.export_history(history, tmp_path / "a.webm")
    with pytest.raises(ExportError, match=r"\.png, \.svg or \.gif"):
        export.export_inference(history[-1], None, tmp_path / "a.jpg")
    assert leftovers(tmp_path) == ["folder.gif", "plain"]


def test_full_disk_leaves_no_half_written_file(history, tmp_path, monkeypatch):
    class FullDisk:
        def __init__(self, path):
            self.f = open(path, "wb")
            self.written = 0

        def write(self, data):
            self.written += len(data)
            if self.written > 20_000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

        def flush(self):
            self.f.flush()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(export, "_open_output", FullDisk)
    with pytest.raises(ExportError, match="No space left on device"):
        export.export_history(history, tmp_path / "s.gif", export.AnimationOptions(kind="samples", size=SMALL))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("text, message", [("12", "WIDTHxHEIGHT"), ("10x10", "out of range"), ("axb", "WIDTHxHEIGHT")])
def test_bad_sizes(text, message):
    with pytest.raises(ExportError, match=message):
        export.parse_size(text)


def test_option_checks(history, tmp_path):
    assert export.parse_size("800X400") == (800, 400)
    assert export.parse_frame_range("3") == slice(3, 4) and export.parse_frame_range("") is None
    for bad in ("a:b", "1:2:0", "1:2:3:4"):
        with pytest.raises(ExportError):
            export.parse_frame_range(bad)
    for options, message in ((export.AnimationOptions(fps=0), "frame rate"),
                             (export.AnimationOptions(fps=60), "frame rate"),
                             (export.AnimationOptions(kind="batches"), "animation kind"),
                             (export.AnimationOptions(mode="correlation"), "need an input"),
                             (export.AnimationOptions(frames=slice(50, 60)), "selects none")):
        with pytest.raises(ExportError, match=message):
            export.export_history(history, tmp_path / "a.gif", options)
    with pytest.raises(ExportError, match="nothing to animate"):
        export.export_history([], tmp_path / "a.gif")
    assert leftovers(tmp_path) == []
