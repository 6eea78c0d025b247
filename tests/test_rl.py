"""Thermodynamic policy gradients (thermonn.rl): soft Bellman targets and soft value iteration
against hand-computed and closed-form values, the tanh-Gaussian density, the temperature's dual
step, bit-for-bit resumption, and boundary errors."""

import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from thermonn.rl import (
    SAC,
    SACConfig,
    SoftPPO,
    SoftPPOConfig,
    continuous_soft_target,
    discrete_soft_target,
    generalized_advantages,
    make_env,
    optimal_soft_value,
    plot_learning_curve,
    sample_tanh_gaussian,
    soft_bellman_target,
    soft_value,
    soft_value_iteration,
    tanh_gaussian_log_prob,
    temperature_loss,
    train,
)
from thermonn.train.checkpoint import load_tensors

pytest.importorskip("gymnasium")

D = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------ soft Bellman targets


def test_discrete_soft_target_matches_the_hand_computed_two_state_value():
    # next state s': π(·|s') = (1/4, 3/4), Q(s', ·) = (1, 2); α = 1/2, γ = 0.9, r = 1
    # V(s') = ¼(1 − ½ ln ¼) + ¾(2 − ½ ln ¾) = 2.0311676...
    v = 0.25 * (1 - 0.5 * math.log(0.25)) + 0.75 * (2 - 0.5 * math.log(0.75))
    assert v == pytest.approx(2.0311676, abs=1e-7)
    next_q = torch.tensor([[1.0, 2.0], [1.0, 2.0]], dtype=D)
    next_log_pi = torch.tensor([[0.25, 0.75], [0.25, 0.75]], dtype=D).log()
    reward = torch.tensor([1.0, 1.0], dtype=D)
    terminated = torch.tensor([False, True])
    y = discrete_soft_target(reward, next_q, next_log_pi, terminated, alpha=0.5, gamma=0.9)
    torch.testing.assert_close(y, torch.tensor([1 + 0.9 * v, 1.0], dtype=D), rtol=0, atol=1e-12)


def test_continuous_soft_target_subtracts_the_next_log_density_and_masks_terminals():
    reward = torch.tensor([0.5, 0.5, -1.0], dtype=D)
    next_q = torch.tensor([2.0, 2.0, 3.0], dtype=D)
    next_log_prob = torch.tensor([-1.0, -1.0, 0.5], dtype=D)
    terminated = torch.tensor([False, True, False])
    y = continuous_soft_target(reward, next_q, next_log_prob, terminated, alpha=0.2, gamma=0.99)
    expected = [0.5 + 0.99 * (2.0 + 0.2), 0.5, -1.0 + 0.99 * (3.0 - 0.2 * 0.5)]
    torch.testing.assert_close(y, torch.tensor(expected, dtype=D), rtol=0, atol=1e-12)


def test_soft_value_of_the_boltzmann_policy_is_the_free_energy_and_the_maximum():
    # Gibbs variational principle: max_π E_π[Q] + αH(π) = α log Σ exp(Q/α), at π ∝ exp(Q/α)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(64, 5, generator=g, dtype=D)
    alpha = 0.7
    boltzmann = soft_value(q, F.log_softmax(q / alpha, -1), alpha)
    torch.testing.assert_close(boltzmann, optimal_soft_value(q, alpha), rtol=0, atol=1e-12)
    other = soft_value(q, F.log_softmax(torch.randn(64, 5, generator=g, dtype=D), -1), alpha)
    assert bool((other < boltzmann).all())
    # α → 0: the hard maximum
    torch.testing.assert_close(optimal_soft_value(q, 1e-4), q.max(-1).values, atol=1e-3, rtol=0)


def _two_state_mdp():
    # action a moves deterministically to state a; rewards r(s, a)
    reward = torch.tensor([[1.0, 0.0], [-0.5, 2.0]], dtype=D)
    transition = torch.zeros(2, 2, 2, dtype=D)
    transition[:, 0, 0] = transition[:, 1, 1] = 1.0
    return reward, transition


