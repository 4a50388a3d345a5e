"""DrChrono's JSON: numbers read exactly, repeated keys refused, and the records of an API
answer in every list shape, with what its pages say it lacks (:func:`missing`)."""

from __future__ import annotations

import itertools
import json
import urllib.parse
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
import msgspec

from patient_ledger.errors import (
    IncompleteExportError,
    InvalidInputError,
)

#: The longest number text read (sign, digits, point and exponent), and the largest exponent
#: (of ten) an amount may have: anything beyond is refused before it is converted.
MAX_NUMBER_CHARS = 40
MAX_EXPONENT = 30


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
