"""A practice behind a service: one durable book that every thread of a program shares (a shell).

``open_practice(url)`` opens (or creates) one named ledger in an event store and keeps a writer
thread that owns the store's connection. Every thread may then:

* read ``practice.ledger`` — the newest durable ledger, a value: no lock, never changes under
  the reader;
* ``practice.submit(command, *args, **kwargs)`` — run any command (``pl.post_payment``,
  ``pl.refund``, …) on the newest ledger and return once its events are durable. Submits that
  arrive while a commit is running wait for it and are then decided one after another and
  committed together: one transaction (and one fsync) for the events of many (*group
  commit*). A refusal raises its :class:`~patient_ledger.errors.LedgerError` to its submitter
  alone and writes nothing; the others of its group go on.

Several processes (or machines, on PostgreSQL) may open one practice: the store refuses a save
based on a stale version, and the writer then catches up with what the others saved and decides
its whole group again — so an event is never lost or recorded twice, and a resubmitted payment
that another process recorded comes back ``created=False``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import attrs

from patient_ledger.errors import (
    ConcurrencyError,
    CurrencyMismatchError,
    InvalidInputError,
    StoreError,
)
from patient_ledger.money import currency_code
from patient_ledger.persist.store import SNAPSHOT_EVERY, Store, open_store
from patient_ledger.state import Ledger

_T = TypeVar("_T")
#: The most submits one commit takes.
MAX_GROUP = 1000
#: How long a commit may wait for submits to join it, in seconds: only while fewer are queued
#: than the last commit grouped (so a lone submitter never waits). A commit with FULL
#: durability takes a few milliseconds (an fsync); waiting up to one for the submitters it
#: answered to send their next lets each fsync carry all of them.
COMMIT_DELAY = 0.001


@attrs.frozen
class Submitted:
    """What a submit did: the ledger right after its command (durable, with every event before
    it), and whether the command recorded anything (``False``: a resubmission already there)."""

    ledger: Ledger
    created: bool


@attrs.frozen(kw_only=True)
class PracticeStatus:
    """How a practice stands.

    Attributes:
        name: the journal's name in the store.
        events: events in the ledger in hand (:attr:`Practice.ledger`).
        stored: events in the store now (more than ``events``: another process saved since;
            :meth:`Practice.refresh` catches up).
        newest_snapshot: events the newest snapshot stands for (0: none).
        lag: events an opening would replay after that snapshot (``stored - newest_snapshot``).
        commits: transactions this practice committed since it opened.
        submits: submits it answered since it opened (refusals included).
        settings: the durability settings as the database reports them.
    """

    name: str
    events: int
    stored: int
    newest_snapshot: int
    lag: int
    commits: int
    submits: int
    settings: dict[str, str]


@attrs.define
class _Submit:
    command: Callable[..., Ledger]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: concurrent.futures.Future[Submitted]
    sender: int = attrs.field(factory=threading.get_ident)


@attrs.define
class _Call:
    work: Callable[[Store], Any]
    future: concurrent.futures.Future[Any]


_STOP = object()


def store_url(url: str | os.PathLike[str]) -> str:
    """The store URL of a practice's ``url``: a path (or ``sqlite:///…``) is SQLite,
    ``postgresql://…`` PostgreSQL.

    >>> store_url("/srv/clinic.db"), store_url("sqlite:///clinic.db")
    ('sqlite:////srv/clinic.db', 'sqlite:///clinic.db')
    """
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url:
        raise InvalidInputError(f"a practice URL is a path or a store URL, got {url!r}")
    return url if "://" in url else f"sqlite:///{url}"


class Practice:
    """One named ledger in an event store, shared by every thread (see the module's text).

    Open it with :func:`open_practice`; close it (or use it as a context manager) to stop its
    writer thread and release the connection. Submits already queued are committed first.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        name: str = "practice",
        currency: str = "USD",
        synchronous: str = "FULL",
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.name = name
        self.url = store_url(url)
        self._currency = currency_code(currency)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._commits = 0
        self._submits = 0
        #: The threads the last two commits answered.
        self._senders: collections.deque[frozenset[int]] = collections.deque(
            (frozenset(), frozenset()), maxlen=2
        )
        self._closed = False
        self._ledger: Ledger = Ledger.empty(self._currency)  # until the writer has opened it
        self._close_lock = threading.Lock()
        opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run,
            args=(opened, synchronous, snapshot_every),
            name=f"patient_ledger practice {name!r}",
            daemon=True,
        )
        self._thread.start()
        opened.result()  # raises what opening raised (a bad URL, another currency, …)

    # -- what every thread may call ------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """The newest durable ledger (a value: read it without a lock, keep it as long as you
        like; it never changes)."""
        return self._ledger

    def submit(self, command: Callable[..., Ledger], /, *args: Any, **kwargs: Any) -> Submitted:
        """Run ``command(ledger, *args, **kwargs)`` on the newest ledger and make its events
        durable; return once they are.

        Raises:
            LedgerError: the command refused (nothing was written), or the store did.
            StoreError: the practice is closed.
        """
        future: concurrent.futures.Future[Submitted] = concurrent.futures.Future()
        self._put(_Submit(command, args, kwargs, future))
        return future.result()

    def snapshot(self, *, background: bool = False) -> int | concurrent.futures.Future[int]:
        """Store a snapshot of the ledger in hand (nothing is reloaded): an opening then
        replays only what comes after it. Returns the number of events it stands for (0: the
        store moved on meanwhile, nothing written) — or, with ``background``, at once, a
        ``Future`` of that number.

        Raises:
            SnapshotError: the state cannot be snapshotted; StoreError: the practice is closed.
        """
        future = self._call(lambda store: store.snapshot(self.name, ledger=self._ledger))
        return future if background else future.result()

    def status(self) -> PracticeStatus:
        """Events in hand and in the store, the newest snapshot and the lag behind it, commits
        and submits so far, and the durability settings in force."""

        def status(store: Store) -> PracticeStatus:
            stored = store.version(self.name)
            newest = store.newest_snapshot(self.name)
            return PracticeStatus(
                name=self.name,
                events=len(self._ledger.events),
                stored=stored,
                newest_snapshot=newest,
                lag=stored - newest,
                commits=self._commits,
                submits=self._submits,
                settings=store.settings(),
            )

        result: PracticeStatus = self._call(status).result()
        return result

    def refresh(self) -> Ledger:
        """Catch up with what other processes saved since (a submit does so by itself when it
        finds the store moved on); the newest durable ledger."""

        def refresh(store: Store) -> Ledger:
            if store.version(self.name) != len(self._ledger.events):
                self._ledger = store.load(self.name, base=self._ledger)
            return self._ledger

        result: Ledger = self._call(refresh).result()
        return result

    def close(self) -> None:
        """Commit what is queued, stop the writer thread and release the connection (again:
        nothing)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Practice {self.name!r} at {self.url!r}: {len(self._ledger.events)} events>"

    # -- the writer thread ---------------------------------------------------------------------

    def _put(self, job: object) -> None:
        with self._close_lock:
            if self._closed:
                raise StoreError(f"the practice {self.name!r} is closed", id=self.name)
            self._queue.put(job)

    def _call(self, work: Callable[[Store], _T]) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._put(_Call(work, future))
        return future

    def _run(
        self, opened: concurrent.futures.Future[None], synchronous: str, snapshot_every: int
    ) -> None:
        try:
            store = open_store(self.url, snapshot_every=snapshot_every, synchronous=synchronous)
        except BaseException as error:  # noqa: BLE001 - raised to the opener by opened
            opened.set_exception(error)
            return
        try:
            try:
                self._ledger = self._opened(store)
            except BaseException as error:  # noqa: BLE001 - raised to the opener by opened
                opened.set_exception(error)
                return
            opened.set_result(None)
            self._serve(store)
        finally:
            self._stopped()
            store.close()

    def _stopped(self) -> None:
        """Refuse new jobs and answer those still queued: the writer is stopping (closed, or a
        bug in this module) — no submitter waits for ever."""
        with self._close_lock:
            self._closed = True
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Submit | _Call) and job.future.set_running_or_notify_cancel():
                msg = f"the practice {self.name!r} stopped before this was done; nothing written"
                job.future.set_exception(StoreError(msg, id=self.name))

    def _opened(self, store: Store) -> Ledger:
        """The stored ledger, created (empty) when missing; another currency refused."""
        if store.version(self.name) == 0:
            ledger = Ledger.empty(self._currency)
            try:
                store.save(self.name, ledger, expected_version=0)
            except ConcurrencyError:  # another process created it first
                pass
            else:
                return ledger
        ledger = store.load(self.name)
        if ledger.currency != self._currency:
            raise CurrencyMismatchError(
                f"the practice {self.name!r} keeps {ledger.currency}, not {self._currency}",
                id=self.name,
                currency=ledger.currency,
            )
        return ledger

    def _gathered(self) -> list[object]:
        """The next jobs: those queued, and — when the last two commits answered several
        threads — those that arrive within :data:`COMMIT_DELAY` until one from each of those
        threads is in (they are sending their next; a lone submitter never waits)."""
        jobs = [self._queue.get()]
        deadline = time.monotonic() + COMMIT_DELAY
        expected = len(self._senders[0] | self._senders[1])
        while len(jobs) < MAX_GROUP:
            try:
                jobs.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if len(jobs) >= expected or left <= 0 or jobs[-1] is _STOP:
                break
            try:
                jobs.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return jobs

    def _serve(self, store: Store) -> None:
        stopping = False
        while not stopping:
            jobs = self._gathered()
            group: list[_Submit] = []
            try:
                for job in jobs:
                    if isinstance(job, _Submit):
                        group.append(job)
                        continue
                    self._commit(store, group)
                    group = []
                    stopping = stopping or _done(job, store)
                self._commit(store, group)
            except BaseException as error:  # noqa: BLE001 - a bug here: every job taken is answered with it, then the writer stops
                for job in jobs:
                    if isinstance(job, _Submit | _Call) and not job.future.done():
                        job.future.set_exception(error)
                return

    def _commit(self, store: Store, group: list[_Submit]) -> None:
        """Decide the group's commands one after another on the newest ledger and save all
        their events in one transaction; answer each submit once they are durable. If another
        process saved first, catch up and decide them all again."""
        group = [job for job in group if job.future.set_running_or_notify_cancel()]
        if not group:
            return
        strict = False
        while True:
            base = self._ledger
            ledger, outcomes = base, []
            for job in group:
                outcome = _decided(ledger, job, strict=strict)
                if isinstance(outcome, Submitted):
                    ledger = outcome.ledger
                outcomes.append(outcome)
            if ledger is not base:
                try:
                    store.save(self.name, ledger, expected_version=len(base.events))
                except ConcurrencyError:
                    try:
                        if store.version(self.name) == len(base.events):
                            # Nobody saved: a command's ledger does not extend the one it was
                            # given (past the quick check). Decide again, each checked whole.
                            strict = True
                            continue
                        self._ledger = store.load(self.name, base=base)
                    except BaseException as error:  # noqa: BLE001 - raised to every submitter
                        _fail(group, error)
                        return
                    continue  # decide again on what the others saved
                except BaseException as error:  # noqa: BLE001 - nothing written: raised to each submitter, refusals keep their own
                    outcomes = [
                        error if isinstance(outcome, Submitted) and outcome.created else outcome
                        for outcome in outcomes
                    ]
                    ledger = base
                else:
                    self._commits += 1
                self._ledger = ledger
            break
        self._submits += len(group)
        self._senders.append(frozenset(job.sender for job in group))
        for job, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Submitted):
                job.future.set_result(outcome)
            else:
                job.future.set_exception(outcome)


