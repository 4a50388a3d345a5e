"""A charge's ``posted_on`` (SPEC §12: the day of a charge is its ``posted_on`` when given,
else its appointment's date): the value, its journal line (version 4, both readers), its
snapshot record and store, the code printer, and the cut of ``dashboards(on=)``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger._stored import value_of
from patient_ledger.adapters.imports import import_files
from patient_ledger.persist import journal, snapshot
from patient_ledger.persist.store import open_store
from patient_ledger.state import state_of
from patient_ledger.testing import as_code
from patient_ledger.views import as_of, event_day
from tests.helpers import D, usd
from tests.test_quick_reader import _counting, _read


def _posted_late() -> pl.Ledger:
    """A visit on 1/10 whose charge C1 was posted on 1/20; C2, on the same visit, has no
    ``posted_on`` (its day is the visit's); a payment on 1/15."""
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 10)))
    ledger = pl.add_charge(ledger, pl.Charge("C2", "A1", usd("30.00")))
    ledger = pl.post_payment(ledger, pl.Payment("PAY1", "P1", usd("20.00"), D(2025, 1, 15)))
    return pl.add_charge(
        ledger, pl.Charge("C1", "A1", usd("100.00"), "99213", "Visit", D(2025, 1, 20))
    )


def test_posted_on_is_the_last_field_a_date_or_none() -> None:
    charge = pl.Charge("C1", "A1", usd("10.00"), None, None, D(2025, 1, 3))
    assert charge.posted_on == D(2025, 1, 3)
    assert pl.Charge("C1", "A1", usd("10.00")).posted_on is None
    assert charge != pl.Charge("C1", "A1", usd("10.00"))
    assert charge == pl.Charge("C1", "A1", usd("10.00"), posted_on=D(2025, 1, 3))
    assert repr(charge).endswith("posted_on=datetime.date(2025, 1, 3))")
    names = {"datetime": datetime, "Charge": pl.Charge, "Money": Money}
    assert eval(repr(charge), names) == charge  # noqa: S307 - a repr is valid Python
    with pytest.raises(pl.InvalidInputError, match="charge 'C1' posted_on must be a datetime.date"):
        pl.Charge("C1", "A1", usd("10.00"), posted_on=datetime.datetime(2025, 1, 3, 9, 0))
    with pytest.raises(pl.InvalidInputError, match="posted_on must be a datetime.date"):
        pl.Charge("C1", "A1", usd("10.00"), posted_on="2025-01-03")  # type: ignore[arg-type]


def test_a_charge_posted_on_a_day_is_a_version_4_line_read_alike_by_both_readers() -> None:
    ledger = _posted_late()
    text = journal.dumps(ledger)
    records = [json.loads(line) for line in text.splitlines()]
    charges = {r["event"]["charge"]["id"]: r for r in records if r["type"] == "ChargeAdded"}
    assert charges["C1"]["v"] == 4
    assert charges["C1"]["event"]["charge"]["posted_on"] == "2025-01-20"
    assert charges["C2"]["v"] == 1  # a charge without posted_on is written as before
    assert "posted_on" not in charges["C2"]["event"]["charge"]
    with _counting() as taken:
        events = _read(text, quick=True)
    assert taken == {"quick": len(ledger.events) - 1, "full": 0}
    assert events == list(ledger.events) == _read(text, quick=False)
    again = journal.loads(text)
    assert again == ledger
    assert journal.dumps(again) == text


def test_a_posted_on_line_spelled_otherwise_is_refused_alike_by_both_readers() -> None:
    records = [json.loads(line) for line in journal.dumps(_posted_late()).splitlines()]
    from tests.test_fuzz import rehash

    for key, value, version in (
        ("posted_on", None, 4),  # a version-4 field written as null
        ("posted_on", "2025-01-20T00:00:00", 4),  # not a day
        ("posted_on", "2025-01-20", 1),  # the wrong version for its shape
    ):
        edited = [dict(r) for r in records]
        event = json.loads(json.dumps(edited[-1]["event"]))
        event["charge"][key] = value
        edited[-1] = edited[-1] | {"event": event, "v": version}
        text = rehash(edited)
        read = _read(text, quick=True)
        assert isinstance(read, tuple), (key, value, version)  # refused, saying why
        assert read == _read(text, quick=False)


def test_a_charge_posted_on_a_day_survives_a_snapshot_and_a_store(tmp_path: object) -> None:
    ledger = _posted_late()
    data = snapshot.encode(ledger)
    assert snapshot.FORMAT == "patient_ledger/state/4"
    restored = snapshot.decode(data, ledger.events)
    assert snapshot.holds(data, ledger)
    record = state_of(restored).charges["C1"]
    assert record.posted_on == D(2025, 1, 20)
    assert value_of(record, "USD") == ledger.events[-1].charge  # type: ignore[attr-defined]
    assert value_of(state_of(restored).charges["C2"], "USD").posted_on is None
    assert pl.add_charge(restored, ledger.events[-1].charge) is restored  # type: ignore[attr-defined]
    assert pl.dashboards(restored, on=D(2025, 1, 15)) == pl.dashboards(ledger, on=D(2025, 1, 15))
    store = open_store(f"sqlite:///{tmp_path}/practice.db", snapshot_every=1)
    store.save("clinic", ledger, expected_version=0)
    loaded = store.load("clinic")
    assert loaded == ledger
    assert journal.dumps(loaded) == journal.dumps(ledger)


