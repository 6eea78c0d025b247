"""The cost model of an analog thermodynamic device, kept apart from this computer's clock.

A device of d coupled cells (the stochastic processing unit of Aifer et al. 2023, "Thermodynamic
linear algebra", and of Normal Computing's prototype) runs the dynamics in its own time unit τ
(the cells' RC/LC time constant) and is read by analog-to-digital converters. What a
thermodynamic algorithm costs on it is

* **physical time** t, in units of τ (burn-in plus sampling, or the switching time of a
  protocol), and t·τ seconds for a given τ;
* **samples**: how many readouts were taken (d-vectors, or scalars such as works);
* **energy** E = t·τ·(d·P_cell + c·P_coupling) + samples·w·E_ADC for c programmed couplings
  and w numbers per readout (d for a state, 1 for a scalar).

The defaults of :class:`DeviceModel` are *assumptions* of the order of published analog-circuit
figures (a µs time constant, a mW per active cell, 10 µW per coupling, 10 pJ per conversion), not
measurements of any device: set them to your hardware's. The reported energy scales linearly in
each, so it is easy to rescale. Nothing here touches wall-clock time, which the benchmarks report
in their own column.
"""

from __future__ import annotations

from dataclasses import dataclass

from thermonn._validation import check_float, check_int

__all__ = ["DeviceCost", "DeviceModel"]


@dataclass(frozen=True)
class DeviceModel:
    """The assumed constants of an analog device (see the module docstring): ``tau_seconds``
    (the time unit τ), ``cell_watts`` (power per cell), ``coupling_watts`` (power per
    programmed coupling), ``adc_joules`` (energy per converted number).

    Raises:
        ValueError: a non-positive time unit or a negative power or energy.
    """

    tau_seconds: float = 1e-6
    cell_watts: float = 1e-3
    coupling_watts: float = 1e-5
    adc_joules: float = 1e-11

    def __post_init__(self) -> None:
        check_float("tau_seconds", self.tau_seconds, above=0.0)
        for name in ("cell_watts", "coupling_watts", "adc_joules"):
            check_float(name, getattr(self, name), at_least=0.0)

    def cost(
        self, *, dim: int, couplings: int, time: float, samples: int, width: int | None = None
    ) -> DeviceCost:
        """The cost of running ``dim`` cells with ``couplings`` couplings for ``time`` (in τ)
        and reading out ``samples`` readouts of ``width`` numbers each (default ``dim``: a
        state vector; 1 for a scalar such as a work value)."""
        check_int("dim", dim, minimum=1)
        check_int("couplings", couplings, minimum=0)
        check_float("time", time, at_least=0.0)
        check_int("samples", samples, minimum=0)
        width = dim if width is None else check_int("width", width, minimum=1)
        seconds = time * self.tau_seconds
        power = dim * self.cell_watts + couplings * self.coupling_watts
        energy = seconds * power + samples * width * self.adc_joules
        return DeviceCost(time, seconds, samples, energy)


@dataclass(frozen=True)
class DeviceCost:
    """What a thermodynamic computation costs on the modelled device: ``time`` in units of τ,
    ``seconds`` = time·τ, ``samples`` read out (d-vectors) and ``energy_joules``."""

    time: float
    seconds: float
    samples: int
    energy_joules: float
