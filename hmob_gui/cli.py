"""``hmob``: train, evaluate and export from the command line, headless.

argparse (standard library) parses the flags and tqdm draws the progress bars;
every command ends with a one-screen summary, and every user error is one
line on stderr with exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from .core.errors import HmobError
from .core.wording import count


# --------------------------------------------------------------------------- progress


class TqdmListener:
    """Turns training events into a tqdm bar over samples and one line per epoch."""

    def __init__(self, quiet: bool = False, history=None):
        self.quiet = quiet
        self.bar = None
        self.preparing = None
        self.preparing_message = ""
        self.history = history  # a SnapshotHistory to keep snapshots in (for --save-run), or None

    def __call__(self, event) -> None:
        from tqdm import tqdm

        from .core import training as t

        if self.history is not None:
            if isinstance(event, t.SnapshotTaken):
                self.history.add(event.snapshot)
            elif isinstance(event, t.EpochFinished) and event.snapshot is not None:
                self.history.add(event.snapshot)
        from .core.restarts import StartChosen

        if isinstance(event, StartChosen):
            if self.preparing is not None:
                self.preparing.close()
                self.preparing = None
            tqdm.write(f"start: {event.choice.summary()}")
        elif isinstance(event, t.Preparing):
            if self.preparing is None:
                unit = {"samples": "img"}.get(event.unit, event.unit or "it")
                self.preparing = tqdm(total=event.total, desc=event.message, disable=self.quiet, dynamic_ncols=True,
                                      unit=unit, unit_scale=event.unit == "samples")
                self.preparing_message = event.message
            elif self.preparing_message != event.message:  # (a disabled bar has no .desc)
                self.preparing.set_description(event.message, refresh=False)
                self.preparing_message = event.message
            self.preparing.update(event.done - self.preparing.n)
            if event.done >= event.total:
                self.preparing.close()
                self.preparing = None
        elif isinstance(event, t.TrainingStarted):
            if self.preparing is not None:  # a preparation cut short (a stopped search for a start)
                self.preparing.close()
                self.preparing = None
            self.bar = tqdm(total=event.n_train * event.epochs, unit="img", unit_scale=True,
                            desc=f"{event.kind} on {event.device}", disable=self.quiet, dynamic_ncols=True)
        elif isinstance(event, t.BatchProgress) and self.bar is not None:
            self.bar.update(event.samples_seen - self.bar.n)
            self.bar.set_postfix_str(f"epoch {event.epoch}/{event.epochs} loss {event.loss:.4f}")
        elif isinstance(event, t.EpochFinished) and self.bar is not None:
            m = event.metrics
            self.bar.write(
                f"epoch {event.epoch:>3}/{event.epochs}: train loss {m['train_loss']:.4f}  "
                f"train acc {m['train_accuracy']:.2%}  val acc {m['val_accuracy']:.2%}  ({m['seconds']:.1f} s)"
            )
        elif isinstance(event, t.TrainingFinished) and self.bar is not None:
            self.bar.close()


def download_progress(quiet: bool = False):
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(name: str, done: int, total: int | None) -> None:
        if quiet:
            return
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = tqdm(total=total, unit="B", unit_scale=True, desc=name)
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    return report


# --------------------------------------------------------------------------- commands


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist or kmnist (default: mnist)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="folder holding the IDX files (default: $HMOB_DATA, else the per-user cache)")


def _train_args(p: argparse.ArgumentParser, epochs: int, lr: float, batch: int, shift: int) -> None:
    p.add_argument("--epochs", type=int, default=epochs, help=f"default {epochs}")
    p.add_argument("--batch-size", type=int, default=batch, help=f"default {batch}")
    p.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default {lr})")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--augment-shift", type=int, default=shift, metavar="PX",
                   help=f"random translation of up to PX pixels (default {shift})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snapshot-every", type=int, default=1000, metavar="N",
                   help="samples between snapshots (default 1000; 0: only at each epoch's end)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads for training (default 0: automatic; one for small trees)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _train_config(args):
    from .core.training import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_schedule=args.lr_schedule,
                       weight_decay=args.weight_decay, seed=args.seed, snapshot_every=args.snapshot_every,
                       augment_shift=args.augment_shift, device=args.device, threads=args.threads)


def _finish(outcome, out: str, quiet: bool) -> int:
    result = outcome.result
    if result.status == "failed":
        print(f"error: {result.message}", file=sys.stderr)
    path = outcome.save(out)
    summary = _format_metrics(outcome.result.test_metrics)
    print(f"{outcome.job.kind} {result.status} in {result.seconds:.0f} s; test {summary}")
    print(f"saved {path}")
    return 0 if result.status != "failed" else 1


def _format_metrics(metrics: dict) -> str:
    parts = []
    for key in ("accuracy", "mixture_accuracy", "loss"):
        if key in metrics:
            value = metrics[key]
            parts.append(f"{key.replace('_', ' ')} {value:.2%}" if "accuracy" in key else f"{key} {value:.4f}")
    return ", ".join(parts) or "not evaluated"


def _check_out(path: str) -> None:
    """Refuse an unwritable --out before hours of training, not after."""
    from .core.atomic import check_writable
    from .core.errors import CheckpointError

    check_writable(path, CheckpointError)


def cmd_train_teacher(args) -> int:
    from .core.jobs import TeacherJob, run_job

    _check_out(args.out)

    job = TeacherJob(train=_train_config(args), dataset=args.dataset, data_dir=args.data)
    outcome = run_job(job, TqdmListener(args.quiet), progress=download_progress(args.quiet))
    return _finish(outcome, args.out, args.quiet)


def cmd_train_tree(args) -> int:
    from .core.jobs import TreeJob, run_job
    from .core.tree import TreeConfig

    _check_out(args.out)

    tree = TreeConfig(depth=args.depth, beta=args.beta, learn_beta=args.learn_beta,
                      penalty_strength=args.penalty, penalty_decay=args.penalty_decay, ema_window=args.ema_window)
    job = TreeJob(tree=tree, train=_train_config(args), targets="distilled" if args.distill else "hard",
                  temperature=args.temperature, teacher_path=args.teacher, dataset=args.dataset, data_dir=args.data,
                  restarts=args.restarts, restart_epochs=args.restart_epochs)
    history = None
    if args.save_run:
        from .core.atomic import check_writable
        from .core.errors import CheckpointError
        from .core.history import SnapshotHistory

        check_writable(args.save_run, CheckpointError)  # refuse before training, not after
        history = SnapshotHistory()
    outcome = run_job(job, TqdmListener(args.quiet, history), progress=download_progress(args.quiet))
    code = _finish(outcome, args.out, args.quiet)
    if history is not None:
        from .core.runfile import SavedRun, save_run

        settings = {"tree": job.tree.to_dict(), "train": job.train.to_dict(), "targets": job.targets,
                    "temperature": job.temperature, "dataset": job.dataset, "data_dir": job.data_dir,
                    "restarts": job.restarts, "restart_epochs": job.restart_epochs}
        path = save_run(args.save_run, SavedRun(
            settings=settings, history=outcome.result.history, test_metrics=outcome.result.test_metrics,
            snapshots=list(history), checkpoint=outcome.checkpoint_payload()))
        print(f"saved run ({count(len(history), 'snapshot')}) {path}")
    return code


def cmd_eval(args) -> int:
    import torch

    from .core.checkpoint import load_checkpoint
    from .core.data import load_dataset
    from .core.training import TeacherTask, TreeTask

    ckpt = load_checkpoint(args.checkpoint)
    model = ckpt.build()
    data = load_dataset(args.dataset or ckpt.dataset.get("name", "mnist"), args.data,
                        progress=download_progress(False), test_only=args.split == "test")
    split = getattr(data, args.split)
    task = TreeTask(model) if ckpt.kind == "tree" else TeacherTask(model)
    x, y = split.tensors()
    with torch.no_grad():
        metrics = task.evaluate(x, y)
    print(f"{ckpt.path}: {ckpt.summary()}")
    print(f"{args.split} set ({len(split):,} images): {_format_metrics(metrics)}")
    last = ckpt.history[-1] if ckpt.history else {}
    if isinstance(last.get("epoch"), int) and isinstance(last.get("val_accuracy"), float):
        print(f"trained {count(last['epoch'], 'epoch')}; last validation accuracy {last['val_accuracy']:.2%}")
    return 0


def cmd_download(args) -> int:
    from .core.data import download_dataset

    folder = download_dataset(args.dataset, args.data, progress=download_progress(False))
    print(f"{args.dataset} ready in {folder}")
    return 0


def cmd_info(args) -> int:
    from .core.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    print(f"{ckpt.path}: {ckpt.summary()}")
    print(f"model:    {ckpt.model_config}")
    print(f"training: {ckpt.training} {ckpt.train_config}")
    print(f"metrics:  {ckpt.metrics}")
    print(f"created:  {ckpt.created}")
    ckpt.build()  # its settings shown, the weights are checked too (a broken model is an error, exit 2)
    return 0


# --------------------------------------------------------------------------- export


def _frame_progress(quiet: bool, desc: str):
    """A tqdm bar over the frames of an export, made when the first frame is done."""
    from tqdm import tqdm

    bar = None

    def report(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="frame", desc=desc, disable=quiet, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report


def _export_input(spec: str | None, snapshot, dataset: str, data_dir: str | None):
    if spec is None:
        return None
    from .core.inputs import resolve_input

    return resolve_input(spec, tuple(snapshot.input_shape), dataset, data_dir, snapshot.class_names,
                         progress=download_progress(False))


def _export_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, help="data set of the test digits (default: the one the tree learned)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="folder of its IDX files (default: the run's, else $HMOB_DATA, else the per-user cache)")


def _start_headless_qt() -> None:
    """Exports draw with Qt offscreen: no display is needed, and none is used (a user's choice wins)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def cmd_export_history(args) -> int:
    _start_headless_qt()
    from dataclasses import replace

    from .gui import export

    export.check_output(args.out, export.ANIMATION_SUFFIXES, "an animation")  # before any work
    options = export.AnimationOptions(kind=args.kind, fps=args.fps, size=export.parse_size(args.size),
                                      frames=export.parse_frame_range(args.frames), color_scale=args.color_scale)
    options.checked()
    if args.mode == "correlation" and args.input_path is None:
        raise export.ExportError("--mode correlation shows x ⊙ w of an input: give one with --input-path")
    run = export.load_history_file(args.run)
    frames = export.history_frames(run, options.kind, options.frames)
    dataset = args.dataset or str(run.settings.get("dataset") or "mnist")
    inp = _export_input(args.input_path, frames[0], dataset, args.data or run.settings.get("data_dir") or None)
    options = replace(options, input=inp, mode=args.mode)
    result = export.export_history(run, args.out, options,
                                   progress=_frame_progress(args.quiet, f"{args.kind} → {Path(args.out).name}"))
    print(f"wrote {result.summary()}")
    return 0


def cmd_export_inference(args) -> int:
    _start_headless_qt()
    from .gui import export

    export.check_output(args.out, export.PICTURE_SUFFIXES, "an inference")  # before any work
    size = export.parse_size(args.size)
    if args.out.lower().endswith(".gif"):
        export.gif_frame_ms(args.fps)
    tree = export.load_tree_file(args.tree)
    inp = _export_input(args.input, tree.snapshot, args.dataset or tree.dataset, args.data or tree.data_dir)
    result = export.export_inference(tree.snapshot, inp, args.out, size, fps=args.fps, color_scale=args.color_scale)
    print(f"{inp.description}: the tree says {result.answer}")
    print(f"wrote {result.summary()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="hmob", description="Distil a CNN into a soft decision tree and look inside it.")
    parser.add_argument("--version", action="version", version=f"hmob-gui {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train-teacher", help="train the CNN teacher")
    _data_args(p)
    _train_args(p, epochs=15, lr=1e-3, batch=128, shift=2)
    p.add_argument("--out", default="teacher.pt", help="checkpoint to write (default teacher.pt)")
    p.set_defaults(func=cmd_train_teacher)

    p = sub.add_parser("train-tree", help="train a soft decision tree (distilled or on hard labels)")
    _data_args(p)
    p.add_argument("--depth", type=int, default=4, help="1…10 (default 4)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--distill", dest="distill", action="store_true", default=True,
                   help="learn the teacher's soft targets (default)")
    g.add_argument("--hard", dest="distill", action="store_false", help="learn the true labels")
    p.add_argument("--teacher", default=None, metavar="CKPT",
                   help="teacher checkpoint for --distill (default: the shipped one)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the soft targets")
    p.add_argument("--beta", type=float, default=1.0, help="inverse temperature β of the inner nodes")
    p.add_argument("--learn-beta", action="store_true", help="learn β (starting from --beta)")
    p.add_argument("--lambda", dest="penalty", type=float, default=0.1, help="balanced-split penalty strength λ")
    p.add_argument("--penalty-decay", type=float, default=0.5, help="penalty factor per level of depth (paper: 0.5)")
    p.add_argument("--ema-window", type=float, default=1.0,
                   help="running-average window in batches at the root, doubled per level")
    _train_args(p, epochs=40, lr=0.01, batch=128, shift=0)
    p.add_argument("--restarts", type=int, default=1, metavar="N",
                   help="try N starts (seeds SEED…SEED+N−1) for --restart-epochs each and train the one with the "
                        "best validation accuracy (default 1: just SEED)")
    p.add_argument("--restart-epochs", type=int, default=2, metavar="K", help="epochs per tried start (default 2)")
    p.add_argument("--out", default="tree.pt", help="checkpoint to write (default tree.pt)")
    p.add_argument("--save-run", metavar="RUN", default=None,
                   help="also save the run (settings, metrics, every snapshot) to the file RUN (e.g. run.hmobrun), "
                        "for the app and export")
    p.set_defaults(func=cmd_train_tree)

    p = sub.add_parser("eval", help="accuracy of a checkpoint on real data")
    p.add_argument("checkpoint")
    p.add_argument("--dataset", default=None, help="default: the one it was trained on")
    p.add_argument("--data", metavar="DIR", default=None)
    p.add_argument("--split", choices=("test", "val", "train"), default="test")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("info", help="what a checkpoint holds")
    p.add_argument("checkpoint")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("download", help="fetch a data set into the per-user cache (or --data DIR)")
    _data_args(p)
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("export", help="save the learning as an animation, or one input's path as a picture (headless)")
    export_sub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    e = export_sub.add_parser(
        "history", help="animate a saved run: one frame per epoch, or every snapshot (GIF; MP4 with the mp4 extra)",
        description="Animate a saved run (.hmobrun, from the window's File ▸ Save run… or train-tree --save-run).")
    e.add_argument("run", metavar="RUN.hmobrun")
    e.add_argument("--out", required=True, metavar="FILE", help="anim.gif, or anim.mp4 (needs: pip install -e '.[mp4]')")
    e.add_argument("--kind", choices=("epochs", "samples"), default="epochs",
                   help="epochs: the initial tree and one frame per epoch (default); samples: every snapshot kept")
    e.add_argument("--fps", type=float, default=4.0, help="frames a second (default 4; at most 50)")
    e.add_argument("--size", default="1152x576", metavar="WxH", help="frame size in pixels (default 1152x576)")
    e.add_argument("--frames", default=None, metavar="A:B",
                   help="only frames A … B-1, counted from 0, Python-style (e.g. 0:40, 10:, ::2)")
    e.add_argument("--input-path", default=None, metavar="INPUT",
                   help="show this input's path on every frame: a test digit's index (e.g. 7) or an image file")
    e.add_argument("--mode", choices=("filters", "correlation"), default="filters",
                   help="node images: the filters, or x ⊙ w of the --input-path (default filters)")
    e.add_argument("--color-scale", choices=("filter", "tree"), default="filter",
                   help="one symmetric colour scale per filter (default) or one for the whole tree")
    _export_data_args(e)
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_export_history)
    e = export_sub.add_parser(
        "inference", help="one input's path through a tree: PNG, SVG, or a GIF of filters then correlation maps",
        description="Draw a tree (checkpoint .pt, or a run's final tree) with one input's path.")
    e.add_argument("tree", metavar="CHECKPOINT_OR_RUN")
    e.add_argument("--input", required=True, metavar="INPUT", help="a test digit's index (e.g. 7) or an image file")
    e.add_argument("--out", required=True, metavar="FILE", help="tree.png, tree.svg or infer.gif")
    e.add_argument("--size", default="1152x576", metavar="WxH", help="picture size in pixels (default 1152x576)")
    e.add_argument("--fps", type=float, default=0.5, help="GIF: frames a second (default 0.5: 2 s a frame)")
    e.add_argument("--color-scale", choices=("filter", "tree"), default="filter",
                   help="one symmetric colour scale per filter (default) or one for the whole tree")
    _export_data_args(e)
    e.set_defaults(func=cmd_export_inference)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Before torch loads OpenMP: idle threads sleep instead of spinning, which on a small,
    # shared machine keeps a training step from slowing down many-fold when another process runs.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "train-tree" and args.distill and args.teacher is None:
        from .core.paths import SHIPPED_TEACHER, shipped_checkpoint

        args.teacher = str(shipped_checkpoint(SHIPPED_TEACHER))
    try:
        return args.func(args)
    except HmobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `hmob info X | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
