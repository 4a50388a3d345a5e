"""Speak DrChrono: build a ledger from its REST API records, and reconcile its balances.

``import_records(appointments, line_items, patient_payments)`` takes the records of
``/api/appointments``, ``/api/line_items`` and ``/api/patient_payments`` as the API returns
them and gives the ledger and an :class:`ImportSummary`: records read, imported, skipped and
why, placements changed and why, and the reconciliation. ``load`` gives only the ledger, and
``reconcile(ledger, line_items, patient_payments)`` compares our figures with DrChrono's own
``pt_paid`` and ``balance_pt`` per line item, and the money on each appointment.

Mapping (see ``docs/drchrono.md`` for every rule):

* appointment → ``Appointment(str(id), str(patient), date of scheduled_time, str(doctor))``;
  breaks and deleted appointments (``deleted_flag``) are skipped; a ``Cancelled`` or
  ``Rescheduled`` one is cancelled (``cancel_appointment``) once its payments are in, so what
  it holds waits in the patient's general bucket;
* line item → ``Charge(str(id), str(appointment), pt_paid + balance_pt, code, description,
  date of posted_date)`` (``posted_on`` None when ``posted_date`` is absent or null);
* patient payment → ``Payment`` on its line item (which wins over a disagreeing
  ``appointment``), else its appointment, else the general bucket. A negative ``REF`` is a
  refund (the appointment's held money first, then its allocations, newest first); a negative
  ``COR`` a partial reversal of the payment it corrects; a zero row is skipped.

Amounts are exact: JSON numbers are read as ``Decimal`` from their text (:func:`read_json`),
and a number too long or with too large an exponent is refused before it is converted. A
malformed or inconsistent record is an error naming its kind and ``id``, and nothing is
half-loaded: a ledger is returned whole, or an error is raised.

Commands are applied in one documented order, so balances never depend on the order of the
input lists: every appointment (by date, then id), every charge (by its day — its
``posted_on``, else its appointment's date — then id), then every payment (by received date;
on one day money in before money out; then id), then the cancellations; ids sort numerically
when numeric.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime
import itertools
import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs
import msgspec
from moneyed import Money

from patient_ledger.commands import (
    add_appointment,
    add_charge,
    cancel_appointment,
    post_payment,
    refund,
    release_credit,
    reverse_payment,
    unapply,
)
from patient_ledger.errors import (
    DuplicateIdError,
    IncompleteExportError,
    InvalidAmountError,
    InvalidInputError,
    LedgerError,
    PatientMismatchError,
    UnknownIdError,
)
from patient_ledger.money import parse_amount, to_minor, to_money
from patient_ledger.state import Ledger
from patient_ledger.values import Appointment, Charge, Payment, PaymentMethod, PaymentType
from patient_ledger.views import (
    Allocation,
    FeedRow,
    allocations,
    claims_feed,
    feed_row,
    line_items,
    patients,
)

#: DrChrono ``payment_method`` codes and the methods they map to.
METHODS: Mapping[str, PaymentMethod] = {
    "CASH": PaymentMethod.CASH,
    "CHCK": PaymentMethod.CHECK,
    "DBIT": PaymentMethod.DEBIT_CARD,
    "CRDT": PaymentMethod.CREDIT_CARD,
    "AMEX": PaymentMethod.CREDIT_CARD,
    "VISA": PaymentMethod.CREDIT_CARD,
    "MSTR": PaymentMethod.CREDIT_CARD,
    "DISC": PaymentMethod.CREDIT_CARD,
    "SQR1": PaymentMethod.CREDIT_CARD,  # Square (legacy): card payments
    "SQRE": PaymentMethod.CREDIT_CARD,  # Square
    "DRCP": PaymentMethod.CREDIT_CARD,  # DrChrono's own card processing
    "PTPA": PaymentMethod.ONLINE,  # patient payments, online
    "ONPT": PaymentMethod.ONLINE,  # the onpatient portal
    "OTHR": PaymentMethod.OTHER,
}

#: DrChrono ``payment_transaction_type`` codes and the types they map to.
TYPES: Mapping[str, PaymentType] = {
    "": PaymentType.PAYMENT,  # "Credit": money received
    "REF": PaymentType.REFUND,
    "COR": PaymentType.CORRECTION,
    "COPAY": PaymentType.COPAY,
    "COINSR": PaymentType.COINSURANCE,
    "OTHR": PaymentType.OTHER,
}

#: Appointment ``status`` values of a visit that will not happen: it is cancelled.
CANCELLED_STATUSES = frozenset({"Cancelled", "Rescheduled"})

#: The longest number text read (sign, digits, point and exponent), and the largest exponent
#: (of ten) an amount may have: anything beyond is refused before it is converted.
MAX_NUMBER_CHARS = 40
MAX_EXPONENT = 30

_KINDS = ("appointment", "line_item", "patient_payment")


@attrs.frozen(kw_only=True)
class Discrepancy:
    """Our figure and DrChrono's that do not agree.

    For a line item (``charge_id`` set), ``field`` is ``"paid"`` (its ``pt_paid``) or
    ``"balance_due"`` (its ``balance_pt``); for an appointment (``charge_id`` None) it is
    ``"money"`` (paid + held on it) or ``"net_balance"`` (balance due − held).
    """

    appointment_id: str
    field: str
    ours: Money
    theirs: Money
    charge_id: str | None = None


@attrs.frozen(kw_only=True)
class Note:
    """One record the import skipped, or placed otherwise than it reads, and why."""

    kind: str  # "appointment", "line_item" or "patient_payment"
    record_id: str
    reason: str


@attrs.frozen(kw_only=True)
class Counts:
    """A number of records of each kind."""

    appointments: int
    line_items: int
    patient_payments: int


@attrs.frozen(kw_only=True)
class ImportSummary:
    """What an import did: records read and imported, those skipped and why, placements
    changed and why, and the reconciliation with DrChrono's balances.

    ``explained`` holds line-item differences that a DrChrono rule accounts for (the money on
    the appointment and its net balance agree): they are not discrepancies. ``missing`` says
    what a partial export lacks (imported with ``partial``): the figures cover only what it
    holds.
    """

    read: Counts
    imported: Counts
    skipped: tuple[Note, ...]
    changed: tuple[Note, ...]
    discrepancies: tuple[Discrepancy, ...]
    explained: tuple[Discrepancy, ...]
    missing: tuple[str, ...] = ()
    #: Fields of a record that the import does not read although they carry something: a
    #: patient payment's payment-plan fields (DrChrono's API documents none; docs/drchrono.md).
    ignored: tuple[Note, ...] = ()

    @property
    def complete(self) -> bool:
        """False when the export was partial (its pages say records are missing)."""
        return not self.missing

    @property
    def reconciled(self) -> bool:
        """True when nothing is left unreconciled."""
        return not self.discrepancies

    def lines(self) -> tuple[str, ...]:
        """The summary as text, one line each (what ``import-drchrono`` prints)."""
        out = []
        if self.missing:
            out.append("PARTIAL export: the figures cover only the records it holds; it lacks:")
            out.extend(f"  {what}" for what in self.missing)
        for label, counts in (("read", self.read), ("imported", self.imported)):
            out.append(
                f"{label}: {counts.appointments} appointments, {counts.line_items} line items, "
                f"{counts.patient_payments} patient payments"
            )
        for label, notes in (("skipped", self.skipped), ("placed otherwise", self.changed)):
            out.append(f"{label}: {len(notes)}")
            out.extend(f"  {n.kind} {n.record_id}: {n.reason}" for n in notes)
        if self.ignored:
            out.append(f"fields not read: {len(self.ignored)}")
            out.extend(f"  {n.kind} {n.record_id}: {n.reason}" for n in self.ignored)
        if self.explained:
            out.append(
                f"placed by DrChrono's rules: {len(self.explained)} line-item differences "
                "where the appointment's money and net balance agree"
            )
            out.extend(f"  {_described(d)}" for d in self.explained)
        if self.reconciled:
            out.append("reconciled: every line item and appointment agrees with DrChrono")
            return tuple(out)
        out.append(f"{len(self.discrepancies)} discrepancies (ours vs DrChrono's):")
        out.extend(f"  {_described(d)}" for d in self.discrepancies)
        return tuple(out)


def _described(d: Discrepancy) -> str:
    where = f"appointment {d.appointment_id}"
    if d.charge_id is not None:
        where = f"line item {d.charge_id} ({where})"
    return f"{where}: {d.field} {d.ours.amount} vs {d.theirs.amount}"


# -- reading JSON ----------------------------------------------------------------------------


@attrs.frozen
class _Unreadable:
    """A JSON number too long, or with too large an exponent, to convert: kept as its text so
    that the record holding it can be named when (and only if) the field is read."""

    text: str

    def __repr__(self) -> str:
        shown = (
            self.text if len(self.text) <= 24 else f"{self.text[:20]}... ({len(self.text)} chars)"
        )
        return f"the number {shown}"


def _exact(text: str) -> Decimal | _Unreadable:
    """A JSON number's text as an exact ``Decimal`` when it is plain decimal text of at most
    :data:`MAX_NUMBER_CHARS` characters; an exponent form (``1e5``) or a longer text is kept
    unconverted (so no conversion can explode, and no amount is read from an exponent)."""
    if len(text) <= MAX_NUMBER_CHARS and "e" not in text and "E" not in text:
        return Decimal(text)  # JSON's grammar: digits, a sign and a point; exact and cheap
    return _Unreadable(text)


def _bounded(value: Decimal) -> bool:
    """Finite, with at most MAX_NUMBER_CHARS digits and an exponent within MAX_EXPONENT."""
    if not value.is_finite():
        return False
    exponent = value.as_tuple().exponent
    return (
        isinstance(exponent, int)
        and exponent >= -MAX_EXPONENT
        and value.adjusted() <= MAX_EXPONENT
        and len(value.as_tuple().digits) <= MAX_NUMBER_CHARS
    )


#: The JSON decoder: msgspec's, with every non-integer number through :func:`_exact` (near
#: ``json.loads``'s speed and memory; integers are exact ``int``, up to Python's 4,300 digits).
_DECODER = msgspec.json.Decoder(float_hook=_exact)


def read_json(text: str | bytes) -> Any:
    """Parse DrChrono JSON with every number exact: integers as ``int``, the others as
    ``Decimal`` read from their text — never a float. A non-integer longer than
    :data:`MAX_NUMBER_CHARS` or written with an exponent (``1e5``) is kept unconverted, and
    refused (naming its record and field) if the import reads it.

    A key repeated in one object (``{"amount": 200.00, "amount": 2000.00}``) is refused, naming
    the record (its ``id``) and the key: a parser keeps one of the two silently. The check is
    cheap (:func:`_repeated_keys`); only an answer it cannot clear is parsed a second time.

    Raises:
        InvalidInputError: not JSON (``NaN`` and ``Infinity`` are not, nor an integer of
            more than 4,300 digits), nested deeper than the parser goes (Python's
            recursion limit, 1,000 by default, less the caller's own depth; DrChrono's
            answers nest four levels), or a key repeated in an object.
    """
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        msg = "JSON nested too deeply (deeper than the parser's recursion limit)"
        raise InvalidInputError(msg) from None
    except msgspec.DecodeError as error:
        raise InvalidInputError(f"not JSON: {error}") from None
    if _repeated_keys(text, data):
        _refuse_repeated_key(text)
    return data


#: Re-encodes decoded values to count their colons (a Decimal as a string, an unconverted
#: number as a bare 0: neither has a colon).
_ENCODER = msgspec.json.Encoder(enc_hook=lambda _: 0, decimal_format="string")


def _repeated_keys(text: str | bytes, data: Any) -> bool:
    r"""Whether the text may hold a key repeated in an object (False: it certainly does not).

    Every key-value pair of a JSON text has one colon outside its strings, and the parser keeps
    one entry per distinct key; re-encoded, the decoded value has a colon per entry plus the
    colons inside its strings, which are the text's own when none is written as an escape
    (``\u003a``). So the text repeats no key when it has as many colons as its re-encoding:
    a ``count`` of each, at memory speed, the re-encoding done a record at a time.
    """
    if isinstance(text, bytes):
        raw = text.count(b":")
        escaped = b"\\u003a" in text or b"\\u003A" in text
    else:
        raw = text.count(":")
        escaped = "\\u003a" in text or "\\u003A" in text
    return escaped or raw != _colons(data)


def _colons(value: Any) -> int:
    """The colons of ``value`` re-encoded (its entries and the colons of its strings): a page
    entry by entry, a list of pages page by page, any other list :data:`_CHUNK` items at a
    time, so the re-encoding never holds more than a slice of the records."""
    if isinstance(value, dict) and _is_page(value):
        keys: int = sum(str(key).count(":") for key in value)
        return len(value) + keys + sum(_colons(item) for item in value.values())
    if isinstance(value, list) and value and _is_page(value[0]):
        return sum(_colons(item) for item in value)
    if isinstance(value, list):
        return sum(
            _ENCODER.encode(value[at : at + _CHUNK]).count(b":")
            for at in range(0, len(value), _CHUNK)
        )
    return _ENCODER.encode(value).count(b":")


#: How many items of a list are re-encoded at once.
_CHUNK = 1_000


def _refuse_repeated_key(text: str | bytes) -> None:
    """Parse the text again, keeping every pair, and refuse the first repeated key."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                record = dict(items)
                named = f"record {record['id']!r}" if "id" in record else "an object (not a record)"
                msg = (
                    f"{named} has the key {key!r} twice: which of its values is meant is not "
                    "known (a parser keeps one silently)"
                )
                raise InvalidInputError(msg, key=key)
            out[key] = value
        return out

    try:
        json.loads(text, object_pairs_hook=pairs, parse_float=lambda _: 0)
    except InvalidInputError:
        raise
    except RecursionError:
        msg = "JSON nested too deeply (deeper than the parser's recursion limit)"
        raise InvalidInputError(msg) from None
    except ValueError as error:
        raise InvalidInputError(f"not JSON: {error}") from None


