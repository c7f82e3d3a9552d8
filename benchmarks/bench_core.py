"""Speed of the core on this machine: tree epochs, explain latency, teacher epoch.

Prints each figure, its target, the ratio to a baseline measured in the same
run (a straightforward implementation, see baseline_tree.py), and the ratio to
the arithmetic floor (the forward + backward matmul FLOPs at the float32
matmul rate measured here).

    python benchmarks/bench_core.py            # real MNIST via HMOB_DATA, else random data
    python benchmarks/bench_core.py --quick    # fewer repetitions
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app and CLI set it, before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline_tree import BaselineTree  # noqa: E402

from hmob_gui.core.data import DataSplits, Split, load_dataset  # noqa: E402
from hmob_gui.core.datasets import MNIST  # noqa: E402
from hmob_gui.core.explain import explain  # noqa: E402
from hmob_gui.core.snapshot import make_tree_snapshot  # noqa: E402
from hmob_gui.core.teacher import TeacherCNN  # noqa: E402
from hmob_gui.core.training import TeacherTask, TrainConfig, Trainer, TreeTask  # noqa: E402
from hmob_gui.core.tree import SoftDecisionTree, TreeConfig  # noqa: E402

TARGETS = {(8, 128): 2.5, (4, 128): 1.0, (4, 4): 25.0}


def get_data() -> tuple[DataSplits, str]:
    try:
        return load_dataset("mnist", os.environ.get("HMOB_DATA"), download=False), "real MNIST"
    except Exception:
        rng = np.random.default_rng(0)
        split = lambda n: Split(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n))
        return DataSplits(MNIST, split(50_000), split(10_000), split(10_000)), "random data (MNIST not found)"


def matmul_rate(m: int, k: int, n: int, repeat: int = 50) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * m * k * n * repeat / (time.perf_counter() - t)


def tree_flops_per_epoch(depth: int, n: int, features: int = 784, classes: int = 10) -> float:
    inner, leaves = 2**depth - 1, 2**depth
    forward = 2 * n * features * inner + 2 * n * classes * leaves
    backward = 2 * n * features * inner + 2 * 2 * n * classes * leaves  # dW, and d(logQ), d(path)
    return forward + backward


def our_epoch(data: DataSplits, depth: int, batch: int) -> float:
    """Seconds of training (no validation) in the 2nd epoch of the app's own Trainer."""
    torch.manual_seed(0)
    model = SoftDecisionTree(TreeConfig(depth=depth))
    epochs = 2
    sub = data if batch >= 32 else data
    result = Trainer(TreeTask(model), sub.subset(n_val=1000, n_test=0), TrainConfig(epochs=epochs, batch_size=batch, lr=0.01)).run()
    return result.history[-1]["train_seconds"]


def baseline_epoch(data: DataSplits, depth: int, batch: int, max_samples: int) -> tuple[float, int]:
    """Seconds per 50,000 samples of the straightforward implementation (extrapolated from max_samples).

    It runs with the same number of CPU threads as our trainer picks for that tree, so the
    comparison is of the code, not of the threading.
    """
    threads = TreeTask(SoftDecisionTree(TreeConfig(depth=depth))).cpu_threads(batch) or torch.get_num_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _baseline_epoch(data, depth, batch, max_samples)
    finally:
        torch.set_num_threads(previous)


def _baseline_epoch(data: DataSplits, depth: int, batch: int, max_samples: int) -> tuple[float, int]:
    torch.manual_seed(0)
    model = BaselineTree(depth)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = data.train.tensors()
    target = torch.nn.functional.one_hot(y, 10).float()
    n = min(max_samples, len(y))
    perm = torch.randperm(len(y))
    for i in range(0, min(20 * batch, n), batch):  # warm-up
        idx = perm[i : i + batch]
        loss = model.loss(x[idx], target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = time.perf_counter()
    for i in range(0, n, batch):
        idx = perm[i : i + batch]
        loss = model.loss(x[idx], target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t) * len(y) / n, n


def explain_latency(data: DataSplits, depth: int = 8, repeat: int = 2000) -> float:
    torch.manual_seed(0)
    snap = make_tree_snapshot(SoftDecisionTree(TreeConfig(depth=depth)), dtype=np.float32)
    x, _ = data.test.tensors()
    inputs = [x[i].numpy() for i in range(min(repeat, len(x)))]
    for v in inputs[:50]:
        explain(snap, v)
    times = []
    for v in inputs:
        t = time.perf_counter()
        explain(snap, v)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def teacher_epoch(data: DataSplits, samples: int) -> float:
    torch.manual_seed(0)
    sub = data.subset(n_train=samples, n_val=0, n_test=0)
    result = Trainer(TeacherTask(TeacherCNN()), sub, TrainConfig(epochs=1, batch_size=128, augment_shift=2, snapshot_every=0)).run()
    return result.history[-1]["train_seconds"] * len(data.train) / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter baseline runs")
    parser.add_argument("--teacher-samples", type=int, default=6400, help="teacher samples timed (extrapolated to 50,000)")
    args = parser.parse_args()
    data, source = get_data()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; data: {source}; "
          f"trees train on {TreeTask(SoftDecisionTree(TreeConfig(depth=8))).cpu_threads(128) or 'all'} thread(s), "
          f"as the app picks")
    peak = matmul_rate(1024, 1024, 1024, 20)
    ours_shape = matmul_rate(128, 784, 255, 400)
    print(f"float32 matmul rate: {peak / 1e9:.1f} GFLOP/s (1024³), {ours_shape / 1e9:.1f} GFLOP/s (128×784 @ 784×255)")
    print()
    print(f"{'tree':<18}{'ours s/epoch':>13}{'samples/s':>11}{'target':>9}{'':>6}{'baseline s':>12}{'speed-up':>10}{'floor s':>9}{'×floor':>8}")
    for (depth, batch), target in TARGETS.items():
        ours = our_epoch(data, depth, batch)
        budget = 50_000 if batch >= 128 else (2_000 if args.quick else 5_000)
        if depth == 8 and args.quick:
            budget = 10_000
        base, measured = baseline_epoch(data, depth, batch, budget)
        floor = tree_flops_per_epoch(depth, len(data.train)) / peak
        note = "" if measured >= len(data.train) else f"  (baseline timed on {measured:,} samples)"
        print(f"depth {depth}, batch {batch:<4}{ours:>11.2f}{len(data.train) / ours:>11,.0f}{target:>9.1f}"
              f"{'PASS' if ours <= target else 'FAIL':>6}{base:>12.2f}{base / ours:>9.1f}×{floor:>9.3f}{ours / floor:>7.0f}×{note}")
    lat = explain_latency(data)
    print()
    print(f"explain(x), depth 8: {lat * 1e3:.3f} ms median (target ≤ 2 ms: {'PASS' if lat <= 2e-3 else 'FAIL'})")
    t_epoch = teacher_epoch(data, args.teacher_samples)
    print(f"teacher CNN epoch (batch 128, shift augmentation): {t_epoch:.1f} s "
          f"(extrapolated from {args.teacher_samples:,} samples; {len(data.train) / t_epoch:,.0f} samples/s)")


if __name__ == "__main__":
    main()
