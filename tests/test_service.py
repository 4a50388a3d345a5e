"""The service of docs/service.md, run as written: answers, and a SIGKILL under load that loses
nothing acknowledged (issue 26's target, small enough for CI)."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import random
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import patient_ledger as pl

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from service_bench import Client, start_service, stop_service


def body(pay_id: str, patient: str, amount: str = "1.00", **more: str) -> bytes:
    fields = {"id": pay_id, "patient_id": patient, "amount": amount, "received_on": "2025-03-01"}
    return json.dumps(fields | more).encode()


def posted_counts(db: Path) -> collections.Counter[str]:
    """How many times each payment is posted in the practice at ``db``."""
    with pl.open_practice(db) as practice:
        return collections.Counter(
            e.payment.id for e in practice.ledger.events if isinstance(e, pl.PaymentPosted)
        )


def test_the_documented_service_answers(tmp_path: Path) -> None:
    server, port = start_service(tmp_path, tmp_path / "clinic.db")
    try:
        client = Client(port)
        paid = body("PAY1", "P1", "20.00", method="credit card")
        status, answer = client.request("POST", "/payments", paid)
        assert (status, json.loads(answer)) == (201, {"id": "PAY1", "created": True})
        assert client.request("POST", "/payments", paid)[0] == 200  # a resubmission
        status, answer = client.request("POST", "/payments", body("PAY1", "P1", "21.00"))
        assert status == 409
        assert json.loads(answer)["code"] == "duplicate_id"
        status, answer = client.request("POST", "/payments", b'{"id": "X", "amount": 2.5}')
        assert status == 400
        assert json.loads(answer)["code"] == "invalid_amount"
        assert client.request("POST", "/payments", b"not json")[0] == 400
        status, answer = client.request("GET", "/patients/P1/dashboard")
        assert status == 200
        assert json.loads(answer)["total_paid"] == "20.00"
        assert client.request("GET", "/patients/P9/dashboard")[0] == 404
        assert client.request("GET", "/patients/P1/claims") == (200, b"[]")
        assert client.request("GET", "/noop") == (200, b'{"ok": true}')
        client.close()
    finally:
        stop_service(server)
    assert server.returncode == 0
    with pl.open_practice(tmp_path / "clinic.db") as practice:
        status_after = practice.status()
    assert status_after.lag == 0  # the service snapshotted as it stopped


def test_a_service_killed_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """8 clients post payments (each sent twice, the second a resubmission); the service is
    killed with SIGKILL at a random moment, restarted, and every client sends all its payments
    again: each is recorded exactly once, and every patient's Total Paid is what was sent."""
    db = tmp_path / "clinic.db"
    clients, each = 8, 150
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def run(port: int, c: int, *, stop_on_error: bool) -> None:
        client = Client(port)
        try:
            for n in range(each):
                sent = body(f"C{c}-{n}", f"P{c}", f"{n % 7 + 1}.00")
                for _ in range(2):
                    status, _ = client.request("POST", "/payments", sent)
                    assert status in (200, 201)
                with lock:
                    acknowledged.add(f"C{c}-{n}")
        except (ConnectionError, OSError):
            if not stop_on_error:
                raise
        finally:
            client.close()

    server, port = start_service(tmp_path, db)
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(run, port, c, stop_on_error=True) for c in range(clients)]
        # a random moment: once a random number of payments were acknowledged, and a little
        rng = random.Random()  # noqa: S311 - a moment, not a secret
        target = rng.randrange(50, clients * each // 2)
        while len(acknowledged) < target and not all(f.done() for f in futures):
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        server.send_signal(signal.SIGKILL)
        server.communicate(timeout=60)
        for future in futures:
            future.result()
    assert 0 < len(acknowledged) < clients * each  # killed mid-way

    posted = posted_counts(db)
    assert acknowledged <= set(posted)  # nothing acknowledged was lost
    assert set(posted.values()) == {1}  # nothing doubled

    server, port = start_service(tmp_path, db)  # restarted: the clients send everything again
    try:
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            for future in [pool.submit(run, port, c, stop_on_error=False) for c in range(clients)]:
                future.result()
        client = Client(port)
        for c in range(clients):
            _, answer = client.request("GET", f"/patients/P{c}/dashboard")
            total = sum(Decimal(n % 7 + 1) for n in range(each))
            assert Decimal(json.loads(answer)["total_paid"]) == total
        client.close()
    finally:
        stop_service(server)
    posted = posted_counts(db)
    assert len(posted) == clients * each
    assert set(posted.values()) == {1}
