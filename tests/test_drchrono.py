"""patient_ledger.adapters.drchrono: DrChrono API records in, a ledger and a reconciliation out."""

from __future__ import annotations

import copy
import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.adapters import drchrono
from patient_ledger.cli import main
from patient_ledger.testing import assert_invariants

DATA = Path(__file__).parent / "data" / "drchrono"


def usd(text: str) -> Money:
    return Money(text, "USD")


def exported() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    return drchrono.load_directory(str(DATA))


def test_the_export_loads_with_the_expected_balances() -> None:
    appointments, items, payments = exported()
    ledger = drchrono.load(appointments, items, payments)
    assert pl.patients(ledger) == ("1001", "2002")  # the break (no patient) is skipped
    d = pl.dashboard(ledger, "1001")
    assert (d.total_paid, d.allocated, d.unallocated) == (usd("120"), usd("120"), usd("0"))
    assert (d.patient_responsibility, d.statement_balance, d.total_balance) == (
        usd("135"),
        usd("15"),
        usd("15"),
    )
    rows = {r.appointment_id: r for r in pl.claims_feed(ledger, "2002")}
    assert rows["RX-5003"].paid == usd("40.50")
    assert rows["RX-5003"].balance_due == usd("9.50")
    assert rows["5005"].appointment_unallocated == usd("25.00")  # a deposit, held
    assert pl.unallocated_entries(ledger, "1001")[0].payment_id == "7002"
    assert drchrono.reconcile(ledger, items) == ()
    assert_invariants(ledger)


def test_fields_are_mapped() -> None:
    ledger = drchrono.load(*exported())
    posted = {
        e.payment.id: e.payment
        for e in ledger.events
        if isinstance(e, pl.PaymentPosted | pl.RefundPosted)
    }
    assert posted["7001"].method is pl.PaymentMethod.CREDIT_CARD
    assert posted["7001"].type is pl.PaymentType.COPAY
    assert posted["7001"].reference == "ch_3Q1"
    assert posted["7001"].notes == "copay at check-in"
    assert posted["7001"].provider == "7"
    assert posted["7004"].type is pl.PaymentType.REFUND
    assert posted["7004"].amount == usd("-200")
    assert posted["7005"].appointment_id == "RX-5003"  # from its line item
    assert posted["7006"].method is pl.PaymentMethod.ONLINE
    assert posted["7006"].received_on == datetime.date(2025, 2, 20)
    charges = {e.charge.id: e.charge for e in ledger.events if isinstance(e, pl.ChargeAdded)}
    assert charges["9003"].code == "80053"
    assert charges["9003"].description == "Comprehensive metabolic panel"
    assert charges["9003"].amount == usd("50.00")
    booked = {
        e.appointment.id: e.appointment for e in ledger.events if isinstance(e, pl.AppointmentAdded)
    }
    assert booked["5002"] == pl.Appointment("5002", "1001", datetime.date(2025, 2, 5), "7")


def test_amounts_are_read_exactly_from_the_json_text() -> None:
    data = drchrono.read_json('{"amount": 0.1, "big": 12345678901234567.89}')
    assert data == {"amount": Decimal("0.1"), "big": Decimal("12345678901234567.89")}
    # A float that reached us anyway is read through its shortest repr, not its binary value.
    appointments, items, payments = exported()
    as_floats = copy.deepcopy(items)
    for item in as_floats:
        item["pt_paid"] = float(item["pt_paid"])
    ledger = drchrono.load(appointments, as_floats, payments)
    assert pl.dashboard(ledger, "2002").patient_responsibility == usd("50.00")


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_shuffling_the_input_lists_changes_no_balance(data: st.DataObject) -> None:
    appointments, items, payments = exported()
    expected = drchrono.load(appointments, items, payments)
    shuffled = drchrono.load(
        data.draw(st.permutations(appointments)),
        data.draw(st.permutations(items)),
        data.draw(st.permutations(payments)),
    )
    assert shuffled == expected  # the very same journal, not just the same balances


