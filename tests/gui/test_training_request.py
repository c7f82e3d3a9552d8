"""The form's values become core jobs, or are refused naming the field (no Qt needed)."""
from __future__ import annotations

import pytest

from hmob_gui.gui.training_request import DEFAULTS, FormError, build_request, form_values_from_run


def test_defaults_make_the_clis_tree_job():
    r = build_request({})
    job = r.tree_job
    assert job.tree.depth == 4 and job.targets == "distilled" and job.train.snapshot_every == 1000
    assert job.train.lr == 0.01 and job.train.batch_size == 128
    assert r.teacher_source == "shipped" and r.teacher_path.endswith("teacher.pt")
    assert r.teacher_job is None and r.settings == DEFAULTS


def test_every_setting_reaches_the_job():
    r = build_request({"depth": "6", "targets": "hard", "beta": "2.5", "learn_beta": True, "penalty": "0.3",
                       "penalty_decay": "0.25", "ema_window": "4", "lr": "3e-3", "lr_schedule": "cosine",
                       "weight_decay": "1e-4", "augment_shift": "2", "batch_size": "64", "epochs": "7",
                       "snapshot_every": "0", "seed": "5", "device": "cpu", "dataset": "fashion-mnist",
                       "data_dir": "/data", "train_limit": "3000", "restarts": "6", "restart_epochs": "3"})
    t, tr = r.tree_job.tree, r.tree_job.train
    assert (t.depth, t.beta, t.learn_beta, t.penalty_strength, t.penalty_decay, t.ema_window) == (6, 2.5, True, 0.3, 0.25, 4.0)
    assert (tr.lr, tr.lr_schedule, tr.weight_decay, tr.augment_shift, tr.batch_size, tr.epochs, tr.snapshot_every,
            tr.seed, tr.device) == (3e-3, "cosine", 1e-4, 2, 64, 7, 0, 5, "cpu")
    assert r.tree_job.dataset == "fashion-mnist" and r.tree_job.data_dir == "/data" and r.train_limit == 3000
    assert not r.needs_teacher and r.teacher_path is None
    assert (r.tree_job.restarts, r.tree_job.restart_epochs) == (6, 3)


def test_training_a_new_teacher_first():
    r = build_request({"teacher_source": "train", "teacher_epochs": "2", "device": "cpu"})
    assert r.teacher_job.train.epochs == 2 and r.teacher_job.train.device == "cpu"


@pytest.mark.parametrize("values, field", [
    ({"depth": "0"}, "depth"), ({"depth": "11"}, "depth"), ({"depth": "4.5"}, "depth"),
    ({"lr": "-1"}, "lr"), ({"lr": "nan"}, "lr"), ({"batch_size": "0"}, "batch_size"),
    ({"epochs": "0"}, "epochs"), ({"temperature": "0"}, "temperature"), ({"beta": "-2"}, "beta"),
    ({"penalty": "-0.1"}, "penalty"), ({"penalty_decay": "0"}, "penalty_decay"),
    ({"ema_window": "0.5"}, "ema_window"), ({"snapshot_every": "-5"}, "snapshot_every"),
    ({"augment_shift": "9"}, "augment_shift"), ({"weight_decay": "-1"}, "weight_decay"),
    ({"device": "tpu"}, "device"), ({"dataset": "cifar"}, "dataset"), ({"train_limit": "10"}, "train_limit"),
    ({"teacher_source": "file", "teacher_path": ""}, "teacher_path"),
    ({"teacher_source": "train", "teacher_epochs": "0"}, "teacher_epochs"),
    ({"restarts": "0"}, "restarts"), ({"restarts": "two"}, "restarts"), ({"restarts": "2", "restart_epochs": "0"}, "restart_epochs"),
])
def test_bad_values_are_refused_naming_the_field(values, field):
    with pytest.raises(FormError) as info:
        build_request(values)
    assert info.value.field == field
    assert str(info.value)


def test_every_recipe_is_a_valid_request():
    """The one-click recipes in the training form build jobs the core accepts."""
    from hmob_gui.gui.training_request import DEFAULTS, RECIPES, build_request

    for name, recipe in RECIPES.items():
        request = build_request({**DEFAULTS, **recipe, "teacher_source": "file", "teacher_path": "t.pt"})
        job = request.tree_job
        assert job.tree.depth == int(recipe.get("depth", DEFAULTS["depth"])), name
        assert job.train.augment_shift == int(recipe.get("augment_shift", 0)), name
        assert job.restarts == int(recipe.get("restarts", 1)), name


def test_a_cli_run_opens_into_the_form_with_its_settings():
    """``hmob train-tree --save-run`` saves nested core configs; the form gets them back, and no "None"."""
    job = build_request({"depth": "6", "targets": "hard", "beta": "2.5", "learn_beta": True, "penalty": "0.3",
                         "lr": "3e-3", "lr_schedule": "cosine", "batch_size": "64", "epochs": "7",
                         "snapshot_every": "500", "seed": "5", "augment_shift": "1", "restarts": "4"}).tree_job
    settings = {"tree": job.tree.to_dict(), "train": job.train.to_dict(), "targets": job.targets,
                "temperature": job.temperature, "dataset": job.dataset, "data_dir": None,
                "restarts": job.restarts, "restart_epochs": job.restart_epochs}  # as cli.py writes it
    form = form_values_from_run(settings)
    assert "data_dir" not in form and "None" not in map(str, form.values())
    assert form["train_limit"] == "0"  # the CLI trained on every image, whatever the form held before
    as_text = {k: v if isinstance(v, bool) else str(v) for k, v in form.items()}  # what the form's fields hold
    again = build_request(as_text).tree_job
    assert again.tree == job.tree and again.train == job.train and again.targets == "hard"
    assert again.restarts == 4
    assert form_values_from_run({"depth": "5", "data_dir": "/d", "unknown": 1}) == {
        "depth": "5", "data_dir": "/d", "restarts": "1", "restart_epochs": "2"}  # an older run: one start


def test_epochs_per_start_cannot_block_the_form_when_there_is_one_start():
    for text in ("0", "", "x"):
        assert build_request({"restarts": "1", "restart_epochs": text}).tree_job.restarts == 1
    with pytest.raises(FormError) as info:
        build_request({"restarts": "3", "restart_epochs": "0"})
    assert info.value.field == "restart_epochs"
