"""The soft decision tree against a plain, per-node reference of the paper's equations."""
import math

import numpy as np
import pytest
import torch

from hmob_gui.core import topology
from hmob_gui.core.errors import ConfigError
from hmob_gui.core.tree import SoftDecisionTree, TreeConfig


def reference_forward(tree: SoftDecisionTree, x: torch.Tensor):
    """Path probability of every node and right-probability of every inner node, one node at a time."""
    cfg = tree.config
    flat = x.reshape(len(x), -1).double()
    w, b, beta = tree.weight.double(), tree.bias.double(), float(tree.beta)
    right = {}
    for i in range(cfg.n_inner):
        right[i] = torch.sigmoid(beta * (flat @ w[i] + b[i]))
    path = {0: torch.ones(len(x), dtype=torch.float64)}
    for i in range(cfg.n_inner):
        path[2 * i + 1] = path[i] * (1 - right[i])
        path[2 * i + 2] = path[i] * right[i]
    return path, right


def reference_losses(tree: SoftDecisionTree, x, target):
    cfg = tree.config
    path, right = reference_forward(tree, x)
    q = torch.softmax(tree.leaf_logits.double(), dim=1)
    data = torch.zeros(len(x), dtype=torch.float64)
    for leaf in range(cfg.n_leaves):
        ce = -(target.double() * q[leaf].log()).sum(1)
        data += path[cfg.n_inner + leaf] * ce
    penalty = 0.0
    for i in range(cfg.n_inner):
        d = int(math.floor(math.log2(i + 1)))
        alpha = (path[i] * right[i]).sum() / path[i].sum()
        penalty += -cfg.penalty_strength * cfg.penalty_decay**d * 0.5 * (torch.log(alpha) + torch.log(1 - alpha))
    return data.mean(), penalty


@pytest.mark.parametrize("depth, shape", [(1, (1, 28, 28)), (3, (1, 28, 28)), (4, (3, 8, 5)), (6, (2, 4, 4)), (8, (1, 28, 28)), (10, (1, 2, 2))])
def test_shapes_and_path_probabilities_sum_to_one(depth, shape):
    torch.manual_seed(depth)
    tree = SoftDecisionTree(TreeConfig(depth=depth, input_shape=shape, n_classes=7))
    x = torch.rand(5, *shape)
    out = tree(x)
    n_inner, n_leaves = 2**depth - 1, 2**depth
    assert out.logits.shape == (5, n_inner)
    assert out.log_path.shape == (5, n_inner + n_leaves)
    assert out.leaf_log_probs.shape == (n_leaves, 7)
    leaf_sum = out.log_path[:, n_inner:].exp().sum(1)
    torch.testing.assert_close(leaf_sum, torch.ones(5), atol=1e-5, rtol=0)
    # Each inner node's path probability is the sum of its children's.
    p = out.log_path.exp()
    for i in range(min(n_inner, 40)):
        torch.testing.assert_close(p[:, i], p[:, 2 * i + 1] + p[:, 2 * i + 2], atol=1e-5, rtol=1e-4)
    assert tree.predict_proba(x).shape == (5, 7) and tree.predict_proba(x, "mixture").shape == (5, 7)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_vectorized_forward_and_losses_equal_the_per_node_reference(depth):
    torch.manual_seed(0)
    cfg = TreeConfig(depth=depth, input_shape=(1, 6, 6), n_classes=4, beta=0.7, penalty_strength=0.3, penalty_decay=0.6)
    tree = SoftDecisionTree(cfg).double()
    with torch.no_grad():
        tree.weight.mul_(8)  # make the decisions far from 0.5 so errors would show
    x = torch.rand(9, 1, 6, 6, dtype=torch.float64)
    target = torch.softmax(torch.randn(9, 4, dtype=torch.float64), dim=1)
    path_ref, right_ref = reference_forward(tree, x)
    out = tree(x)
    p = out.log_path.exp()
    for node, ref in path_ref.items():
        torch.testing.assert_close(p[:, node], ref, atol=1e-10, rtol=1e-8)
    for i, ref in right_ref.items():
        torch.testing.assert_close(torch.sigmoid(out.logits[:, i]), ref, atol=1e-10, rtol=1e-8)
    # The first training step's running averages are the batch values themselves,
    # so the penalty equals the paper's formula on this batch.
    tree.train()
    total, data_loss, penalty, _ = tree.loss(x, target)
    data_ref, penalty_ref = reference_losses(tree, x, target)
    torch.testing.assert_close(data_loss, data_ref, atol=1e-10, rtol=1e-8)
    # (λ·decay^d is stored in float32, hence the looser tolerance on the penalty)
    torch.testing.assert_close(penalty, penalty_ref, atol=1e-10, rtol=1e-6)
    torch.testing.assert_close(total, data_ref + penalty_ref, atol=1e-10, rtol=1e-6)