def _page_records(page: Mapping[str, Any]) -> list[Any] | None:
    """The records of an API page (``data`` in OpenAPI v4, ``results`` in its clients)."""
    found = [page[key] for key in ("data", "results") if isinstance(page.get(key), list)]
    if len(found) == 2 and found[0] != found[1]:
        raise InvalidInputError("an API page with both 'data' and 'results' that differ")
    return list(found[0]) if found else None


def _is_page(item: object) -> bool:
    return isinstance(item, Mapping) and "id" not in item and _page_records(item) is not None


def _link(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def missing(data: Any, *, source: str = "the API answer") -> tuple[str, ...]:
    """What an API answer's own pages say it lacks; empty when nothing is known missing (a
    plain list of records says nothing).

    A page's ``next`` set on the last page (more records follow), ``previous`` set on the
    first (earlier pages were not exported), a ``count`` (the total of every page) beyond the
    records held, or two pages in a row that do not chain (:func:`_gap`: a page is missing
    between them).

    Raises:
        InvalidInputError: a page's ``count`` is not a whole number (``"4"``, ``4.0``,
            ``true``, ``-1``), or a page's ``next`` is null with a page after it or its
            ``previous`` null with a page before it (naming ``source`` and the page).
    """
    pages = [data] if isinstance(data, Mapping) else data if isinstance(data, list) else []
    if not pages or not all(_is_page(page) for page in pages):
        return ()
    out = []
    held = sum(len(_page_records(page) or ()) for page in pages)
    counts = []
    for number, page in enumerate(pages, start=1):
        count = page.get("count")
        if count is None:
            continue
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            msg = (
                f"{source}: page {number}'s count is {_link(count)}, not a whole number of records"
            )
            raise InvalidInputError(msg, source=source)
        counts.append(count)
    if pages[0].get("previous") not in (None, ""):
        out.append(
            f"earlier pages were not exported (its first page's previous is "
            f"{_link(pages[0]['previous'])})"
        )
    for number, (before, after) in enumerate(itertools.pairwise(pages), start=1):
        gap = _gap(before, after, number, source)
        if gap:
            out.append(gap)
    if pages[-1].get("next") not in (None, ""):
        out.append(f"more records follow (its last page's next is {_link(pages[-1]['next'])})")
    if counts and max(counts) > held:
        out.append(f"its count is {max(counts)} but it holds {held} records")
    return tuple(out)


def _gap(before: Mapping[str, Any], after: Mapping[str, Any], number: int, source: str) -> str:
    """What is missing between pages ``number`` and ``number + 1`` of a list of pages, or
    ``""`` when they chain.

    DrChrono's pages link to their neighbours: a page's ``next`` is the address of the page
    after it, its ``previous`` that of the page before it; no page carries its own address.
    So for two pages in a row, ``before.next`` (the address of ``after``) and
    ``after.previous`` (the address of ``before``) are two different pages' addresses. They are
    missing pages when:

    * ``before.next == after.previous``: both name one page, the one between them;
    * both address the pages by number (a ``page`` or whole-number ``cursor`` query parameter,
      1 when absent, as a first page's address; or ``offset`` with ``limit``, 0 when absent)
      and ``after.previous``'s number is not ``before.next``'s less one page: the pages
      between them, or pages out of order.

    A null ``next`` with a page after it, or a null ``previous`` with a page before it, is a
    page that says it is the last (the first) where it is not: refused as not one export.
    Opaque cursors (DrChrono's own encode a position) chain only by the first rule: two or
    more pages dropped in a row between opaque cursors are not seen, and only a ``count``
    beyond the records held tells.
    """
    later, earlier = before.get("next"), after.get("previous")
    for link, which, says in ((later, number, "next"), (earlier, number + 1, "previous")):
        if link is None or link == "":
            msg = (
                f"{source}: page {which}'s {says} is {'null' if link is None else _link(link)}, "
                "yet a page "
                f"{'follows' if says == 'next' else 'comes before'} it: the pages are not "
                "one export"
            )
            raise InvalidInputError(msg, source=source)
    if later == earlier:
        return (
            f"a page is missing between pages {number} and {number + 1} (page {number}'s "
            f"next and page {number + 1}'s previous both name it: {_link(later)})"
        )
    ahead = _position(later)
    behind = None if ahead is None else _position(earlier, ahead[1])
    if ahead is None or behind is None or ahead[:2] != behind[:2]:
        return ""  # opaque cursors, or two different addressings: the first rule only
    lost = (behind[2] - ahead[2]) // ahead[3] + 1
    if lost == 0:
        return ""
    if lost > 0:
        return (
            f"{lost} pages are missing between pages {number} and {number + 1} (page "
            f"{number}'s next is {_link(later)}, page {number + 1}'s previous {_link(earlier)})"
        )
    return (
        f"pages {number} and {number + 1} are out of order or repeated (page {number}'s next "
        f"is {_link(later)}, page {number + 1}'s previous {_link(earlier)})"
    )


def _position(link: object, name: str | None = None) -> tuple[str, str, int, int] | None:
    """A page address as (address without its query, parameter, number, step) when it numbers
    its page: ``page=N`` or ``cursor=N`` (N whole; step 1), or ``offset=N`` with ``limit=L``
    (step L). With ``name`` (the parameter of the other page's address), an address without
    that parameter is the first page's (``page`` and ``cursor`` 1, ``offset`` 0). None for
    anything else (an opaque cursor)."""
    if not isinstance(link, str) or len(link) > 2_000:
        return None
    try:
        parts = urllib.parse.urlsplit(link)
    except ValueError:
        return None
    query = urllib.parse.parse_qs(parts.query)
    base = parts._replace(query="", fragment="").geturl()

    def whole(key: str, absent: str | None) -> int | None:
        values = query.get(key, [] if absent is None else [absent])
        text = values[0] if len(values) == 1 else ""
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None

    for key in ("page", "cursor"):
        if key in query or name == key:
            number = whole(key, "1" if name == key else None)
            return None if number is None else (base, key, number, 1)
    limit = whole("limit", None)
    offset = whole("offset", "0" if name in (None, "offset") else None)
    if limit and offset is not None and name in (None, "offset"):
        return base, "offset", offset, limit
    return None


def records(data: Any, *, partial: bool = False, source: str = "the API answer") -> list[Any]:
    """The records of an API answer, in every shape DrChrono documents or its clients use: a
    list of records, a page (``{"previous", "data", "next"}`` or ``{"results", ...}``), or a
    list of such pages. An answer whose pages say records are missing (:func:`missing`) is
    refused unless ``partial``; ``source`` names it in the error (``load_directory`` gives
    the file).

    Raises:
        IncompleteExportError: the pages say records are missing, and not ``partial``.
        InvalidInputError: none of those shapes, a list mixing pages and records, or pages
            that contradict themselves (:func:`missing`), ``partial`` or not.
    """
    lacks = missing(data, source=source)
    if lacks and not partial:
        msg = (
            f"{source} is a partial export: {'; '.join(lacks)}. Export every page, or "
            "import it as partial (--partial, partial=True)"
        )
        raise IncompleteExportError(msg, source=source, missing=lacks)
    if isinstance(data, Mapping) and "id" not in data:
        found = _page_records(data)
        if found is not None:
            return found
    if isinstance(data, list):
        pages = [
            _page_records(item) if isinstance(item, Mapping) and "id" not in item else None
            for item in data
        ]
        if data and all(page is not None for page in pages):
            return [record for page in pages if page is not None for record in page]
        if any(page is not None for page in pages):
            raise InvalidInputError("a list that mixes API pages and records")
        return list(data)
    msg = (
        "expected a list of records, an API page with 'data' or 'results', or a list of "
        f"pages; got {type(data).__name__}"
    )
    raise InvalidInputError(msg)


# -- reading one record ----------------------------------------------------------------------


class _Record:
    """One API record, read field by field; every error names its kind and id."""

    def __init__(self, kind: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise InvalidInputError(f"a {kind} record must be a JSON object, got {raw!r}")
        self.kind, self.raw = kind, raw
        self.id = str(self.key("id"))

    def where(self) -> str:
        raw_id = self.raw.get("id")
        if isinstance(raw_id, Decimal) and _bounded(raw_id) and raw_id == raw_id.to_integral():
            raw_id = int(raw_id)
        shown = str(raw_id) if isinstance(raw_id, int | str) and raw_id != "" else raw_id
        return f"{self.kind} record {shown!r}"

    def fail(self, message: str, error: type[LedgerError] = InvalidInputError) -> LedgerError:
        return error(f"{self.where()}: {message}", record=self.raw.get("id"))

    def get(self, field: str, *, required: bool = True) -> Any:
        value = self.raw.get(field)
        if value is None and required:
            raise self.fail(f"the required field {field!r} is missing")
        return value

    def key(self, field: str, *, required: bool = True) -> str | None:
        """An id field (int or str: ``1`` and ``"1"`` are the same id) as our id string."""
        value = self.get(field, required=required)
        if value is None:
            return None
        if isinstance(value, Decimal) and _bounded(value) and value == value.to_integral():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(f"{field} must be an id (an integer or a string), got {value!r}")
        text = str(value).strip()
        if not text:
            raise self.fail(f"{field} is empty")
        return text

    def amount(self, field: str, currency: str) -> Decimal:
        """An amount, exact, read by the one strict parser (:func:`~patient_ledger.money.
        parse_amount`): a decimal string or JSON number in plain decimal notation (ASCII
        digits, an optional ``-`` and point: no exponent, ``_``, space or other digits),
        within the currency's minor unit and the supported maximum."""
        value = self.get(field)
        text: str | None = None
        if isinstance(value, str):
            text = value
        elif isinstance(value, float):
            text = repr(value)  # the shortest text that reads back as this float: the JSON's
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value) if abs(value) < 10**MAX_NUMBER_CHARS else None
        elif isinstance(value, Decimal):
            text = str(value)  # never expanded: Decimal("1E+5") shows its exponent, refused
        if text is None:
            shown = value if isinstance(value, _Unreadable) else f"{value!r}"
            raise self.fail(
                f"{field} must be a decimal amount (a string or a JSON number in plain "
                f"decimal notation: no exponent), got {shown}",
                InvalidAmountError,
            )
        try:
            return Decimal(parse_amount(text, currency, field).amount)
        except LedgerError as error:
            raise self.fail(str(error), InvalidAmountError) from None

    def day(self, *fields: str) -> datetime.date:
        """The date of the first of ``fields`` that is set (a date or a date-time string)."""
        value = next((self.raw[f] for f in fields if self.raw.get(f) is not None), None)
        if value is None:
            raise self.fail(f"none of the date fields {', '.join(map(repr, fields))} is set")
        if not isinstance(value, str):
            raise self.fail(f"{fields[0]} must be a date string, got {value!r}")
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            raise self.fail(f"{fields[0]} {value!r} is not a date") from None

    def code(self, field: str, table: Mapping[str, Any], default: str) -> Any:
        value = self.raw.get(field)
        value = default if value is None else value
        if value not in table:
            codes = ", ".join(repr(c) for c in table)
            raise self.fail(f"unknown {field} {value!r} (known: {codes})")
        return table[value]

    def text(self, field: str) -> str | None:
        value = self.raw.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{field} must be a string, got {value!r}")
        return value

    def flag(self, field: str) -> bool:
        value = self.raw.get(field)
        if value is not None and not isinstance(value, bool):
            raise self.fail(f"{field} must be true or false, got {value!r}")
        return bool(value)


def _id_order(text: str) -> tuple[int, int, str]:
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _unique(kind: str, raws: Iterable[object]) -> Iterator[_Record]:
    """The records of one list, refusing a repeated id (``1`` and ``"1"`` are one id) with a
    message naming both records."""
    seen: dict[str, tuple[int, object]] = {}
    for number, raw in enumerate(raws, start=1):
        record = _Record(kind, raw)
        if record.id in seen:
            first, other = seen[record.id]
            msg = (
                f"{kind} id {record.id!r} is repeated: record {first} ({other!r}) and record "
                f"{number} ({record.raw.get('id')!r}) of the {kind} list; ids must be unique"
            )
            raise DuplicateIdError(msg, id=record.id, records=(first, number))
        seen[record.id] = (number, record.raw.get("id"))
        yield record


# -- loading ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Posting:
    """One patient payment as it will be applied: a payment, a refund, or a correction."""

    payment: Payment  # a negative correction holds what it takes back, as a positive amount
    correction: bool
    parent_id: str | None
    order: tuple[datetime.date, int, tuple[int, int, str]]


#: A place a payment's money can be, per patient: ``(patient, "line", charge id)``,
#: ``(patient, "appointment", appointment id)`` (held or on its lines) or
#: ``(patient, "general", "")``.
_Place = tuple[str, str, str]


def _places(place: Allocation) -> Iterator[_Place]:
    """The places (as :data:`_Place`) one row of :func:`allocations` is in."""
    if place.appointment_id is None:
        yield (place.patient_id, "general", "")
        return
    yield (place.patient_id, "appointment", place.appointment_id)
    if place.charge_id is not None:
        yield (place.patient_id, "line", place.charge_id)


class _Holders:
    """Per place, the payments posted so far that may have money there, oldest first: what a
    correction without ``parent_id`` searches, newest first, for the newest payment with money
    where it is placed.

    A payment is listed where posting put its money; a refund or reversal that moves money
    into a place lists there the payments of the appointment it moved from. A search drops
    each payment it finds without money there (money reaches a place again only by such a
    listed move), so every payment is passed over at most once per listing: a correction
    costs what it finds, not every payment of its patient.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []  # by posting sequence
        self.lists: dict[_Place, list[int]] = {}
        self.members: dict[_Place, set[int]] = {}

    def posted(self, ledger: Ledger, payment_id: str) -> None:
        """List a payment just posted where its money went."""
        self.ids.append(payment_id)
        for place in allocations(ledger, payment_id):
            for key in _places(place):
                self.add(key, len(self.ids) - 1)

    def add(self, key: _Place, seq: int) -> None:
        members = self.members.setdefault(key, set())
        if seq not in members:
            members.add(seq)
            bisect.insort(self.lists.setdefault(key, []), seq)

    def moved(self, patient_id: str, appointment_id: str, to: Iterable[_Place]) -> None:
        """Money of the appointment's payments may have moved to the places ``to``."""
        listed = self.lists.get((patient_id, "appointment", appointment_id), [])
        for key in to:
            for seq in listed:
                self.add(key, seq)

    def newest(self, ledger: Ledger, key: _Place) -> str | None:
        """The newest payment listed at ``key`` that still has money there."""
        listed = self.lists.get(key, [])
        while listed:
            payment_id = self.ids[listed[-1]]
            if any(key in _places(place) for place in allocations(ledger, payment_id)):
                return payment_id
            self.members[key].discard(listed.pop())
        return None


class _Importer:
    """The state of one import: what was booked, and the notes for its summary."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.booked: dict[str, Appointment] = {}
        self.cancelled: dict[str, str] = {}  # appointment id -> its status
        self.dropped: dict[str, str] = {}  # a skipped appointment's id -> why
        self.dropped_lines: dict[str, str] = {}  # a skipped line item's id -> why
        self.charges: dict[str, Charge] = {}
        self.postings: list[_Posting] = []
        self.posted: dict[str, str] = {}  # payments > 0 posted so far: their patient, by id
        self.holders = _Holders()
        self.read = [0, 0, 0]
        self.skipped: list[Note] = []
        self.changed: list[Note] = []
        self.ignored: list[Note] = []

    def skip(self, record: _Record, reason: str) -> None:
        self.skipped.append(Note(kind=record.kind, record_id=record.id, reason=reason))

    def change(self, record: _Record, reason: str) -> None:
        self.changed.append(Note(kind=record.kind, record_id=record.id, reason=reason))

    def appointments(self, raws: Iterable[object]) -> None:
        for record in _unique("appointment", raws):
            self.read[0] += 1
            if record.raw.get("patient") is None or record.flag("appt_is_break"):
                self.skip(record, "a break in the schedule, not a visit")
                self.dropped[record.id] = "a break in the schedule"
                continue
            if record.flag("deleted_flag"):
                self.skip(record, "deleted in DrChrono (deleted_flag)")
                self.dropped[record.id] = "deleted in DrChrono"
                continue
            with _about(record):
                appointment = Appointment(
                    record.id,
                    str(record.key("patient")),
                    record.day("scheduled_time"),
                    record.key("doctor", required=False),
                )
            self.booked[appointment.id] = appointment
            status = record.text("status")
            if status is not None and status.strip().title() in CANCELLED_STATUSES:
                self.cancelled[appointment.id] = status.strip()

    def line_items(self, raws: Iterable[object]) -> None:
        for record in _unique("line_item", raws):
            self.read[1] += 1
            appointment_id = str(record.key("appointment"))
            if appointment_id in self.dropped:
                why = self.dropped[appointment_id]
                self.skip(record, f"its appointment {appointment_id} was not imported ({why})")
                self.dropped_lines[record.id] = f"its appointment {appointment_id}: {why}"
                continue
            if appointment_id not in self.booked:
                msg = f"its appointment {appointment_id!r} is not among the appointments"
                raise record.fail(msg, UnknownIdError)
            with _about(record):
                amount = record.amount("pt_paid", self.currency) + record.amount(
                    "balance_pt", self.currency
                )
                self.charges[record.id] = Charge(
                    record.id,
                    appointment_id,
                    Money(amount, self.currency),
                    record.text("code"),
                    record.text("description"),
                    record.day("posted_date")
                    if record.raw.get("posted_date") is not None
                    else None,
                )

    def _plan_fields(self, record: _Record) -> None:
        """Say so when a patient payment carries payment-plan fields: DrChrono's API documents
        none (its plans live in its web application and its Patient Payment Plan Report), so
        the payment is imported naming no plan (docs/drchrono.md)."""
        named = sorted(
            key
            for key, value in record.raw.items()
            if isinstance(key, str) and "plan" in key.lower() and value not in (None, "", [], {})
        )
        if named:
            shown = ", ".join(repr(key) for key in named)
            reason = (
                f"{shown} not read: DrChrono's API documents no payment plans, so the payment "
                "is imported naming no plan (create the plan, then name it on later payments)"
            )
            self.ignored.append(Note(kind=record.kind, record_id=record.id, reason=reason))

    def payments(self, raws: Iterable[object]) -> None:
        for record in _unique("patient_payment", raws):
            self.read[2] += 1
            self._plan_fields(record)
            amount = record.amount("amount", self.currency)
            if not amount:
                self.skip(record, "its amount is zero (DrChrono: an amount cannot be zero)")
                continue
            appointment_id, charge_id = self._place(record)
            kind = record.code("payment_transaction_type", TYPES, "")
            correction = kind is PaymentType.CORRECTION and amount < 0
            if amount < 0 and not correction and kind is not PaymentType.REFUND:
                msg = (
                    f"amount {amount} is negative for the type {kind.value}: only a REF "
                    "(refund) or a COR (correction) takes money back"
                )
                raise record.fail(msg, InvalidAmountError)
            with _about(record):
                payment = Payment(
                    record.id,
                    str(record.key("patient")),
                    Money(-amount if correction else amount, self.currency),
                    record.day("received_date", "posted_date", "created_at"),
                    record.code("payment_method", METHODS, "OTHR"),
                    kind,
                    appointment_id,
                    record.key("doctor", required=False),
                    record.text("notes") or "",
                    record.text("trace_number") or None,
                    charge_id,
                )
            out = int(amount < 0)
            self.postings.append(
                _Posting(
                    payment=payment,
                    correction=correction,
                    parent_id=record.key("parent_id", required=False) if correction else None,
                    order=(payment.received_on, out, _id_order(record.id)),
                )
            )

    def _place(self, record: _Record) -> tuple[str | None, str | None]:
        """Where DrChrono placed a payment: ``(appointment_id, charge_id)``; its line item wins
        over a disagreeing appointment; a skipped appointment or line means the general
        bucket."""
        appointment_id = record.key("appointment", required=False)
        line_item = record.key("line_item", required=False)
        if line_item is not None and line_item in self.dropped_lines:
            self.change(
                record,
                f"its line item {line_item} was not imported ({self.dropped_lines[line_item]}): "
                "held in the general bucket",
            )
            return None, None
        if line_item is not None:
            if line_item not in self.charges:
                msg = f"its line item {line_item!r} is not among the line items"
                raise record.fail(msg, UnknownIdError)
            owner = self.charges[line_item].appointment_id
            if appointment_id is not None and appointment_id != owner:
                self.change(
                    record,
                    f"its line item {line_item} is on appointment {owner}, not on its "
                    f"appointment {appointment_id}: placed on the line item",
                )
            return owner, line_item
        if appointment_id is not None and appointment_id in self.dropped:
            self.change(
                record,
                f"its appointment {appointment_id} was not imported "
                f"({self.dropped[appointment_id]}): held in the general bucket",
            )
            return None, None
        if appointment_id is not None and appointment_id not in self.booked:
            msg = f"its appointment {appointment_id!r} is not among the appointments"
            raise record.fail(msg, UnknownIdError)
        return appointment_id, None

    def run(self) -> Ledger:
        """Apply everything read, in the documented order."""
        ledger = Ledger.empty(self.currency)
        for appointment in sorted(self.booked.values(), key=lambda a: (a.date, _id_order(a.id))):
            ledger = _apply(ledger, add_appointment, appointment, "appointment")
        for charge in sorted(
            self.charges.values(),
            key=lambda c: (c.posted_on or self.booked[c.appointment_id].date, _id_order(c.id)),
        ):
            ledger = _apply(ledger, add_charge, charge, "line_item")
        postings = {p.payment.id: p for p in self.postings}
        for posting in sorted(self.postings, key=lambda p: _order(p, postings)):
            payment = posting.payment
            with _named(payment.id):
                if payment.type is PaymentType.REFUND:
                    ledger = self._refund(ledger, payment)
                elif posting.correction:
                    ledger = self._correct(ledger, posting)
                else:
                    ledger = post_payment(ledger, payment)
                    self.posted[payment.id] = payment.patient_id
                    self.holders.posted(ledger, payment.id)
        return self._cancel(ledger)

    def _row(self, ledger: Ledger, patient_id: str, appointment_id: str) -> FeedRow:
        """The claims-feed row of a patient's open appointment (refused: another patient's);
        one appointment is read, not the patient's whole feed."""
        booked = self.booked.get(appointment_id)
        if booked is not None and booked.patient_id == patient_id:
            with contextlib.suppress(UnknownIdError):  # cancelled: no row
                return feed_row(ledger, appointment_id)
        msg = f"appointment {appointment_id!r} is not an open appointment of patient {patient_id!r}"
        raise PatientMismatchError(msg, id=appointment_id, patient_id=patient_id)

    def _refund(self, ledger: Ledger, payment: Payment) -> Ledger:
        """A refund on an appointment takes its held money first, then its allocations (its
        line's, when one is named), newest first, reopening its balance — as DrChrono shows
        it; what is not on the appointment comes from the general bucket."""
        appointment_id, charge_id = payment.appointment_id, payment.charge_id
        payment = attrs.evolve(payment, charge_id=None)
        if appointment_id is None:
            return refund(ledger, payment)
        row = self._row(ledger, payment.patient_id, appointment_id)
        held, wanted = to_minor(row.appointment_unallocated, "held"), -payment.minor_units
        if wanted <= held:
            return refund(ledger, payment)
        on = payment.received_on
        if held:
            ledger = release_credit(ledger, appointment_id, row.appointment_unallocated, on=on)
        placed = row.paid
        if charge_id is not None:
            placed = next(
                i.paid for i in line_items(ledger, appointment_id) if i.charge_id == charge_id
            )
        take = min(wanted - held, to_minor(placed, "paid"))
        if take:
            ledger = unapply(
                ledger, appointment_id, to_money(take, self.currency), on=on, charge_id=charge_id
            )
        # held and allocated money of the appointment's payments went to the general bucket
        general = (payment.patient_id, "general", "")
        self.holders.moved(payment.patient_id, appointment_id, [general])
        self.changed.append(
            Note(
                kind="patient_payment",
                record_id=payment.id,
                reason=f"a refund of {-payment.amount.amount} on appointment {appointment_id}: "
                f"took {to_money(held, self.currency).amount} held and "
                f"{to_money(take, self.currency).amount} allocated (newest first) off it, "
                "reopening its balance; refunded through the general bucket",
            )
        )
        return refund(ledger, attrs.evolve(payment, appointment_id=None))

    def _correct(self, ledger: Ledger, posting: _Posting) -> Ledger:
        """A negative correction reverses that much of the payment it corrects: its
        ``parent_id``, else the newest payment of the patient with money where the correction
        is placed (its line item, its appointment, or the general bucket)."""
        payment = posting.payment
        target = posting.parent_id
        rule = "its parent_id"
        if target is None:
            target = self._corrected(ledger, payment)
            rule = f"the newest payment with money {_where(payment)}"
        elif self.posted.get(target) != payment.patient_id:
            msg = (
                f"its parent_id {target!r} is not among the payments of patient "
                f"{payment.patient_id!r} before it"
            )
            raise UnknownIdError(msg, id=payment.id, parent_id=target)
        notes = f": {payment.notes}" if payment.notes else ""
        reopened = self._reopened(ledger, target)
        ledger = reverse_payment(
            ledger,
            target,
            payment.amount,
            on=payment.received_on,
            reason=f"DrChrono correction {payment.id}{notes}",
        )
        for (patient_id, appointment_id), lines in reopened.items():
            self.holders.moved(patient_id, appointment_id, lines)
        self.changed.append(
            Note(
                kind="patient_payment",
                record_id=payment.id,
                reason=f"a correction: reversed {payment.amount.amount} of payment {target} "
                f"({rule})",
            )
        )
        return ledger

    def _reopened(self, ledger: Ledger, target: str) -> dict[tuple[str, str], list[_Place]]:
        """The lines a reversal of ``target`` may reopen on appointments that hold money: that
        money is then applied to them (invariant 5), so it may arrive there."""
        out: dict[tuple[str, str], list[_Place]] = {}
        for place in allocations(ledger, target):
            if place.charge_id is None or place.appointment_id is None:
                continue
            if feed_row(ledger, place.appointment_id).appointment_unallocated.amount:
                key = (place.patient_id, place.appointment_id)
                out.setdefault(key, []).append((place.patient_id, "line", place.charge_id))
        return out

    def _corrected(self, ledger: Ledger, correction: Payment) -> str:
        """The newest payment posted of the correction's patient with money where the
        correction is placed."""
        patient = correction.patient_id
        if correction.charge_id is not None:
            key = (patient, "line", correction.charge_id)
        elif correction.appointment_id is not None:
            key = (patient, "appointment", correction.appointment_id)
        else:
            key = (patient, "general", "")
        found = self.holders.newest(ledger, key)
        if found is not None:
            return found
        msg = (
            f"a correction of -{correction.amount.amount}: no earlier payment of patient "
            f"{correction.patient_id!r} has money {_where(correction)}, and it names no "
            "parent_id"
        )
        raise InvalidInputError(msg, id=correction.id)

    def _cancel(self, ledger: Ledger) -> Ledger:
        """Cancel the cancelled and rescheduled visits once their payments are in (their held
        money moves to the general bucket), on the later of their date and their last
        payment's; one with line items stays payable."""
        last: dict[str, datetime.date] = {}
        for posting in self.postings:
            where = posting.payment.appointment_id
            if where is not None:
                last[where] = max(
                    last.get(where, posting.payment.received_on), posting.payment.received_on
                )
        lines: dict[str, list[str]] = {}
        for charge in self.charges.values():
            lines.setdefault(charge.appointment_id, []).append(charge.id)
        for appointment_id in sorted(self.cancelled, key=_id_order):
            status = self.cancelled[appointment_id]
            note = Note(kind="appointment", record_id=appointment_id, reason="")
            if appointment_id in lines:
                listed = ", ".join(sorted(lines[appointment_id], key=_id_order))
                reason = (
                    f"status {status}, but it has line items ({listed}): not cancelled, its "
                    "lines stay payable"
                )
                self.changed.append(attrs.evolve(note, reason=reason))
                continue
            date = self.booked[appointment_id].date
            on = max(date, last.get(appointment_id, date))
            held = self._row(ledger, self.booked[appointment_id].patient_id, appointment_id)
            ledger = cancel_appointment(
                ledger, appointment_id, on=on, reason=f"DrChrono status {status}"
            )
            reason = f"status {status}: cancelled"
            if held.appointment_unallocated.amount:
                amount = held.appointment_unallocated.amount
                reason += f"; the {amount} it held waits in the general bucket"
            self.changed.append(attrs.evolve(note, reason=reason))
        return ledger

    def summary(
        self, ledger: Ledger, line_records: list[Any], payment_records: list[Any]
    ) -> ImportSummary:
        skipped = [0, 0, 0]
        for note in self.skipped:
            skipped[_KINDS.index(note.kind)] += 1
        imported = [r - s for r, s in zip(self.read, skipped, strict=True)]
        kept = [raw for raw in line_records if str(_Record("line_item", raw).id) in self.charges]
        found, explained = _reconciled(ledger, kept, payment_records)
        return ImportSummary(
            read=Counts(
                appointments=self.read[0], line_items=self.read[1], patient_payments=self.read[2]
            ),
            imported=Counts(
                appointments=imported[0], line_items=imported[1], patient_payments=imported[2]
            ),
            skipped=_sorted_notes(self.skipped),
            changed=_sorted_notes(self.changed),
            discrepancies=found,
            explained=explained,
            ignored=_sorted_notes(self.ignored),
        )