def test_iterating_the_discrete_soft_target_reaches_the_policy_evaluation_solution():
    # fixed policy π: V = (I − γ P_π)^{-1} Σ_a π (r − α log π), solved in numpy
    reward, transition = _two_state_mdp()
    pi = np.array([[0.3, 0.7], [0.6, 0.4]])
    alpha, gamma = 0.5, 0.9
    r_pi = (pi * (reward.numpy() - alpha * np.log(pi))).sum(1)
    p_pi = np.einsum("sa,sat->st", pi, transition.numpy())
    v = np.linalg.solve(np.eye(2) - gamma * p_pi, r_pi)
    log_pi = torch.tensor(np.log(pi), dtype=D)
    next_state = torch.tensor([0, 1])  # of action a, from either state
    q = torch.zeros(2, 2, dtype=D)
    for _ in range(600):
        q = torch.stack([
            discrete_soft_target(reward[s], q[next_state], log_pi[next_state],
                                 torch.zeros(2, dtype=torch.bool), alpha=alpha, gamma=gamma)
            for s in range(2)
        ])  # fmt: skip
    np.testing.assert_allclose(soft_value(q, log_pi, alpha).numpy(), v, rtol=0, atol=1e-10)


def test_soft_value_iteration_matches_the_closed_form_of_an_action_independent_mdp():
    # P(s'|s, a) = p(s') for every (s, a): Q(s, a) = r(s, a) + γc, V(s) = α LSE(r(s,·)/α) + γc,
    # c = Σ p(s)V(s) = Σ p(s) α LSE(r(s,·)/α) / (1 − γ)
    reward = torch.tensor([[1.0, 0.0, 0.3], [-0.5, 2.0, 0.1]], dtype=D)
    p = torch.tensor([0.3, 0.7], dtype=D)
    transition = p.expand(2, 3, 2).clone()
    alpha, gamma = 0.4, 0.95
    lse = alpha * torch.logsumexp(reward / alpha, -1)
    c = float((p * lse).sum()) / (1 - gamma)
    result = soft_value_iteration(reward, transition, alpha=alpha, gamma=gamma)
    torch.testing.assert_close(result.value, lse + gamma * c, rtol=0, atol=1e-8)
    torch.testing.assert_close(result.q, reward + gamma * c, rtol=0, atol=1e-8)
    torch.testing.assert_close(result.policy, torch.softmax(reward / alpha, -1), rtol=0, atol=1e-10)


def test_soft_value_iteration_solves_the_soft_bellman_equation_of_a_two_state_mdp():
    # the fixed point by an independent solver (scipy's root finder on V), and the Boltzmann
    # policy of the result evaluated by the linear solve gives back the same values
    from scipy.optimize import root

    reward, transition = _two_state_mdp()
    alpha, gamma = 0.5, 0.9
    r, P = reward.numpy(), transition.numpy()

    def residual(v):
        q = r + gamma * P @ v
        return v - alpha * np.log(np.exp(q / alpha).sum(1))

    v_star = root(residual, np.zeros(2), tol=1e-14).x
    result = soft_value_iteration(reward, transition, alpha=alpha, gamma=gamma)
    np.testing.assert_allclose(result.value.numpy(), v_star, rtol=0, atol=1e-8)
    pi = result.policy.numpy()
    r_pi = (pi * (r - alpha * np.log(pi))).sum(1)
    v_pi = np.linalg.solve(np.eye(2) - gamma * np.einsum("sa,sat->st", pi, P), r_pi)
    np.testing.assert_allclose(v_pi, v_star, rtol=0, atol=1e-8)
    assert result.iterations > 10


