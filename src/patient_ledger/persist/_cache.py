"""A journal file that opens fast: a snapshot cache beside it.

``.NAME.snapshot`` beside the journal ``NAME`` holds a snapshot of the ledger at one of its
lines, with the SHA-256 of the file's bytes up to the end of that line (the bytes it
*covers*, every line of which was checked — chain, form, replay, invariants — when the cache
was written), that line's chain hash, and a SHA-256 digest binding all of them to the
snapshot's bytes. Opening the journal hashes the bytes the cache covers in one call at
hashlib's speed (not line by line), and when they are the file's first bytes, restores the
ledger from the snapshot and replays only the lines after it, checking their chain from the
covered line's hash (the events before are decoded, and checked as
:func:`.journal.loads` checks them, only when something reads them). A cache
that is missing, damaged, of another format, or whose covered bytes are not the file's (a
line edited, a journal replaced) is ignored: the journal is loaded from its first line, as
``journal.loads`` does, and the cache written again. ``patient-ledger verify`` never reads it.

The cache is as trustworthy as the folder it is in: a digest binds it to the chain, but whoever
may write beside the journal could write a cache whose digest matches; ``verify`` checks
everything from the journal alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final, overload

import msgspec

from patient_ledger.errors import JournalError, SnapshotError
from patient_ledger.persist import _partial, journal, snapshot
from patient_ledger.state import Ledger

__all__ = ["MIN_EVENTS", "cache_path", "load", "load_views"]

#: A journal shorter than this is loaded whole and never cached (it opens in a blink anyway).
MIN_EVENTS: Final = 5_000
_TAG: Final = "patient_ledger/journal-cache/2"
#: tag, events, size, covered, chain, digest, body (see the module's docstring).
_HEADER = msgspec.msgpack.Decoder(tuple[str, int, int, str, str, str, bytes])
_ENCODER = msgspec.msgpack.Encoder()
#: How every cache file begins, of this format (a seven-item array, then the tag) or the one
#: before (five items): a file at the cache's path that begins otherwise is someone else's,
#: and is never replaced.
_PREFIXES: Final = tuple(
    _ENCODER.encode((tag, *(0,) * (items - 1)))[: 1 + len(_ENCODER.encode(tag))]
    for tag, items in ((_TAG, 7), ("patient_ledger/journal-cache/1", 5))
)
_NEWLINE: Final = ord("\n")


def cache_path(path: Path) -> Path:
    """Where the cache of the journal at ``path`` is kept."""
    return path.with_name(f".{path.name}.snapshot")


def load(path: Path) -> Ledger:
    """The ledger of the journal file at ``path``, from its cache when the cache matches the
    file; the cache is (re)written when it did not match and the journal is long.

    Raises:
        JournalError: as :func:`patient_ledger.persist.journal.loads` (the first bad line).
    """
    data = path.read_bytes()
    text = journal.decode(data)
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    cache = cache_path(path)
    ledger, events = _cached(cache, data, rows)
    if ledger is None:
        ledger, events = journal.loads(text), 0
    if len(rows) - events >= MIN_EVENTS and data.endswith(b"\n"):  # (re)write it
        _write(cache, ledger, rows, data)
    return ledger


def load_views(path: Path, patient_id: str | None = None) -> Ledger:
    """A ledger of the journal file at ``path`` for views only: when the cache covers the
    whole file, one holding only the rows every patient's dashboard reads (``patient_id``
    None) or one patient's views read (:mod:`patient_ledger.persist._partial`), decoded without the
    rest; else the whole ledger (:func:`load`). Never hand it to a command.

    Raises:
        JournalError: as :func:`load`.
    """
    data = path.read_bytes()
    found = _covering(cache_path(path), data)
    if found is not None and found[1] == len(data):  # it covers every line
        events, _, _, body = found
        lines = journal.StoredEvents(_Lines(data, events))
        with contextlib.suppress(SnapshotError):
            if patient_id is None:
                return _partial.patients_only(body, lines)
            return _partial.one_patient(body, lines, patient_id)
    return load(path)


class _Lines(Sequence[str]):
    """A journal file's lines, split only when one is read."""

    def __init__(self, data: bytes, count: int) -> None:
        self._data = data
        self._count = count
        self._rows: list[str] | None = None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if self._rows is None:
            self._rows = journal.decode(self._data).split("\n")[: self._count]
        return self._rows[index]


def _covering(cache: Path, data: bytes) -> tuple[int, int, str, bytes] | None:
    """The events, bytes covered, chain hash and snapshot of the cache when its digest is its
    own and the bytes it covers are the first bytes of ``data``; None otherwise (missing,
    damaged, of another format, or another journal's)."""
    if not cache.is_file():  # missing, or not a regular file (a pipe would never end)
        return None
    try:
        tag, events, size, covered, chain, digest, body = _HEADER.decode(cache.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    if (
        tag != _TAG
        or events <= 0
        or not 0 < size <= len(data)
        or data[size - 1] != _NEWLINE
        or digest != _digest(events, size, covered, chain, body)
        or hashlib.sha256(memoryview(data)[:size]).hexdigest() != covered
    ):
        return None
    return events, size, chain, body


def _cached(cache: Path, data: bytes, rows: list[str]) -> tuple[Ledger | None, int]:
    """The ledger restored from the cache and the lines after it, and the events the cache
    stands for; ``(None, 0)`` when the cache is missing, damaged, or the bytes it covers are
    not the file's first bytes."""
    found = _covering(cache, data)
    if found is None:
        return None, 0
    events, _, chain, body = found
    if events > len(rows) or journal.claimed_hash(rows[events - 1], events) != chain:
        return None, 0
    try:
        restored = snapshot.decode(body, journal.StoredEvents(rows[:events]))
        tail = "".join(row + "\n" for row in rows[events:])
        return (journal.extend(restored, tail, prev=chain) if tail else restored), events
    except (SnapshotError, JournalError):
        return None, 0  # a tail that does not apply to it: the whole journal says why


def _digest(events: int, size: int, covered: str, chain: str, body: bytes) -> str:
    key = f"{_TAG}\n{events}\n{size}\n{covered}\n{chain}\n"
    return hashlib.sha256(key.encode() + body).hexdigest()


def _write(cache: Path, ledger: Ledger, rows: list[str], data: bytes) -> None:
    """Write the cache of ``ledger`` (whose journal is ``rows``, the file's whole ``data``,
    ending with a newline) beside its journal, atomically;
    a cache that cannot be written (a read-only folder, a state too big, a file of someone
    else's at its path) is simply not kept."""
    events = len(rows)
    with contextlib.suppress(OSError, SnapshotError, JournalError):
        if cache.exists() or cache.is_symlink():
            if not cache.is_file() or cache.is_symlink():
                return  # not a regular file of ours: left alone
            with cache.open("rb") as existing:
                if existing.read(max(map(len, _PREFIXES))) not in _PREFIXES:
                    return  # not a cache: someone else's file, left alone
        chain = journal.claimed_hash(rows[-1], events)
        body = snapshot.encode(ledger)
        size, covered = len(data), hashlib.sha256(data).hexdigest()
        digest = _digest(events, size, covered, chain, body)
        data = _ENCODER.encode((_TAG, events, size, covered, chain, digest, body))
        handle, name = tempfile.mkstemp(prefix=cache.name + ".", dir=cache.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            Path(name).replace(cache)
        finally:
            Path(name).unlink(missing_ok=True)