def _where(payment: Payment) -> str:
    """Where a payment is placed, for a message: ``on line item 11``, ``in the general
    bucket``."""
    if payment.charge_id is not None:
        return f"on line item {payment.charge_id}"
    if payment.appointment_id is not None:
        return f"on appointment {payment.appointment_id}"
    return "in the general bucket"


def _sorted_notes(notes: list[Note]) -> tuple[Note, ...]:
    return tuple(sorted(notes, key=lambda n: (_KINDS.index(n.kind), _id_order(n.record_id))))


def _order(
    posting: _Posting, postings: Mapping[str, _Posting]
) -> tuple[datetime.date, int, tuple[int, int, str]]:
    """A payment's place in the import: by received date, money in before money out on one
    day, then id; a correction never before the payment it names."""
    parent = postings.get(posting.parent_id) if posting.parent_id is not None else None
    day, out, number = posting.order
    if parent is not None and parent.order[0] > day:
        return (parent.order[0], out, number)
    return posting.order


def import_records(
    appointments: Iterable[Mapping[str, Any]],
    line_items: Iterable[Mapping[str, Any]],
    patient_payments: Iterable[Mapping[str, Any]],
    *,
    currency: str = "USD",
    missing: Iterable[str] = (),
) -> tuple[Ledger, ImportSummary]:
    """Build a ledger from DrChrono API records, and say what was done. ``missing`` is what
    the export is known to lack (a partial export): the summary says it.

    Returns:
        The ledger and its :class:`ImportSummary` (records read, imported, skipped and why,
        placements changed and why, and the reconciliation).

    Raises:
        LedgerError: a malformed or inconsistent record, naming its kind and ``id`` (a
            repeated id: ``DuplicateIdError`` naming both records). Nothing is returned
            half-loaded.
    """
    line_records, payment_records = list(line_items), list(patient_payments)
    importer, ledger = _imported(appointments, line_records, payment_records, currency)
    summary = importer.summary(ledger, line_records, payment_records)
    return ledger, attrs.evolve(summary, missing=tuple(missing))


