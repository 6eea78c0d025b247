"""What is read off samples: thermodynamic observables, autocorrelation times and effective
sample sizes, Binder crossings and finite-size scaling (AIS log Z and consistency checks come
next)."""

from thermonn.estimators.autocorrelation import Autocorrelation, integrated_autocorrelation
from thermonn.estimators.critical import FiniteSizeFit, binder_crossing, finite_size_fit
from thermonn.estimators.observables import SpinObservables, kuramoto_order, spin_observables

__all__ = [
    "Autocorrelation",
    "FiniteSizeFit",
    "SpinObservables",
    "binder_crossing",
    "finite_size_fit",
    "integrated_autocorrelation",
    "kuramoto_order",
    "spin_observables",
]
