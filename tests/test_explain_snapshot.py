"""Snapshots and explanations: plain numpy pictures of the model that agree with it exactly."""
import numpy as np
import pytest
import torch

from hmob_gui.core import topology
from hmob_gui.core.explain import explain
from hmob_gui.core.history import SnapshotHistory
from hmob_gui.core.snapshot import TreeSnapshot, make_tree_snapshot
from hmob_gui.core.tree import SoftDecisionTree, TreeConfig


@pytest.fixture
def tree():
    torch.manual_seed(7)
    t = SoftDecisionTree(TreeConfig(depth=5, beta=1.3))
    with torch.no_grad():
        t.weight.mul_(20)
        t.leaf_logits.normal_(0, 2)
    return t.eval()


def test_snapshot_holds_plain_arrays_and_reachable_classes(tree):
    snap = make_tree_snapshot(tree, epoch=3, samples_seen=1234, kind="samples", total_epochs=9)
    assert snap.filters.dtype == np.float16 and snap.filters.shape == (31, 1, 28, 28)
    np.testing.assert_allclose(snap.filters.reshape(31, -1), tree.weight.detach().numpy(), rtol=1e-3, atol=1e-4)
    leaf_classes = tree.leaf_distributions().argmax(1).numpy()
    np.testing.assert_array_equal(snap.leaf_classes, leaf_classes)
    for node in range(31):  # brute force: walk down to every leaf below the node
        below, frontier = set(), [node]
        while frontier:
            n = frontier.pop()
            if n >= 31:
                below.add(int(leaf_classes[n - 31]))
            else:
                frontier += list(topology.children(n))
        assert set(snap.reachable_sets()[node]) == below
    assert snap.reachable_sets()[0] == sorted(set(leaf_classes.tolist()))
    assert snap.label() == "samples 1,234"
    again = TreeSnapshot.from_arrays(snap.to_arrays())
    np.testing.assert_array_equal(again.filters, snap.filters)
    assert again.label() == snap.label() and again.beta == snap.beta


def test_explanation_agrees_with_the_model(tree, mnist_small):
    x, _ = mnist_small.test.tensors()
    x = x[:25]
    out = tree(x)
    for i in range(len(x)):
        e = explain(tree, x[i].numpy())
        np.testing.assert_allclose(e.logits, out.logits[i].detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(e.path_probs, out.log_path[i].exp().detach().numpy(), rtol=1e-4, atol=1e-6)
        assert e.leaf_probs.sum() == pytest.approx(1.0, abs=1e-6)
        assert e.bigot_leaf == int(out.log_path[i, 31:].argmax())
        assert e.bigot_class == int(tree.predict(x[i : i + 1])[0])
        np.testing.assert_allclose(e.mixture_distribution, tree.predict_proba(x[i : i + 1], "mixture")[0].numpy(), rtol=1e-4, atol=1e-6)
        # The max path goes from the root to the bigot leaf, one level at a time.
        assert e.max_path[0] == 0 and e.max_path[-1] == 31 + e.bigot_leaf and len(e.max_path) == 6
        # Correlation maps are the pixel-wise contributions to each logit.
        np.testing.assert_allclose(tree.beta.item() * (e.correlation.reshape(31, -1).sum(1) + tree.bias.detach().numpy()),
                                   e.logits, rtol=1e-4, atol=1e-4)


def test_explanation_of_wrong_sized_input_is_refused(tree):
    with pytest.raises(ValueError, match="expects"):
        explain(tree, np.zeros((20, 20)))


def _snap(samples, kind, depth=4):
    return TreeSnapshot(depth=depth, input_shape=(1, 28, 28),
                        filters=np.zeros((2**depth - 1, 1, 28, 28), np.float16), biases=np.zeros(2**depth - 1, np.float32),
                        beta=1.0, leaf_distributions=np.full((2**depth, 10), 0.1, np.float32),
                        samples_seen=samples, kind=kind, epoch=samples // 1000)


def test_history_keeps_epochs_and_thins_samples_evenly_within_budget():
    one = _snap(0, "samples").nbytes
    history = SnapshotHistory(budget_bytes=one * 30)
    history.add(_snap(0, "initial"))
    for s in range(100, 10_001, 100):
        history.add(_snap(s, "samples"))
        if s % 1000 == 0:
            history.add(_snap(s, "epoch"))
    assert history.nbytes <= one * 30
    assert len(history.epochs()) == 11  # initial + 10 epochs: never dropped
    samples = [s.samples_seen for s in history.samples() if s.kind == "samples"]
    gaps = set(np.diff(samples))
    assert len(gaps) == 1 and history.thinned > 0  # still evenly spaced
    order = [s.samples_seen for s in history]
    assert order == sorted(order)
