"""Checkpoints and run files: round trips, and every bad file refused with a reason."""
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from hmob_gui.core.checkpoint import checkpoint_payload, load_checkpoint, load_model, save_checkpoint, save_payload
from hmob_gui.core.errors import CheckpointError
from hmob_gui.core.runfile import SavedRun, load_run, save_run
from hmob_gui.core.snapshot import make_tree_snapshot
from hmob_gui.core.teacher import TeacherCNN, TeacherConfig
from hmob_gui.core.tree import SoftDecisionTree, TreeConfig


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def tree():
    torch.manual_seed(0)
    return SoftDecisionTree(TreeConfig(depth=3, beta=0.8, learn_beta=True)).eval()


def test_tree_round_trip_keeps_everything(tmp_path, tree):
    path = save_checkpoint(tmp_path / "t.pt", "tree", tree, metrics={"test_accuracy": 0.9},
                           history=[{"epoch": 1, "val_accuracy": 0.8}], training={"targets": "hard"},
                           dataset={"name": "mnist", "class_names": list("0123456789")})
    model, ckpt = load_model(path, expect_kind="tree")
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(model.predict_proba(x, "mixture"), tree.predict_proba(x, "mixture"))
    assert model.config == tree.config
    assert ckpt.metrics["test_accuracy"] == 0.9 and ckpt.history[0]["epoch"] == 1
    assert ckpt.summary().startswith("tree of depth 3 (hard)")
    assert [p.name for p in tmp_path.iterdir()] == ["t.pt"]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o666 & ~_current_umask()  # a normal file, not mkstemp's 0600


def test_teacher_round_trip(tmp_path):
    torch.manual_seed(0)
    teacher = TeacherCNN(TeacherConfig()).eval()
    model, ckpt = load_model(save_checkpoint(tmp_path / "teacher.pt", "teacher", teacher), "teacher")
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(model(x), teacher(x))


def test_wrong_kind(tmp_path, tree):
    path = save_checkpoint(tmp_path / "t.pt", "tree", tree)
    with pytest.raises(CheckpointError, match="tree checkpoint, but a teacher was expected"):
        load_checkpoint(path, expect_kind="teacher")


def test_config_that_does_not_fit_the_weights(tmp_path, tree):
    payload = checkpoint_payload("tree", tree)
    payload["model_config"]["depth"] = 4
    path = save_payload(tmp_path / "t.pt", payload)
    with pytest.raises(CheckpointError, match="weights do not fit its settings"):
        load_model(path)
    payload["model_config"]["depth"] = 99
    with pytest.raises(CheckpointError, match="invalid model settings.*depth"):
        load_model(save_payload(tmp_path / "t.pt", payload))


def test_truncated_file(tmp_path, tree):
    path = save_checkpoint(tmp_path / "t.pt", "tree", tree)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint", os.urandom(2000)])
def test_foreign_bytes(tmp_path, content):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_foreign_torch_file(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not an hmob-gui checkpoint"):
        load_checkpoint(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not an hmob-gui checkpoint"):
        load_checkpoint(path)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "hmob-gui checkpoint", "payload": _Exploit(str(marker))}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()
    # A raw pickle (not a torch zip) is refused too.
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_newer_format_version(tmp_path, tree):
    payload = checkpoint_payload("tree", tree)
    payload["format_version"] = 99
    with pytest.raises(CheckpointError, match="newer than this app reads"):
        load_checkpoint(save_payload(tmp_path / "t.pt", payload))


def test_unwritable_destination_is_refused_and_existing_file_kept(tmp_path, tree):
    with pytest.raises(CheckpointError, match="does not exist"):
        save_checkpoint(tmp_path / "missing" / "t.pt", "tree", tree)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(CheckpointError, match="does not exist|not a folder"):
        save_checkpoint(tmp_path / "a-file" / "t.pt", "tree", tree)
    good = save_checkpoint(tmp_path / "t.pt", "tree", tree)
    before = good.read_bytes()
    payload = checkpoint_payload("tree", tree)
    payload["unpicklable"] = lambda: None  # torch.save fails half-way through writing
    with pytest.raises(Exception):
        save_payload(good, payload)
    assert good.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "t.pt"]  # and no temporary file left


