"""Writing files so that a failure leaves nothing half-written."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_file"]


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces ``path`` only when the block ends without error.

    The stream writes a new temporary file in the destination folder (created with the user's
    default permissions), which ``os.replace`` then moves onto ``path``; on any error, a
    KeyboardInterrupt included, the temporary file is removed and an existing ``path`` is left
    untouched. Writing through a stream also keeps libraries such as numpy from changing the
    file name (``np.savez`` appends ".npz" to a name, not to a stream).
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
