"""What is read off samples: thermodynamic observables, autocorrelation times and effective
sample sizes, Binder crossings and finite-size scaling, partition functions by forward and
reverse annealed importance sampling, success probability and time-to-solution, and
physical-consistency checks (equipartition, Jarzynski, first law)."""

from thermonn.estimators.autocorrelation import Autocorrelation, integrated_autocorrelation
from thermonn.estimators.consistency import (
    ConsistencyCheck,
    check_equipartition,
    check_first_law,
    check_jarzynski,
    protocol_work,
)
from thermonn.estimators.critical import FiniteSizeFit, binder_crossing, finite_size_fit
from thermonn.estimators.observables import SpinObservables, kuramoto_order, spin_observables
from thermonn.estimators.partition import (
    LikelihoodBracket,
    PartitionEstimate,
    TemperaturePath,
    ais,
    annealing_schedule,
    likelihood_bracket,
    reverse_ais,
)
from thermonn.estimators.success import success_probability, time_to_solution

__all__ = [
    "Autocorrelation",
    "ConsistencyCheck",
    "FiniteSizeFit",
    "LikelihoodBracket",
    "PartitionEstimate",
    "SpinObservables",
    "TemperaturePath",
    "ais",
    "annealing_schedule",
    "binder_crossing",
    "check_equipartition",
    "check_first_law",
    "check_jarzynski",
    "finite_size_fit",
    "integrated_autocorrelation",
    "kuramoto_order",
    "likelihood_bracket",
    "protocol_work",
    "reverse_ais",
    "spin_observables",
    "success_probability",
    "time_to_solution",
]
