"""Fuzzing the doors files come in by: journals, CSV imports, DrChrono records, random bytes.

Hypothesis mutates valid inputs (and makes up random ones). Whatever comes in, only a
:class:`~patient_ledger.errors.LedgerError` may come out, each answer within a time bound (2 CPU
s; for the CSV importers also 256 MB allocated), and a refused import writes nothing; an import
that succeeds reports every row it read as posted or already in the journal. A journal that
loads is exactly what ``dumps`` writes for the ledger it builds.

The default run is short (a few seconds in all); ``HYPOTHESIS_PROFILE=deep`` runs the profile's
examples per test, ``FUZZ_EXAMPLES=n`` runs n (docs/reliability.md has the figures of such runs).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import os
import re
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.adapters import drchrono
from patient_ledger.adapters.imports import check_formats, import_files
from patient_ledger.cli import main
from patient_ledger.errors import LedgerError
from patient_ledger.money import to_money
from patient_ledger.persist import journal
from tests.helpers import appointment, charge, pay

#: Examples per test: a short run by default, the profile's own under ``deep``, or
#: ``FUZZ_EXAMPLES``.
EXAMPLES = int(
    os.environ.get(
        "FUZZ_EXAMPLES",
        settings.default.max_examples if settings.default.max_examples > 1000 else 30,
    )
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: CPU seconds any one input may take to be loaded or refused (CPU time, not wall time: the
#: machine running the tests may be busy with other work).
BOUND = 2.0
T = TypeVar("T")


def timed(work: Callable[[], T]) -> T | LedgerError:
    """Run ``work``: its result or its LedgerError, within :data:`BOUND` CPU seconds (anything
    else fails)."""
    start = time.process_time()
    try:
        result: T | LedgerError = work()
    except LedgerError as error:
        result = error
    elapsed = time.process_time() - start
    assert elapsed < BOUND, f"took {elapsed:.2f} s"
    return result


#: Bytes any one input may make Python allocate to be loaded or refused (tracemalloc's peak: an
#: import's spool pages, in SQLite's own cache of a few MB, are not counted).
MEMORY = 256 * 2**20


def bounded(work: Callable[[], T]) -> T | LedgerError:
    """:func:`timed`, and the peak memory it allocates within :data:`MEMORY`."""
    tracemalloc.start()
    try:
        result = timed(work)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY, f"took {peak / 2**20:.0f} MB"
    return result


def sample() -> pl.Ledger:
    ledger = charge(appointment(pl.Ledger.empty(), "A1"), "C1", "A1", "100.00")
    ledger = pay(pay(ledger, "PAY1", "60.00", "A1"), "PAY2", "25.00")
    ledger = pl.refund(
        ledger,
        pl.Payment("R1", "P1", Money("-5.00", "USD"), datetime.date(2025, 1, 23), type="REFUND"),
    )
    ledger = pl.apply_unallocated(ledger, "P1", "A1", on=datetime.date(2025, 1, 24))
    return pl.cancel_offsetting(ledger, "P1", on=datetime.date(2025, 1, 25))


TEXT = journal.dumps(sample())
LINES = TEXT.splitlines()


def canonical(record: Any) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def rehash(records: list[Any]) -> str:
    """The forger's step: recompute every line's chain and hash after an edit."""
    prev, out = journal.GENESIS, []
    for record in records:
        if not isinstance(record, dict):
            out.append(canonical(record))
            continue
        record.pop("hash", None)
        record["prev"] = prev
        prev = hashlib.sha256(canonical(record).encode("utf-8", "surrogatepass")).hexdigest()
        out.append(canonical({**record, "hash": prev}))
    return "".join(line + "\n" for line in out)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["1e99999999", "10.00", "-0.01", "USD", "usd", "2025-01-01", "E1", "A1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@st.composite
def edited_records(draw: st.DrawFn) -> str:
    """A journal with one value somewhere in one line replaced, then rehashed."""
    records = [json.loads(line) for line in LINES]
    line = draw(st.integers(0, len(records) - 1))
    node: Any = records[line]
    path = []
    depth = draw(st.sampled_from([3, 4, 2, 5, 6, 1, 0]))  # mostly inside the event
    while isinstance(node, dict | list) and node and len(path) < depth:
        if not path and draw(st.integers(0, 4)):
            key: Any = "event"
        else:
            key = draw(
                st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node)))
            )
        path.append((node, key))
        node = node[key]
    if path:
        parent, key = path[-1]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(json_values)
    else:
        records[line] = draw(json_values)
    return rehash(records)


def amount_slots(node: Any) -> list[dict[str, Any]]:
    """Every ``{amount, currency}`` object inside a parsed line."""
    if isinstance(node, dict):
        if set(node) == {"amount", "currency"}:
            return [node]
        return [slot for value in node.values() for slot in amount_slots(value)]
    if isinstance(node, list):
        return [slot for value in node for slot in amount_slots(value)]
    return []


@st.composite
def forged_amounts(draw: st.DrawFn) -> str:
    """A journal with one or two amounts changed to other valid amounts, then rehashed: the
    forgery that only the invariants can catch."""
    records = [json.loads(line) for line in LINES]
    slots = [slot for record in records for slot in amount_slots(record)]
    for _ in range(draw(st.integers(1, 2))):
        cents = draw(st.integers(-20_000, 20_000))
        draw(st.sampled_from(slots))["amount"] = f"{cents / 100:.2f}"
    return rehash(records)


@st.composite
def mangled_text(draw: st.DrawFn) -> bytes:
    """Valid journal bytes with a few byte-level edits: flips, inserts, cuts, moved lines."""
    data = bytearray(TEXT.encode())
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "swap", "duplicate", "cut"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(TOKENS))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "cut":
            del data[at:]
        else:
            rows = bytes(data).split(b"\n")
            i, j = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(rows) - 1))
            if kind == "swap":
                rows[i], rows[j] = rows[j], rows[i]
            else:
                rows.insert(j, rows[i])
            data = bytearray(b"\n".join(rows))
        if not data:
            break
    return bytes(data)


TOKENS = [b"[" * 5000, b'{"a":' * 3000, b"\\ud800", b"\xff", b"\xc3", b" ", b"\r", b"1e99999999"]


def check_loaded(data: bytes | str) -> None:
    result = timed(lambda: journal.loads(data))
    if isinstance(result, pl.Ledger):  # then it is exactly what dumps writes
        text = data.decode() if isinstance(data, bytes) else data
        assert journal.dumps(result) == text if text.endswith("\n") else text + "\n"


@FUZZ
@given(edited_records())
def test_journal_with_an_edited_value_rehashed(text: str) -> None:
    check_loaded(text)


@FUZZ
@given(forged_amounts())
def test_journal_with_forged_amounts_rehashed(text: str) -> None:
    check_loaded(text)  # a journal that loads passed the invariants: nothing invented


@FUZZ
@given(mangled_text())
def test_journal_with_mangled_bytes(data: bytes) -> None:
    check_loaded(data)


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=200))
def test_journal_from_random_bytes_and_text(data: bytes | str) -> None:
    check_loaded(data)


# -- CSV imports -----------------------------------------------------------------------------

CSV_HEAD = "id,patient_id,amount,received_on,method,type,appointment_id"
cells = {
    "amount": st.sampled_from(
        ["10.00", "-5.00", "1_000", "1e3", "1e99999999", "１０", "٣", "0", "0.001", "", " 7 "]
    )
    | st.from_regex(r"-?[0-9]{1,16}(\.[0-9]{0,4})?", fullmatch=True),
    "day": st.sampled_from(["2025-03-01", "20250301", "2025-W09-6", "2025-02-30", ""])
    | st.dates().map(str),
    "method": st.sampled_from(["CASH", "cash", "CHECK", "", "BITCOIN"]),
    "type": st.sampled_from(["PAYMENT", "REFUND", "", "COPAY", "refund"]),
    "appointment": st.sampled_from(["", "A1", "A404"]),
    "id": st.sampled_from(["X1", "X2", "PAY1", "\u200b", "", "a,b", 'q"uote'])
    | st.text(max_size=5),
}


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    rows = [CSV_HEAD]
    for _ in range(draw(st.integers(0, 5))):
        fields = [
            draw(cells["id"]),
            draw(st.sampled_from(["P1", "P2"])),
            draw(cells["amount"]),
            draw(cells["day"]),
            draw(cells["method"]),
            draw(cells["type"]),
            draw(cells["appointment"]),
        ]
        rows.append(",".join(map(csv_cell, fields)))
    data = ("\n".join(rows) + "\n").encode()
    if draw(st.booleans()):  # and some damage
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=6)) + data[at + draw(st.integers(0, 4)) :]
    return data


def run_import(data: bytes, *options: str) -> None:
    """``import-payments`` of the file (``import --payments`` with ``options``, if any)."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.csv", Path(folder) / "journal.jsonl"
        source.write_bytes(data)
        target.write_text(TEXT, encoding="utf-8")
        argv = (
            ["import", "--payments", str(source), *options]
            if options
            else ["import-payments", str(source)]
        )
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            code = bounded(lambda: main([*argv, "--journal", str(target)]))
        after = target.read_text(encoding="utf-8")
        assert code in (0, 1)
        if code == 1:
            assert after == TEXT  # nothing written on a refusal
        else:
            assert after.startswith(TEXT)
            journal.verify(after)
        assert sorted(p.name for p in Path(folder).iterdir()) == [
            ".journal.jsonl.lock",
            "in.csv",
            "journal.jsonl",
        ]