def _imported(
    appointments: Iterable[object],
    line_items: Iterable[object],
    patient_payments: Iterable[object],
    currency: str,
) -> tuple[_Importer, Ledger]:
    importer = _Importer(Ledger.empty(currency).currency)
    importer.appointments(appointments)
    importer.line_items(line_items)
    importer.payments(patient_payments)
    return importer, importer.run()


def load(
    appointments: Iterable[Mapping[str, Any]],
    line_items: Iterable[Mapping[str, Any]],
    patient_payments: Iterable[Mapping[str, Any]],
    *,
    currency: str = "USD",
) -> Ledger:
    """Build a ledger from DrChrono API records (:func:`import_records` without its summary).

    Raises:
        LedgerError: a malformed or inconsistent record, naming its kind and ``id``. Nothing is
            returned half-loaded.
    """
    return _imported(appointments, line_items, patient_payments, currency)[1]


@contextlib.contextmanager
def _about(record: _Record) -> Iterator[None]:
    """Name the record in any error its values raise."""
    with _named(record.raw.get("id"), record.where()):
        yield


@contextlib.contextmanager
def _named(record_id: object, where: str | None = None) -> Iterator[None]:
    """Name a patient payment record (or ``where``) in any error raised inside."""
    where = where or f"patient_payment record {record_id!r}"
    try:
        yield
    except LedgerError as error:
        if str(error).startswith(where):
            raise
        raise type(error)(f"{where}: {error}", record=record_id) from None


