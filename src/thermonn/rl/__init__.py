"""Thermodynamic policy gradients: maximum-entropy reinforcement learning with an explicit,
auto-tuned temperature α.

The policy is a Gibbs distribution over actions at temperature α (:mod:`thermonn.rl.soft`);
SAC (:mod:`thermonn.rl.sac`) handles continuous actions and soft PPO
(:mod:`thermonn.rl.discrete`) discrete ones, both tuning α by dual gradient to a target
entropy. :func:`train` runs either on a gymnasium environment (the ``[rl]`` extra) with
evaluation, a learning curve and resumable checkpoints.

    from thermonn.rl import train, plot_learning_curve
    result = train("CartPole-v1", "soft-ppo", 50_000, seed=0, out_dir="runs/cartpole")
    print(result.final_mean, result.alpha)
"""

from thermonn.rl.buffer import TransitionBuffer
from thermonn.rl.discrete import SoftPPO, SoftPPOConfig, generalized_advantages
from thermonn.rl.distributions import (
    sample_categorical,
    sample_tanh_gaussian,
    tanh_gaussian_log_prob,
)
from thermonn.rl.envs import EVAL_SEED_OFFSET, eval_seed, make_env, train_seed
from thermonn.rl.loop import (
    ALGORITHMS,
    Agent,
    CurvePoint,
    EpisodeRecord,
    RLResult,
    evaluate,
    make_agent,
    run_settings,
    train,
)
from thermonn.rl.plot import plot_learning_curve
from thermonn.rl.sac import SAC, SACConfig
from thermonn.rl.soft import (
    SoftValueIteration,
    categorical_entropy,
    continuous_soft_target,
    discrete_soft_target,
    optimal_soft_value,
    soft_bellman_target,
    soft_value,
    soft_value_iteration,
    temperature_loss,
)

__all__ = [
    "ALGORITHMS",
    "EVAL_SEED_OFFSET",
    "SAC",
    "Agent",
    "CurvePoint",
    "EpisodeRecord",
    "RLResult",
    "SACConfig",
    "SoftPPO",
    "SoftPPOConfig",
    "SoftValueIteration",
    "TransitionBuffer",
    "categorical_entropy",
    "continuous_soft_target",
    "discrete_soft_target",
    "eval_seed",
    "evaluate",
    "generalized_advantages",
    "make_agent",
    "make_env",
    "optimal_soft_value",
    "plot_learning_curve",
    "run_settings",
    "sample_categorical",
    "sample_tanh_gaussian",
    "soft_bellman_target",
    "soft_value",
    "soft_value_iteration",
    "tanh_gaussian_log_prob",
    "temperature_loss",
    "train",
    "train_seed",
]