@FUZZ
@given(csv_files())
def test_csv_import_of_hostile_files(data: bytes) -> None:
    run_import(data)


@FUZZ
@given(st.binary(max_size=300))
def test_csv_import_of_random_bytes(data: bytes) -> None:
    run_import(CSV_HEAD.encode() + b"\n" + data)


#: US cells (issue 27): amounts in dollars, commas and parentheses, right and wrong; dates
#: month first, right and wrong.
US_CELLS = {
    "amount": st.sampled_from(
        ["$1,234.56", "($20.00)", "-$5.00", "$1,234.565", "1,23.00", "$-5", "(-5)", "$ 5",
         "$1,000,000,000,000.01", "1.234,56", "($,)", "", "$0.00"]
    )
    | st.from_regex(r"-?\$?[0-9]{1,3}(,[0-9]{3}){0,5}(\.[0-9]{0,4})?", fullmatch=True)
    | st.from_regex(r"\(\$?[0-9,]{1,12}(\.[0-9]{0,3})?\)", fullmatch=True),
    "day": st.sampled_from(["1/6/2025", "01/06/2025", "13/01/2025", "2/30/2025", "2025-01-06"])
    | st.dates().map(lambda day: f"{day.month}/{day.day}/{day.year:04d}"),
}  # fmt: skip


