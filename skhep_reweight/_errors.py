"""The package's own exceptions and warnings that every layer raises, the one-line form of a
library's error message, and the stack level that makes a warning point at the user's call.
Standard library only: every layer may import it."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["DamagedFileError", "SmallSampleWarning", "caller_stacklevel", "one_line"]

# A library's message quoted inside ours is cut after this many characters (uproot's messages
# run over several lines and repeat the file's path).
MAX_QUOTED_CHARACTERS = 200


class DamagedFileError(ValueError):
    """A file that exists but cannot be read as what it claims to be.

    Raised for a truncated file, bytes overwritten in its middle, a tampered model file, or a
    file of another format under a known suffix. The message names the file and, where known,
    the tree, the branches or columns and the entries being read, and quotes the reading
    library's own complaint in one line. It is a :class:`ValueError`, so code that catches bad
    input catches it too; the command line answers it with exit status 2.
    """


def one_line(error: BaseException) -> str:
    """``"Type: message"`` of an exception on one line, cut to a readable length."""
    text = " ".join(str(error).split())
    if len(text) > MAX_QUOTED_CHARACTERS:
        text = text[: MAX_QUOTED_CHARACTERS - 3].rstrip() + "..."
    name = type(error).__name__
    return f"{name}: {text}" if text else name


class SmallSampleWarning(UserWarning):
    """A sample, or the part of it held out for validation, is too small for what it is used for.

    Issued by a fit when a class has fewer than 100 effective events (Kish's
    :math:`(\\sum w)^2 / \\sum w^2`) or its early-stopping split fewer than 50, and by the
    validation report when its held-out source or target has fewer than 50: with 50 events a
    class, a two-sample AUC of two identical samples scatters by 0.06 around 0.5 and the 1 %
    KS critical value is 0.33, so the report cannot tell a good reweighting from a bad one.
    The message gives the counts and what they cost.
    """


_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first frame outside this package
    (the user's call), however deep inside the package it is raised."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level
