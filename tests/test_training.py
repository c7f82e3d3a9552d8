"""The shared trainer on real digits: it learns, reports, obeys pause/stop, and survives NaN."""
import math
import threading

import numpy as np
import pytest
import torch

from hmob_gui.core.jobs import TeacherJob, TreeJob, run_job
from hmob_gui.core.teacher import TeacherCNN, TeacherPredictor
from hmob_gui.core.training import (BatchProgress, Preparing, EpochFinished, SnapshotTaken, StateChanged, TrainConfig,
                                    Trainer, TrainingControl, TrainingFinished, TreeTask)
from hmob_gui.core.augment import random_shift, shift_images
from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

pytestmark = pytest.mark.realdata


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


def test_short_tree_training_on_real_digits_learns_and_reports(mnist_small):
    rec = Recorder()
    job = TreeJob(tree=TreeConfig(depth=4), train=TrainConfig(epochs=10, batch_size=32, lr=0.01, snapshot_every=1000), targets="hard")
    outcome = run_job(job, rec, data=mnist_small)
    assert outcome.result.status == "completed"
    # 5,000 real training digits, 10 epochs: a depth-4 tree must beat 78% on 2,000 real test digits
    # (it reaches about 81%; chance is 10%, the full-data model 88%).
    assert outcome.result.test_metrics["accuracy"] > 0.78
    assert outcome.result.history[-1]["val_accuracy"] > 0.78
    snaps = rec.of(SnapshotTaken)
    assert [s.snapshot.kind for s in snaps[:2]] == ["initial", "samples"]
    # One snapshot per 1,000 samples, taken at the first batch boundary past each multiple.
    seen = [s.snapshot.samples_seen for s in snaps[1:]]
    assert len(seen) == 50 and all(k * 1000 <= s < k * 1000 + 32 for k, s in enumerate(seen, 1))
    epochs = rec.of(EpochFinished)
    assert [e.epoch for e in epochs] == list(range(1, 11)) and all(e.snapshot.kind == "epoch" for e in epochs)
    assert epochs[-1].metrics["train_accuracy"] > epochs[0].metrics["train_accuracy"] - 0.02
    first, last = snaps[0].snapshot, epochs[-1].snapshot
    assert np.abs(first.filters.astype(np.float32) - last.filters.astype(np.float32)).max() > 0.01
    progress = rec.of(BatchProgress)
    assert progress and progress[-1].samples_seen == 50_000 and progress[-1].samples_per_second > 0
    assert isinstance(rec.events[-1], TrainingFinished)


def test_training_is_reproducible_under_a_seed(mnist_small):
    data = mnist_small.subset(n_train=1500, n_val=200, n_test=200)
    job = TreeJob(tree=TreeConfig(depth=3, learn_beta=True), train=TrainConfig(epochs=2, seed=5, augment_shift=1), targets="hard")
    a, b = run_job(job, data=data), run_job(job, data=data)
    for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(pa, pb), name
    c = run_job(TreeJob(tree=job.tree, train=TrainConfig(epochs=2, seed=6, augment_shift=1), targets="hard"), data=data)
    assert not torch.equal(a.model.weight, c.model.weight)


def test_pause_resume_and_stop_from_another_thread(mnist_small):
    control = TrainingControl()
    rec = Recorder()
    paused_at = {}
    resumed = threading.Event()

    def listener(event):
        rec(event)
        if isinstance(event, BatchProgress) and "samples" not in paused_at:
            paused_at["samples"] = event.samples_seen
            threading.Thread(target=pauser).start()
        if isinstance(event, StateChanged) and event.state == "paused":
            paused_at["progress_when_paused"] = len(rec.of(BatchProgress))
            threading.Timer(0.3, control.resume).start()
        if isinstance(event, StateChanged) and event.state == "running":
            resumed.set()
            control.stop()

    def pauser():
        control.pause()

    model = SoftDecisionTree(TreeConfig(depth=6))
    trainer = Trainer(TreeTask(model), mnist_small, TrainConfig(epochs=50, batch_size=8), listener, control)
    trainer.progress_interval = 0.0
    result = trainer.run()
    assert resumed.is_set()
    states = [e.state for e in rec.of(StateChanged)]
    assert states == ["paused", "running"]
    assert result.status == "stopped" and isinstance(rec.events[-1], TrainingFinished)
    assert rec.events[-1].status == "stopped"
    # While paused no batch ran: the progress count did not move between pause and resume.
    idx_paused = next(i for i, e in enumerate(rec.events) if isinstance(e, StateChanged) and e.state == "paused")
    idx_running = next(i for i, e in enumerate(rec.events) if isinstance(e, StateChanged) and e.state == "running")
    assert not any(isinstance(e, BatchProgress) for e in rec.events[idx_paused:idx_running])
    assert len(result.history) < 50


