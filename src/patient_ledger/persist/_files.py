"""Journal files that cannot lose work (a shell module; POSIX).

* :func:`locked` holds an exclusive ``fcntl`` lock on a sidecar file beside the journal
  (``.<name>.lock``, next to the symlink's target) while a writer reads, decides and replaces:
  a second writer waits for it, then reads what the first wrote, so both land.
* :func:`replace` writes a whole new file beside the target and renames it over the target:
  through a symlink to the file it points at, with the target's mode (a new file gets
  ``0o666`` less the umask, as any file would), the data and then the folder ``fsync``-ed.
  Before the rename it checks that the file is still what the writer read
  (:func:`signature`): a writer that did not take the lock is refused, never overwritten.

Nothing a writer leaves behind outlives it, however it ends (SIGKILL included): where the
system allows (Linux: ``O_TMPFILE`` and ``/proc``) the new content is written to a file with no
name, which is given its temporary name ``.<name>.<12 hex>.tmp`` only once it is whole and
synced, just before the rename; a writer killed in that moment (or on a system without
``O_TMPFILE``, killed while writing) leaves that file, and the next writer to take the lock
removes it (:func:`locked`: every writer of the journal holds the lock while its temporary file
exists, so one found by the lock's holder is a dead writer's).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
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
        remove_stale(real)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _temporary_name(real: Path) -> Path:
    return real.with_name(f".{real.name}.{secrets.token_hex(6)}.tmp")


def remove_stale(real: Path) -> list[Path]:
    """Remove the temporary files of writers of ``real`` that died before renaming them
    (``.<name>.<12 hex>.tmp`` beside it); return them. Call it only holding the lock."""
    pattern = re.compile(rf"\.{re.escape(real.name)}\.[0-9a-f]{{12}}\.tmp")
    removed = []
    with contextlib.suppress(FileNotFoundError), os.scandir(real.parent) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    Path(entry.path).unlink()
                    removed.append(Path(entry.path))
    return removed


def _name(handle: int, name: Path) -> None:
    """Give the unnamed file open as ``handle`` the name ``name``."""
    folder = os.open(name.parent, os.O_RDONLY)
    try:  # a folder's descriptor makes os.link use linkat, which can follow /proc's link
        os.link(f"/proc/self/fd/{handle}", name.name, dst_dir_fd=folder, follow_symlinks=True)
    finally:
        os.close(folder)


def _open_unnamed(folder: Path) -> int | None:
    """A new file in ``folder`` with no name (``O_TMPFILE``), or None where the system cannot
    make one or could not name it later (no ``/proc``)."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not Path("/proc/self/fd").is_dir():
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:  # a file system without it (EOPNOTSUPP), an old kernel (EISDIR) ...
        return None


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
    temporary = _temporary_name(real)
    handle = _open_unnamed(folder)
    unnamed = handle is not None
    if handle is None:
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
            if unnamed:  # whole and synced: now it gets a name, to be renamed at once
                _name(out.fileno(), temporary)
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
