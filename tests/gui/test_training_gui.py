"""Training from the window on real data: live snapshots, pause/resume, stop, close, runs."""
from __future__ import annotations

import pytest

from .conftest import images_differ, wait_idle, wait_saved

pytestmark = [pytest.mark.gui, pytest.mark.realdata]


def _start(w, values):
    w.training_panel.set_values(values)
    assert w.training_panel.start_button.isEnabled(), w.training_panel.error_label.text()
    w.training_panel.start_button.click()
    assert w.state == "running"


def test_short_training_emits_snapshots_and_the_view_changes(make_window, qtbot, small_run, gui_checkpoints):
    w = make_window()
    snapshots = []
    w.worker.worker.snapshotTaken.connect(snapshots.append)
    before = w.tree_view.node_images()
    _start(w, {**small_run, "targets": "distilled", "teacher_source": "file",
               "teacher_path": str(gui_checkpoints["teacher"])})
    qtbot.waitUntil(lambda: len(snapshots) >= 3, timeout=60_000)
    assert "teacher labels" not in w.statusBar().currentMessage()  # preparation over: no stale status
    qtbot.waitUntil(lambda: images_differ(w.tree_view.node_images(), before)
                    and w.tree_view.snapshot().depth == 3, timeout=10_000)
    wait_idle(qtbot, w)
    assert w.errors == []
    # 2,000 images, a snapshot every 200: the initial one, ten sample ones, one per epoch
    assert len(snapshots) >= 10
    assert len(w.timeline.history) >= 11
    assert w.curves.tree.history and w.curves.tree.history[0]["epoch"] == 1
    assert w.current_snapshot.depth == 3 and w.current_snapshot.kind == "final"
    assert w.progress.value() == 1000
    assert "completed" in w.progress_label.text()
    labels = [s.label() for s in w.timeline.snapshots()]
    assert labels[0] == "initial" and "samples 200" in labels and labels[-1] == "epoch 1 / 1"
    # scrubbing the timeline shows an older snapshot
    w.timeline.slider.setValue(1)
    assert w.tree_view.snapshot() is w.timeline.history[1]
    assert not w.timeline.is_live()


def test_pause_stops_progress_and_resume_continues(make_window, qtbot, small_run):
    w = make_window()
    _start(w, {**small_run, "epochs": "30", "batch_size": "20"})
    qtbot.waitUntil(lambda: w.samples_seen > 0, timeout=60_000)
    w.training_panel.pause_button.click()
    qtbot.waitUntil(lambda: w.state == "paused", timeout=10_000)
    assert w.training_panel.pause_button.text() == "Resume"
    assert w.model_label.text() == "Tree: in training on cpu"  # not the startup tree's accuracy
    seen = w.samples_seen
    qtbot.wait(600)  # the event loop runs; the worker must not advance
    assert w.samples_seen == seen
    w.training_panel.pause_button.click()
    qtbot.waitUntil(lambda: w.state == "running", timeout=10_000)
    qtbot.waitUntil(lambda: w.samples_seen > seen, timeout=30_000)
    w.training_panel.stop_button.click()
    wait_idle(qtbot, w, timeout=30_000)
    assert w.errors == []


def test_stop_mid_epoch_ends_the_run_and_keeps_the_thread(make_window, qtbot, small_run):
    w = make_window()
    _start(w, {**small_run, "epochs": "30", "batch_size": "20"})
    qtbot.waitUntil(lambda: w.samples_seen > 0, timeout=60_000)
    w.stop_training()
    wait_idle(qtbot, w, timeout=30_000)
    assert "stopped" in w.progress_label.text()
    assert w.worker.thread.isRunning()  # the worker waits for the next command
    assert w.current_snapshot.depth == 3  # the partly trained tree is current
    assert w.errors == []
    assert w.training_panel.start_button.isEnabled()


def test_closing_mid_epoch_ends_the_worker_cleanly(make_window, qtbot, small_run):
    w = make_window()
    _start(w, {**small_run, "epochs": "30", "batch_size": "20"})
    qtbot.waitUntil(lambda: w.samples_seen > 0, timeout=60_000)
    asked = []
    w.ask_save_on_close = lambda: asked.append(1) or "cancel"
    w.close()
    assert asked and w.isVisible() and w.state == "running"  # cancelled: still training
    w.ask_save_on_close = lambda: "discard"
    assert w.close()
    assert w.worker.thread.isFinished()
    assert w.errors == []


