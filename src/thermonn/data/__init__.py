"""Offline dataset loaders."""

from thermonn.data.digits import DatasetSplit, load_digits_split

__all__ = ["DatasetSplit", "load_digits_split"]
