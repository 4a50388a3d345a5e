"""A journal that lasts: canonical JSON Lines with a SHA-256 hash chain (a shell module).

Each line is one event::

    {"event":{...},"hash":"…","prev":"…","seq":7,"type":"PaymentPosted","v":1}

with keys sorted and no spaces, amounts as exact decimal strings with their currency
(``{"amount":"10.00","currency":"USD"}``), dates in ISO form. ``hash`` is the SHA-256 of the
line's other keys (canonical JSON), which include ``prev``, the previous line's hash (64 zeros
for the first), so any edit, reordering, deletion or cut line breaks the chain at that line.
Lines dropped from the end leave a valid, shorter journal: keep ``head(text)`` elsewhere and
check with ``verify(text, head=...)``.

``dumps(loads(text)) == text`` for every journal ``dumps`` wrote.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import zlib
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import cattrs
import msgspec
from moneyed import CURRENCIES, Money

from patient_ledger.apply import replay
from patient_ledger.errors import InvalidInputError, JournalError
from patient_ledger.events import (
    EVENT_TYPES,
    Event,
    LedgerOpened,
    Minor,
)
from patient_ledger.invariants import Violation, check_invariants, check_loaded
from patient_ledger.money import frozen_money, minor_of_text
from patient_ledger.persist._shapes import LINE, QuickReader, QuickWriter, version_of
from patient_ledger.persist.snapshot import Events
from patient_ledger.state import Ledger
from patient_ledger.views import claims_feed, dashboard, patients

#: The newest version of the line format; a reader refuses versions it does not know. A line
#: is version 1 unless its event has a shape SPEC §10 added (2) — a new kind of event, or a new
#: field set to something (a line named by a payment or an application) —, one SPEC §11
#: added (3: payment plans) or one SPEC §12 added (4: a charge's ``posted_on``), so journals
#: written before §10, §11 or §12 are written back byte for byte.
SCHEMA_VERSION = 4
_VERSIONS = (1, 2, 3, 4)
GENESIS = "0" * 64
_TYPES: dict[str, type[Event]] = {t.__name__: t for t in EVENT_TYPES}


#: Canonical JSON: keys sorted, no spaces, non-ASCII as itself — byte for byte what
#: ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes (the
#: tests hold the two side by side), in C: a tenth of the time.
_ENCODER = msgspec.json.Encoder(order="sorted")
_DECODER = msgspec.json.Decoder()


def _canonical(obj: object) -> str:
    return _ENCODER.encode(obj).decode("utf-8")


def _digest(content: str) -> str:
    """A line's hash: the SHA-256 of its content's canonical text."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@functools.cache
def _converter(currency: str) -> cattrs.Converter:
    """Structures events of a ledger in ``currency`` from a line's JSON — the full reader, for
    lines the quick one does not take, saying what is wrong with them; amounts become minor
    units."""
    converter = cattrs.Converter()

    def amount_in(value: Any) -> tuple[int, str]:
        if not isinstance(value, dict) or len(value) != 2:
            raise TypeError(f"an amount must be {{amount, currency}}, got {value!r}")
        amount, code = value.get("amount"), value.get("currency")
        if not isinstance(amount, str) or not isinstance(code, str):
            raise TypeError(f"amount and currency must be strings, got {value!r}")
        if code not in CURRENCIES:
            raise ValueError(f"unknown currency {code!r}")
        return minor_of_text(amount, code, "amount"), code  # its shape checked first

    def in_currency(value: Any) -> int:
        # A value object's amount too: a ledger holds one currency (a command refuses another).
        minor, code = amount_in(value)
        if code != currency:
            raise ValueError(f"amount {value!r} is not in the ledger's currency {currency}")
        return minor

    def money_in(value: Any, _: object) -> Money:
        return frozen_money(in_currency(value), currency)

    def minor_in(value: Any, _: object) -> Minor:
        return Minor(in_currency(value))

    def date_in(value: Any, _: object) -> datetime.date:
        if not isinstance(value, str):
            raise TypeError(f"a date must be an ISO string, got {value!r}")
        return datetime.date.fromisoformat(value)

    converter.register_structure_hook(Money, money_in)
    converter.register_structure_hook(Minor, minor_in)
    converter.register_structure_hook(datetime.date, date_in)
    return converter


