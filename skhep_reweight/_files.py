"""Writing files so that a failure leaves nothing half-written, and a run's outputs all or none.

- :func:`atomic_file`: one file, replaced only when its content is complete.
- :class:`OutputSet`: every file one command writes (a model, a weights file, the files of a
  report folder). Each location is checked before the command reads anything; the files are
  written to a staging folder beside their destinations and moved into place together when
  the command has succeeded, with SIGINT and SIGTERM held off while they move. On any failure,
  an interruption included, the staging folder is removed and earlier outputs stay as they
  were. Two runs that would write the same file at once are refused.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

try:  # POSIX: locks that the kernel releases when their process dies, however it dies
    import fcntl
except ImportError:  # pragma: no cover - Windows: concurrent runs are not detected
    fcntl = None  # type: ignore[assignment]

__all__ = ["OutputError", "OutputSet", "atomic_file", "deferred_signals"]

# The staging folder of a run: hidden, in the folder its outputs go to (or the nearest one that
# exists), named so that a later run recognizes it.
STAGING_PREFIX = ".skhep-reweight-"
STAGING_SUFFIX = ".tmp"
# Inside a staging folder: the lock its run holds while it lives, and the outputs it will write.
LOCK_NAME = "lock"
TARGETS_NAME = "targets.json"


class OutputError(ValueError):
    """An output location that cannot be written; the message names the user's path."""


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


