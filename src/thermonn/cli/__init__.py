"""The ``thermonn`` command line."""