#: The words journal lines are made of — one line of each kind of event, the most frequent
#: last — as zlib's preset dictionary for packed lines (see :func:`pack`). Fixed: every packed
#: line is read with it; a different dictionary would need a new packing version.
_WORDS = (
    b'LedgerOpened 1 {"currency":"USD"}'
    b'AppointmentCancelled 2 {"appointment_id":"A1","on":"2025-01-02","reason":null}'
    b'EntriesCancelled 1 {"on":"2025-01-02","parts":[["E1",{"amount":"4.11","currency":"USD"}],'
    b'["E2",{"amount":"-4.11","currency":"USD"}]],"patient_id":"P1"}'
    b'CreditReleased 1 {"appointment_id":"A1","moves":[["E1","E2",{"amount":"19.12",'
    b'"currency":"USD"}]],"on":"2025-01-02"}'
    b'AllocationUnapplied 1 {"applied":[["E1","A1",{"amount":"17.59","currency":"USD"}]],'
    b'"appointment_id":"A1","on":"2025-01-02","returned":[["PAY1",{"amount":"13.95",'
    b'"currency":"USD"},"E1"]]}'
    b'CreditTransferred 1 {"moves":[["E1","E2",{"amount":"51.17","currency":"USD"}]],'
    b'"transfer":{"amount":{"amount":"51.17","currency":"USD"},"from_patient_id":"P1",'
    b'"id":"T1","on":"2025-01-02","to_patient_id":"P2"}}'
    b'RefundPosted 1 {"entry_id":"E1","payment":{"amount":{"amount":"-52.21","currency":"USD"},'
    b'"appointment_id":null,"id":"R1","method":"OTHER","notes":"","patient_id":"P1",'
    b'"provider":null,"received_on":"2025-01-02","reference":null,"type":"REFUND"}}'
    b'UnallocatedApplied 1 {"applied":[["E1","A1",{"amount":"65.46","currency":"USD"}]],'
    b'"on":"2025-01-02","patient_id":"P1"}'
    b'ChargeAdjusted 1 {"adjustment":{"amount":{"amount":"-14.76","currency":"USD"},'
    b'"charge_id":"C1","id":"ADJ1","on":"2025-01-02","reason":null,"type":"INSURANCE"},'
    b'"applied":[],"returned":[]}'
    b'PaymentReversed 1 {"allocations":[["A1",{"amount":"18.14","currency":"USD"}]],'
    b'"applied":[],"entries":[],"on":"2025-01-02","payment_id":"PAY1","reason":null}'
    b'AppointmentAdded 1 {"appointment":{"date":"2025-01-02","id":"A1","patient_id":"P1",'
    b'"provider":null}}'
    b'ChargeAdded 1 {"applied":[],"charge":{"amount":{"amount":"100.00","currency":"USD"},'
    b'"appointment_id":"A1","code":null,"description":null,"id":"C1"}}'
    b'PaymentPosted 1 {"allocated":{"amount":"0.00","currency":"USD"},"entry_id":"E1",'
    b'"payment":{"amount":{"amount":"30.00","currency":"USD"},"appointment_id":"A1",'
    b'"id":"PAY1","method":"OTHER","notes":"","patient_id":"P1","provider":null,'
    b'"received_on":"2025-01-02","reference":null,"type":"PAYMENT"}}'
)
#: Where a line's event starts: after ``{"event":``.
_EVENT_AT = len('{"event":')
#: The first byte of a packed line: how it was packed (zlib with :data:`_WORDS`).
_PACKED_V1 = b"\x01"
#: The most a packed line may hold unpacked (its type, version and event, in bytes): a line is
#: a few hundred bytes, and one allocating a payment across thousands of appointments some
#: hundreds of KB. A store refuses to save a longer one and to unpack one (a row that would
#: inflate further is refused after this much, whatever it claims): 16 MiB at most per row.
MAX_PACKED_LINE = 16 * 1024 * 1024