def test_the_code_printer_prints_posted_on_when_set() -> None:
    code = as_code(_posted_late())
    assert (
        "add_charge(ledger, Charge('C1', 'A1', Money('100.00', 'USD'), code='99213', "
        "description='Visit', posted_on=datetime.date(2025, 1, 20)))"
    ) in code
    assert "Charge('C2', 'A1', Money('30.00', 'USD')))" in code
    namespace: dict[str, object] = {}
    exec(code, namespace)  # noqa: S102 - the printer's own output
    assert namespace["ledger"] == _posted_late()


def test_the_day_of_a_charge_is_its_posted_on_else_its_visit_date() -> None:
    ledger = _posted_late()
    days = [event_day(ledger, event) for event in ledger.events]
    assert days == [None, None, D(2025, 1, 10), D(2025, 1, 15), D(2025, 1, 20)]


def test_dashboards_on_a_day_cut_at_a_charge_s_posted_on() -> None:
    """C1 (100.00) was posted on 1/20 for a visit of 1/10: the books of 1/15 hold C2 and the
    payment, not C1."""
    ledger = _posted_late()
    on_15 = pl.dashboards(ledger, on=D(2025, 1, 15))["P1"]
    assert on_15.patient_responsibility == usd("30.00")
    assert on_15.total_paid == usd("20.00")
    assert len(as_of(ledger, D(2025, 1, 19)).events) == 4
    assert pl.dashboards(ledger, on=D(2025, 1, 20))["P1"].patient_responsibility == usd("130.00")


def test_a_charge_posted_before_a_later_payment_makes_an_earlier_cut_untrue() -> None:
    """A charge posted on 1/12, journaled after a payment of 1/15, is a late posting: the cut
    at 1/13 is refused naming it. Posted on 1/16 it is not (without ``posted_on`` its day would
    be its visit's, 1/10, and that cut refused)."""
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 10)))
    ledger = pl.post_payment(ledger, pl.Payment("PAY1", "P1", usd("20.00"), D(2025, 1, 15)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", usd("100.00"), posted_on=D(2025, 1, 12)))
    with pytest.raises(pl.DateOrderError) as raised:
        pl.dashboards(ledger, on=D(2025, 1, 13))
    assert raised.value.details["day"] == D(2025, 1, 12)
    later = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 10)))
    later = pl.post_payment(later, pl.Payment("PAY1", "P1", usd("20.00"), D(2025, 1, 15)))
    later = pl.add_charge(later, pl.Charge("C1", "A1", usd("100.00"), posted_on=D(2025, 1, 16)))
    assert pl.dashboards(later, on=D(2025, 1, 13))["P1"].patient_responsibility == usd("0.00")
    assert pl.dashboards(later, on=D(2025, 1, 15))["P1"].total_paid == usd("20.00")


def test_the_writer_writes_posted_on_as_the_format_describes_it() -> None:
    from patient_ledger.persist._shapes import QuickWriter
    from tests.test_quick_reader import _plain

    event = _posted_late().events[-1]
    expected = json.dumps(_plain(event, "USD"), sort_keys=True, separators=(",", ":"))
    assert QuickWriter("USD").text(event) == expected
    assert '"posted_on":"2025-01-20"' in expected


# -- importers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["posted_on", "Post Date", "posted-date", "Entry Date", "date_posted"]
)
def test_the_csv_importer_reads_posted_on_and_posts_a_charge_on_its_day(
    tmp_path: Path, header: str
) -> None:
    files = {
        "visits.csv": "visit_id,patient_id,date\nV1,P1,2025-03-01\n",
        "charges.csv": f"charge_id,visit_id,amount,{header}\n"
        "C1,V1,100.00,2025-03-10\n"  # posted nine days after its visit
        "C2,V1,30.00,\n",  # no posted date: its visit's day
        "payments.csv": "payment_id,patient_id,amount,received_on,visit_id\n"
        "T1,P1,50.00,2025-03-05,V1\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    ledger, summary = import_files(
        pl.Ledger.empty(),
        {kind: tmp_path / f"{kind}.csv" for kind in ("visits", "charges", "payments")},
    )
    assert summary.charges == 2
    posted = [
        (type(e).__name__, getattr(e, "charge", None) and e.charge.posted_on)  # type: ignore[attr-defined]
        for e in ledger.events[2:]
    ]
    assert posted == [
        ("ChargeAdded", None),
        ("PaymentPosted", None),
        ("ChargeAdded", D(2025, 3, 10)),
    ]  # in day order: C2 (3/1), T1 (3/5), C1 (3/10), though C1 is first in its file
    on_5 = pl.dashboards(ledger, on=D(2025, 3, 5))["P1"]
    assert (on_5.patient_responsibility, on_5.total_paid) == (usd("30.00"), usd("50.00"))
    assert pl.dashboard(ledger, "P1").patient_responsibility == usd("130.00")


