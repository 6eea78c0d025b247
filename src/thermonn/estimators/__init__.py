"""What is read off samples: thermodynamic observables (more estimators come with the discrete
machines: autocorrelation and ESS, Binder crossings, AIS log Z, consistency checks)."""

from thermonn.estimators.observables import SpinObservables, spin_observables

__all__ = ["SpinObservables", "spin_observables"]