def _decided(ledger: Ledger, job: _Submit, *, strict: bool) -> Submitted | BaseException:
    """What ``job``'s command makes of ``ledger``: a ledger that extends it, or the error.

    A command appends to the ledger it is given, so the new ledger holds the very event
    objects of the old: the quick check is that its event at the old one's last place is that
    same object. ``strict`` (or a ledger that fails the quick check) compares them as
    ``Ledger.extends`` does — which costs a chunk of event comparisons, too much for every
    submit; the store checks each group's whole chain anyway, and a group it refuses while
    nobody else saved is decided again strictly.
    """
    try:
        new = job.command(ledger, *job.args, **job.kwargs)
    except BaseException as error:  # noqa: BLE001 - raised to its submitter, the others go on
        return error
    if not isinstance(new, Ledger) or not _extends(new, ledger, strict=strict):
        name = getattr(job.command, "__name__", repr(job.command))
        return InvalidInputError(
            f"a submitted command returns the ledger it was given with its events added; "
            f"{name} returned {type(new).__name__}"
            + (" that does not extend it" if isinstance(new, Ledger) else "")
        )
    return Submitted(new, len(new.events) > len(ledger.events))


def _extends(new: Ledger, old: Ledger, *, strict: bool) -> bool:
    """Whether ``new`` extends ``old``: see :func:`_decided`."""
    size = len(old.events)
    if strict or len(new.events) < size:
        return new.extends(old)
    return new.events[size - 1] is old.events[size - 1] or new.extends(old)