def pack(line: str) -> tuple[bytes, bytes]:
    """A journal line in the smallest form that still verifies — ``(hash, body)``: the line's
    hash as 32 bytes, and its event, type and version compressed (zlib, with the journal's own
    words as a preset dictionary: about a fifth of the line). Its sequence number and the hash
    before it are where a store keeps the line; :func:`unpack` rebuilds it byte for byte, and
    reading it checks its hash as any line's.
    """
    at = line.rindex(',"hash":"')
    record = _DECODER.decode("{" + line[at + 1 :])  # hash, prev, seq, type, v: no event
    packed = _packed(record["type"], record["v"], line[_EVENT_AT:at], record["seq"])
    return bytes.fromhex(record["hash"]), packed


def packed(ledger: Ledger, start: int, prev: str) -> Iterator[tuple[int, bytes, bytes, str]]:
    """``(seq, hash, body, hash as text)`` of the ledger's lines from ``start`` on, packed as
    :func:`pack` packs them (without writing the lines out first)."""
    for seq, version, kind, event, line_hash in _contents(ledger, start, prev):
        yield seq, bytes.fromhex(line_hash), _packed(kind, version, event, seq), line_hash


#: A compressor primed with :data:`_WORDS`, copied for each line (priming one costs more than
#: packing a line): a 4 KiB window holds the words, and packs lines as small as a 32 KiB one.
_PACKER = zlib.compressobj(9, zlib.DEFLATED, 12, 2, zdict=_WORDS)


def _packed(kind: str, version: int, event: str, seq: int) -> bytes:
    """Line ``seq + 1``'s parts, packed.

    Raises:
        JournalError: more than :data:`MAX_PACKED_LINE` bytes (naming the line).
    """
    words = f"{kind} {version} {event}".encode()
    if len(words) > MAX_PACKED_LINE:
        raise JournalError(
            f"an event of {len(words):,} bytes: more than a store keeps in one line "
            f"({MAX_PACKED_LINE:,})",
            line=seq + 1,
        )
    packer = _PACKER.copy()
    return _PACKED_V1 + packer.compress(words) + packer.flush()


def unpack(hash_: bytes, body: bytes, seq: int, prev: str) -> str:
    """The journal line :func:`pack` packed, given its sequence number and the hash of the
    line before it (:data:`GENESIS` for the first).

    Raises:
        JournalError: a body that is not a packed line, or one that would unpack to more than
            :data:`MAX_PACKED_LINE` bytes (never inflated further), naming line ``seq + 1``.
    """
    if body[:1] != _PACKED_V1:
        raise JournalError(f"a stored line packed as {body[:1]!r}, unknown here", line=seq + 1)
    unpacker = zlib.decompressobj(zdict=_WORDS)
    try:
        words = unpacker.decompress(body[1:], MAX_PACKED_LINE + 1)
    except zlib.error as error:
        raise JournalError(
            f"a stored line that cannot be unpacked: {error}", line=seq + 1
        ) from None
    if len(words) > MAX_PACKED_LINE:
        raise JournalError(
            f"a stored line that unpacks to more than {MAX_PACKED_LINE:,} bytes: refused",
            line=seq + 1,
        )
    if not unpacker.eof:
        raise JournalError("a stored line that cannot be unpacked: cut short", line=seq + 1)
    try:
        kind, version, event = words.decode("utf-8").split(" ", 2)
        number = int(version)
    except ValueError as error:
        raise JournalError(
            f"a stored line that cannot be unpacked: {error}", line=seq + 1
        ) from None
    return _line(seq, number, kind, event, line_hash=hash_.hex(), prev=prev)


def lines(ledger: Ledger, start: int = 0, prev: str = GENESIS) -> Iterator[tuple[int, str, str]]:
    """``(seq, line, hash)`` for the ledger's events from ``start`` on, chained from ``prev``
    (the hash of line ``start - 1``; event stores append with it)."""
    for seq, version, kind, event, line_hash in _contents(ledger, start, prev):
        yield seq, _line(seq, version, kind, event, line_hash=line_hash, prev=prev), line_hash
        prev = line_hash


