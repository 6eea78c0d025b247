"""Offline dataset loaders, each returning a :class:`DatasetSplit`."""

from thermonn.data.digits import SCALINGS, load_digits_split
from thermonn.data.split import DatasetSplit, standardised_split

__all__ = ["SCALINGS", "DatasetSplit", "load_digits_split", "standardised_split"]
