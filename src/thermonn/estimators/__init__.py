"""What is read off samples: thermodynamic observables, autocorrelation times and effective
sample sizes (Binder crossings, AIS log Z and consistency checks come next)."""

from thermonn.estimators.autocorrelation import Autocorrelation, integrated_autocorrelation
from thermonn.estimators.observables import SpinObservables, spin_observables

__all__ = ["Autocorrelation", "SpinObservables", "integrated_autocorrelation", "spin_observables"]
