"""The shared neural core: data batching with weights, the weighted loss, seeding, devices."""

import numpy as np
import pytest
import torch

from skhep_reweight._nn import (
    MLP,
    AlternatingNet,
    BatchIterator,
    BinaryCrossEntropyPerEvent,
    CosineDecay,
    EventDataset,
    StratifiedSplit,
    WeightedNet,
    make_activation,
    predict_network,
    resolve_device,
    seeded,
    standardization_stats,
    train_network,
)

FAST = {
    "learning_rate": 1e-2,
    "batch_size": 64,
    "max_epochs": 5,
    "early_stopping": False,
    "validation_fraction": 0.2,
    "n_iter_no_change": 3,
    "weight_decay": 0.0,
    "device": "cpu",
    "verbose": 0,
}


def _train(module_kwargs, X, y, w, seed, options=FAST):
    """An MLP trained by the weighted binary cross-entropy."""
    return train_network(
        MLP,
        module_kwargs,
        X,
        y,
        w,
        options=options,
        seed=seed,
        criterion=BinaryCrossEntropyPerEvent,
    )


def _module_kwargs(X, hidden=(8,)):
    loc, scale = standardization_stats(X)
    return {"n_inputs": X.shape[1], "hidden_layer_sizes": hidden, "loc": loc, "scale": scale}


def test_batches_carry_the_weights_of_their_events():
    X = np.arange(1000, dtype=float)[:, None]
    data = EventDataset(X, y=np.zeros(1000), sample_weight=10.0 * X[:, 0])
    seen = []
    for batch_x, _ in BatchIterator(data, batch_size=37, shuffle=True, seed=3):
        np.testing.assert_array_equal(batch_x["w"].numpy(), 10.0 * batch_x["X"][:, 0].numpy())
        seen.append(batch_x["X"][:, 0].numpy())
    seen = np.concatenate(seen)
    assert not np.array_equal(seen, X[:, 0])  # shuffled ...
    np.testing.assert_array_equal(np.sort(seen), X[:, 0])  # ... and each event once


def test_batch_order_is_reproducible_from_the_seed():
    data = EventDataset(np.arange(100.0)[:, None])

    def order(seed):
        return np.concatenate(
            [b["X"][:, 0].numpy() for b, _ in BatchIterator(data, 10, shuffle=True, seed=seed)]
        )

    np.testing.assert_array_equal(order(1), order(1))
    assert not np.array_equal(order(1), order(2))


def test_stratified_split_keeps_class_shares():
    y = np.r_[np.zeros(800), np.ones(200)]
    train, valid = StratifiedSplit(0.25, seed=0)(EventDataset(np.zeros((1000, 1)), y))
    assert len(valid) == 250
    assert valid.y.mean().item() == pytest.approx(0.2)
    assert train.y.mean().item() == pytest.approx(0.2)


def test_weighted_loss_is_the_weighted_mean_of_the_per_event_loss():
    net = WeightedNet(
        MLP, criterion=BinaryCrossEntropyPerEvent, module__n_inputs=1, module__hidden_layer_sizes=()
    )
    net.initialize()
    logit = torch.tensor([[0.3], [-1.0], [2.0]])
    y = torch.tensor([1.0, 0.0, 0.0])
    w = torch.tensor([2.0, 0.5, -1.0])
    per_event = torch.nn.functional.binary_cross_entropy_with_logits(
        logit[:, 0], y, reduction="none"
    )
    loss = net.get_loss(logit, y, X={"X": None, "w": w})
    assert loss.item() == pytest.approx((w * per_event).mean().item(), rel=1e-6)


def test_full_batch_weights_equal_repeated_events():
    # With one batch of all events and no validation split, an integer weight k must train
    # exactly like the event repeated k times: the weights enter the loss with their events.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(np.float32)
    k = rng.randint(1, 4, size=200)
    X_rep, y_rep = np.repeat(X, k, axis=0), np.repeat(y, k)
    opts = {**FAST, "batch_size": 10_000, "max_epochs": 30}
    kwargs = _module_kwargs(X_rep)
    net_w = _train(kwargs, X, y, k * len(y) / k.sum(), seed=0, options=opts)
    net_r = _train(kwargs, X_rep, y_rep, None, seed=0, options=opts)
    grid = rng.normal(size=(50, 2))
    np.testing.assert_allclose(
        predict_network(net_w, grid), predict_network(net_r, grid), rtol=1e-4, atol=1e-4
    )
    # and a wrong pairing of weights and events gives a measurably different network
    net_shuffled = _train(kwargs, X, y, rng.permutation(k * len(y) / k.sum()), 0, options=opts)
    assert np.abs(predict_network(net_shuffled, grid) - predict_network(net_r, grid)).max() > 1e-2


def test_training_is_seeded_and_leaves_global_rng_alone():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 3))
    y = (X.sum(axis=1) > 0).astype(np.float32)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    outs = [
        predict_network(
            _train(_module_kwargs(X), X, y, None, seed=s),
            X,
        )
        for s in (7, 7, 8)
    ]
    after = torch.rand(1)
    assert before.item() == after.item()  # the user's global generator was not reseeded
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.allclose(outs[0], outs[2])