@st.composite
def us_csv_files(draw: st.DrawFn) -> bytes:
    rows = [CSV_HEAD]
    for n in range(draw(st.integers(0, 5))):
        fields = [f"U{n}", "P1", draw(US_CELLS["amount"]), draw(US_CELLS["day"]),
                  draw(st.sampled_from(["Credit Card", "Visa", "cash", ""])),
                  draw(st.sampled_from(["Patient Payment", "Copay", "refund", ""])),
                  draw(cells["appointment"])]  # fmt: skip
        rows.append(",".join(map(csv_cell, fields)))
    return ("\n".join(rows) + "\n").encode()


@FUZZ
@given(us_csv_files())
def test_csv_import_of_us_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        toml = Path(folder) / "columns.toml"
        toml.write_text('[values.payments.type]\n"Patient Payment" = "PAYMENT"\n')
        run_import(data, "--date-format", "MM/DD/YYYY", "--amounts", "us", "--columns", str(toml))


def us_text(cents: int) -> str:
    """Cents as a US export writes them: a dollar sign, thousands commas, negatives in
    parentheses."""
    text = f"${abs(cents) // 100:,}.{abs(cents) % 100:02d}"
    return f"({text})" if cents < 0 else text


@FUZZ
@given(st.integers(-(10**14), 10**14).filter(bool))
def test_us_amounts_are_read_to_the_cent(cents: int) -> None:
    """Every amount a US export can write is read exactly, through one parser."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "adjustments.csv"
        path.write_text(f'id,charge_id,amount,date\nJ1,C1,"{us_text(cents)}",1/26/2025\n')
        formats = check_formats(date="MM/DD/YYYY", amounts="us")
        found = timed(lambda: import_files(sample(), {"adjustments": path}, formats=formats))
        if isinstance(found, LedgerError):  # the charge's own rules (a write-off below zero)
            assert "US amount" not in str(found)
            assert "finer" not in str(found)
            return
        adjusted = found[0].events[-1]
        assert isinstance(adjusted, pl.ChargeAdjusted)
        assert adjusted.adjustment.amount == to_money(cents, "USD")


# -- CSV imports: both commands, every kind of file, hostile headers -------------------------

#: Header names per kind: recognised ones, their case and spacing variants, names that
#: collide after normalisation, names that may hold patients' names, blanks and junk.
HEADERS = {
    "visits": ["visit_id", "Visit ID", "id", "patient_id", "MRN", "Patient", "date", "Date",
               "visit-date", "provider", "", "x"],
    "charges": ["charge_id", "Charge ID", "visit_id", "appt_id", "amount", "Amount", "fee",
                "code", "CPT", "description", "", "x"],
    "payments": ["payment_id", "id", "ID", "patient_id", "Patient ID", "Patient Name", "amount",
                 "paid", "received_on", "date", "Payment Date", "method", "type", "visit_id",
                 "charge_id", "notes", "", "x"],
    "adjustments": ["adjustment_id", "id", "charge_id", "line_id", "amount", "on", "date",
                    "type", "reason", "", "x"],
}  # fmt: skip
#: The fields of each kind, in an order that makes a valid file.
PLAIN = {
    "visits": ["visit_id", "patient_id", "date", "provider"],
    "charges": ["charge_id", "visit_id", "amount", "code"],
    "payments": ["payment_id", "patient_id", "amount", "received_on", "method", "type", "visit_id",
                 "charge_id"],
    "adjustments": ["adjustment_id", "charge_id", "amount", "date", "type"],
}  # fmt: skip
VALUES = st.sampled_from(
    ["V1", "V2", "A1", "C1", "C2", "K9", "PAY1", "T1", "T2", "R1", "P1", "P2", "10.00", "-5.00",
     "0.01", "1e3", "1_000", "\u0663", "-0", "2025-01-20", "2025-03-01", "20250301", "2025-02-30",
     "cash", "credit card", "CHECK", "refund", "PAYMENT", "contractual", "", " ", "\u200b",
     '"', "=1+1", "\u2028"]
) | st.text(max_size=4)  # fmt: skip


#: Plausible cells for a header (a row's own id is made from its number: see field_values).
FIELD_VALUES = {
    name: st.sampled_from(pool)
    for names, pool in [
        (["visit_id"], ["A1", "A1", "V1"]),
        (["charge_id"], ["C1", "C1", "C2"]),
        (["patient_id"], ["P1", "P2"]),
        (["date", "received_on", "on"], ["2025-01-20", "2025-03-01", "2025-03-02"]),
        (["amount"], ["10.00", "5.00", "100.00", "-5.00"]),
        (["method"], ["cash", "Credit Card", "", "check"]),
        (["type"], ["", "", "payment", "refund"]),
    ]
    for name in names
}
#: The column that holds a row's own id, by kind.
OWN_ID = {"visits": "visit_id", "charges": "charge_id", "payments": "payment_id",
          "adjustments": "adjustment_id"}  # fmt: skip


@st.composite
def csv_exports(draw: st.DrawFn) -> dict[str, list[bytes]]:
    """Up to four kinds of export, one or two files each. About half the files are plausible
    (the plain header, cells that fit their column); the others have headers shuffled,
    repeated or renamed, cells from a pool of ids (repeats, the journal's own), amounts, dates
    and junk, and sometimes byte-level damage."""
    files: dict[str, list[bytes]] = {}
    hostile = draw(st.booleans())  # or every file plausible
    for kind in draw(st.lists(st.sampled_from(list(PLAIN)), min_size=1, max_size=4)):
        plausible = not (hostile and draw(st.booleans()))
        header = list(PLAIN[kind])
        if not plausible and draw(st.booleans()):
            header = draw(st.lists(st.sampled_from(HEADERS[kind]), min_size=1, max_size=7))
        elif not plausible:  # a header cell added
            header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(HEADERS[kind])))
        rows = [",".join(map(csv_cell, header))]
        for _ in range(draw(st.integers(0, 6))):
            if plausible or draw(st.booleans()):
                cells = [draw(field_values(kind, name, len(rows))) for name in header]
            else:
                width = len(header) + draw(st.sampled_from([0, 0, -1, 1]))
                cells = [draw(VALUES) for _ in range(max(width, 0))]
            rows.append(",".join(map(csv_cell, cells)))
        data = (draw(st.sampled_from(["\n", "\r\n"])).join(rows) + "\n").encode()
        if not plausible and draw(st.integers(0, 2)) == 0:
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(max_size=6)) + data[at + draw(st.integers(0, 4)) :]
        files.setdefault(kind, []).append(data)
    return files


def field_values(kind: str, name: str, row: int) -> st.SearchStrategy[str]:
    """Cells that fit a column: a row's own id is new (now and then one already used, in this
    import or the journal); a charge's amount is positive, an adjustment's negative."""
    if name == OWN_ID[kind]:
        return st.sampled_from([f"{kind[0].upper()}{row}"] * 6 + ["X1", "A1", "C1", "PAY1"])
    if name == "type" and kind == "adjustments":
        return st.sampled_from(["", "contractual", "write_off"])
    if name == "amount" and kind != "payments":
        return st.sampled_from(["10.00", "100.00"] if kind == "charges" else ["-5.00", "-1.00"])
    return FIELD_VALUES.get(name, VALUES)


def run_cli_import(files: dict[str, list[bytes]], payments_only: bool = False) -> None:
    """``import`` (or ``import-payments`` of one payments file) into the sample journal: a
    refusal writes nothing, a success appends exactly one event or nothing for each row it
    reports, and either leaves no file behind."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "journal.jsonl"
        target.write_text(TEXT, encoding="utf-8")
        argv = []
        for kind, datas in files.items():
            for n, data in enumerate(datas):
                path = Path(folder) / f"{kind}{n}.csv"
                path.write_bytes(data)
                argv += [str(path)] if payments_only else [f"--{kind}", str(path)]
        command = ["import-payments"] if payments_only else ["import"]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = bounded(lambda: main([*command, *argv, "--journal", str(target)]))
        after = target.read_text(encoding="utf-8")
        assert code in (0, 1), err.getvalue()
        said = re.sub(r".*? line [0-9]+: |'[^']*'", "", err.getvalue().split("\n")[0])
        event(f"exit {code}: {' '.join(said.split()[:4]) if code else 'imported'}")
        if code == 1:
            assert after == TEXT  # nothing written on a refusal
            assert "nothing imported" in err.getvalue()
        else:
            assert after.startswith(TEXT)
            added = len(journal.loads(after).events) - len(LINES)
            said = out.getvalue()
            counts = [
                int(n) for n in re.findall(r"(\d+) (?:visit|charge|payment|refund|adjust)", said)
            ]
            rows = int(re.search(r"from (\d+) rows", said)[1])  # type: ignore[index]
            unchanged = re.search(r"\((\d+) already in the journal\)", said)
            assert sum(counts) + (int(unchanged[1]) if unchanged else 0) == rows  # none dropped
            assert added == sum(counts)  # none invented
        left = {p.name for p in Path(folder).iterdir()} - {".journal.jsonl.lock", "journal.jsonl"}
        assert all(name.endswith(".csv") for name in left), left