def _apply(
    ledger: Ledger, command: Callable[[Ledger, Any], Ledger], value: Any, kind: str
) -> Ledger:
    try:
        return command(ledger, value)
    except LedgerError as error:
        raise type(error)(f"{kind} record {value.id!r}: {error}", record=value.id) from None


# -- reconciling -----------------------------------------------------------------------------


def reconcile(
    ledger: Ledger,
    line_items: Iterable[Mapping[str, Any]],
    patient_payments: Iterable[Mapping[str, Any]] | None = None,
) -> tuple[Discrepancy, ...]:
    """Compare our figures with DrChrono's; empty when they agree.

    Per line item, our ``paid`` and ``balance_due`` against its ``pt_paid`` and
    ``balance_pt``. With the patient payments, also per appointment: the money on it (paid +
    held; theirs: the payments DrChrono placed on it, by line item first, then appointment)
    and its net balance (balance due − held; theirs: ``Σ balance_pt`` less what it holds beyond
    ``Σ pt_paid``). A line item's difference is a placement by a DrChrono rule — a deposit it
    keeps unapplied on a future appointment, an overpaid line's negative ``balance_pt`` — and
    not a discrepancy when the appointment's money and net balance agree, each line's total
    (paid + balance) agrees, and DrChrono's lines show no more paid than the appointment
    received. Without the payments every line item's difference is reported.

    Returns:
        The discrepancies, by appointment (numeric ids in numeric order): its line items'
        (``charge_id`` set), then its own (``charge_id`` None).
    """
    return _reconciled(ledger, list(line_items), patient_payments)[0]


