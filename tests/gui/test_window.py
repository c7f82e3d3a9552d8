"""The window opens with the checkpoints, refuses bad settings, survives bad files."""
from __future__ import annotations

import pytest

from .conftest import wait_saved

pytestmark = pytest.mark.gui


def test_window_opens_with_the_checkpoints_drawn(make_window):
    w = make_window()
    snap = w.tree_view.snapshot()
    assert snap is w.current_snapshot
    assert snap.filters.dtype.name == "float32"  # exact, for explanations
    images = w.tree_view.node_images()
    assert images.shape == (snap.n_inner, 28, 28, 4)
    assert len({tuple(px) for px in images.reshape(-1, 4)[::37]}) > 5  # a real picture, not blank
    assert w.first_tree_drawn_s is not None
    assert w.teacher_predictor is not None
    probs = w.teacher_predictor.predict_proba(images[0, :, :, 0][None] / 255.0)
    assert probs.shape == (10,)
    assert w.errors == []
    assert "Tree:" in w.model_label.text()


@pytest.mark.parametrize("field, value, words", [
    ("depth", "0", "depth"),
    ("lr", "-1", "learning rate"),
    ("batch_size", "0", "batch size"),
    ("epochs", "many", "epochs"),
    ("penalty_decay", "1.5", "penalty decay"),
])
def test_bad_settings_are_refused_with_the_reason(make_window, field, value, words):
    w = make_window(wait_loaded=False)
    panel = w.training_panel
    panel.validate()
    assert panel.start_button.isEnabled()
    panel.set_value(field, value)
    assert not panel.start_button.isEnabled()
    assert words in panel.error_label.text()
    assert panel.error.field == field
    assert "d62728" in panel.fields[field].styleSheet()  # the field is outlined
    panel.start_button.click()
    assert w.state == "idle"


def test_a_recipe_fills_the_form_and_keeps_data_and_teacher(make_window):
    w = make_window(wait_loaded=False)
    panel = w.training_panel
    panel.set_value("data_dir", "/some/data")
    panel.set_value("depth", "3")
    combo = panel.recipe_combo
    index = next(i for i in range(combo.count()) if "depth-8" in combo.itemText(i))
    combo.activated.emit(index)
    values = panel.values()
    assert (values["depth"], values["batch_size"], values["augment_shift"], values["epochs"]) == ("8", "64", "1", "120")
    assert values["data_dir"] == "/some/data"  # what the user chose about data is kept
    assert combo.currentIndex() == 0  # back to "recipe…", ready for the next one
    panel.validate()
    assert panel.start_button.isEnabled()


def test_corrupt_checkpoint_shows_an_error_and_keeps_the_model(make_window, qtbot, tmp_path):
    w = make_window()
    before = w.current_snapshot
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint at all" * 10)
    w.open_tree(bad)
    qtbot.waitUntil(lambda: len(w.errors) == 1, timeout=10_000)
    title, message = w.errors[0]
    assert "broken.pt" in message
    assert w.current_snapshot is before
    assert w.tree_view.snapshot() is before
    w.open_tree(tmp_path / "missing.pt")
    qtbot.waitUntil(lambda: len(w.errors) == 2, timeout=10_000)
    assert "no such file" in w.errors[1][1]
    w.worker.load_teacher(str(w.tree_info.path))  # a tree where a teacher is expected
    qtbot.waitUntil(lambda: len(w.errors) == 3, timeout=10_000)
    assert "teacher" in w.errors[2][1]


def test_opening_another_tree_replaces_the_view(make_window, qtbot, gui_checkpoints, tmp_path):
    import torch

    from hmob_gui.core.checkpoint import save_checkpoint
    from hmob_gui.core.tree import SoftDecisionTree, TreeConfig

    w = make_window()
    torch.manual_seed(1)
    path = tmp_path / "tree-d2.pt"
    save_checkpoint(path, "tree", SoftDecisionTree(TreeConfig(depth=2)))
    w.open_tree(path)
    qtbot.waitUntil(lambda: w.current_snapshot.depth == 2, timeout=10_000)
    assert w.tree_view.snapshot().depth == 2
    assert w.tree_view.node_images().shape[0] == 3
    assert len(w.timeline.history) == 1


def test_settings_are_remembered(make_window, qtbot, app_settings):
    w = make_window(wait_loaded=False)
    w.training_panel.set_value("depth", "6")
    w.close()
    assert w.worker.thread.wait(30_000)
    assert app_settings.form_values()["depth"] == "6"
    assert app_settings.value("window/geometry") is not None
    w2 = make_window(wait_loaded=False)
    assert w2.training_panel.values()["depth"] == "6"


def _cross_thread_warnings(qtlog) -> list[str]:
    return [r.message for r in qtlog.records
            if "different thread" in r.message or "another thread" in r.message]


def test_a_missing_tree_is_said_in_the_status_bar(make_window, qtbot, tmp_path, qtlog):
    """The worker's notice reaches the status bar (it used to run in the worker thread and get lost)."""
    missing = tmp_path / "nonexist.pt"
    w = make_window(tree=missing, wait_loaded=False)
    qtbot.waitUntil(lambda: w.teacher_predictor is not None and w.worker.worker is not None, timeout=30_000)
    qtbot.waitUntil(lambda: "No tree to show yet" in w.statusBar().currentMessage(), timeout=10_000)
    qtbot.wait(50)  # the worker's "idle" comes after its notice and must not wipe it
    assert str(missing) in w.statusBar().currentMessage()
    assert w.current_snapshot is None and w.errors == []
    assert _cross_thread_warnings(qtlog) == []


def test_saving_is_reported_from_the_gui_thread(make_window, qtbot, tmp_path, qtlog):
    w = make_window()
    target = tmp_path / "tree.pt"
    wait_saved(qtbot, w, lambda: w.worker.save_checkpoint(target))
    assert "Saved the tree checkpoint" in w.statusBar().currentMessage()
    run = tmp_path / "run.hmobrun"
    wait_saved(qtbot, w, lambda: w.save_run(run))
    assert w.statusBar().currentMessage() == f"Saved the run to {run}"
    assert _cross_thread_warnings(qtlog) == []
    assert w.errors == []


def test_a_repeating_error_opens_one_dialog_that_counts(make_window, qtbot, tmp_path):
    w = make_window()
    for i in range(3):
        w.open_tree(tmp_path / f"missing{i}.pt")
        qtbot.waitUntil(lambda: len(w.errors) == i + 1, timeout=10_000)
    dialogs = w.open_error_dialogs()
    assert len(dialogs) == 1
    assert "3 times" in dialogs[0].text() and "missing2.pt" in dialogs[0].informativeText()
    dialogs[0].close()
    qtbot.waitUntil(lambda: w.open_error_dialogs() == [], timeout=5_000)
    w.open_tree(tmp_path / "again.pt")  # closed: the next error gets a dialog of its own
    qtbot.waitUntil(lambda: len(w.open_error_dialogs()) == 1, timeout=10_000)
    assert "times" not in w.open_error_dialogs()[0].text()