def test_closing_mid_training_can_save_the_model(make_window, qtbot, small_run, tmp_path):
    from hmob_gui.core.checkpoint import load_checkpoint

    w = make_window()
    _start(w, {**small_run, "epochs": "30", "batch_size": "20"})
    qtbot.waitUntil(lambda: w.samples_seen > 0, timeout=60_000)
    target = tmp_path / "saved-on-close.pt"
    assert w._tree_file_name() == "tree-d3.pt"  # the tree in training, not the depth-4 one loaded at startup
    w.ask_save_on_close = lambda: "save"
    w.ask_close_save_path = lambda: str(target)
    assert w.close()
    assert w.worker.thread.isFinished()
    ckpt = load_checkpoint(target, expect_kind="tree")
    assert ckpt.model_config["depth"] == 3 and ckpt.metrics["status"] == "stopped"


def test_save_and_reopen_a_run(make_window, qtbot, small_run, tmp_path):
    w = make_window()
    _start(w, small_run)
    wait_idle(qtbot, w)
    n = len(w.timeline.history)
    path = tmp_path / "run.hmobrun"
    w.training_panel.set_values({"depth": "6", "epochs": "9"})  # edited after the run: not what trained it
    wait_saved(qtbot, w, lambda: w.save_run(path))
    tree_path = tmp_path / "tree.pt"
    wait_saved(qtbot, w, lambda: w.worker.save_checkpoint(tree_path))
    w2 = make_window()
    assert w2.current_snapshot.depth == 4
    w2.open_run(path)
    qtbot.waitUntil(lambda: w2.current_snapshot.depth == 3, timeout=30_000)
    assert len(w2.timeline.history) == n
    assert w2.curves.tree.history[0]["epoch"] == 1
    assert w2.training_panel.values()["train_limit"] == "2000"
    assert (w2.training_panel.values()["depth"], w2.training_panel.values()["epochs"]) == ("3", "1")
    w2.open_tree(tree_path)
    qtbot.waitUntil(lambda: w2.tree_info.path == str(tree_path), timeout=30_000)
    bad = tmp_path / "bad.hmobrun"
    bad.write_bytes(b"not a run")
    w2.open_run(bad)
    qtbot.waitUntil(lambda: len(w2.errors) > 0, timeout=10_000)
    assert "bad.hmobrun" in w2.errors[0][1]
    assert w2.tree_info.path == str(tree_path)


def test_missing_data_set_is_reported(make_window, qtbot, tmp_path):
    w = make_window()
    empty = tmp_path / "no-data"
    empty.mkdir()
    _start(w, {"data_dir": str(empty), "targets": "hard", "device": "cpu", "depth": "2", "epochs": "1"})
    wait_idle(qtbot, w, timeout=200_000)
    assert w.errors
    assert "t10k-images-idx3-ubyte.gz" in w.errors[0][1] and "data folder" in w.errors[0][1]
    assert "failed" in w.progress_label.text() and "Loading" not in w.progress_label.text()


def test_training_a_new_teacher_first_shows_its_curves(make_window, qtbot, small_run, tmp_path):
    from hmob_gui.core.checkpoint import load_checkpoint

    w = make_window()
    old_teacher = w.teacher_predictor
    kinds = []
    w.worker.worker.trainingStarted.connect(lambda e: kinds.append(e.kind))
    _start(w, {**small_run, "train_limit": "1000", "snapshot_every": "500", "targets": "distilled",
               "teacher_source": "train", "teacher_epochs": "1"})
    wait_idle(qtbot, w)
    assert w.errors == []
    assert kinds == ["teacher", "tree"]
    assert len(w.curves.teacher.history) == 1 and len(w.curves.tree.history) == 1
    assert w.curves.teacher.batch_points > 0
    assert w.teacher_predictor is not old_teacher and "trained here" in w.teacher_info.summary
    path = tmp_path / "teacher.pt"
    wait_saved(qtbot, w, lambda: w.worker.save_checkpoint(path, "teacher"))
    assert load_checkpoint(path, expect_kind="teacher").metrics["status"] == "completed"


def test_trying_several_starts_shows_the_search_and_the_choice(make_window, qtbot, small_run):
    w = make_window()
    assert not w.training_panel.fields["restart_epochs"].isEnabled()  # only meaningful with several starts
    w.training_panel.set_values({**small_run, "restarts": "3", "restart_epochs": "1"})
    assert w.training_panel.fields["restart_epochs"].isEnabled()
    messages = []
    w.worker.worker.busyChanged.connect(messages.append)
    _start(w, {**small_run, "restarts": "3", "restart_epochs": "1"})
    assert w._tree_file_name() == "tree-d3.pt"  # already during the search, not the startup tree's depth
    wait_idle(qtbot, w)
    assert w.errors == []
    assert any(m.startswith("choosing a start: tree 3 of 3") for m in messages), messages
    assert "chose seed" in w.model_label.text() and "of 3 starts" in w.model_label.text()
    assert len(w.timeline.history) >= 2 and w.timeline.history[0].kind == "initial"