def broken(kind: str, record_id: object, **changes: object) -> list[list[dict[str, Any]]]:
    lists = [copy.deepcopy(x) for x in exported()]
    index = ["appointment", "line_item", "patient_payment"].index(kind)
    for record in lists[index]:
        if record["id"] == record_id:
            for field, value in changes.items():
                if value is ...:
                    del record[field]
                else:
                    record[field] = value
    return lists


@pytest.mark.parametrize(
    ("kind", "record_id", "changes", "error"),
    [
        ("patient_payment", 7002, {"amount": Decimal("200.005")}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"amount": Decimal(-200)}, pl.InvalidAmountError),
        ("patient_payment", 7004, {"amount": Decimal(200)}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"amount": "1e999999999"}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"amount": Decimal("1E-999999999")}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"amount": 10**400}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"received_date": ...}, pl.InvalidInputError),
        ("patient_payment", 7002, {"amount": "lots"}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"payment_method": "BTC"}, pl.InvalidInputError),
        ("patient_payment", 7002, {"payment_transaction_type": "GIFT"}, pl.InvalidInputError),
        ("patient_payment", 7002, {"appointment": 404}, pl.UnknownIdError),
        ("patient_payment", 7005, {"line_item": 404}, pl.UnknownIdError),
        ("patient_payment", 7002, {"patient": ...}, pl.InvalidInputError),
        ("patient_payment", 7002, {"received_date": "soon"}, pl.InvalidInputError),
        ("patient_payment", 7004, {"amount": Decimal(-999)}, pl.InsufficientUnallocatedError),
        ("patient_payment", 7001, {"patient": 2002}, pl.PatientMismatchError),
        ("line_item", 9002, {"balance_pt": Decimal("0.001")}, pl.InvalidAmountError),
        ("line_item", 9002, {"appointment": 404}, pl.UnknownIdError),
        ("line_item", 9002, {"pt_paid": ...}, pl.InvalidInputError),
        ("appointment", "5001", {"scheduled_time": ...}, pl.InvalidInputError),
    ],
)
def test_a_malformed_record_is_refused_naming_its_id(
    kind: str, record_id: object, changes: dict[str, object], error: type[pl.LedgerError]
) -> None:
    with pytest.raises(error) as caught:
        drchrono.load(*broken(kind, record_id, **changes))
    assert f"{kind} record '{record_id}'" in str(caught.value)


def test_reconcile_reports_each_disagreement_naming_its_line_item() -> None:
    appointments, items, payments = exported()
    ledger = drchrono.load(appointments, items, payments)
    theirs = copy.deepcopy(items)
    theirs[1]["pt_paid"] = Decimal("25.00")
    theirs[1]["balance_pt"] = Decimal("10.00")
    line = {"appointment_id": "5002", "charge_id": "9002"}
    assert drchrono.reconcile(ledger, theirs) == (
        drchrono.Discrepancy(**line, field="paid", ours=usd("20.00"), theirs=usd("25.00")),
        drchrono.Discrepancy(**line, field="balance_due", ours=usd("15.00"), theirs=usd("10.00")),
    )
    # With the payments the appointment's money (20) agrees, but DrChrono shows its line paid
    # 25 of the 20 it received: no rule of DrChrono's does that, so it is still reported.
    assert drchrono.reconcile(ledger, theirs, payments) == drchrono.reconcile(ledger, theirs)


def test_import_drchrono_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "practice.jsonl"
    assert main(["import-drchrono", str(DATA), "--journal", str(out)]) == 0
    text = capsys.readouterr().out
    assert "reconciled" in text
    assert main(["verify", str(out)]) == 0


# -- the OpenAPI v4 shapes and DrChrono's rules (tests/data/drchrono_v4) ---------------------

