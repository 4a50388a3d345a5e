"""Payment plans (SPEC §11) in the shells: the ``plans`` command and the CSV importer."""

from __future__ import annotations

import pytest

import patient_ledger as pl
from patient_ledger.persist import journal
from tests.test_plans import D, usd, whole_story


def test_the_plans_command_prints_the_report(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from patient_ledger import cli

    path = tmp_path / "practice.jsonl"  # type: ignore[operator]
    path.write_text(journal.dumps(whole_story()), encoding="utf-8")
    assert cli.main(["plans", str(path), "--on", "2025-03-01", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        (
            "plan_id,patient_id,created_on,amount,paid,remaining,installment_amount,next_due_on,"
            "next_due_amount,last_payment_on,overdue,status"
        ),
        "PL1,P1,2025-01-15,100.00,10.00,90.00,33.33,2025-01-31,23.33,2025-01-20,56.66,ACTIVE",
    ]
    assert cli.main(["plans", str(path), "--on", "2025-03-01"]) == 0
    assert "PL1" in capsys.readouterr().out
    assert cli.main(["plans", str(path), "--on", "2025-03-01", "--format", "json"]) == 0
    assert '"next_due_amount": "23.33"' in capsys.readouterr().out


def test_the_importer_reads_plans_and_plan_payments(tmp_path: pytest.TempPathFactory) -> None:
    from patient_ledger.adapters.imports import import_files

    folder = tmp_path
    files = {
        "visits": "visit_id,patient_id,date\nV1,P1,2025-01-10\nV2,P1,2025-02-10\n",
        "charges": "charge_id,visit_id,amount\nC1,V1,60.00\nC2,V2,40.00\n",
        "plans": "plan_id,patient_id,amount,installments,first_due,created_on,appointments\n"
        "PL1,P1,,2,2025-03-01,2025-02-15,V2;V1\nPL2,P2,10.00,1,2025-03-01,2025-02-15,\n",
        # PAY1 is received before its plan is agreed: it is posted on the plan's day
        "payments": "payment_id,patient_id,amount,received_on,plan_id\n"
        "PAY1,P1,50.00,2025-02-01,PL1\nPAY2,P1,20.00,2025-03-01,\n",
    }
    paths = {}
    for kind, text in files.items():
        paths[kind] = folder / f"{kind}.csv"  # type: ignore[operator]
        paths[kind].write_text(text, encoding="utf-8")
    with pytest.raises(pl.UnknownIdError, match="plans.csv line 3"):  # P2 is unknown
        import_files(pl.Ledger.empty(), paths)
    paths["plans"].write_text(files["plans"].rsplit("PL2", 1)[0], encoding="utf-8")
    ledger, summary = import_files(pl.Ledger.empty(), paths)
    assert summary.plans == 1
    assert "1 payment plan" in summary.text()
    (s,) = pl.payment_plans(ledger, "P1", on=D(2025, 3, 2))
    assert (s.amount, s.paid, s.last_payment_on) == (usd("100"), usd("50"), D(2025, 2, 1))
    assert [e.payment.plan_id for e in ledger.events if isinstance(e, pl.PlanPaymentPosted)] == [
        "PL1"
    ]


def test_plans_survive_a_store_and_its_snapshots(tmp_path: pytest.TempPathFactory) -> None:
    from patient_ledger.persist.store import open_store

    ledger = whole_story()
    url = f"sqlite:///{tmp_path}/practice.db"
    store = open_store(url, snapshot_every=3)
    try:
        store.save("clinic", ledger.at(8), expected_version=0)
        store.save("clinic", ledger, expected_version=8)
        loaded = open_store(url).load("clinic")  # from its snapshot, the rest replayed
        assert loaded == ledger
        on = D(2025, 2, 1)
        assert pl.payment_plans(loaded, "P1", on=on) == pl.payment_plans(ledger, "P1", on=on)
        assert store.verify("clinic") == ledger
    finally:
        store.close()


def test_plan_payments_are_in_the_fhir_export_and_the_allocation_records() -> None:
    from patient_ledger.adapters import fhir, frames

    ledger = whole_story()  # PAY1 names plan PL1; 30.00 of its 40.00 was reversed
    bundle = fhir.fhir_json(fhir.to_fhir(ledger, "P1"))
    assert "PAY1" in bundle
    rows = [r for r in frames.records(ledger)["allocations"] if r["payment_id"] == "PAY1"]
    assert sum(r["amount"] for r in rows) == 10
