"""What is read off samples: thermodynamic observables, autocorrelation times and effective
sample sizes, Binder crossings and finite-size scaling, partition functions by forward and
reverse annealed importance sampling, success probability and time-to-solution,
physical-consistency checks (equipartition, Jarzynski, first law, entropy production,
fluctuation–dissipation, Crooks, Bennett) and monitors of free energy, temperature equilibration
and order parameters over time."""

from thermonn.estimators.autocorrelation import Autocorrelation, integrated_autocorrelation
from thermonn.estimators.consistency import (
    HEAT_RULES,
    ConsistencyCheck,
    FreeEnergyEstimate,
    check_equipartition,
    check_first_law,
    check_jarzynski,
    cumulative_work,
    jarzynski_estimate,
    protocol_work,
    stochastic_heat,
)
from thermonn.estimators.critical import FiniteSizeFit, binder_crossing, finite_size_fit
from thermonn.estimators.fluctuation import (
    CrooksFit,
    bennett_acceptance_ratio,
    check_bar,
    check_crooks,
    check_entropy_production,
    check_fluctuation_dissipation,
    crooks_fit,
    gaussian_log_density,
)
from thermonn.estimators.monitors import (
    ORDER_PARAMETERS,
    Equilibration,
    FreeEnergyTrace,
    OrderTrace,
    free_energy_trace,
    jarzynski_trace,
    order_parameter_trace,
    temperature_equilibration,
    virial_temperature,
)
from thermonn.estimators.observables import SpinObservables, kuramoto_order, spin_observables
from thermonn.estimators.ou_fit import OUFit, fit_ou
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
    "HEAT_RULES",
    "ORDER_PARAMETERS",
    "Autocorrelation",
    "ConsistencyCheck",
    "CrooksFit",
    "Equilibration",
    "FiniteSizeFit",
    "FreeEnergyEstimate",
    "FreeEnergyTrace",
    "LikelihoodBracket",
    "OUFit",
    "OrderTrace",
    "PartitionEstimate",
    "SpinObservables",
    "TemperaturePath",
    "ais",
    "annealing_schedule",
    "bennett_acceptance_ratio",
    "binder_crossing",
    "check_bar",
    "check_crooks",
    "check_entropy_production",
    "check_equipartition",
    "check_first_law",
    "check_fluctuation_dissipation",
    "check_jarzynski",
    "crooks_fit",
    "cumulative_work",
    "finite_size_fit",
    "fit_ou",
    "free_energy_trace",
    "gaussian_log_density",
    "integrated_autocorrelation",
    "jarzynski_estimate",
    "jarzynski_trace",
    "kuramoto_order",
    "likelihood_bracket",
    "order_parameter_trace",
    "protocol_work",
    "reverse_ais",
    "spin_observables",
    "stochastic_heat",
    "success_probability",
    "temperature_equilibration",
    "time_to_solution",
    "virial_temperature",
]