V4 = Path(__file__).parent / "data" / "drchrono_v4"


def v4() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    return drchrono.load_directory(str(V4))


def lines_of(ledger: pl.Ledger, appointment_id: str) -> list[tuple[str, str, str]]:
    return [
        (i.charge_id, str(i.paid.amount), str(i.balance_due.amount))
        for i in pl.line_items(ledger, appointment_id)
    ]


def feed_row(ledger: pl.Ledger, patient_id: str, appointment_id: str) -> pl.FeedRow:
    return next(r for r in pl.claims_feed(ledger, patient_id) if r.appointment_id == appointment_id)


def test_the_v4_export_imports_with_nothing_refused_placing_money_where_drchrono_does() -> None:
    ledger, summary = drchrono.import_records(*v4())
    assert_invariants(ledger)
    assert pl.patients(ledger) == ("3003", "4004")
    # A payment to one line item is paid to that line (line order would have put it on 9101).
    assert lines_of(ledger, "6001") == [("9101", "60.00", "0.00"), ("9102", "10.00", "15.00")]
    # A REF takes the copay off its appointment, reopening the balance.
    assert lines_of(ledger, "6002") == [("9103", "0.00", "40.00")]
    # An overpaid line: 35 paid, 5 held on the appointment.
    assert lines_of(ledger, "6004") == [("9105", "35.00", "0.00")]
    assert feed_row(ledger, "3003", "6004").appointment_unallocated == usd("5.00")
    # Negative COR: 20 back of its parent 7110, 10 back of the newest payment on line 9107.
    assert pl.payment_status(ledger, "7110").reversed == usd("20.00")
    assert pl.payment_status(ledger, "7113").reversed == usd("10.00")
    assert lines_of(ledger, "6008") == [("9106", "80.00", "0.00")]
    assert feed_row(ledger, "4004", "6009").appointment_unallocated == usd("0.00")
    # The line item wins over a disagreeing appointment.
    assert lines_of(ledger, "6010") == [("9108", "15.00", "0.00")]
    # Cancelled and rescheduled visits leave the feed; their deposits and the payment on the
    # deleted appointment wait in the general bucket.
    feeds = {
        pid: [r.appointment_id for r in pl.claims_feed(ledger, pid)] for pid in ("3003", "4004")
    }
    assert feeds == {"3003": ["6001", "6002", "6004", "6010", "6003"], "4004": ["6008", "6009"]}
    general = {
        pid: sorted(
            (e.payment_id, str(e.amount.amount))
            for e in pl.unallocated_entries(ledger, pid)
            if e.appointment_id is None
        )
        for pid in ("3003", "4004")
    }
    assert general["4004"] == [("7108", "20.00"), ("7109", "15.00"), ("7118", "12.50")]
    assert ("7107", "25.00") in general["3003"]
    d3, d4 = pl.dashboard(ledger, "3003"), pl.dashboard(ledger, "4004")
    assert (d3.total_paid, d3.allocated, d3.unallocated) == (usd("200"), usd("170"), usd("30"))
    assert (d4.total_paid, d4.allocated, d4.unallocated) == (
        usd("172.50"),
        usd("125"),
        usd("47.50"),
    )
    posted = {e.payment.id: e.payment for e in ledger.events if isinstance(e, pl.PaymentPosted)}
    assert posted["7118"].received_on == datetime.date(2025, 6, 2)  # from posted_date
    assert posted["7101"].charge_id == "9102"
    assert (posted["7117"].appointment_id, posted["7117"].charge_id) == ("6010", "9108")
    assert summary.reconciled
    assert summary.discrepancies == ()