def _done(job: object, store: Store) -> bool:
    """Do a job that is not a submit; whether it says stop.

    Raises:
        TypeError: not a job of a practice (a bug of this module).
    """
    if job is _STOP:
        return True
    if not isinstance(job, _Call):
        raise TypeError(f"not a job of a practice: {job!r}")
    _settle(job.future, job.work, store)
    return False


def _fail(group: list[_Submit], error: BaseException) -> None:
    for job in group:
        job.future.set_exception(error)


def _settle(
    future: concurrent.futures.Future[_T], work: Callable[[Store], _T], store: Store
) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(work(store))
    except BaseException as error:  # noqa: BLE001 - the caller's to see
        future.set_exception(error)


def open_practice(
    url: str | os.PathLike[str],
    name: str = "practice",
    currency: str = "USD",
    *,
    synchronous: str = "FULL",
    snapshot_every: int = SNAPSHOT_EVERY,
) -> Practice:
    """Open the practice ``name`` in the store at ``url`` (a path or ``sqlite:///…``: SQLite,
    in WAL mode; ``postgresql://…``: PostgreSQL), creating the store and an empty ledger in
    ``currency`` when missing.

    ``synchronous``: ``FULL`` (the default) — a submit that returned survives a power cut;
    ``NORMAL`` — faster commits that survive the process being killed, but a power cut or an OS
    crash may lose the last ones (see docs/reliability.md). ``snapshot_every``: as
    :func:`patient_ledger.persist.store.open_store`.

    Raises:
        InvalidInputError: a bad URL or setting; CurrencyMismatchError: the stored ledger keeps
            another currency; LedgerError: the store refused (a corrupt journal, say).
    """
    return Practice(
        url,
        name=name,
        currency=currency,
        synchronous=synchronous,
        snapshot_every=snapshot_every,
    )


__all__ = ["Practice", "PracticeStatus", "Submitted", "open_practice", "store_url"]