def _line(seq: int, version: int, kind: str, event: str, *, line_hash: str, prev: str) -> str:
    """A line from its parts: canonical JSON, its keys in order."""
    return (
        f'{{"event":{event},"hash":"{line_hash}","prev":"{prev}","seq":{seq},'
        f'"type":"{kind}","v":{version}}}'
    )


def _contents(ledger: Ledger, start: int, prev: str) -> Iterator[tuple[int, int, str, str, str]]:
    """``(seq, version, type, event as canonical JSON, hash)`` of the ledger's lines from
    ``start`` on, chained from ``prev``: each event written once (through its shape)."""
    writer = QuickWriter(ledger.currency)
    events = ledger.events
    for seq, event in enumerate(events if not start else events[start:], start):
        version, kind, text = version_of(event), type(event).__name__, writer.text(event)
        prev = _digest(_content(seq, version, kind, text, prev))
        yield seq, version, kind, text, prev


def _content(seq: int, version: int, kind: str, event: str, prev: str) -> str:
    """What a line's hash is taken of: the line without its hash, canonical JSON."""
    return f'{{"event":{event},"prev":"{prev}","seq":{seq},"type":"{kind}","v":{version}}}'


def dumps(ledger: Ledger) -> str:
    """The ledger's journal as canonical, hash-chained JSON Lines (one event per line)."""
    return "".join(line + "\n" for _, line, _ in lines(ledger))


