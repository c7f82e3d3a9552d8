"""Several starts, one long run: the candidates are real, the best by validation wins, the run continues it."""
import math
from dataclasses import replace

import pytest
import torch

from hmob_gui.core.checkpoint import load_checkpoint
from hmob_gui.core.errors import ConfigError
from hmob_gui.core.jobs import TreeJob, load_teacher, run_job
from hmob_gui.core.paths import SHIPPED_TEACHER, shipped_checkpoint
from hmob_gui.core import restarts as restarts_module
from hmob_gui.core.restarts import StartChosen
from hmob_gui.core.training import (BatchProgress, Preparing, TrainConfig, TrainingControl, TrainingFinished,
                                    TrainingResult, TrainingStarted)
from hmob_gui.core.tree import TreeConfig

pytestmark = pytest.mark.realdata


class Recorder:
    def __init__(self, on_event=None):
        self.events = []
        self.on_event = on_event

    def __call__(self, event):
        self.events.append(event)
        if self.on_event:
            self.on_event(event)

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


@pytest.fixture(scope="module")
def digits(mnist_small):
    return mnist_small.subset(n_train=1500, n_val=400, n_test=400)


def _job(**kw):
    train = TrainConfig(epochs=2, batch_size=32, lr=0.01, seed=4, snapshot_every=0, threads=1)
    return TreeJob(**{"tree": TreeConfig(depth=3, penalty_strength=0.01), "train": train, "targets": "hard",
                      "restarts": 3, "restart_epochs": 1, **kw})


def test_the_best_candidate_by_validation_is_chosen_and_continued(digits):
    rec = Recorder()
    job = _job()
    outcome = run_job(job, rec, data=digits)
    start = outcome.start
    assert outcome.result.status == "completed" and start is not None
    assert start.seeds == (4, 5, 6) and start.epochs == 1
    assert all(0.2 < v < 1 for v in start.val_accuracy)  # each candidate learned something real
    assert start.chosen_seed == start.seeds[max(range(3), key=lambda i: start.val_accuracy[i])]
    # the candidates never look like the real run: one start, one finish, all else is "preparing"
    assert len(rec.of(TrainingStarted)) == 1 and len(rec.of(TrainingFinished)) == 1
    searching = [e for e in rec.of(Preparing) if e.unit == "samples"]
    assert searching[-1].done == searching[-1].total == 3 * 1500
    assert [e.done for e in searching] == sorted(e.done for e in searching)
    first_batch = rec.events.index(rec.of(BatchProgress)[0])
    assert first_batch > rec.events.index(searching[-1])

    # The score is the chosen candidate's own: the same seed trained alone for one epoch scores the same …
    alone_job = replace(job, restarts=1, train=replace(job.train, seed=start.chosen_seed, epochs=1,
                                                       lr_schedule="constant"))
    alone = run_job(alone_job, data=digits)
    assert alone.result.history[-1]["val_accuracy"] == start.val_accuracy[start.seeds.index(start.chosen_seed)]
    # … and the long run continued from it: from that model, the plain run ends with the same weights.
    continued = run_job(replace(job, restarts=1), data=digits, model=alone.model)
    for name, value in outcome.model.state_dict().items():
        assert torch.equal(value, continued.model.state_dict()[name]), name


def test_distilled_starts_share_one_labelling_and_the_choice_is_saved(digits, tmp_path):
    rec = Recorder()
    teacher = load_teacher(shipped_checkpoint(SHIPPED_TEACHER))
    outcome = run_job(_job(targets="distilled"), rec, data=digits, teacher=teacher)
    assert outcome.result.status == "completed"
    labelling = [e for e in rec.of(Preparing) if "teacher labels" in e.message]
    assert [e.done for e in labelling if e.done == 0] == [0]  # once, not once per candidate
    assert labelling[-1].done == labelling[-1].total == 1500
    assert rec.events.index(labelling[-1]) < rec.events.index(rec.of(StartChosen)[0])
    path = outcome.save(tmp_path / "tree.pt")
    saved = load_checkpoint(path).training
    assert saved["restarts"] == 3 and saved["restart_epochs"] == 1
    assert saved["start"]["chosen_seed"] == outcome.start.chosen_seed
    assert saved["start"]["val_accuracy"] == list(outcome.start.val_accuracy)


def test_a_stop_during_the_search_ends_the_run_cleanly(digits):
    control = TrainingControl()

    def stop_soon(event):
        if isinstance(event, Preparing) and event.unit == "samples" and event.done > 0:
            control.stop()

    rec = Recorder(stop_soon)
    outcome = run_job(_job(), rec, control=control, data=digits)
    assert outcome.result.status == "stopped" and outcome.result.history == []
    assert math.isnan(outcome.start.val_accuracy[-1])  # the later candidates never ran
    assert isinstance(rec.events[-1], TrainingFinished) and rec.events[-1].status == "stopped"


def test_a_failed_start_never_wins_and_the_choice_is_announced_before_the_run(digits, monkeypatch):
    real_trainer = restarts_module.Trainer
    calls = []

    class FirstFails(real_trainer):
        def run(self):
            calls.append(self.config.seed)
            if len(calls) == 1:  # as a diverged candidate ends: failed, no history
                return TrainingResult("failed", message="the loss became nan")
            return super().run()

    monkeypatch.setattr(restarts_module, "Trainer", FirstFails)
    rec = Recorder()
    outcome = run_job(_job(), rec, data=digits)
    start = outcome.start
    assert math.isnan(start.val_accuracy[0]) and start.chosen_seed != 4
    assert start.val_accuracy[start.seeds.index(start.chosen_seed)] == max(start.val_accuracy[1:])
    chosen = rec.of(StartChosen)
    assert len(chosen) == 1 and chosen[0].choice == start
    assert rec.events.index(chosen[0]) < rec.events.index(rec.of(TrainingStarted)[0])


def test_the_largest_seeds_are_accepted(digits):
    small = digits.subset(n_train=300, n_val=100, n_test=100)
    job = _job(train=TrainConfig(epochs=1, batch_size=50, seed=2**63 - 3, snapshot_every=0, threads=1))
    outcome = run_job(job, data=small)
    assert outcome.result.status == "completed" and outcome.start.seeds == (2**63 - 3, 2**63 - 2, 2**63 - 1)


def test_a_stop_while_the_teacher_labels_stops_before_any_start(digits):
    control = TrainingControl()

    def stop_at_labelling(event):
        if isinstance(event, Preparing) and "teacher labels" in event.message:
            control.stop()

    rec = Recorder(stop_at_labelling)
    teacher = load_teacher(shipped_checkpoint(SHIPPED_TEACHER))
    outcome = run_job(_job(targets="distilled"), rec, control=control, data=digits, teacher=teacher)
    assert outcome.result.status == "stopped" and outcome.start is None
    assert not [e for e in rec.of(Preparing) if "choosing a start" in e.message]
    labelled = [e.done for e in rec.of(Preparing) if "teacher labels" in e.message]
    assert labelled.count(0) == 1  # the labelling stopped (after its one chunk here) and the run did not redo it
    assert isinstance(rec.events[-1], TrainingFinished) and rec.events[-1].status == "stopped"


@pytest.mark.parametrize("kw", [{"restarts": 0}, {"restarts": 101}, {"restarts": 2.5}, {"restart_epochs": 0}])
def test_bad_restart_settings_are_refused(kw):
    with pytest.raises(ConfigError, match="start"):
        TreeJob(**kw)
