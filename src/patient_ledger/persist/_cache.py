"""A journal file that opens fast: a snapshot cache beside it.

``.NAME.snapshot`` beside the journal ``NAME`` holds a snapshot of the ledger at one of its
lines, keyed by that line's chain hash and bound to its own bytes by a SHA-256 digest. Opening
the journal checks the chain of the whole file — every line's hash taken of its own content and
naming the line before, line by line, without decoding the events — then, when the cache's key
is the hash of its line, restores the ledger from the snapshot and replays only the lines after
it (the events before are decoded, and checked as :func:`.journal.loads` checks
them, only when something reads them). A cache that is missing, damaged, of another format or
off the chain is ignored: the journal is loaded from its first line, as ``journal.loads`` does,
and the cache written again. ``patient-ledger verify`` never reads it.

The cache is as trustworthy as the folder it is in: a digest binds it to the chain, but whoever
may write beside the journal could write a cache whose digest matches; ``verify`` checks
everything from the journal alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Final

import msgspec

from patient_ledger.errors import JournalError, SnapshotError
from patient_ledger.persist import journal, snapshot
from patient_ledger.state import Ledger

__all__ = ["MIN_EVENTS", "cache_path", "load"]

#: A journal shorter than this is loaded whole and never cached (it opens in a blink anyway).
MIN_EVENTS: Final = 5_000
_TAG: Final = "patient_ledger/journal-cache/1"
_HEADER = msgspec.msgpack.Decoder(tuple[str, int, str, str, bytes])
_ENCODER = msgspec.msgpack.Encoder()
#: How every cache file begins (a five-item array, then the tag): a file at the cache's path
#: that does not is someone else's, and is never replaced.
_PREFIX: Final = _ENCODER.encode((_TAG, 0, "", "", b""))[: 1 + len(_ENCODER.encode(_TAG))]
#: ``,"hash":"`` then 64 hex digits, ``",``: what a line holds beyond its content.
_HASH_KEY: Final = ',"hash":"'
_PREV_KEY: Final = ',"prev":"'


def cache_path(path: Path) -> Path:
    """Where the cache of the journal at ``path`` is kept."""
    return path.with_name(f".{path.name}.snapshot")


def load(path: Path) -> Ledger:
    """The ledger of the journal file at ``path``, from its cache when the cache matches the
    file's chain; the cache is (re)written when it did not match and the journal is long.

    Raises:
        JournalError: as :func:`patient_ledger.persist.journal.loads` (the first bad line).
    """
    text = journal.decode(path.read_bytes())
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    cache = cache_path(path)
    ledger, events = _cached(cache, rows)
    if ledger is None:
        ledger, events = journal.loads(text), 0
    if len(rows) - events >= MIN_EVENTS:  # no cache, or one far behind: (re)write it
        _write(cache, ledger, rows)
    return ledger


def _cached(cache: Path, rows: list[str]) -> tuple[Ledger | None, int]:
    """The ledger restored from the cache and the lines after it, and the events the cache
    stands for; ``(None, 0)`` when the cache is missing, damaged or not on the file's chain (or
    the file is not a whole chain)."""
    if not cache.is_file():  # missing, or not a regular file (a pipe would never end)
        return None, 0
    try:
        data = cache.read_bytes()
        tag, events, chain, digest, body = _HEADER.decode(data)
    except (OSError, msgspec.DecodeError):
        return None, 0
    if (
        tag != _TAG
        or not 0 < events <= len(rows)
        or digest != _digest(events, chain, body)
        or not _chained(rows)
        or journal.claimed_hash(rows[events - 1], events) != chain
    ):
        return None, 0
    try:
        restored = snapshot.decode(body, journal.StoredEvents(rows[:events]))
        tail = "".join(row + "\n" for row in rows[events:])
        return (journal.extend(restored, tail, prev=chain) if tail else restored), events
    except (SnapshotError, JournalError):
        return None, 0  # a tail that does not apply to it: the whole journal says why


def _chained(rows: list[str]) -> bool:
    """Whether every line's hash is taken of its own content and names the line before, and
    the lines are numbered in order — checked on the text, without decoding the events. A
    line not exactly as ``dumps`` writes it fails (the full load then says what is wrong)."""
    prev = journal.GENESIS
    sha256 = hashlib.sha256
    for seq, row in enumerate(rows):
        at = row.rfind(_HASH_KEY)
        if at < 0:
            return False
        claimed = row[at + 9 : at + 73]
        content = row[:at] + row[at + 74 :]
        if (
            row[at + 73 : at + 75] != '",'
            or not row.startswith(_PREV_KEY + prev + f'","seq":{seq},', at + 74)
            or sha256(content.encode()).hexdigest() != claimed
        ):
            return False
        prev = claimed
    return True


def _digest(events: int, chain: str, body: bytes) -> str:
    return hashlib.sha256(f"{_TAG}\n{events}\n{chain}\n".encode() + body).hexdigest()


def _write(cache: Path, ledger: Ledger, rows: list[str]) -> None:
    """Write the cache of ``ledger`` (whose journal is ``rows``) beside its journal, atomically;
    a cache that cannot be written (a read-only folder, a state too big, a file of someone
    else's at its path) is simply not kept."""
    events = len(rows)
    with contextlib.suppress(OSError, SnapshotError, JournalError):
        if cache.exists() or cache.is_symlink():
            if not cache.is_file() or cache.is_symlink():
                return  # not a regular file of ours: left alone
            with cache.open("rb") as existing:
                if existing.read(len(_PREFIX)) != _PREFIX:
                    return  # not a cache: someone else's file, left alone
        chain = journal.claimed_hash(rows[-1], events)
        body = snapshot.encode(ledger)
        data = _ENCODER.encode((_TAG, events, chain, _digest(events, chain, body), body))
        handle, name = tempfile.mkstemp(prefix=cache.name + ".", dir=cache.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            Path(name).replace(cache)
        finally:
            Path(name).unlink(missing_ok=True)
