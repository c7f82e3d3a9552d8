"""Try several starts briefly, then train the best one: a small tree's result depends on where it starts.

A depth-4 tree has only 15 splits for 10 classes, and once its splits harden
they rarely move: trained by one recipe, seeds 0–9 end between 83% and 92%
(README, "Results"). A short probe already tells the bad starts from the good
ones, so :func:`choose_start` trains ``restarts`` candidate trees (seeds
``seed … seed + restarts − 1``) for ``restart_epochs`` epochs each at the
recipe's learning rate, and keeps the one with the best validation accuracy;
the long run then continues from it. Only validation digits judge the
candidates: the test split stays unseen until the end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from .data import DataSplits
from .devices import resolve_device
from .training import BatchProgress, Preparing, StateChanged, Trainer, TrainingControl, label_digits
from .wording import count


@dataclass(frozen=True)
class StartChoice:
    """Which candidate won, and how every candidate scored (validation accuracy after the probe)."""

    seeds: tuple[int, ...]
    val_accuracy: tuple[float, ...]  # NaN for a candidate that failed or was stopped
    chosen_seed: int
    epochs: int

    def to_dict(self) -> dict:
        return {"candidates": len(self.seeds), "epochs": self.epochs, "seeds": list(self.seeds),
                "val_accuracy": list(self.val_accuracy), "chosen_seed": self.chosen_seed}

    def summary(self) -> str:
        score = self.val_accuracy[self.seeds.index(self.chosen_seed)]
        if not math.isfinite(score):
            return f"no start of {len(self.seeds)} finished its {count(self.epochs, 'epoch')}; seed {self.chosen_seed} kept"
        return (f"chose seed {self.chosen_seed} of {len(self.seeds)} starts "
                f"(validation {score:.2%} after {count(self.epochs, 'epoch')})")


@dataclass(frozen=True)
class StartChosen:
    """Event: the search is over and the long run begins from ``choice.chosen_seed``'s tree."""

    choice: StartChoice


def shared_soft_targets(job, data: DataSplits, teacher, listener, control: TrainingControl) -> torch.Tensor | None:
    """The teacher's targets for the training split, computed once for every candidate and the long run.

    None when there is nothing to share (hard labels are free, and shifted digits
    have their own disk-cached per-shift targets) or when stopped meanwhile.
    """
    if teacher is None or job.targets != "distilled" or job.train.augment_shift > 0:
        return None
    device = resolve_device(job.train.device)
    teacher.to(device)
    return label_digits(teacher, data.train.tensors(device)[0], job.temperature, listener, control)


def choose_start(job, data: DataSplits, teacher, listener, control: TrainingControl,
                 targets: torch.Tensor | None = None) -> tuple[torch.nn.Module, StartChoice]:
    """Train ``job.restarts`` candidates for ``job.restart_epochs`` epochs; return the best and the scores.

    Progress goes to ``listener`` as :class:`Preparing` events (and pause/resume as
    :class:`StateChanged`), so a candidate never looks like the real run. A stop
    ends the search: the best candidate so far is returned and the caller's run
    stops at once, as the same ``control`` tells it.
    """
    n, epochs = job.restarts, job.restart_epochs
    seeds = tuple(job.train.seed + i for i in range(n))
    probe_train = replace(job.train, epochs=epochs, lr_schedule="constant", snapshot_every=0)
    probe_data = replace(data, test=data.test.take(0))  # candidates are judged on validation digits only
    per_candidate = len(data.train) * epochs
    scores: list[float] = []
    best_model, best_score, best_seed = None, -math.inf, seeds[0]
    for i, seed in enumerate(seeds):
        message = f"choosing a start: tree {i + 1} of {n} (seed {seed})"
        listener(Preparing(message, i * per_candidate, n * per_candidate, unit="samples"))

        def forward(event, message=message, offset=i * per_candidate):
            if isinstance(event, BatchProgress):
                listener(Preparing(message, offset + event.samples_seen, n * per_candidate, unit="samples"))
            elif isinstance(event, StateChanged):
                listener(event)

        candidate_job = replace(job, restarts=1, train=replace(probe_train, seed=seed))
        model = candidate_job.build_model()
        task = job.make_task(model, data.dataset.class_names, teacher)
        if targets is not None:
            task.fixed_targets = targets
        result = Trainer(task, probe_data, candidate_job.train, forward, control).run()
        score = result.history[-1]["val_accuracy"] if result.status == "completed" and result.history else float("nan")
        scores.append(score)
        rank = score if math.isfinite(score) else -math.inf  # a failed start never wins
        if best_model is None or rank > best_score:
            best_model, best_score, best_seed = model, rank, seed
        if result.status == "stopped":
            break
    scores += [float("nan")] * (n - len(scores))
    choice = StartChoice(seeds, tuple(scores), best_seed, epochs)
    listener(StartChosen(choice))
    return best_model, choice