def test_the_csv_importer_refuses_a_posted_on_that_is_not_a_date(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text("visit_id,patient_id,date\nV1,P1,2025-03-01\n")
    (tmp_path / "c.csv").write_text("charge_id,visit_id,amount,post_date\nC1,V1,1.00,3/10/2025\n")
    with pytest.raises(pl.InvalidInputError, match=r"c.csv line 2: charge 'C1': posted_on"):
        import_files(
            pl.Ledger.empty(), {"visits": tmp_path / "v.csv", "charges": tmp_path / "c.csv"}
        )


def test_from_frames_reads_a_posted_on_column() -> None:
    pd = pytest.importorskip("pandas")
    from patient_ledger.adapters import frames

    visits = pd.DataFrame(
        {"appointment_id": ["V1"], "patient_id": ["P1"], "date": [pd.Timestamp("2025-01-10")]}
    )
    charges = pd.DataFrame(
        {
            "charge_id": ["C1", "C2", "C3"],
            "appointment_id": ["V1", "V1", "V1"],
            "amount": ["10.00", "20.00", "30.00"],
            "posted_on": [pd.Timestamp("2025-01-20"), pd.NaT, "2025-01-21"],
        }
    )
    ledger = frames.from_frames(visits, charges)
    posted = {e.charge.id: e.charge.posted_on for e in ledger.events[2:]}  # type: ignore[attr-defined]
    assert posted == {"C1": D(2025, 1, 20), "C2": None, "C3": D(2025, 1, 21)}
    assert pl.dashboards(ledger, on=D(2025, 1, 20))["P1"].patient_responsibility == usd("30.00")
    charges.loc[2, "posted_on"] = pd.Timestamp("2025-01-21 09:30")
    with pytest.raises(
        pl.InvalidInputError, match="charges row 2, column 'posted_on'.*time of day"
    ):
        frames.from_frames(visits, charges)


def test_the_drchrono_importer_reads_a_line_item_s_posted_date() -> None:
    from decimal import Decimal

    from patient_ledger.adapters import drchrono

    appointments = [{"id": 1, "patient": 9, "scheduled_time": "2025-03-03T09:00:00"}]
    items = [
        {
            "id": 12,
            "appointment": 1,
            "pt_paid": Decimal(0),
            "balance_pt": Decimal(40),
            "posted_date": "2025-03-20T10:00:00",  # posted 17 days after the visit
        },
        {"id": 11, "appointment": 1, "pt_paid": Decimal(0), "balance_pt": Decimal(30)},
        {
            "id": 13,
            "appointment": 1,
            "pt_paid": Decimal(0),
            "balance_pt": Decimal(5),
            "posted_date": None,
        },
    ]
    ledger = drchrono.load(appointments, items, [])
    charges = [e.charge for e in ledger.events if isinstance(e, pl.ChargeAdded)]
    # by day, then id: 11 and 13 on their visit's day (3/3), 12 on its posted day (3/20)
    assert [(c.id, c.posted_on) for c in charges] == [
        ("11", None),
        ("13", None),
        ("12", D(2025, 3, 20)),
    ]
    assert pl.dashboards(ledger, on=D(2025, 3, 19))["9"].patient_responsibility == usd("35.00")


def test_balance_history_dates_a_charge_by_its_posted_on() -> None:
    from patient_ledger.adapters import frames

    rows = frames.balance_history(_posted_late(), "P1", freq="D")
    assert [(row["date"], str(row["patient_responsibility"])) for row in rows] == [
        (D(2025, 1, 10), "30.00"),
        (D(2025, 1, 15), "30.00"),
        (D(2025, 1, 20), "130.00"),
    ]


def test_a_declared_date_format_reads_posted_on_too(tmp_path: Path) -> None:
    from patient_ledger.cli import main

    visits = tmp_path / "visits.csv"
    visits.write_text("visit_id,patient_id,date\nV1,P1,1/10/2025\n", encoding="utf-8")
    charges = tmp_path / "charges.csv"
    charges.write_text(
        "charge_id,visit_id,amount,posted_on\nC1,V1,40.00,2/3/2025\n", encoding="utf-8"
    )
    target = tmp_path / "j.jsonl"
    argv = ["--visits", str(visits), "--charges", str(charges), "--journal", str(target)]
    assert main(["import", *argv, "--date-format", "MM/DD/YYYY"]) == 0
    ledger = journal.loads(target.read_bytes())
    [charge] = [e.charge for e in ledger.events if isinstance(e, pl.ChargeAdded)]
    assert charge.posted_on == datetime.date(2025, 2, 3)