def decode(data: bytes) -> str:
    """Journal bytes as text: UTF-8, strictly.

    Raises:
        JournalError: bytes that are not UTF-8, naming the line that holds them.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise JournalError(
            f"not UTF-8 text: {error.reason} at byte {error.start}", line=line
        ) from None


def _parse(
    text: str, head: str | None = None, *, base: Ledger | None = None, prev: str = GENESIS
) -> Iterator[tuple[int, Event, str]]:
    """Check the chain line by line and yield ``(line number, event, hash)``.

    With ``base``, the text continues that ledger's journal: its first line has sequence
    number ``len(base.events)`` and follows ``prev``, the hash of the base's last line.
    """
    if not isinstance(text, str):
        raise JournalError(f"a journal is text, got {type(text).__name__}", line=1)
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    if not rows and base is None:
        raise JournalError("the journal is empty", line=1)
    offset = 0 if base is None else len(base.events)
    reader = _Reader(None if base is None else base.currency)
    for number, row in enumerate(rows, start=offset + 1):
        try:
            event, prev = reader.line(row, number, prev)
        except RecursionError:
            raise JournalError("nested too deeply to be a journal line", line=number) from None
        except UnicodeEncodeError as error:
            raise JournalError(
                f"not valid Unicode text ({error.reason}: a lone surrogate?)", line=number
            ) from None
        yield number, event, prev
    if head is not None and prev != head:
        raise JournalError(
            f"the journal ends at hash {prev[:12]}…, not at the expected head {head[:12]}… "
            "(lines dropped from the end?)",
            line=offset + len(rows),
        )


_KEYS = frozenset({"v", "seq", "type", "event", "prev", "hash"})


class _Reader:
    """Reads one line at a time; knows the ledger's currency once the first line opened it."""

    def __init__(self, currency: str | None) -> None:
        self.full: tuple[cattrs.Converter, QuickWriter] | None = None
        self.quick: QuickReader | None = None
        if currency is not None:
            self._open(currency)

    def _open(self, currency: str) -> tuple[cattrs.Converter, QuickWriter]:
        """Read lines of a ledger in ``currency``: quickly, or with the full reader (which
        structures with cattrs and checks against what the writer writes)."""
        self.quick = QuickReader(currency)
        self.full = (_converter(currency), QuickWriter(currency))
        return self.full

    def line(self, row: str, number: int, prev: str) -> tuple[Event, str]:
        """The line's event and hash, the line checked: its chain, its hash, its form."""
        if self.quick is not None:
            taken = self._quickly(self.quick, row, number, prev)
            if taken is not None:
                return taken
        try:
            record = _DECODER.decode(row)
        except ValueError as error:
            raise JournalError(
                f"not a JSON object (cut or edited?): {error}", line=number
            ) from None
        if not isinstance(record, dict) or set(record) != _KEYS:
            raise JournalError("not a journal line (wrong keys)", line=number)
        if record["v"] not in _VERSIONS or isinstance(record["v"], bool):
            raise JournalError(f"unknown schema version {record['v']!r}", line=number)
        if record["seq"] != number - 1:
            raise JournalError(
                f"sequence number {record['seq']!r} where {number - 1} was expected "
                "(lines reordered, deleted or inserted)",
                line=number,
            )
        if record["prev"] != prev:
            raise JournalError("does not follow the line before it (broken chain)", line=number)
        if type(record["seq"]) is not int or type(record["v"]) is not int:
            raise JournalError("not in canonical form (v and seq are integers)", line=number)
        claimed = record.pop("hash")
        content = _canonical(record)
        if _digest(content) != claimed:
            raise JournalError("content does not match its hash (edited)", line=number)
        event_type = _TYPES.get(record["type"]) if isinstance(record["type"], str) else None
        if event_type is None:
            raise JournalError(f"unknown event type {record['type']!r}", line=number)
        converter, writer = self._full(event_type, record["event"], number)
        try:
            event = converter.structure(record["event"], event_type)
        except (cattrs.BaseValidationError, ValueError, TypeError, InvalidOperation) as error:
            raise JournalError(
                f"malformed {record['type']}: {_reasons(error)}", line=number
            ) from None
        # Accept only what dumps writes (key order, spacing, escapes, amounts, versions), so a
        # journal read back is written back byte for byte, and nothing else verifies: the row
        # is its record's canonical text, and its event's text is what dumps makes of the
        # event it reads as (no extra keys, no "usd", no "10.0", no 1 for "1").
        at = content.rindex(',"prev":"')
        if (
            row != f'{content[:at]},"hash":"{claimed}"{content[at:]}'
            or version_of(event) != record["v"]
            or writer.text(event) != content[_EVENT_AT:at]
        ):
            raise JournalError(
                "not in canonical form (keys, spacing, escapes or values differ from what "
                "dumps writes for this event)",
                line=number,
            )
        return event, claimed

    @staticmethod
    def _quickly(quick: QuickReader, row: str, number: int, prev: str) -> tuple[Event, str] | None:
        """The line's event and hash when the line is exactly as :func:`dumps` writes it (see
        :mod:`patient_ledger.persist._shapes`); None sends it to the full reader."""
        try:
            record = LINE.decode(row)
        except (msgspec.DecodeError, UnicodeEncodeError):  # a lone surrogate: the full reader
            return None
        if record.seq != number - 1 or record.prev != prev:
            return None
        text = bytes(record.event)
        event = text.decode("utf-8")
        kind, version, claimed = record.type, record.v, record.hash
        if row != _line(record.seq, version, kind, event, line_hash=claimed, prev=prev):
            return None
        if _digest(_content(record.seq, version, kind, event, prev)) != claimed:
            return None
        built = quick.event(kind, text, version)
        return None if built is None else (built, claimed)

    def _full(
        self, event_type: type[Event], data: object, number: int
    ) -> tuple[cattrs.Converter, QuickWriter]:
        if self.full is None:
            if event_type is not LedgerOpened:
                raise JournalError("the first line must open the ledger", line=number)
            currency = data.get("currency") if isinstance(data, dict) else None
            if not isinstance(currency, str) or currency not in CURRENCIES:
                raise JournalError(f"the ledger's currency {currency!r} is unknown", line=number)
            return self._open(currency)
        if event_type is LedgerOpened:
            raise JournalError("the ledger is opened a second time", line=number)
        return self.full