@FUZZ
@given(csv_exports())
def test_import_of_hostile_exports(files: dict[str, list[bytes]]) -> None:
    run_cli_import(files)


@FUZZ
@given(csv_exports().map(lambda files: files.get("payments", [])[:1]).filter(bool))
def test_import_payments_of_hostile_exports(datas: list[bytes]) -> None:
    run_cli_import({"payments": datas}, payments_only=True)


# -- DrChrono records ------------------------------------------------------------------------

amounts = (
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.sampled_from([Decimal("1e99999999"), Decimal("1E+999999999999999999"), "1e3", "x"])
    | st.floats()
    | st.integers()
    | st.text(max_size=6)
    | st.none()
    | st.booleans()
)
ids = st.integers(-3, 3) | st.text(max_size=3) | st.none() | st.sampled_from([Decimal("1.5")])
days = st.sampled_from(["2025-01-02", "2025-01-02T09:00:00", "x", None, 5]) | st.text(max_size=12)


@FUZZ
@given(
    st.lists(
        st.fixed_dictionaries({"id": ids, "patient": ids, "scheduled_time": days}), max_size=3
    ),
    st.lists(
        st.fixed_dictionaries(
            {"id": ids, "appointment": ids, "pt_paid": amounts, "balance_pt": amounts}
        ),
        max_size=3,
    ),
    st.lists(
        st.fixed_dictionaries(
            {"id": ids, "patient": ids, "amount": amounts, "received_date": days},
            optional={
                "appointment": ids,
                "payment_method": st.sampled_from(["CASH", "CRDT", "XXXX", None]),
                "payment_transaction_type": st.sampled_from(["", "REF", "COPAY", "?"]),
            },
        ),
        max_size=3,
    ),
)
def test_drchrono_records(appointments: Any, line_items: Any, payments: Any) -> None:
    timed(lambda: drchrono.load(appointments, line_items, payments))