def test_generalized_advantages_against_direct_discounted_sums():
    g = torch.Generator().manual_seed(1)
    n, gamma, lam = 12, 0.9, 0.8
    reward, value, next_value = (torch.randn(n, generator=g, dtype=D) for _ in range(3))
    terminated = torch.zeros(n, dtype=torch.bool)
    terminated[4] = True
    end = terminated.clone()
    end[8] = True  # a truncation: bootstrapped, but the sum stops
    delta = reward + gamma * (~terminated).to(D) * next_value - value
    expected = torch.zeros(n, dtype=D)
    for t in range(n):
        for k in range(t, n):
            expected[t] += (gamma * lam) ** (k - t) * delta[k]
            if end[k]:
                break
    got = generalized_advantages(reward, value, next_value, terminated, end, gamma=gamma, lam=lam)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ the tanh-Gaussian policy


def test_tanh_gaussian_log_prob_is_the_change_of_variables():
    g = torch.Generator().manual_seed(2)
    mean, log_std = (
        torch.randn(100, 3, generator=g, dtype=D),
        torch.randn(100, 3, generator=g, dtype=D) * 0.5,
    )
    u = mean + log_std.exp() * torch.randn(100, 3, generator=g, dtype=D)
    normal = torch.distributions.Normal(mean, log_std.exp()).log_prob(u)
    by_hand = (normal - torch.log(1 - torch.tanh(u) ** 2)).sum(-1)
    torch.testing.assert_close(tanh_gaussian_log_prob(u, mean, log_std), by_hand, rtol=0, atol=1e-9)
    # far in the tail 1 − tanh² u rounds to 0; the stable form keeps log(1 − tanh² u) ≈ log 4 − 2|u|
    big = torch.tensor([[25.0], [-25.0]], dtype=D)
    zero = torch.zeros_like(big)
    expected = -0.5 * 25.0**2 - 0.5 * math.log(2 * math.pi) - (math.log(4) - 50.0)
    torch.testing.assert_close(
        tanh_gaussian_log_prob(big, zero, zero), torch.tensor([expected] * 2, dtype=D)
    )


@pytest.mark.parametrize(("mu", "log_sigma"), [(0.0, 0.0), (0.8, -0.7), (-1.0, -0.4)])
def test_tanh_gaussian_density_integrates_to_one(mu, log_sigma):
    a = torch.linspace(-1, 1, 400_001, dtype=D)[1:-1]
    u = torch.atanh(a)
    density = tanh_gaussian_log_prob(u[:, None], torch.full((len(a), 1), mu, dtype=D),
                                     torch.full((len(a), 1), log_sigma, dtype=D)).exp()  # fmt: skip
    assert float(torch.trapezoid(density, a)) == pytest.approx(1.0, abs=1e-8)


def test_tanh_gaussian_samples_follow_their_law_and_report_their_density():
    from scipy.stats import kstest, norm

    g = torch.Generator().manual_seed(3)
    mean, log_std = torch.full((20_000, 1), 0.4, dtype=D), torch.full((20_000, 1), -0.3, dtype=D)
    a, log_prob = sample_tanh_gaussian(mean, log_std, generator=g)
    assert bool((a.abs() < 1).all())
    # P(A ≤ a) = Φ((atanh a − μ)/σ)
    cdf = lambda x: norm.cdf((np.arctanh(x) - 0.4) / math.exp(-0.3))  # noqa: E731
    assert kstest(a.squeeze(-1).numpy(), cdf).pvalue > 0.01
    torch.testing.assert_close(
        log_prob, tanh_gaussian_log_prob(torch.atanh(a), mean, log_std), rtol=1e-6, atol=1e-6
    )


# ------------------------------------------------------------------ the temperature


def test_temperature_loss_gradient_is_entropy_minus_target():
    log_alpha = torch.zeros((), requires_grad=True)
    entropy = torch.tensor([0.9, 1.1])
    temperature_loss(log_alpha, entropy, target_entropy=0.25).backward()
    assert float(log_alpha.grad) == pytest.approx(0.75)


