"""Offline dataset loaders, each returning a :class:`DatasetSplit`."""

from thermonn.data.binary import BINARY_DATASETS, load_binarized
from thermonn.data.digits import SCALINGS, load_digits_split
from thermonn.data.split import DatasetSplit, standardised_split

__all__ = [
    "BINARY_DATASETS",
    "SCALINGS",
    "DatasetSplit",
    "load_binarized",
    "load_digits_split",
    "standardised_split",
]
