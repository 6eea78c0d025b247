"""The one minibatch loop against a hand-written loop, its history, divergence and resumption."""

import math

import pytest
import torch
from torch import nn

from thermonn.train import train_minibatch


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(37, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(37, generator=g)
    model = nn.Linear(3, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    return x, y, model


def _loss(model, x, y):
    return lambda rows: ((model(x[rows]).squeeze(-1) - y[rows]) ** 2).mean()


def test_the_loop_is_exactly_the_hand_written_one():
    x, y, model = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    result = train_minibatch(
        _loss(model, x, y), 37, opt, epochs=3, batch_size=8,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    x2, y2, twin = _problem()
    opt2 = torch.optim.SGD(twin.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    history = []
    for _ in range(3):
        total = 0.0
        for rows in torch.randperm(37, generator=g).split(8):
            loss = _loss(twin, x2, y2)(rows)
            opt2.zero_grad()
            loss.backward()
            opt2.step()
            total += float(loss.detach()) * len(rows)
        history.append(total / 37)
    assert result.history == history  # exact: the same float64 sum in the same order
    assert (
        result.steps == 3 * 5 and result.last_loss == float(loss.detach()) and not result.diverged
    )
    torch.testing.assert_close(model.weight, twin.weight, rtol=0, atol=0)


def test_resuming_after_an_epoch_is_the_uninterrupted_run():
    x, y, straight = _problem()
    train_minibatch(
        _loss(straight, x, y), 37, torch.optim.Adam(straight.parameters(), lr=0.1), epochs=4,
        batch_size=10, generator=torch.Generator().manual_seed(2),
    )  # fmt: skip
    _, _, resumed = _problem()
    opt = torch.optim.Adam(resumed.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(2)
    seen = []
    train_minibatch(
        _loss(resumed, x, y), 37, opt, epochs=1, batch_size=10, generator=g,
        on_epoch=lambda e, loss: seen.append(e),
    )  # fmt: skip
    train_minibatch(
        _loss(resumed, x, y), 37, opt, epochs=4, batch_size=10, generator=g, start_epoch=1,
        on_epoch=lambda e, loss: seen.append(e),
    )  # fmt: skip
    assert seen == [1, 2, 3, 4]
    torch.testing.assert_close(resumed.weight, straight.weight, rtol=0, atol=0)


def test_a_non_finite_epoch_stops_the_loop_and_is_reported():
    x, y, model = _problem()
    y = y.clone()
    y[5] = math.inf
    calls = []
    result = train_minibatch(
        _loss(model, x, y), 37, torch.optim.SGD(model.parameters(), lr=0.01), epochs=5,
        batch_size=8, generator=torch.Generator().manual_seed(0),
        on_epoch=lambda e, loss: calls.append(e),
    )  # fmt: skip
    assert result.diverged and result.history == [] and calls == [] and result.steps == 5


def test_bad_arguments():
    x, y, model = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for kwargs, match in (({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size")):
        options = {"epochs": 1, "batch_size": 4, **kwargs}
        with pytest.raises(ValueError, match=match):
            train_minibatch(_loss(model, x, y), 37, opt, generator=torch.Generator(), **options)
    with pytest.raises(ValueError, match="^n: "):
        train_minibatch(
            _loss(model, x, y), 0, opt, epochs=1, batch_size=4, generator=torch.Generator()
        )
