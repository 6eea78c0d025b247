import os

import pytest
import torch
from hypothesis import settings

# CI replays the same examples every run (a red CI is then a real regression, not a new draw);
# local runs draw new examples each time, so the fuzz suites keep exploring.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def one_thread():
    """One intra-op thread for the test (small tensors, many chains or steps: more threads only
    contend for the cores). Use as ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