def test_the_summary_names_what_was_read_skipped_and_placed_otherwise() -> None:
    _, summary = drchrono.import_records(*v4())
    assert summary.read == drchrono.Counts(appointments=11, line_items=9, patient_payments=16)
    assert summary.imported == drchrono.Counts(appointments=9, line_items=8, patient_payments=15)
    assert [(n.kind, n.record_id) for n in summary.skipped] == [
        ("appointment", "6007"),
        ("appointment", "6011"),
        ("line_item", "9109"),
        ("patient_payment", "7119"),
    ]
    assert "zero" in summary.skipped[-1].reason
    assert "deleted" in summary.skipped[0].reason
    changed = {n.record_id: n.reason for n in summary.changed}
    assert set(changed) == {"6005", "6006", "7104", "7109", "7111", "7115", "7117"}
    assert "25.00 it held waits in the general bucket" in changed["6005"]
    assert "line item 9108 is on appointment 6010, not on its appointment 6001" in changed["7117"]
    assert "reversed 20.00 of payment 7110 (its parent_id)" in changed["7111"]
    assert "newest payment with money on line item 9107" in changed["7115"]
    assert "general bucket" in changed["7109"]
    # The deposit on a future appointment and the overpaid line are DrChrono's placements.
    assert [(d.charge_id, d.field) for d in summary.explained] == [
        ("9104", "paid"),
        ("9104", "balance_due"),
        ("9105", "paid"),
        ("9105", "balance_due"),
    ]
    text = "\n".join(summary.lines())
    assert "read: 11 appointments, 9 line items, 16 patient payments" in text
    assert "patient_payment 7119: its amount is zero" in text
    assert "line item 9105 (appointment 6004): balance_due 0.00 vs -5.00" in text
    assert text.endswith("reconciled: every line item and appointment agrees with DrChrono")


def test_reconcile_tells_drchrono_placements_from_real_differences() -> None:
    appointments, items, payments = v4()
    ledger = drchrono.load(appointments, items, payments)
    kept = [i for i in items if i["id"] != 9109]  # its appointment was deleted
    # Without the payments DrChrono's held money is unknown: every line difference shows.
    assert {(d.charge_id, d.field) for d in drchrono.reconcile(ledger, kept)} == {
        ("9104", "paid"),
        ("9104", "balance_due"),
        ("9105", "paid"),
        ("9105", "balance_due"),
    }
    assert drchrono.reconcile(ledger, kept, payments) == ()
    # A real difference: DrChrono received 5 more on the future appointment than we hold.
    more = copy.deepcopy(payments)
    next(p for p in more if p["id"] == 7105)["amount"] = Decimal("55.00")
    found = drchrono.reconcile(ledger, kept, more)
    assert (
        drchrono.Discrepancy(
            appointment_id="6003", field="money", ours=usd("50.00"), theirs=usd("55.00")
        )
        in found
    )
    assert {(d.charge_id, d.field) for d in found if d.charge_id} == {
        ("9104", "paid"),
        ("9104", "balance_due"),
    }
    # Two lines whose totals moved in opposite directions are not a placement.
    moved = copy.deepcopy(kept)
    first, second = (i for i in moved if i["id"] in {9101, 9102})
    first["balance_pt"], second["balance_pt"] = Decimal(5), Decimal(10)
    assert {(d.charge_id, d.field) for d in drchrono.reconcile(ledger, moved, payments)} == {
        ("9101", "balance_due"),
        ("9102", "balance_due"),
    }


def shaped(rows: list[dict[str, Any]], shape: str) -> object:
    half = len(rows) // 2
    if shape == "list":
        return rows
    if shape == "data page":
        return {"previous": None, "data": rows, "next": None}
    if shape == "results page":
        return {"count": len(rows), "previous": None, "results": rows, "next": None}
    key = "data" if shape == "data pages" else "results"
    return [
        {"previous": None, key: rows[:half], "next": "https://app.drchrono.com/api/x?cursor=2"},
        {"previous": "https://app.drchrono.com/api/x?cursor=1", key: rows[half:], "next": None},
    ]