class NaNAfter(TreeTask):
    """A tree task whose loss turns NaN after a number of batches (as a diverging run would)."""

    def __init__(self, model, after):
        super().__init__(model)
        self.after, self.calls = after, 0

    def batch_loss(self, x, target, labels):
        self.calls += 1
        loss, correct = super().batch_loss(x, target, labels)
        return (loss * math.nan if self.calls > self.after else loss), correct


def test_nan_loss_stops_with_a_clear_error_and_keeps_last_good_weights(mnist_small):
    data = mnist_small.subset(n_train=2000, n_val=200, n_test=200)
    torch.manual_seed(0)
    model = SoftDecisionTree(TreeConfig(depth=3))
    rec = Recorder()
    trainer = Trainer(NaNAfter(model, after=20), data, TrainConfig(epochs=3, batch_size=50, snapshot_every=500), rec)
    result = trainer.run()
    assert result.status == "failed" and "NaN" in result.message or "nan" in result.message
    assert "last good weights" in result.message
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert trainer.last_snapshot is not None and np.isfinite(trainer.last_snapshot.filters.astype(np.float32)).all()
    assert trainer.last_snapshot.samples_seen == 1000  # the last snapshot before batch 21
    assert rec.events[-1].status == "failed"


def test_diverging_weights_are_rolled_back(mnist_small):
    """Weights (not the loss) turn infinite: the trainer restores the last good state."""
    data = mnist_small.subset(n_train=2000, n_val=200, n_test=200)
    model = SoftDecisionTree(TreeConfig(depth=3))

    class Poison(TreeTask):
        calls = 0

        def batch_loss(self, x, target, labels):
            Poison.calls += 1
            if Poison.calls == 15:
                with torch.no_grad():
                    model.weight[0, 0] = math.inf
            return super().batch_loss(x, target, labels)

    result = Trainer(Poison(model), data, TrainConfig(epochs=2, batch_size=50, snapshot_every=200)).run()
    assert result.status == "failed"
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_teacher_learns_and_distillation_targets_are_soft(mnist_small, tmp_path):
    data = mnist_small.subset(n_train=3000, n_val=500, n_test=1000)
    outcome = run_job(TeacherJob(train=TrainConfig(epochs=1, batch_size=64)), data=data)
    assert outcome.result.test_metrics["accuracy"] > 0.75  # one epoch on 3,000 real digits
    teacher = outcome.model
    x, y = data.train.tensors()
    soft = TreeTask(SoftDecisionTree(TreeConfig(depth=2)), teacher, temperature=2.0).targets(x[:100], y[:100])
    torch.testing.assert_close(soft.sum(1), torch.ones(100))
    assert (soft.max(1).values < 1.0).all() and (soft.argmax(1) == y[:100]).float().mean() > 0.8
    sharper = TreeTask(SoftDecisionTree(TreeConfig(depth=2)), teacher, temperature=0.5).targets(x[:100], y[:100])
    assert sharper.max(1).values.mean() > soft.max(1).values.mean()
    predictor = TeacherPredictor(teacher)
    probs = predictor.predict_proba(x[0].numpy())
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    distilled = run_job(TreeJob(tree=TreeConfig(depth=3), train=TrainConfig(epochs=1)), data=data, teacher=teacher)
    assert distilled.result.status == "completed" and distilled.job.training_info()["targets"] == "distilled"

    # With shift augmentation, each shifted digit's target is the teacher's answer for that shift.
    from hmob_gui.core.augment import teacher_targets_per_shift
    from hmob_gui.core.teacher import soft_targets

    table = teacher_targets_per_shift(teacher, x[:60], 1, temperature=2.0, cache_dir=tmp_path)
    assert table.shape == (9, 60, 10) and table.dtype == torch.float16
    for shift_id in (0, 4, 8):
        expected = soft_targets(teacher, shift_images(x[:60], shift_id, 1), temperature=2.0)
        torch.testing.assert_close(table[shift_id].float(), expected, atol=2e-3, rtol=0)
    assert len(list(tmp_path.iterdir())) == 1  # one cache file
    again = teacher_targets_per_shift(teacher, x[:60], 1, temperature=2.0, cache_dir=tmp_path)  # from the cache
    assert torch.equal(again, table)
    rec = Recorder()
    shifted = Trainer(TreeTask(SoftDecisionTree(TreeConfig(depth=2)), teacher), data.subset(n_train=500),
                      TrainConfig(epochs=1, augment_shift=1), rec).run()
    assert shifted.status == "completed" and rec.of(Preparing)[-1].done == 9