@pytest.mark.parametrize("agent", ["sac", "soft-ppo"])
@pytest.mark.parametrize(("target", "direction"), [("low", -1), ("high", +1)])
def test_auto_tuning_moves_alpha_toward_the_target_entropy(agent, target, direction):
    # entropy above the target → α falls; below it (a target above log|A|, unreachable) → α rises
    g = torch.Generator().manual_seed(4)
    if agent == "sac":
        # tanh of N(0, ~1) on [-1, 1] has entropy ≈ 0.4 nats; targets -3 and +2 (> log 2)
        a = SAC(
            SACConfig(
                hidden=(16,),
                batch_size=32,
                learning_starts=0,
                target_entropy=-3.0 if target == "low" else 2.0,
            ),
            3,
            1,
        )
        for _ in range(64):
            obs = torch.randn(3, generator=g)
            a.observe(
                obs,
                a.act(obs, generator=g),
                0.0,
                torch.randn(3, generator=g),
                False,
                False,
                generator=g,
            )
    else:
        a = SoftPPO(
            SoftPPOConfig(
                hidden=(16,),
                n_steps=64,
                n_epochs=2,
                batch_size=32,
                target_entropy_ratio=0.0 if target == "low" else 1.0,
            ),
            4,
            3,
        )
        for _ in range(64):
            obs = torch.randn(4, generator=g)
            a.observe(
                obs,
                a.act(obs, generator=g),
                1.0,
                torch.randn(4, generator=g),
                False,
                False,
                generator=g,
            )
    alpha0 = a.config.alpha
    assert a.alpha != alpha0
    assert math.copysign(1, a.alpha - alpha0) == direction
    assert (a.entropy > a.target_entropy) == (direction < 0)


# ------------------------------------------------------------------ the training loop


FAST = {
    "sac": ("Pendulum-v1", SACConfig(hidden=(32, 32), batch_size=32, learning_starts=50)),
    "soft-ppo": ("CartPole-v1", SoftPPOConfig(hidden=(16, 16), n_steps=128, n_epochs=2)),
}


class _Crash(Exception):
    pass


@pytest.mark.parametrize("algo", ["sac", "soft-ppo"])
def test_a_run_resumed_from_its_checkpoint_equals_the_uninterrupted_run(algo, tmp_path):
    env_id, config = FAST[algo]
    kwargs = {"config": config, "eval_every": 150, "eval_episodes": 2, "checkpoint_every": 150}
    whole = train(env_id, algo, 600, 7, tmp_path / "whole", **kwargs)

    def crash(record):
        if (tmp_path / "cut" / "checkpoint.safetensors").exists():
            raise _Crash

    with pytest.raises(_Crash):
        train(env_id, algo, 600, 7, tmp_path / "cut", on_episode=crash, **kwargs)
    tensors, meta = load_tensors(tmp_path / "cut" / "checkpoint.safetensors")
    assert 150 <= meta["env_steps"] < 600
    prefix = "buffer." if algo == "sac" else "rollout."
    assert {"generator", "log_alpha", f"{prefix}obs", "agent_counters"} <= set(tensors)
    assert any(k.startswith("opt.") for k in tensors)
    resumed = train(env_id, algo, 600, 7, tmp_path / "cut", **kwargs)
    assert resumed.resumed_from == meta["env_steps"]
    w, r = whole.agent.network_tensors(), resumed.agent.network_tensors()
    assert w.keys() == r.keys()
    for k in w:
        assert torch.equal(w[k], r[k]), k
    assert resumed.curve == whole.curve
    assert resumed.episodes == whole.episodes
    assert resumed.final_returns == whole.final_returns
    # and the run really learned something different from its initial weights
    fresh = train(env_id, algo, 1, 7, config=config, eval_episodes=1).agent.network_tensors()
    assert not all(torch.equal(fresh[k], w[k]) for k in w)
    for name in ("results.json", "agent.safetensors", "curve.png", "config.json"):
        assert (tmp_path / "whole" / name).exists()