@pytest.mark.parametrize(
    "shape", ["list", "data page", "results page", "data pages", "results pages"]
)
def test_every_documented_list_shape_imports_alike(shape: str) -> None:
    lists = v4()
    expected = drchrono.load(*lists)
    reshaped = [drchrono.records(shaped(rows, shape)) for rows in lists]
    assert reshaped == list(lists)
    assert drchrono.load(*reshaped) == expected


def test_records_refuses_what_is_no_documented_shape() -> None:
    rows = [{"id": 1}, {"id": 2}]
    assert drchrono.records([]) == []
    assert drchrono.records({"data": rows, "results": rows}) == rows
    for bad in ("nope", {"next": None}, [{"data": rows}, {"id": 3}], {"data": rows, "results": []}):
        with pytest.raises(pl.InvalidInputError):
            drchrono.records(bad)


def as_strings(value: object) -> object:
    """Every id and amount of a record set as a string (the schema allows either)."""
    if isinstance(value, list):
        return [as_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: as_strings(v) for k, v in value.items()}
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def test_ids_and_amounts_as_numbers_or_strings_import_alike() -> None:
    lists = v4()
    assert drchrono.load(*(as_strings(rows) for rows in lists)) == drchrono.load(*lists)  # type: ignore[arg-type]


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_shuffling_the_v4_lists_changes_nothing(data: st.DataObject) -> None:
    lists = v4()
    expected = drchrono.import_records(*lists)
    shuffled = [data.draw(st.permutations(rows)) for rows in lists]
    assert drchrono.import_records(*shuffled) == expected


# -- single rules, on small record sets -------------------------------------------------------