# -- DrChrono pages and frames (issue 25): 2 CPU s and 256 MB per input -----------------------

#: JSON tokens as a hostile export writes them.
tokens = {
    "amount": st.sampled_from(
        [
            *("10.00", "-5.00", "0", "25", "1e5", "1.23457E+11", "1E-2", "0.001", "-0.0"),
            *('"10.00"', '"1_000"', '"\u0661\u0662\u0663"', '" 7"', '"1e3"', '"x"', "null"),
            *("true", "1e99999999", '"1e99999999"', "9" * 60, "-1" + "0" * 4500, "[]", "{}"),
        ]
    ),
    "id": st.sampled_from(
        ["1", "2", "3", "4", "5", '"6"', '"2"', "null", '"\\u200b"', "1.5", "1e2", '""']
    ),
    "day": st.sampled_from(
        ['"2025-01-02"', '"2025-01-02T09:00:00"', '"2025-02-30"', '"x"', "null", "5"]
    ),
    "status": st.sampled_from(['"Cancelled"', '"Rescheduled"', '"Complete"', "null", "1"]),
    "type": st.sampled_from(['""', '"REF"', '"COR"', '"COPAY"', '"?"', "null"]),
    "link": st.sampled_from(
        ["null"] * 6 + ['"https://app.drchrono.com/api/x?cursor=2"', '""', "7"]
    ),
}