def _reasons(error: BaseException) -> str:
    """What went wrong, as ``place: message`` for every error cattrs gathered."""

    def leaves(error: BaseException, path: str) -> Iterator[str]:
        if isinstance(error, BaseExceptionGroup):
            for sub in error.exceptions:
                notes = getattr(sub, "__notes__", None) or [""]
                place = str(notes[-1]).rpartition(" @ ")[2].removeprefix("attribute ")
                yield from leaves(sub, f"{path}.{place}" if place else path)
        else:
            reason = "missing" if isinstance(error, KeyError) else str(error)
            yield f"{path.lstrip('.') or 'event'}: {reason}"

    return "; ".join(leaves(error, ""))


class StoredEvents(Events):
    """The events of a stored journal's lines, decoded only when read: how a store gives a
    ledger restored from a snapshot its journal without decoding it (see
    :func:`patient_ledger.persist.snapshot.decode`).

    Lines are decoded a block at a time, on first read, and checked as :func:`loads` checks
    them — the chain, each line's hash and canonical form — so a stored line found corrupt
    only then raises :class:`~patient_ledger.errors.JournalError` from the read (a store's
    ``verify`` reads everything at once). Blocks once decoded are kept; two threads decoding
    the same block get equal events.
    """

    _BLOCK = 256

    def __init__(self, rows: Sequence[str]) -> None:
        self._rows = rows
        self._blocks: dict[int, tuple[Event, ...]] = {}
        self._currency: str | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def _at(self, index: int) -> Event:
        block, offset = divmod(index, self._BLOCK)
        return self._block(block)[offset]

    def __iter__(self) -> Iterator[Event]:
        for block in range((len(self) + self._BLOCK - 1) // self._BLOCK):
            yield from self._block(block)

    def _block(self, number: int) -> tuple[Event, ...]:
        events = self._blocks.get(number)
        if events is None:
            start = number * self._BLOCK
            prev = GENESIS if not start else claimed_hash(self._rows[start - 1], start)
            reader = _Reader(self._ledger_currency() if start else None)
            decoded = []
            for line, row in enumerate(self._rows[start : start + self._BLOCK], start + 1):
                event, prev = reader.line(row, line, prev)
                decoded.append(event)
            events = self._blocks[number] = tuple(decoded)
        return events

    def _ledger_currency(self) -> str:
        if self._currency is None:
            opened = self._block(0)[0]
            self._currency = opened.currency  # type: ignore[union-attr] # LedgerOpened first
        return self._currency


def claimed_hash(row: str, line: int) -> str:
    """The hash a journal line (number ``line``) claims; it is checked when the line is read.

    Raises:
        JournalError: not a journal line.
    """
    try:
        claimed = _DECODER.decode(row)["hash"]
    except (ValueError, TypeError, KeyError):
        claimed = None
    if not isinstance(claimed, str):
        raise JournalError("not a journal line", line=line)
    return claimed


def loads(text: str | bytes, *, head: str | None = None) -> Ledger:
    """Rebuild a ledger from journal text (or UTF-8 bytes), checking it on the way: the chain,
    each line's form, the replay, and the invariants of SPEC §6 on the ledger it builds.

    Raises:
        JournalError: the first bad line (``.line``): malformed, not canonical, edited,
            reordered, deleted, cut, not ending at ``head``, an event that does not apply, or
            the first event after which an invariant breaks (a forged, rehashed journal).
    """
    if isinstance(text, bytes | bytearray):
        text = decode(bytes(text))
    return _checked(_replay(_parse(text, head), None), None)


def extend(ledger: Ledger, text: str, *, prev: str, head: str | None = None) -> Ledger:
    """Apply journal lines that continue ``ledger``'s journal (``prev``: the hash of its last
    line) — how an event store catches a ledger up without replaying it from the start.
    ``ledger`` stays as it was, whatever happens.

    Raises:
        JournalError: as :func:`loads`, with line numbers counted from the journal's start.
    """
    return _checked(_replay(_parse(text, head, base=ledger, prev=prev), ledger), ledger)


def _checked(ledger: Ledger, base: Ledger | None) -> Ledger:
    """``ledger`` if SPEC §6's invariants hold for it; else name the first event after which
    one breaks. ``base``: the ledger its journal continues, known to be sound — only what the
    events after it did is checked (:func:`~patient_ledger.invariants.check_loaded`).

    The invariants are checked once, on the whole ledger; only when they fail is the journal
    bisected to name the event, each half replayed onto the last sound ledger found. When the
    broken invariant is one patient's balance (1 to 5), the bisection tests that patient's
    figures only (milliseconds, not a whole check per step), and one whole check of the ledger
    before the event found confirms that nothing broke earlier.
    """
    events = ledger.events
    if base is not None and len(base.events) == len(events):
        return ledger
    violations = check_loaded(ledger, since=base)
    if not violations:
        return ledger
    sound = base if base is not None else ledger.at(1)
    bad = len(events)
    patient = violations[0].patient_id
    if patient is not None and _patient_broken(ledger, patient):
        n, before = _bisect(events, sound, bad, lambda trial: _patient_broken(trial, patient))
        if not check_loaded(before):  # nothing broke earlier: the n-th event is the first
            raise _named(before, events[n - 1], violations, n)
        bad = n - 1  # something else broke before it: look among the first n - 1 events
    n, before = _bisect(events, sound, bad, lambda trial: bool(check_loaded(trial)))
    raise _named(before, events[n - 1], violations, n)


def _named(before: Ledger, event: Event, seen: tuple[Violation, ...], line: int) -> JournalError:
    """The error naming the event after which the invariants break, and how they break."""
    found = check_invariants(replay((event,), onto=before)) or seen
    return JournalError(f"the journal replays, but after this event {_broken(found)}", line=line)


def _bisect(
    events: Sequence[Event], sound: Ledger, bad: int, broken: Callable[[Ledger], bool]
) -> tuple[int, Ledger]:
    """The first ``n`` (after ``sound``, up to ``bad``) for which the ledger of the first ``n``
    events is ``broken``, and the ledger of the first ``n - 1``."""
    good = len(sound.events)
    while bad - good > 1:
        middle = (good + bad) // 2
        trial = replay(events[good:middle], onto=sound)
        if broken(trial):
            bad = middle
        else:
            good, sound = middle, trial
    return bad, sound


def _patient_broken(ledger: Ledger, patient: str) -> bool:
    """Whether one of SPEC §6's invariants 1 to 5 fails for ``patient``, from the views."""
    if patient not in patients(ledger):
        return False
    d = dashboard(ledger, patient)
    feed = claims_feed(ledger, patient)
    held = sum((row.appointment_unallocated.amount for row in feed), start=Decimal(0))
    zero = Decimal(0)
    return (
        d.total_paid != d.allocated + d.unallocated
        or d.total_balance != d.statement_balance - d.unallocated
        or d.unallocated.amount - held < zero
        or any(
            not zero <= row.paid.amount <= row.patient_responsibility.amount
            or row.appointment_unallocated.amount < zero
            or zero not in (row.appointment_unallocated.amount, row.balance_due.amount)
            for row in feed
        )
    )


def _broken(violations: tuple[Violation, ...]) -> str:
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return (
        f"invariant {first.invariant} breaks ({first.patient_id or 'ledger'}): "
        f"{first.message}{more}"
    )


def _replay(parsed: Iterator[tuple[int, Event, str]], base: Ledger | None) -> Ledger:
    line = [0]

    def events() -> Iterator[Event]:
        for number, event, _ in parsed:
            line[0] = number
            yield event

    try:
        return replay(events(), onto=base)
    except InvalidInputError as error:  # an event that does not apply names its line
        raise JournalError(str(error).partition(": ")[2], line=line[0]) from None


def verify(text: str, *, head: str | None = None) -> None:
    """Check a journal: its chain, every line, that it replays, and that it ends at ``head``.

    Raises:
        JournalError: naming the first bad line (also as ``.line``).
    """
    loads(text, head=head)


def head(text: str) -> str:
    """The hash of a checked journal's last line: keep it elsewhere to detect dropped lines.

    Raises:
        JournalError: the journal is not sound (see :func:`verify`).
    """
    hashes = [line_hash for _, _, line_hash in _parse(text)]
    return hashes[-1]
