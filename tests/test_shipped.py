"""The shipped checkpoints reach, on the real test set, exactly the accuracies the README states."""
import re

import pytest
import torch

from hmob_gui.core.checkpoint import load_checkpoint
from hmob_gui.core.paths import SHIPPED_TEACHER, SHIPPED_TREES, shipped_checkpoint
from hmob_gui.core.training import TeacherTask, TreeTask

from .conftest import REPO

pytestmark = pytest.mark.realdata

# The README's results table: | model | original | paper | target | **ours** | `checkpoints/FILE` |
ROW = re.compile(r"^\|(?P<model>[^|]+)\|[^|]*\|[^|]*\|[^|]*\|\s*\*\*(?P<ours>[\d.]+)%\*\*\s*\|\s*`checkpoints/(?P<file>[\w.-]+)`")


def readme_figures() -> dict[str, float]:
    rows = {}
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            rows[m["file"]] = float(m["ours"])
    return rows


def test_readme_lists_every_shipped_checkpoint():
    assert set(readme_figures()) == {SHIPPED_TEACHER, *SHIPPED_TREES.values()}


@pytest.mark.parametrize("name", [SHIPPED_TEACHER, *SHIPPED_TREES.values()])
def test_shipped_checkpoint_reaches_the_readme_accuracy(name, mnist):
    ckpt = load_checkpoint(shipped_checkpoint(name))
    model = ckpt.build()
    task = TreeTask(model) if ckpt.kind == "tree" else TeacherTask(model)
    x, y = mnist.test.tensors()
    with torch.no_grad():
        accuracy = task.evaluate(x, y)["accuracy"]
    assert accuracy == pytest.approx(ckpt.metrics["test_accuracy"], abs=1e-4)  # what training measured
    assert round(accuracy * 100, 2) == readme_figures()[name]  # what the README says
    assert ckpt.dataset["name"] == "mnist"