def test_a_full_disk_gives_a_clear_error_and_keeps_the_old_file(tmp_path, tree, monkeypatch):
    good = save_checkpoint(tmp_path / "t.pt", "tree", tree)
    before = good.read_bytes()

    def save_until_the_disk_is_full(obj, f, *args, **kwargs):  # what torch.save does on a full disk
        Path(f).write_bytes(b"PK\x03\x04" + b"\0" * 1000)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 960")

    monkeypatch.setattr(torch, "save", save_until_the_disk_is_full)
    with pytest.raises(CheckpointError, match=r"cannot write .*t\.pt: the write failed .* is it full\?"):
        save_checkpoint(good, "tree", tree)
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.pt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder(tmp_path, tree):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="no permission"):
            save_checkpoint(ro / "t.pt", "tree", tree)
    finally:
        ro.chmod(0o700)


def test_run_file_round_trip_and_bad_files(tmp_path, tree):
    snaps = [make_tree_snapshot(tree, epoch=e, samples_seen=e * 100, kind="epoch", total_epochs=2) for e in range(3)]
    run = SavedRun(settings={"depth": 3}, history=[{"epoch": 1}], test_metrics={"accuracy": 0.5},
                   snapshots=snaps, checkpoint=checkpoint_payload("tree", tree))
    path = save_run(tmp_path / "r.hmobrun", run)
    back = load_run(path)
    assert back.settings == {"depth": 3} and back.test_metrics == {"accuracy": 0.5}
    assert len(back.snapshots) == 3 and back.snapshots[2].label() == "epoch 2 / 2"
    np.testing.assert_array_equal(back.snapshots[1].filters, snaps[1].filters)
    assert len(back.to_history()) == 3
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable run file"):
        load_run(path)
    torch.save({"format": "hmob-gui run", "x": _Exploit(str(tmp_path / "pwned"))}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_run(path)
    assert not (tmp_path / "pwned").exists()


def test_damaged_metadata_is_refused_with_the_reason(tmp_path, tree):
    for key, value, words in (("metrics", "oops", "metrics is a str"), ("dataset", [1, 2], "dataset is a list"),
                              ("history", [{"epoch": 1}, 3], "history entries"),
                              ("dataset", {"class_names": ["a"]}, "1 class names for a model of 10 classes")):
        payload = checkpoint_payload("tree", tree)
        payload[key] = value
        with pytest.raises(CheckpointError, match=words):
            load_checkpoint(save_payload(tmp_path / "t.pt", payload))
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)


def test_damaged_run_files_are_refused(tmp_path, tree):
    good = make_tree_snapshot(tree, epoch=1, kind="epoch")
    crafted = [
        ({"snapshots": [{**good.to_arrays(), "depth": 40}]}, "depth must be 1…10"),
        ({"snapshots": [{**good.to_arrays(), "depth": 4}]}, "a depth-4 tree needs"),
        ({"settings": "x"}, "settings is a str"),
        ({"test_metrics": [1]}, "test_metrics is a list"),
    ]
    for change, words in crafted:
        run = SavedRun(snapshots=[good])
        path = save_run(tmp_path / "r.hmobrun", run)
        payload = torch.load(path, weights_only=True)
        for key, value in change.items():
            if key == "snapshots":
                value = [{k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
                          for k, v in d.items()} for d in value]
            payload[key] = value
        torch.save(payload, path)
        with pytest.raises(CheckpointError, match=words):
            load_run(path)
    # Too few class names in a snapshot: numbered names fill in, nothing breaks.
    short = make_tree_snapshot(tree, class_names=("a",))
    assert short.class_names == ("a", "1", "2", "3", "4", "5", "6", "7", "8", "9")


def test_non_finite_weights_are_refused_on_load(tmp_path, tree):
    import copy

    broken = copy.deepcopy(tree)
    with torch.no_grad():
        broken.weight[3, 100] = float("nan")
    path = save_checkpoint(tmp_path / "nan.pt", "tree", broken)
    with pytest.raises(CheckpointError, match=r"nan\.pt: its weights hold NaN or infinite values \(weight\)"):
        load_model(path)
    assert load_model(save_checkpoint(tmp_path / "fine.pt", "tree", tree))[0] is not None


def test_random_bytes_are_called_unreadable_not_dangerous(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.pt"
    for _ in range(40):
        path.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        message = str(info.value)
        assert "not a readable checkpoint" in message and "run code" not in message and "Error:" not in message