#: Per line item: ``(paid, balance due)`` in minor units, by line item id.
_Lines = dict[str, tuple[int, int]]


def _ours(ledger: Ledger) -> dict[str, tuple[FeedRow, _Lines]]:
    """Every open appointment's feed row and line items, by id."""
    return {
        row.appointment_id: (
            row,
            {
                item.charge_id: (to_minor(item.paid, "paid"), to_minor(item.balance_due, "due"))
                for item in line_items(ledger, row.appointment_id)
            },
        )
        for pid in patients(ledger)
        for row in claims_feed(ledger, pid)
    }


def _reconciled(
    ledger: Ledger, line_records: list[Any], payment_records: Iterable[Any] | None
) -> tuple[tuple[Discrepancy, ...], tuple[Discrepancy, ...]]:
    """The discrepancies, and the line-item differences DrChrono's rules explain."""
    code = ledger.currency
    ours = _ours(ledger)
    theirs: dict[str, _Lines] = {}  # by appointment
    line_owner: dict[str, str] = {}
    for record in _unique("line_item", line_records):
        appointment_id = str(record.key("appointment"))
        line_owner[record.id] = appointment_id
        theirs.setdefault(appointment_id, {})[record.id] = (
            to_minor(Money(record.amount("pt_paid", code), code), "pt_paid"),
            to_minor(Money(record.amount("balance_pt", code), code), "balance_pt"),
        )
    money = None
    if payment_records is not None:
        money = _money_placed(payment_records, ours, line_owner, code)
    found: list[Discrepancy] = []
    explained: list[Discrepancy] = []
    for appointment_id in sorted(set(ours) | set(theirs), key=_id_order):
        row, mine = ours.get(appointment_id, (None, {}))
        other = theirs.get(appointment_id, {})
        lines = sorted(set(mine) | set(other), key=_id_order)
        per_line = _differences(
            appointment_id,
            code,
            [
                (line, field, a, b)
                for line in lines
                for field, a, b in zip(
                    ("paid", "balance_due"),
                    mine.get(line, (0, 0)),
                    other.get(line, (0, 0)),
                    strict=True,
                )
            ],
        )
        if money is None:
            found.extend(per_line)
            continue
        held = 0 if row is None else to_minor(row.appointment_unallocated, "held")
        their_money, their_paid = money.get(appointment_id, 0), sum(p for p, _ in other.values())
        whole = _differences(
            appointment_id,
            code,
            [
                (None, "money", sum(p for p, _ in mine.values()) + held, their_money),
                (
                    None,
                    "net_balance",
                    sum(d for _, d in mine.values()) - held,
                    sum(d for _, d in other.values()) - (their_money - their_paid),
                ),
            ],
        )
        # A DrChrono rule moves money between an appointment's lines and what it holds; it
        # never changes a line's total, nor shows lines paid with more than was received.
        ruled = not whole and their_paid <= their_money
        ruled = ruled and all(sum(mine.get(c, (0, 0))) == sum(other.get(c, (0, 0))) for c in lines)
        (explained if ruled else found).extend(per_line)
        found.extend(whole)
    return tuple(found), tuple(explained)


