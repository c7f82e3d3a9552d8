"""Export figures of issue 5: how long a GIF of the learning takes, and how big it is.

    python benchmarks/bench_export.py [--run RUN.hmobrun] [--data DIR] [--keep DIR]

1. A 40-frame 1152×576 depth-4 GIF, one frame per epoch.          Target ≤ 10 s.
2. A 250-frame 1152×576 depth-4 GIF, sample by sample.            Target ≤ 45 s.
3. (figures only) the 40 frames with one test digit's path on every frame, and
   as MP4 when imageio-ffmpeg is installed.

The snapshots are real: a saved run (``--run``, depth 4, ≥ 41 epoch and ≥ 250
snapshots), else a short real training made here (depth 4, distilled from the
shipped teacher when present, 40 epochs on 2,000 MNIST digits, a snapshot
every 320 samples: 291 snapshots, ~10–30 s), started from the shipped depth-4
tree when there is one. Timings cover the whole export: drawing every frame
offscreen, the palette, encoding and the atomic write. Not a test: prints figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def real_run(data_dir: str):
    """Depth-4 snapshots from a short real training (see the module docstring)."""
    import torch

    from hmob_gui.core.checkpoint import load_checkpoint
    from hmob_gui.core.data import load_dataset
    from hmob_gui.core.history import SnapshotHistory
    from hmob_gui.core.jobs import TreeJob, run_job
    from hmob_gui.core.paths import DEFAULT_TREE, SHIPPED_TEACHER, shipped_checkpoint
    from hmob_gui.core.runfile import SavedRun
    from hmob_gui.core.training import EpochFinished, SnapshotTaken, TrainConfig
    from hmob_gui.core.tree import TreeConfig

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    teacher, tree_ckpt = shipped_checkpoint(SHIPPED_TEACHER), shipped_checkpoint(DEFAULT_TREE)
    targets = "distilled" if teacher.is_file() else "hard"
    model = load_checkpoint(tree_ckpt, "tree").build() if tree_ckpt.is_file() else None
    if model is not None and model.config.depth != 4:
        model = None
    history = SnapshotHistory()

    def keep(event):
        if isinstance(event, SnapshotTaken):
            history.add(event.snapshot)
        elif isinstance(event, EpochFinished) and event.snapshot is not None:
            history.add(event.snapshot)

    job = TreeJob(tree=TreeConfig(depth=4), train=TrainConfig(epochs=40, lr=0.01, snapshot_every=320, device="cpu"),
                  targets=targets, teacher_path=str(teacher) if targets == "distilled" else None, data_dir=data_dir)
    data = load_dataset("mnist", data_dir).subset(n_train=2000, n_val=500, n_test=500)
    started = time.perf_counter()
    outcome = run_job(job, keep, data=data, model=model)
    print(f"trained depth 4 ({targets}{', from the shipped tree' if model is not None else ''}) for 40 epochs on "
          f"2,000 digits in {time.perf_counter() - started:.0f} s: {len(history)} snapshots, "
          f"test accuracy {outcome.result.test_metrics.get('accuracy', float('nan')):.1%}")
    return SavedRun(settings={"dataset": "mnist", "data_dir": data_dir}, snapshots=history.samples())


def timed(label: str, target: float | None, run, folder: Path, name: str, options) -> None:
    from hmob_gui.gui import export

    result = export.export_history(run, folder / name, options)
    verdict = "" if target is None else f"  target ≤ {target:.0f} s  {'PASS' if result.seconds <= target else 'FAIL'}"
    print(f"{label:<44}{result.frames:>4} frames {result.seconds:>6.2f} s ({1000 * result.seconds / result.frames:.0f} ms"
          f"/frame)  {export.format_bytes(result.nbytes):>9}{verdict}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None, help="a saved depth-4 run (default: train a short one here)")
    p.add_argument("--data", default=os.environ.get("HMOB_DATA", str(REPO.parent / "shared" / "data" / "mnist")))
    p.add_argument("--keep", default=None, metavar="DIR", help="keep the files written here (default: a temporary folder)")
    args = p.parse_args(argv)

    from hmob_gui.core.inputs import load_test_digit
    from hmob_gui.core.runfile import load_run
    from hmob_gui.gui import export
    from hmob_gui.gui.animation_writers import mp4_available

    run = load_run(args.run) if args.run else real_run(args.data)
    epochs = export.history_frames(run, "epochs")
    samples = export.history_frames(run, "samples")
    depth = epochs[0].depth
    print(f"depth {depth}: {len(epochs)} epoch frames, {len(samples)} snapshots in all; {os.cpu_count()} CPUs")
    if len(epochs) < 41 or len(samples) < 250:
        print("warning: the run is too short for the targets' frame counts; timing what there is")
    export.ensure_application()
    export.FrameRenderer().render(epochs[0])  # Qt's fonts and caches warm, as in a running app
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        timed("1. epoch by epoch, 1152×576 GIF", 10.0, run, folder, "epochs.gif",
              export.AnimationOptions(kind="epochs", frames=slice(1, 41)))
        timed("2. sample by sample, 1152×576 GIF", 45.0, run, folder, "samples.gif",
              export.AnimationOptions(kind="samples", fps=10, frames=slice(0, 250)))
        try:
            digit = load_test_digit(0, "mnist", args.data)
        except Exception as exc:  # no data: skip the figure, say why
            print(f"3. (skipped: no test digit — {exc})")
        else:
            timed("3. epochs with test digit #0's path, GIF", None, run, folder, "epochs-path.gif",
                  export.AnimationOptions(kind="epochs", frames=slice(1, 41), input=digit))
            if mp4_available():
                timed("   the same as MP4 (H.264)", None, run, folder, "epochs-path.mp4",
                      export.AnimationOptions(kind="epochs", frames=slice(1, 41), input=digit))
            else:
                print("   MP4: imageio-ffmpeg not installed (pip install -e '.[mp4]')")
        if args.keep:
            print(f"files kept in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
