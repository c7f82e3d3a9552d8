"""The ``hmob`` command line: trains, evaluates, explains its errors with exit status 2."""
import subprocess
import sys

import pytest

from hmob_gui.cli import main
from hmob_gui.core.checkpoint import load_checkpoint


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "hmob_gui.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.realdata
def test_train_tree_then_eval_and_info(mnist_dir, tmp_path, capsys):
    out = tmp_path / "tree.pt"
    code = main(["train-tree", "--hard", "--depth", "4", "--epochs", "1",
                 "--data", str(mnist_dir), "--out", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "tree completed" in text and "test accuracy" in text and str(out) in text
    ckpt = load_checkpoint(out, "tree")
    assert ckpt.model_config["depth"] == 4 and ckpt.training["targets"] == "hard"
    assert ckpt.metrics["test_accuracy"] > 0.75 and ckpt.dataset["name"] == "mnist"
    assert main(["eval", str(out), "--data", str(mnist_dir), "--split", "val"]) == 0
    text = capsys.readouterr().out
    assert "val set (10,000 images)" in text and "accuracy" in text
    assert main(["info", str(out)]) == 0
    assert "tree of depth 4 (hard)" in capsys.readouterr().out


@pytest.mark.realdata
def test_train_tree_can_save_the_run(mnist_dir, tmp_path, capsys):
    from hmob_gui.core.runfile import load_run

    run_path = tmp_path / "run.hmobrun"
    code = main(["train-tree", "--hard", "--depth", "3", "--epochs", "2", "--snapshot-every", "10000",
                 "--data", str(mnist_dir), "--out", str(tmp_path / "t.pt"), "--save-run", str(run_path), "--quiet"])
    assert code == 0 and "saved run" in capsys.readouterr().out
    run = load_run(run_path)
    kinds = [s.kind for s in run.snapshots]
    assert kinds.count("epoch") == 2 and kinds[0] == "initial" and kinds.count("samples") == 10
    assert len(run.history) == 2 and run.settings["tree"]["depth"] == 3
    assert run.checkpoint["kind"] == "tree" and "accuracy" in run.test_metrics


def test_user_errors_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    result = run_cli("eval", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    result = run_cli("train-tree", "--hard", "--depth", "0", "--data", str(tmp_path))
    assert result.returncode == 2 and "depth must be" in result.stderr
    result = run_cli("train-tree", "--hard", "--restarts", "0", "--data", str(tmp_path))
    assert result.returncode == 2 and "starts to try must be" in result.stderr
    result = run_cli("train-tree", "--teacher", str(bad), "--data", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_missing_data_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("HMOB_DATA", raising=False)
    result = run_cli("train-tree", "--hard", "--data", str(tmp_path / "empty"), "--epochs", "1")
    # A folder that does not exist is a typo: said, not created.
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not (tmp_path / "empty").exists()
    # An empty folder: no network here, so the download fails; the message names the files.
    (tmp_path / "empty").mkdir()
    result = run_cli("train-tree", "--hard", "--data", str(tmp_path / "empty"), "--epochs", "1")
    assert result.returncode == 2
    assert "train-images-idx3-ubyte.gz" in result.stderr and "t10k-labels-idx1-ubyte.gz" in result.stderr


@pytest.mark.parametrize("quiet", [True, False])
def test_progress_listener_follows_a_preparation_whose_message_changes(quiet, capsys):
    from hmob_gui.cli import TqdmListener
    from hmob_gui.core.training import Preparing, TrainingStarted

    listen = TqdmListener(quiet=quiet)
    listen(Preparing("the teacher labels the training digits", 0, 1, unit=""))
    listen(Preparing("the teacher labels the training digits", 1, 1, unit=""))
    assert listen.preparing is None  # done: closed
    listen(Preparing("choosing a start: tree 1 of 2 (seed 0)", 0, 200, unit="samples"))
    listen(Preparing("choosing a start: tree 2 of 2 (seed 1)", 100, 200, unit="samples"))
    assert listen.preparing is not None and (quiet or listen.preparing.n == 100)  # (a disabled bar counts nothing)
    listen(TrainingStarted("tree", 1, 1, 100, "cpu"))  # a search cut short: its bar is closed
    assert listen.preparing is None
    err = capsys.readouterr().err
    assert ("tree 2 of 2" in err) != quiet