def visit(
    *payments: dict[str, Any], lines: tuple[tuple[int, str, str], ...] = ()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """One appointment 1 of patient 9 with line items ``(id, pt_paid, balance_pt)``."""
    appointments = [{"id": 1, "patient": 9, "scheduled_time": "2025-03-03T09:00:00"}]
    items = [
        {"id": line, "appointment": 1, "pt_paid": Decimal(paid), "balance_pt": Decimal(due)}
        for line, paid, due in lines
    ]
    rows = [{"patient": 9, "appointment": 1, "payment_transaction_type": ""} | p for p in payments]
    return appointments, items, rows


def paid(record_id: int, amount: str, day: int, **fields: object) -> dict[str, Any]:
    return {
        "id": record_id,
        "amount": Decimal(amount),
        "received_date": f"2025-03-{day:02}",
    } | fields


def test_a_refund_takes_held_money_first_then_allocations_newest_first() -> None:
    records = visit(
        paid(1, "60", 3),
        paid(2, "30", 4),
        paid(3, "20", 5),  # 10 to the line, 10 held
        paid(4, "-25", 6, payment_transaction_type="REF"),
        lines=((11, "85", "15"),),
    )
    ledger, summary = drchrono.import_records(*records)
    assert lines_of(ledger, "1") == [("11", "85.00", "15.00")]
    assert feed_row(ledger, "9", "1").appointment_unallocated == usd("0.00")
    on_line = {
        pid: sum(a.amount.amount for a in pl.allocations(ledger, pid) if a.charge_id == "11")
        for pid in ("1", "2", "3")
    }
    assert on_line == {"1": 60, "2": 25, "3": 0}  # 10 held and 10 + 5 newest first
    assert pl.dashboard(ledger, "9").total_paid == usd("85.00")
    assert "took 10.00 held and 15.00 allocated" in summary.changed[0].reason
    assert summary.reconciled
    assert_invariants(ledger)


def test_a_refund_within_what_the_appointment_holds_is_drawn_from_it() -> None:
    records = visit(
        paid(1, "50", 3),
        paid(2, "-20", 4, payment_transaction_type="REF"),
        lines=((11, "20", "0"),),
    )
    ledger, summary = drchrono.import_records(*records)
    refunds = [e.payment for e in ledger.events if isinstance(e, pl.RefundPosted)]
    assert [(p.id, p.appointment_id) for p in refunds] == [("2", "1")]
    assert lines_of(ledger, "1") == [("11", "20.00", "0.00")]
    assert feed_row(ledger, "9", "1").appointment_unallocated == usd("10.00")
    assert summary.changed == ()
    assert summary.reconciled


def test_a_correction_without_parent_reverses_the_newest_payment_with_money_there() -> None:
    records = visit(
        paid(1, "40", 3, line_item=11),
        paid(2, "30", 4, line_item=12),
        paid(3, "10", 5, line_item=11),
        paid(4, "5", 6, line_item=12),  # the newest payment, but on the other line
        paid(5, "-10", 7, line_item=11, payment_transaction_type="COR"),
        lines=((11, "40", "10"), (12, "35", "0")),
    )
    ledger, summary = drchrono.import_records(*records)
    reversed_ = {pid: pl.payment_status(ledger, pid).reversed for pid in ("1", "2", "3", "4")}
    assert reversed_ == {"1": usd("0"), "2": usd("0"), "3": usd("10.00"), "4": usd("0")}
    assert lines_of(ledger, "1") == [("11", "40.00", "10.00"), ("12", "35.00", "0.00")]
    assert summary.reconciled


@pytest.mark.parametrize(
    ("correction", "error", "words"),
    [
        ({"parent_id": 404}, pl.UnknownIdError, "parent_id '404'"),
        ({"parent_id": 1, "amount": Decimal(-99)}, pl.InvalidAmountError, "99.00"),
        ({"appointment": None, "line_item": None}, pl.InvalidInputError, "general bucket"),
    ],
)
def test_a_correction_that_corrects_nothing_is_refused_naming_it(
    correction: dict[str, object], error: type[pl.LedgerError], words: str
) -> None:
    records = visit(
        paid(1, "40", 3),
        paid(2, "-10", 4, payment_transaction_type="COR") | correction,
        lines=((11, "40", "0"),),
    )
    with pytest.raises(error, match=rf"patient_payment record '2'.*{words}"):
        drchrono.import_records(*records)


def test_a_cancelled_visit_with_line_items_stays_payable() -> None:
    appointments, items, payments = visit(paid(1, "20", 3), lines=((11, "20", "0"),))
    appointments[0]["status"] = "Cancelled"
    ledger, summary = drchrono.import_records(appointments, items, payments)
    assert lines_of(ledger, "1") == [("11", "20.00", "0.00")]
    assert "not cancelled, its lines stay payable" in summary.changed[0].reason


def test_a_payment_on_a_line_item_of_a_deleted_visit_waits_in_the_general_bucket() -> None:
    appointments, items, payments = visit(paid(1, "20", 3, line_item=11), lines=((11, "0", "20"),))
    appointments[0]["deleted_flag"] = True
    ledger, summary = drchrono.import_records(appointments, items, payments)
    assert [(e.payment_id, e.appointment_id) for e in pl.unallocated_entries(ledger, "9")] == [
        ("1", None)
    ]
    assert "line item 11 was not imported" in summary.changed[0].reason
    assert summary.imported.line_items == 0


def test_the_received_date_falls_back_to_posted_then_created() -> None:
    row = paid(1, "20", 3, received_date=None, created_at="2025-03-09T23:59:00")
    ledger = drchrono.load(*visit(row))
    assert pl.unallocated_entries(ledger, "9")[0].received_on == datetime.date(2025, 3, 9)
    row["posted_date"] = "2025-03-08T08:00:00"
    ledger = drchrono.load(*visit(row))
    assert pl.unallocated_entries(ledger, "9")[0].received_on == datetime.date(2025, 3, 8)


@pytest.mark.parametrize("kind", ["appointment", "line_item", "patient_payment"])
def test_a_repeated_id_is_refused_naming_both_records(kind: str) -> None:
    lists = [copy.deepcopy(x) for x in exported()]
    rows = lists[["appointment", "line_item", "patient_payment"].index(kind)]
    rows[0]["id"] = 1
    rows[-1]["id"] = "1"  # 1 and "1" are one id: they must not merge silently
    with pytest.raises(pl.DuplicateIdError) as caught:
        drchrono.load(*lists)
    message = str(caught.value)
    assert f"{kind} id '1' is repeated: record 1 (1) and record {len(rows)} ('1')" in message


def test_absurd_numbers_are_refused_before_they_are_converted() -> None:
    text = '{"id": 7, "amount": 1e-999999999, "big": %s, "fine": 0.10}' % ("9" * 500)
    data = drchrono.read_json(text)
    assert data["fine"] == Decimal("0.10")
    assert not isinstance(data["amount"], Decimal | float)
    assert data["big"] == int("9" * 500)  # an integer is exact (up to Python's 4,300 digits)
    # An absurd number in a field the import does not read blocks nothing.
    appointments, items, payments = visit(paid(1, "20", 3))
    payments[0]["quantity"] = data["amount"]
    assert drchrono.load(appointments, items, payments)
    payments[0]["amount"] = data["amount"]
    with pytest.raises(pl.InvalidAmountError, match=r"patient_payment record '1': amount .*1e-99"):
        drchrono.load(appointments, items, payments)
    for constant in ("NaN", "Infinity", "-Infinity", "9" * 5000):  # not JSON (or too long)
        with pytest.raises(pl.InvalidInputError, match="not JSON"):
            drchrono.read_json(f'{{"amount": {constant}}}')


def test_import_drchrono_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "practice.jsonl"
    assert main(["import-drchrono", str(V4), "--journal", str(out)]) == 0
    text = capsys.readouterr().out
    assert "imported: 9 appointments, 8 line items, 15 patient payments" in text
    assert "skipped: 4" in text
    assert "placed otherwise: 7" in text
    assert "reconciled" in text
    assert main(["verify", str(out)]) == 0


def test_import_drchrono_exits_4_naming_each_discrepancy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ("appointments", "line_items", "patient_payments"):
        text = (V4 / f"{name}.json").read_text(encoding="utf-8")
        if name == "line_items":  # DrChrono shows 10 paid of a visit it received nothing for
            text = text.replace(
                '"pt_paid": 0, "balance_pt": 40.00', '"pt_paid": 10, "balance_pt": 30'
            )
        (folder / f"{name}.json").write_text(text, encoding="utf-8")
    assert main(["import-drchrono", str(folder), "--journal", str(tmp_path / "j.jsonl")]) == 4
    text = capsys.readouterr().out
    assert "1 discrepancies" not in text
    assert "line item 9103 (appointment 6002): paid 0.00 vs 10.00" in text
    assert "line item 9103 (appointment 6002): balance_due 40.00 vs 30.00" in text


def test_a_correction_never_reverses_another_patients_payment() -> None:
    appointments, items, payments = visit(paid(1, "40", 3))
    payments.append(paid(2, "-10", 4, patient=8, appointment=None, payment_transaction_type="COR"))
    payments[-1]["parent_id"] = 1
    with pytest.raises(pl.UnknownIdError, match="parent_id '1' is not among the payments of"):
        drchrono.load(appointments, items, payments)


def test_an_id_of_digits_outside_ascii_sorts_as_text() -> None:
    """``'¹'.isdigit()`` is True but ``int('¹')`` fails: such an id sorts as text (a fuzz
    test's find, once the import sorted visits by id)."""
    ledger = drchrono.load(
        [
            {"id": "¹", "patient": 1, "scheduled_time": "2025-01-02"},
            {"id": 2, "patient": 1, "scheduled_time": "2025-01-02"},
        ],
        [],
        [],
    )
    assert [row.appointment_id for row in pl.claims_feed(ledger, "1")] == ["2", "¹"]
