"""The thermodynamic-computer experiment (docs/thermocomputer.md): data preprocessing, the
teacher, the run folder (train, eval), evaluation, the report, the generative run."""