def test_a_folder_of_another_run_is_refused(tmp_path):
    env_id, config = FAST["soft-ppo"]
    train(env_id, "soft-ppo", 200, 0, tmp_path, config=config, eval_episodes=1)
    with pytest.raises(ValueError, match="different configuration"):
        train(env_id, "soft-ppo", 200, 1, tmp_path, config=config, eval_episodes=1)


def test_soft_ppo_learns_cartpole_quickly():
    result = train("CartPole-v1", "soft-ppo", 20_000, 0, eval_episodes=5)
    assert result.final_mean > 150  # a random policy balances ~22 steps


def test_plot_learning_curve_writes_a_png(tmp_path):
    env_id, config = FAST["soft-ppo"]
    result = train(env_id, "soft-ppo", 300, 0, config=config, eval_every=100, eval_episodes=1)
    assert [p.steps for p in result.curve] == [100, 200, 300]
    path = plot_learning_curve({"a": result, "b": result}, tmp_path / "c.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_sac_solves_pendulum_in_20k_steps():
    result = train("Pendulum-v1", "sac", 20_000, 0)
    assert result.final_mean > -300  # a random policy scores about −1200


@pytest.mark.slow
def test_soft_ppo_reaches_the_cartpole_cap_in_50k_steps():
    result = train("CartPole-v1", "soft-ppo", 50_000, 0)
    assert result.final_mean == 500.0


# ------------------------------------------------------------------ boundary errors


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: train("NoSuchEnv-v0", "sac", 10), "env_id"),
        (lambda: train("Pendulum-v1", "dqn", 10), "algo"),
        (lambda: train("CartPole-v1", "sac", 10), "algo"),
        (lambda: train("Pendulum-v1", "soft-ppo", 10), "algo"),
        (lambda: train("Pendulum-v1", "sac", 0), "steps"),
        (lambda: train("Pendulum-v1", "sac", 10, seed=-1), "seed"),
        (lambda: train("Pendulum-v1", "sac", 10, eval_every=0), "eval_every"),
        (lambda: SACConfig(alpha=0.0), "alpha"),
        (lambda: SACConfig(gamma=1.0), "gamma"),
        (lambda: SACConfig(tau=1.5), "tau"),
        (lambda: SoftPPOConfig(alpha=-0.1), "alpha"),
        (lambda: SoftPPOConfig(gae_lambda=1.2), "gae_lambda"),
        (lambda: SoftPPOConfig(target_entropy_ratio=2.0), "target_entropy_ratio"),
        (lambda: soft_value(torch.zeros(2), torch.zeros(2), 0.0), "alpha"),
        (lambda: optimal_soft_value(torch.zeros(2), -1.0), "alpha"),
        (lambda: soft_bellman_target(torch.zeros(1), torch.zeros(1), torch.zeros(1), 1.5), "gamma"),
        (lambda: soft_value_iteration(*_two_state_mdp(), alpha=0.0, gamma=0.9), "alpha"),
        (lambda: soft_value_iteration(*_two_state_mdp(), alpha=1.0, gamma=1.0), "gamma"),
        (
            lambda: soft_value_iteration(
                _two_state_mdp()[0], torch.ones(2, 2, 2, dtype=D), alpha=1.0, gamma=0.5
            ),
            "transition",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="config"):
        train("Pendulum-v1", "sac", 10, config=SoftPPOConfig())
    with pytest.raises(TypeError, match="hidden"):
        SACConfig(hidden=[64])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="steps"):
        train("Pendulum-v1", "sac", 10.0)  # type: ignore[arg-type]


def test_missing_gymnasium_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    with pytest.raises(ImportError, match=r"thermonn\[rl\]"):
        make_env("CartPole-v1")
