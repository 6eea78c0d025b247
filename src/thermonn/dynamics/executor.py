"""The batched chunk executor: where every many-input simulation is cut, seeded and threaded.

A batch of independent inputs is cut into chunks of ``chunk_size`` rows; each chunk runs with its
own generator, seeded from one draw of the caller's ``generator``, on one of
``torch.get_num_threads()`` worker threads (each worker one core: no nested intra-op threads).
The result depends on ``generator`` and ``chunk_size``, never on the thread count. This is the
seam where scale-out (more processes or devices) plugs in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from thermonn._validation import check_int
from thermonn.dynamics.integrate import Trajectory

__all__ = ["run_chunked"]

ChunkRun = Callable[[Sequence[Tensor], torch.Generator], Trajectory]


def run_chunked(
    simulate: ChunkRun,
    inputs: Sequence[Tensor],
    *,
    chunk_size: int,
    generator: torch.Generator | None = None,
    dim: int = -2,
) -> Trajectory:
    """Call ``simulate(chunk, chunk_generator)`` on row chunks of ``inputs`` (tensors with equal
    first dimension) and join the trajectories' states along ``dim`` (the batch dimension of
    ``states``). ``generator`` ``None`` draws the chunk seeds from torch's default generator.

    The caller's grad mode reaches the workers, so a differentiable simulation stays one.
    """
    check_int("chunk_size", chunk_size, minimum=1)
    if not inputs or any(len(t) != len(inputs[0]) for t in inputs):
        raise ValueError(
            f"inputs: expected tensors with one first dimension, got {[len(t) for t in inputs]}"
        )
    pieces = list(zip(*(t.split(chunk_size) for t in inputs), strict=True))
    seed_device = generator.device if generator is not None else torch.device("cpu")
    seeds = torch.randint(2**62, (len(pieces),), generator=generator, device=seed_device).tolist()
    device = inputs[0].device
    grad_mode = torch.is_grad_enabled()  # thread-local: carry the caller's mode to the workers

    def one(piece: Sequence[Tensor], seed: int) -> Trajectory:
        with torch.set_grad_enabled(grad_mode):
            return simulate(piece, torch.Generator(device=device).manual_seed(seed))

    def one_in_worker(piece: Sequence[Tensor], seed: int) -> Trajectory:
        # OpenMP's thread count is per thread: the caller's setting is untouched
        torch.set_num_threads(1)
        return one(piece, seed)

    workers = min(len(pieces), torch.get_num_threads())
    if workers == 1:
        outs = [one(p, s) for p, s in zip(pieces, seeds, strict=True)]
    else:
        with ThreadPoolExecutor(workers) as pool:
            outs = list(pool.map(one_in_worker, pieces, seeds))
    return Trajectory(outs[0].times, torch.cat([o.states for o in outs], dim=dim))