def _differences(
    appointment_id: str, code: str, pairs: Iterable[tuple[str | None, str, int, int]]
) -> list[Discrepancy]:
    """A discrepancy for each ``(line item or None, field, ours, theirs)`` that differs."""
    return [
        Discrepancy(
            appointment_id=appointment_id,
            charge_id=line,
            field=field,
            ours=to_money(a, code),
            theirs=to_money(b, code),
        )
        for line, field, a, b in pairs
        if a != b
    ]


def _money_placed(
    payment_records: Iterable[Any],
    ours: Mapping[str, object],
    line_owner: Mapping[str, str],
    code: str,
) -> dict[str, int]:
    """The signed sum of the payments DrChrono placed on each of our open appointments (by
    line item first, then appointment; a correction with no place of its own at its
    parent's)."""
    placed: dict[str, str | None] = {}
    amounts: dict[str, int] = {}
    parents: dict[str, str | None] = {}
    for record in _unique("patient_payment", payment_records):
        amounts[record.id] = to_minor(Money(record.amount("amount", code), code), "amount")
        line = record.key("line_item", required=False)
        where = (
            line_owner.get(line) if line is not None else record.key("appointment", required=False)
        )
        placed[record.id] = where if where in ours else None
        parents[record.id] = record.key("parent_id", required=False)
    money: dict[str, int] = {}
    for record_id, amount in amounts.items():
        where = placed[record_id]
        parent = parents[record_id]
        if where is None and amount < 0 and parent is not None:
            where = placed.get(parent)
        if where is not None:
            money[where] = money.get(where, 0) + amount
    return money


