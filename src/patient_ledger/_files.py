"""Journal files that cannot lose work (a shell module; POSIX).

* :func:`locked` holds an exclusive ``fcntl`` lock on a sidecar file beside the journal
  (``.<name>.lock``, next to the symlink's target) while a writer reads, decides and replaces:
  a second writer waits for it, then reads what the first wrote, so both land.
* :func:`replace` writes a whole new file beside the target and renames it over the target:
  through a symlink to the file it points at, with the target's mode (a new file gets
  ``0o666`` less the umask, as any file would), the data and then the folder ``fsync``-ed.
  Before the rename it checks that the file is still what the writer read
  (:func:`signature`): a writer that did not take the lock is refused, never overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from patient_ledger.errors import ConcurrencyError

#: How long a writer waits for another to finish before it is refused, in seconds.
LOCK_TIMEOUT = 60.0

#: What identifies a file's content for a writer that read it: device, inode, size, mtime.
Signature = tuple[int, int, int, int]


def target(path: Path) -> Path:
    """The file ``path`` names, symlinks followed (the path itself if nothing is there)."""
    return Path(os.path.realpath(path))


def signature(path: Path) -> Signature | None:
    """The target file's identity and size and time of change; None if there is no file."""
    try:
        found = target(path).stat()
    except FileNotFoundError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the journal's writer lock for the block; wait up to ``timeout`` seconds for it.

    Raises:
        ConcurrencyError: another writer held the lock for all of ``timeout``.
    """
    real = target(path)
    lock = real.with_name(f".{real.name}.lock")
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConcurrencyError(
                        f"{path} is being written by another process (it has held {lock} for "
                        f"{timeout:g} s); nothing was written: try again",
                        path=str(path),
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def replace(path: Path, chunks: Iterable[str], *, expected: Signature | None = None) -> None:
    """Write ``chunks`` as the whole new content of ``path``'s target, all or nothing.

    Args:
        path: the file (or a symlink to it).
        chunks: the text, in pieces (written as they come: nothing is joined in memory).
        expected: the :func:`signature` the file had when the writer read it (None: it did
            not exist); if it has changed since, nothing is written.

    Raises:
        ConcurrencyError: the file changed since the writer read it.
        OSError: the file or its folder could not be written.
    """
    real = target(path)
    folder = real.parent
    temporary = folder / f".{real.name}.{secrets.token_hex(6)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            kept = real.stat()
            os.fchmod(handle, kept.st_mode & 0o7777)
            with contextlib.suppress(PermissionError):  # only the owner or root may
                os.fchown(handle, kept.st_uid, kept.st_gid)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        _check_unchanged(path, expected)
        temporary.replace(real)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself is on disk
    finally:
        os.close(directory)


def _check_unchanged(path: Path, expected: Signature | None) -> None:
    if signature(path) != expected:
        raise ConcurrencyError(
            f"{path} changed while it was being written to (another writer): nothing was "
            "written; try again",
            path=str(path),
        )
