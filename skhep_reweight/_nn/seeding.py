"""Randomness and devices: seeds derived from ``random_state``, torch seeded without global side
effects, ``"auto"`` resolved to the GPU when there is one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["derive_seeds", "resolve_device", "seeded"]

_DEVICE_CHOICES = ("cpu", "cuda", "auto")


def resolve_device(device: str) -> str:
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is available, else ``"cpu"``.

    An explicit ``"cuda"`` (or ``"cuda:N"``) without a GPU raises a ValueError instead of
    silently training on the CPU.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str) or device.split(":")[0] not in _DEVICE_CHOICES[:2]:
        raise ValueError(f"device must be one of {_DEVICE_CHOICES} (or 'cuda:N'), got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for but torch sees no CUDA device; "
            "use device='auto' to fall back to the CPU"
        )
    return device


def derive_seeds(random_state: int | np.random.RandomState | None, n: int) -> list[int]:
    """``n`` independent integer seeds drawn from ``random_state`` (None, int or RandomState)."""
    rng = check_random_state(random_state)
    return [int(s) for s in rng.randint(np.iinfo(np.int32).max, size=n)]


@contextlib.contextmanager
def seeded(seed: int, device: str = "cpu") -> Iterator[None]:
    """Run a block with torch's generators seeded by ``seed``, restoring their state after.

    Library code never reseeds the user's global generators: the state of the CPU generator (and
    of the CUDA device in use) is forked and restored on exit.
    """
    devices = []
    if str(device).startswith("cuda"):
        devices = [torch.device(device).index or torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