_DEFERRED = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM off for the block; an interruption that arrives meanwhile is
    dropped once the block is done (its work is complete by then).

    The signals' handlers are replaced by one that only takes note. Python runs its signal
    handlers in the main thread whichever thread the operating system delivers a signal to, so
    this holds however many threads the libraries started (a signal mask would not: the kernel
    hands a blocked signal to another thread). Only the main thread can change handlers;
    elsewhere the block runs unprotected. A signal that is ignored stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {}
    for signum in _DEFERRED:
        handler = signal.getsignal(signum)
        if handler is signal.SIG_IGN or handler is None:
            continue
        previous[signum] = signal.signal(signum, lambda number, frame: held.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _nearest_folder(path: Path, label: str, output: Path) -> Path:
    """The nearest ancestor of ``path`` (itself included) that exists; it must be a folder.
    ``output`` is the path the user gave, for the message."""
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputError(
                    f"cannot write {label} '{output}': '{folder}' is a file, not a folder"
                )
            return folder
    raise OutputError(
        f"cannot write {label} '{path}': no part of the path exists"
    )  # pragma: no cover


class _Output:
    """One destination: a file, or a folder whose files are written one by one."""

    def __init__(self, label: str, path: Path, folder: bool, index: int) -> None:
        self.label, self.path, self.folder, self.index = label, path, folder, index
        self.anchor = _nearest_folder(path if folder else path.parent, label, path)

    def files(self, root: Path) -> Iterable[tuple[Path, Path]]:
        """(staged file, destination) pairs of what was staged under ``root``."""
        if not root.exists():
            return []
        if not self.folder:
            staged = root / self.path.name
            return [(staged, self.path)] if staged.exists() else []
        return [
            (staged, self.path / staged.relative_to(root))
            for staged in sorted(root.rglob("*"))
            if staged.is_file()
        ]


class OutputSet:
    """The files of one run, written all or nothing (a context manager).

    Parameters
    ----------
    files : mapping of str to Path
        Output files by label (the configuration key or option, used in messages); a None path
        is skipped.
    folders : mapping of str to Path, optional
        Output folders by label (a report): their files are written one by one, the folder and
        its parents are created when missing, and files already in it that the run does not
        write are left alone.
    inputs : iterable of Path, optional
        Files the run reads: an output may not be one of them.

    Entering checks every location before anything is read: no output is an input or another
    output, a file output is not a folder and a folder output not a file, the nearest existing
    folder of each can be written to (a hidden staging folder is made there, which is the real
    test), and no other live run is writing the same files. :meth:`path` gives where to write
    each output inside the staging folders; :meth:`commit` moves them all into place, creating
    missing folders, with SIGINT and SIGTERM held off, and restores every replaced file if one
    move fails. Leaving the block without a commit (an error, an interruption) removes the
    staging folders: earlier outputs are as they were, and nothing new is left behind.
    """

    def __init__(
        self,
        files: Mapping[str, Path | None],
        *,
        folders: Mapping[str, Path] | None = None,
        inputs: Iterable[Path] = (),
    ) -> None:
        entries = [(k, Path(v), False) for k, v in files.items() if v is not None]
        entries += [(k, Path(v), True) for k, v in (folders or {}).items()]
        self._inputs = [Path(p) for p in inputs]
        self._entries = entries
        self._outputs: dict[str, _Output] = {}
        self._staging: dict[Path, Path] = {}  # anchor -> staging folder
        self._locks: list[int] = []
        self.committed = False

    # ------------------------------------------------------------------ checks
    def _check_paths(self) -> None:
        seen: dict[Path, str] = {p.resolve(): "an input file" for p in self._inputs}
        for index, (label, path, folder) in enumerate(self._entries):
            resolved = path.resolve()
            if resolved in seen:
                raise OutputError(f"{label} '{path}' is {seen[resolved]}: it would be overwritten")
            seen[resolved] = f"also {label}"
            if folder and path.exists() and not path.is_dir():
                raise OutputError(f"{label} '{path}' is a file; it must be a folder")
            if not folder and path.is_dir():
                raise OutputError(f"{label} '{path}' is a folder; it must be a file")
            self._outputs[label] = _Output(label, path, folder, index)

    def _make_staging(self, anchor: Path, output: _Output) -> Path:
        token = secrets.token_hex(6)
        new = anchor / f"{STAGING_PREFIX}{token}.new"
        try:
            new.mkdir()
            if fcntl is not None:
                descriptor = os.open(new / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
                self._locks.append(descriptor)
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            targets = [str(o.path.resolve()) for o in self._outputs.values() if o.anchor == anchor]
            (new / TARGETS_NAME).write_text(json.dumps(targets))
            staging = new.with_suffix(STAGING_SUFFIX)
            os.replace(new, staging)
        except OSError as exc:
            shutil.rmtree(new, ignore_errors=True)
            reason = exc.strerror or str(exc)
            raise OutputError(
                f"cannot write {output.label} '{output.path}': the folder '{anchor}' is not "
                f"writable ({reason})"
            ) from None
        return staging

    def _check_other_runs(self, anchor: Path) -> None:
        """Refuse when a live run stages the same outputs here; remove a dead run's leftovers."""
        if fcntl is None:  # pragma: no cover - Windows
            return
        ours = self._staging[anchor]
        mine = {str(o.path.resolve()): o for o in self._outputs.values()}
        for other in anchor.glob(f"{STAGING_PREFIX}*{STAGING_SUFFIX}"):
            if other == ours or not other.is_dir():
                continue
            try:
                descriptor = os.open(other / LOCK_NAME, os.O_RDONLY)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:  # held: a live run
                    try:
                        targets = json.loads((other / TARGETS_NAME).read_text())
                    except (OSError, ValueError):
                        targets = []
                    shared = [mine[t] for t in targets if t in mine]
                    if shared:
                        output = shared[0]
                        raise OutputError(
                            f"another skhep-reweight run is writing {output.label} "
                            f"'{output.path}' now; wait for it to end or choose another output"
                        ) from None
                    continue
                # not held: the run that made it died (killed, power lost); clear its leftovers
                shutil.rmtree(other, ignore_errors=True)
            finally:
                os.close(descriptor)

    def __enter__(self) -> OutputSet:
        try:
            self._check_paths()
            for output in self._outputs.values():
                if output.anchor not in self._staging:
                    self._staging[output.anchor] = self._make_staging(output.anchor, output)
            for anchor in self._staging:
                self._check_other_runs(anchor)
        except BaseException:
            self._discard()
            raise
        return self

    # ------------------------------------------------------------------ writing
    def _root(self, output: _Output) -> Path:
        return self._staging[output.anchor] / str(output.index)

    def path(self, label: str, relative: str | os.PathLike | None = None) -> Path:
        """Where to write output ``label`` (a file under a folder output: ``relative``)."""
        output = self._outputs[label]
        root = self._root(output)
        staged = root / (relative if output.folder else output.path.name)
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def write_bytes(self, label: str, relative: str | os.PathLike, content: bytes) -> None:
        """Write one file of a folder output."""
        self.path(label, relative).write_bytes(content)

    def user_path(self, text: str) -> str:
        """``text`` with every staging path replaced by the user's path it stands for."""
        for output in self._outputs.values():
            root = self._root(output)
            staged = root if output.folder else root / output.path.name
            text = text.replace(str(staged), str(output.path))
        return text

    # ------------------------------------------------------------------ committing
    def commit(self) -> None:
        """Move every staged file into place, or none of them."""
        moves = [
            pair for output in self._outputs.values() for pair in output.files(self._root(output))
        ]
        created: list[Path] = []
        replaced: list[tuple[Path, Path]] = []
        placed: list[Path] = []
        token = secrets.token_hex(6)
        with deferred_signals():
            try:
                for staged, destination in moves:
                    missing = itertools.takewhile(lambda f: not f.exists(), destination.parents)
                    for folder in reversed(list(missing)):
                        folder.mkdir()
                        created.append(folder)
                    if destination.exists():
                        backup = destination.with_name(f".{destination.name}.{token}.old")
                        os.replace(destination, backup)
                        replaced.append((destination, backup))
                    os.replace(staged, destination)
                    placed.append(destination)
            except BaseException as exc:
                for destination in placed:
                    destination.unlink(missing_ok=True)
                for destination, backup in reversed(replaced):
                    os.replace(backup, destination)
                for folder in reversed(created):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                if isinstance(exc, OSError):
                    raise OutputError(self._failed(exc, moves, len(placed))) from None
                raise
            for _, backup in replaced:
                backup.unlink(missing_ok=True)
            self.committed = True
        self._discard()

    def _failed(self, error: OSError, moves: list[tuple[Path, Path]], done: int) -> str:
        destination = moves[min(done, len(moves) - 1)][1]
        reason = error.strerror or str(error)
        return f"cannot write '{destination}' ({reason}); earlier outputs were restored"

    # ------------------------------------------------------------------ cleaning up
    def _discard(self) -> None:
        for staging in self._staging.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._staging.clear()
        for descriptor in self._locks:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        self._locks.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self.committed and isinstance(exc, KeyboardInterrupt):
            # an interruption once the outputs are in place ends nothing: the run is complete
            self._discard()
            return True
        if exc is not None and self._staging and isinstance(exc, (ValueError, OSError)):
            text = self.user_path(str(exc))
            self._discard()
            if text != str(exc):
                raise OutputError(text) from None
        self._discard()
        return False
