"""``hmob export``: headless (no display, no QT_QPA_PLATFORM set), progress, one-line errors with status 2."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from hmob_gui.cli import main

from .test_export import gif_frames, leftovers, save_run_file


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    return save_run_file(tmp_path_factory.mktemp("runs"), depth=3)


@pytest.fixture
def digit_png(tmp_path_factory):
    """A hand-drawn-looking "7": dark ink on white paper, 200×200."""
    pixels = np.full((200, 200), 255, np.uint8)
    pixels[40:55, 50:150] = 0
    for i in range(110):
        x = 145 - i // 2
        pixels[55 + i, x - 7:x + 7] = 0
    path = tmp_path_factory.mktemp("digits") / "seven.png"
    Image.fromarray(pixels).save(path)
    return path


def headless(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run([sys.executable, "-m", "hmob_gui.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def test_history_gif_without_a_display(run_file, tmp_path):
    out = tmp_path / "epochs.gif"
    result = headless("export", "history", str(run_file), "--out", str(out), "--size", "480x240", "--fps", "5")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 5 frames, 480×240" in result.stdout and "kB" in result.stdout
    assert "frame" in result.stderr  # the tqdm bar
    frames, durations, size = gif_frames(out)
    assert len(frames) == 5 and durations == [200] * 5 and size == (480, 240)
    assert leftovers(tmp_path) == ["epochs.gif"]


def test_inference_png_svg_gif_from_a_checkpoint_and_an_image(gui_checkpoints, digit_png, tmp_path):
    result = headless("export", "inference", str(gui_checkpoints["tree"]), "--input", str(digit_png),
                      "--out", str(tmp_path / "tree.svg"), "--size", "640x320")
    assert result.returncode == 0, result.stderr
    assert "seven.png: the tree says" in result.stdout and (tmp_path / "tree.svg").read_text().startswith("<?xml")
    for name in ("tree.png", "infer.gif"):
        assert main(["export", "inference", str(gui_checkpoints["tree"]), "--input", str(digit_png),
                     "--out", str(tmp_path / name), "--size", "640x320"]) == 0
    assert Image.open(tmp_path / "tree.png").size == (640, 320)
    frames, durations, _ = gif_frames(tmp_path / "infer.gif")
    assert len(frames) == 2 and durations == [2000, 2000]
    assert leftovers(tmp_path) == ["infer.gif", "tree.png", "tree.svg"]


def test_frame_range_samples_and_input_path(run_file, digit_png, tmp_path, capsys):
    out = tmp_path / "samples.gif"
    assert main(["export", "history", str(run_file), "--kind", "samples", "--frames", "1:8:2", "--quiet",
                 "--input-path", str(digit_png), "--size", "480x240", "--out", str(out)]) == 0
    assert "4 frames" in capsys.readouterr().out
    assert len(gif_frames(out)[0]) == 4


@pytest.mark.realdata
def test_inference_of_a_test_digit(run_file, mnist_dir, tmp_path, capsys):
    out = tmp_path / "tree.png"
    assert main(["export", "inference", str(run_file), "--input", "0", "--data", str(mnist_dir),
                 "--out", str(out), "--size", "480x240"]) == 0
    assert "test digit #0 (label 7): the tree says" in capsys.readouterr().out
    assert out.is_file()


@pytest.mark.parametrize("args, message", [
    (["history", "{run}", "--out", "{tmp}/missing/a.gif"], "folder {tmp}/missing does not exist"),
    (["history", "{run}", "--out", "{run}/a.gif"], "is not a folder"),
    (["history", "{run}", "--out", "{tmp}/a.webm"], "can be written as .gif or .mp4"),
    (["history", "{ckpt}", "--out", "{tmp}/a.gif"], "a history is kept in a run file"),
    (["history", "{run}", "--out", "{tmp}/a.gif", "--frames", "x"], "frame range must look like"),
    (["history", "{run}", "--out", "{tmp}/a.gif", "--frames", "50:60"], "selects none"),
    (["history", "{run}", "--out", "{tmp}/a.gif", "--size", "10x10"], "out of range"),
    (["history", "{run}", "--out", "{tmp}/a.gif", "--fps", "0"], "frame rate"),
    (["history", "{run}", "--out", "{tmp}/a.gif", "--mode", "correlation"], "give one with --input-path"),
    (["history", "{run}", "--out", "{tmp}/a.gif", "--input-path", "{tmp}/none.png"], "no such image file"),
    (["inference", "{ckpt}", "--input", "{tmp}/none.png", "--out", "{tmp}/a.png"], "no such image file"),
    (["inference", "{tmp}/nothing.pt", "--input", "3", "--out", "{tmp}/a.png"], "no such file"),
    (["inference", "{ckpt}", "--input", "3", "--out", "{tmp}/a.jpg"], ".png, .svg or .gif"),
])
def test_errors_are_one_line_with_status_2(args, message, run_file, gui_checkpoints, tmp_path, capsys):
    fill = {"run": str(run_file), "ckpt": str(gui_checkpoints["tree"]), "tmp": str(tmp_path)}
    code = main(["export", *(a.format(**fill) for a in args)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert message.format(**fill) in err
    assert leftovers(tmp_path) == []