def json_object(fields: dict[str, str]) -> str:
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


@st.composite
def drchrono_answer(draw: st.DrawFn, kind: str) -> str:
    """One file of a DrChrono export, as JSON text: a list, a page, or a list of pages, with
    hostile numbers, ids, links and counts, and now and then damage (a deep nest, a cut)."""
    fields = {
        "appointment": {"patient": "id", "scheduled_time": "day", "status": "status"},
        "line_item": {"appointment": "id", "pt_paid": "amount", "balance_pt": "amount"},
        "patient_payment": {
            "patient": "id",
            "amount": "amount",
            "received_date": "day",
            "appointment": "id",
            "line_item": "id",
            "payment_transaction_type": "type",
            "parent_id": "id",
        },
    }[kind]
    records = [
        json_object(
            {"id": draw(tokens["id"])}
            | {
                name: draw(tokens[token])
                for name, token in fields.items()
                if draw(st.integers(0, 9))  # now and then a field is missing
            }
        )
        for _ in range(draw(st.integers(0, 4)))
    ]

    def page(held: list[str]) -> str:
        links = {"previous": draw(tokens["link"]), "next": draw(tokens["link"])}
        if draw(st.booleans()):
            links["count"] = str(draw(st.integers(-1, 6)))
        return json_object(
            links | {draw(st.sampled_from(["data", "results"])): f"[{', '.join(held)}]"}
        )

    shape = draw(st.sampled_from(["list", "page", "pages"]))
    if shape == "list":
        text = f"[{', '.join(records)}]"
    elif shape == "page":
        text = page(records)
    else:
        cut = draw(st.integers(0, len(records)))
        text = f"[{page(records[:cut])}, {page(records[cut:])}]"
    damage = draw(st.sampled_from(["none"] * 9 + ["nest", "cut", "bytes"]))
    if damage == "nest":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["[" * 100_000, '{"a":' * 50_000])) + text[at:]
    elif damage == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "bytes":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=4)) + text[at:]
    return text


