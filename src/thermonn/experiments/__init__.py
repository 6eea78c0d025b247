"""Experiments: each composes the library, writes a run folder, a report and plots.

``demo`` (TEL networks vs a parameter-matched MLP on the digits) and ``thermocomputer`` (the
thermodynamic computer imitating a teacher network; the generative twin). They are not
imported by ``import thermonn``.
"""