def test_early_stopping_restores_the_best_epoch():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(400, 5))
    y = rng.randint(0, 2, 400).astype(np.float32)  # pure noise: validation loss rises soon
    opts = {
        **FAST,
        "early_stopping": True,
        "max_epochs": 200,
        "n_iter_no_change": 5,
        "learning_rate": 3e-2,
    }
    net = _train(_module_kwargs(X, (64, 64)), X, y, None, seed=0, options=opts)
    valid = net.history[:, "valid_loss"]
    assert len(valid) < 200
    best = int(np.argmin(valid))
    assert len(valid) == best + 1 + 5
    # the restored network reproduces the best validation loss, not the last one
    train, held = StratifiedSplit(
        0.2, seed=np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=3)[0]
    )(EventDataset(X, y))
    logit = torch.as_tensor(predict_network(net, held.X.numpy())[:, 0])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, held.y.double()).item()
    assert loss == pytest.approx(valid[best], rel=1e-4)


def test_non_finite_loss_stops_with_advice():
    X = np.r_[np.zeros((50, 1)), np.ones((50, 1))]
    y = np.r_[np.zeros(50), np.ones(50)].astype(np.float32)
    w = np.ones(100)
    w[:10] = 3e38  # each fits float32, their sum in the loss does not: the loss becomes inf
    with pytest.raises(FloatingPointError, match="learning_rate"):
        _train(_module_kwargs(X), X, y, w, seed=0)


def test_progress_bar_only_when_verbose(capsys):
    X = np.random.RandomState(0).normal(size=(100, 1))
    y = (X[:, 0] > 0).astype(np.float32)
    _train(_module_kwargs(X), X, y, None, seed=0, options={**FAST, "verbose": 0})
    quiet = capsys.readouterr()
    assert quiet.out == ""
    assert quiet.err == ""
    _train(_module_kwargs(X), X, y, None, seed=0, options={**FAST, "verbose": 1})
    err = capsys.readouterr().err
    assert "5/5" in err
    assert "train_loss" in err


def test_standardization_stats_and_layer():
    X = np.c_[np.linspace(0, 10, 11), np.full(11, 3.0)]
    loc, scale = standardization_stats(X)
    np.testing.assert_allclose(loc, [5.0, 3.0])
    np.testing.assert_allclose(scale, [X[:, 0].std(), 1.0])  # constant column left unscaled
    module = MLP(2, (), loc=loc, scale=scale)
    z = module.layers[0](torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(z.mean(axis=0), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(z[:, 0].std(), 1.0, rtol=1e-5)


def test_values_beyond_float32_raise():
    with pytest.raises(ValueError, match="sample_weight holds values beyond the float32"):
        EventDataset(np.zeros((2, 1)), sample_weight=[1.0, 1e39])


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="activation"):
        make_activation("swish-ish")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")


def test_seeded_context_restores_state():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    with seeded(42):
        inside = torch.rand(3)
    after = torch.rand(3)
    np.testing.assert_array_equal(after.numpy(), expected.numpy())
    with seeded(42):
        np.testing.assert_array_equal(torch.rand(3).numpy(), inside.numpy())


class _TwoPlayers(torch.nn.Module):
    """A primary parameter p chasing the critic's q, which chases the mean of the batch."""

    def __init__(self, n_inputs=1):
        super().__init__()
        self.p = torch.nn.Parameter(torch.tensor(0.0))
        self.q = torch.nn.Parameter(torch.tensor(0.0))
        self.calls = {"critic": 0, "primary": 0, "constrain": 0}

    def primary_parameters(self):
        return [("p", self.p)]

    def critic_parameters(self):
        return [("q", self.q)]

    def critic_loss(self, X, y, w):
        self.calls["critic"] += 1
        return (self.q - X.mean()) ** 2

    def primary_loss(self, X, y, w):
        self.calls["primary"] += 1
        return (self.p - self.q.detach()) ** 2

    def value(self, X, y, w):
        return (self.p - X.mean()) ** 2

    def constrain(self):
        self.calls["constrain"] += 1

    def forward(self, X):
        return X[:, :1] * 0 + self.p


def _train_two_players(**kwargs):
    X = np.full((640, 1), 3.0)
    options = {**FAST, "max_epochs": 3, "learning_rate": 0.1}
    return train_network(
        _TwoPlayers,
        {},
        X,
        np.zeros(640),
        None,
        options=options,
        seed=0,
        net_class=AlternatingNet,
        lr_decay=False,
        **kwargs,
    )


def test_alternating_net_steps_each_player_with_its_own_optimizer():
    net = _train_two_players(n_critic=4)
    calls = net.module_.calls
    # 10 batches an epoch, 3 epochs: 30 critic steps, a primary step on batches 1, 5, 9, ...
    assert calls["critic"] == 30
    assert calls["primary"] == 8
    assert calls["constrain"] == 38  # after every optimizer step
    assert len(net.history[-1, "batches"]) == 10
    assert "critic_loss" in net.history[-1, "batches", 0]
    assert net.module_.q.item() > 2.0  # the critic converged towards the batch mean
    assert 0.5 < net.module_.p.item() < net.module_.q.item()  # the primary follows, slower
    # a zero learning rate for the critic freezes q alone
    frozen = _train_two_players(n_critic=1, critic_optimizer__lr=0.0)
    assert frozen.module_.q.item() == 0.0
    assert frozen.module_.p.item() == 0.0  # chasing q = 0 from 0
    assert frozen.critic_optimizer_.param_groups[0]["lr"] == 0.0
    assert frozen.optimizer_.param_groups[0]["lr"] == 0.1


def test_cosine_decay_cuts_every_optimizer_to_zero():
    net = _train_two_players(n_critic=2, callbacks=[("cosine", CosineDecay(3))])
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert net.critic_optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