@FUZZ
@given(
    drchrono_answer("appointment"),
    drchrono_answer("line_item"),
    drchrono_answer("patient_payment"),
    st.booleans(),
)
def test_import_drchrono_of_hostile_pages(
    appointments: str, line_items: str, payments: str, partial: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, text in zip(drchrono.FILES, (appointments, line_items, payments), strict=True):
            Path(folder, name).write_text(text, encoding="utf-8", errors="surrogatepass")
        target = Path(folder, "out", "practice.jsonl")
        target.parent.mkdir()
        argv = ["import-drchrono", folder, "--journal", str(target)] + ["--partial"] * partial
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = bounded(lambda: main(argv))
        assert code in (0, 1, 4, 5)
        event("refused" if err.getvalue().startswith("refused:") else f"exit {code}")
        if err.getvalue().startswith("refused:"):
            assert code == 1
            assert not any(target.parent.iterdir())  # nothing written on a refusal
        else:
            journal.verify(target.read_text(encoding="utf-8"))
            if code == 5:
                assert partial


#: Cells as pandas users (and hostile ones) put them in a frame.
frame_cells = st.sampled_from(
    [
        None,
        float("nan"),
        "10.00",
        "-5.00",
        "1e5",
        "1.23457E+11",
        "\u0661\u0662\u0663",
        "1_000",
        "",
        "x",
        True,
        1.5,
        10,
        Decimal("1E+5"),
        Decimal("10.00"),
        Decimal("NaN"),
        "2025-01-02",
        "CASH",
        "REFUND",
        "BITCOIN",
        "V1",
        "P1",
        10**400,
        datetime.datetime(2025, 1, 2, 9, 30),
        [],
    ]
)


@st.composite
def frame_tables(draw: st.DrawFn) -> dict[str, Any]:
    import pandas as pd

    columns = {
        "visits": ["appointment_id", "patient_id", "date", "provider"],
        "charges": ["charge_id", "appointment_id", "amount", "code"],
        "payments": ["payment_id", "patient_id", "amount", "received_on", "method", "type"],
    }
    good = {
        "appointment_id": "V1",
        "patient_id": "P1",
        "date": "2025-01-02",
        "received_on": "2025-01-03",
        "amount": "10.00",
        "charge_id": "C1",
        "payment_id": "PAY1",
    }
    tables: dict[str, Any] = {}
    for name, names in columns.items():
        rows = [
            {c: draw(frame_cells) if draw(st.integers(0, 5)) == 0 else good.get(c) for c in names}
            for _ in range(draw(st.integers(0, 3)))
        ]
        tables[name] = pd.DataFrame(rows, columns=names, dtype=object)
    if draw(st.integers(0, 9)) == 0:  # not a frame at all
        tables[draw(st.sampled_from(sorted(tables)))] = draw(st.sampled_from([[], "x", {}, 1]))
    return tables


@FUZZ
@given(frame_tables())
def test_from_frames_of_hostile_cells(tables: dict[str, Any]) -> None:
    from patient_ledger.adapters import frames

    result = bounded(lambda: frames.from_frames(**tables))
    assert isinstance(result, pl.Ledger | LedgerError)
    event(type(result).__name__)
    if isinstance(result, pl.Ledger):  # a whole result: it round-trips through its journal
        assert journal.loads(journal.dumps(result)) == result