def test_random_shift_moves_content_and_fills_with_zeros():
    x = torch.zeros(50, 1, 6, 6)
    x[:, 0, 2, 3] = 1.0
    out, ids = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out.sum((1, 2, 3)), torch.ones(50))
    positions = {tuple(torch.nonzero(o[0])[0].tolist()) for o in out}
    assert len(positions) > 5 and all(0 <= r <= 4 and 1 <= c <= 5 for r, c in positions)
    # Each shift id names the translation that shift_images reproduces (used to look up teacher targets).
    assert ids.min() >= 0 and ids.max() < 25
    for i in range(50):
        assert torch.equal(out[i], shift_images(x[i : i + 1], int(ids[i]), 2)[0])


def test_bad_training_settings_are_refused(mnist_small):
    from hmob_gui.core.errors import ConfigError

    for kwargs in ({"epochs": 0}, {"batch_size": 0}, {"lr": -1.0}, {"lr": float("nan")}, {"snapshot_every": -5},
                   {"lr_schedule": "warp"}, {"augment_shift": 20}):
        with pytest.raises(ConfigError):
            TrainConfig(**kwargs)
    with pytest.raises(ConfigError, match="targets"):
        TreeJob(targets="soft")
    with pytest.raises(ConfigError, match="teacher"):
        run_job(TreeJob(teacher_path=None), data=mnist_small)


def test_a_huge_learning_rate_is_reported_as_divergence(mnist_small):
    """lr 1e6 keeps the loss finite for a while but sends the weights off: stopped, last good weights kept."""
    data = mnist_small.subset(n_train=2000, n_val=200, n_test=200)
    model = SoftDecisionTree(TreeConfig(depth=3))
    trainer = Trainer(TreeTask(model), data, TrainConfig(epochs=3, lr=1e6, snapshot_every=200))
    result = trainer.run()
    assert result.status == "failed" and "diverged" in result.message and "last good weights" in result.message
    assert all(p.abs().max() <= trainer.divergence_limit for p in model.parameters())
    assert np.isfinite(trainer.last_snapshot.filters.astype(np.float32)).all()


def test_seed_and_infinities_are_refused():
    from hmob_gui.core.errors import ConfigError

    for kwargs in ({"seed": 2**63}, {"seed": -1}, {"weight_decay": float("inf")}):
        with pytest.raises(ConfigError):
            TrainConfig(**kwargs)
    with pytest.raises(ConfigError, match="temperature"):
        TreeJob(temperature=float("inf"))


def test_a_stop_while_the_teacher_labels_ends_the_run_at_once(mnist_small):
    """Labelling goes in chunks that obey stop: a closed window must not wait half a minute."""
    from hmob_gui.core.jobs import load_teacher
    from hmob_gui.core.paths import SHIPPED_TEACHER, shipped_checkpoint

    control = TrainingControl()
    rec = Recorder()

    def listen(event):
        rec(event)
        if isinstance(event, Preparing) and event.done == 0:
            control.stop()

    task = TreeTask(SoftDecisionTree(TreeConfig(depth=2)), load_teacher(shipped_checkpoint(SHIPPED_TEACHER)))
    result = Trainer(task, mnist_small, TrainConfig(epochs=1, snapshot_every=0), listen, control).run()
    assert result.status == "stopped" and result.history == []
    assert [e.done for e in rec.of(Preparing)] == [0, 2048]  # 5,000 digits are three chunks: one was labelled
    assert [type(e).__name__ for e in rec.events[-2:]] == ["TrainingStarted", "TrainingFinished"]
