"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Train on one CPU thread for a module whose networks are small: a second intra-op thread
    gains nothing there, and on a busy two-core machine the two threads wait for each other
    (test_srgn.py and test_unweight.py ran ten times slower with torch's default of one thread
    per core). Restores the previous setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