#: The files of an export folder, in the order :func:`load_directory` returns their records.
FILES = ("appointments.json", "line_items.json", "patient_payments.json")


def _read_directory(
    folder: str, partial: bool
) -> tuple[list[list[dict[str, Any]]], tuple[str, ...]]:
    """Every file's records, and what partial pages say they lack (refused unless
    ``partial``)."""
    from pathlib import Path  # noqa: PLC0415 - only the command line reads files

    out: list[list[dict[str, Any]]] = []
    lacks: list[str] = []
    for name in FILES:
        path = Path(folder, name)
        try:
            data = read_json(path.read_text(encoding="utf-8"))
        except (LedgerError, UnicodeDecodeError) as error:
            raise InvalidInputError(f"{path}: {error}", file=str(path)) from None
        out.append(records(data, partial=partial, source=str(path)))
        lacks.extend(f"{name}: {what}" for what in missing(data, source=str(path)))
    return out, tuple(lacks)


def load_directory(
    folder: str, *, partial: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Read ``appointments.json``, ``line_items.json`` and ``patient_payments.json``, each in
    any shape :func:`records` reads.

    Raises:
        IncompleteExportError: a file's pages say records are missing (naming the file and
            what), unless ``partial``.
        InvalidInputError: a file is not JSON, nested too deeply, or of no known shape.
    """
    out, _ = _read_directory(folder, partial)
    return out[0], out[1], out[2]


def import_directory(
    folder: str, *, currency: str = "USD", partial: bool = False
) -> tuple[Ledger, ImportSummary]:
    """:func:`import_records` of an export folder (:func:`load_directory`). With
    ``partial``, an export whose pages say records are missing is imported, and its summary
    says what it lacks (``missing``; what ``import-drchrono --partial`` prints).

    Raises:
        IncompleteExportError: the export is partial, and not ``partial``.
        LedgerError: as :func:`load_directory` and :func:`import_records`.
    """
    out, lacks = _read_directory(folder, partial)
    return import_records(out[0], out[1], out[2], currency=currency, missing=lacks)


__all__ = [
    "CANCELLED_STATUSES",
    "FILES",
    "MAX_EXPONENT",
    "MAX_NUMBER_CHARS",
    "METHODS",
    "TYPES",
    "Counts",
    "Discrepancy",
    "ImportSummary",
    "Note",
    "import_directory",
    "import_records",
    "load",
    "load_directory",
    "missing",
    "read_json",
    "reconcile",
    "records",
]