def test_penalty_gradient_equals_reference_gradient():
    torch.manual_seed(1)
    tree = SoftDecisionTree(TreeConfig(depth=3, input_shape=(1, 4, 4), n_classes=3, penalty_strength=1.0)).double()
    x = torch.rand(6, 1, 4, 4, dtype=torch.float64)
    target = torch.eye(3, dtype=torch.float64)[torch.tensor([0, 1, 2, 0, 1, 2])]
    _, _, penalty, _ = tree.loss(x, target)
    grad = torch.autograd.grad(penalty, tree.weight)[0]
    _, penalty_ref = reference_losses(tree, x, target)
    grad_ref = torch.autograd.grad(penalty_ref, tree.weight)[0]
    torch.testing.assert_close(grad, grad_ref, atol=1e-10, rtol=1e-7)


def test_running_average_window_grows_with_depth():
    cfg = TreeConfig(depth=4, ema_window=2.0)
    tree = SoftDecisionTree(cfg)
    expected = [1 - 1 / (2.0 * 2**topology.node_depth(i)) for i in range(cfg.n_inner)]
    np.testing.assert_allclose(tree.ema_decay.numpy(), expected, rtol=1e-6)
    # The estimate moves slower at deep nodes: feed batches whose α alternates.
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)
    target = torch.full((64, 10), 0.1)
    tree.train()
    history = []
    for step in range(60):
        with torch.no_grad():
            tree.bias.fill_(3.0 if step % 2 else -3.0)  # everything right, then everything left
        tree.loss(x, target)
        history.append(tree.alpha_ema.clone())
    swing = torch.stack(history[-20:]).diff(dim=0).abs().mean(0)
    assert swing[0] > swing[1] > swing[3] > swing[7]  # root moves most, deepest least


def test_any_batch_size_including_one_and_odd():
    tree = SoftDecisionTree(TreeConfig(depth=3))
    for n in (1, 3, 17):
        x = torch.rand(n, 1, 28, 28)
        loss, *_ = tree.loss(x, torch.full((n, 10), 0.1))
        loss.backward()
        assert torch.isfinite(loss) and tree.weight.grad is not None


def test_bigot_prediction_is_the_distribution_of_the_most_probable_leaf():
    torch.manual_seed(3)
    tree = SoftDecisionTree(TreeConfig(depth=4))
    with torch.no_grad():
        tree.leaf_logits.normal_(0, 3)
    x = torch.rand(20, 1, 28, 28)
    out = tree(x)
    leaf = out.log_path[:, 15:].argmax(1)
    q = tree.leaf_distributions()
    torch.testing.assert_close(tree.predict_proba(x), q[leaf])
    torch.testing.assert_close(tree.predict(x), q[leaf].argmax(1))
    torch.testing.assert_close(tree.predict_proba(x, "mixture"), out.log_path[:, 15:].exp() @ q)


def test_learned_beta_is_a_parameter_and_fixed_beta_is_not():
    learned = SoftDecisionTree(TreeConfig(depth=2, beta=0.5, learn_beta=True))
    fixed = SoftDecisionTree(TreeConfig(depth=2, beta=0.5))
    assert any(p is learned.log_beta for p in learned.parameters())
    assert not any(p is fixed.log_beta for p in fixed.parameters())
    assert float(learned.beta.detach()) == pytest.approx(0.5) and float(fixed.beta) == pytest.approx(0.5)
    loss, *_ = learned.loss(torch.rand(4, 1, 28, 28), torch.full((4, 10), 0.1))
    loss.backward()
    assert learned.log_beta.grad is not None


@pytest.mark.parametrize("kwargs, message", [
    ({"depth": 0}, "depth"), ({"depth": 11}, "depth"), ({"beta": 0}, "β"), ({"beta": float("nan")}, "β"),
    ({"penalty_strength": -1}, "λ"), ({"penalty_decay": 0}, "decay"), ({"ema_window": 0.5}, "EMA"),
    ({"input_shape": (1, 0, 28)}, "input shape"), ({"n_classes": 1}, "classes"),
])
def test_bad_settings_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TreeConfig(**kwargs)


def test_topology_helpers():
    assert topology.path_to_leaf(3, 5) == [0, 2, 5, 12]
    starts, ends = topology.leaf_ranges(3)
    assert list(zip(starts[:3], ends[:3])) == [(0, 8), (0, 4), (4, 8)]
    reach = topology.reachable_classes(2, np.array([1, 1, 3, 0]), 4)
    assert reach.tolist() == [[True, True, False, True], [False, True, False, False], [True, False, False, True]]
