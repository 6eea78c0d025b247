"""Speed of the thermodynamic computer on this machine (issue 4's targets).

1. Classify 10,000 Fashion-MNIST test inputs, one 200-step trajectory each (paper preset),
   with the machine's threaded run and with a naive batched loop (one tensor op per term, one
   global torch.randn per step) for comparison; 7 repeats, min and median.
2. One epoch of Adam on the action over the 60,000 Fashion-MNIST training images.
3. The exact least-squares fit on the same data.

    python benchmarks/thermocomputer_speed.py [--machine RUN/machine.safetensors]

Writes benchmarks/results/thermocomputer/speed.json. No timing is asserted anywhere in the tests.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from thermonn._host import host_info
from thermonn.experiments.thermocomputer.data import load_machine_data
from thermonn.experiments.thermocomputer.teacher import (
    build_teacher,
    teacher_targets,
    train_teacher,
)
from thermonn.machines import ThermoComputer
from thermonn.machines.thermocomputer import fit_adam, fit_exact
from thermonn.train.checkpoint import load_module, load_tensors


def naive(machine: ThermoComputer, u: torch.Tensor) -> torch.Tensor:
    c = machine.config
    h = machine.fields(u)
    x = torch.zeros_like(h)
    j = machine.coupling()
    for _ in range(c.steps):
        force = -(2 * c.j2 * x + 4 * c.j4 * x**3 + machine.bias + h + x @ j)
        x = x + c.dt * force + math.sqrt(2 * c.kT * c.dt) * torch.randn_like(x)
    return x


def timed(fn, repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"min": min(times), "median": statistics.median(times), "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--machine", default="benchmarks/results/thermocomputer/fashion-mnist/machine.safetensors"
    )
    parser.add_argument("--out", default="benchmarks/results/thermocomputer/speed.json")
    args = parser.parse_args()
    data = load_machine_data("fashion-mnist")
    machine = ThermoComputer()
    if Path(args.machine).is_file():
        load_module(machine, load_tensors(args.machine)[0], source=args.machine)
    u = data.x_test[:10000]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        classify = timed(lambda: machine.run(u, generator=g), 7)
        baseline = timed(lambda: naive(machine, u), 3)
    torch.manual_seed(0)
    teacher = build_teacher(784)
    train_teacher(teacher, data.x_train, data.y_train, epochs=1)
    targets = teacher_targets(teacher, data.x_train)
    start = time.perf_counter()
    fit_adam(ThermoComputer(), data.x_train, targets, epochs=1)
    adam_epoch = time.perf_counter() - start
    exact = fit_exact(ThermoComputer(), data.x_train, targets).seconds
    result = {
        "classify_10k_one_trajectory_seconds": classify,
        "naive_loop_seconds": baseline,
        "adam_epoch_seconds": adam_epoch,
        "exact_fit_seconds": exact,
        "machine": host_info()._asdict(),
        "command": "python benchmarks/thermocomputer_speed.py",
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
