"""The load test of docs/service.md: the documented service, on a generated practice.

    python benchmarks/service_bench.py                 # 100,000 events, synchronous=FULL
    python benchmarks/service_bench.py --events 20000 --seconds 2 --rounds 2 --json

1. Builds a practice of ``--events`` events (``testing.generate.practice``) and saves it
   to a new SQLite store: *build* is the time that took (running its commands, and the save).
2. Opens it (``open_practice``) in a fresh process, as a service starting does, three times:
   *open* is the median (from the snapshot the save took, nothing replayed).
3. Starts the service exactly as docs/service.md writes it (its code block is extracted and
   run in a process of its own), then, for ``--rounds`` rounds, drives it for ``--seconds``
   each with ``--clients`` concurrent keep-alive clients (raw sockets in one process, so the
   clients cost the server's core little) through four phases: ``GET /noop`` and ``POST
   /noop`` (the do-nothing handlers: the yardsticks), ``GET /patients/ID/dashboard`` and
   ``POST /payments`` (new payments to random patients — unallocated or to one of their
   visits — and one in ten a resubmission of the one before).
4. Stops the service (SIGTERM), reopens the practice and checks that every payment the
   service acknowledged is in it exactly once.

Reported: requests per second of each phase, and the ratios payment/POST-noop and
dashboard/GET-noop of each round (their median is the figure).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import patient_ledger as pl
from patient_ledger.persist.store import open_store
from patient_ledger.testing import generate

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "service.md"
MARK = "<!-- service.py -->"


def service_source(doc: Path = DOC) -> str:
    """The service's code: the ```python block after the ``<!-- service.py -->`` mark."""
    text = doc.read_text(encoding="utf-8")
    found = re.search(re.escape(MARK) + r"\s*```python\n(.*?)```", text, re.DOTALL)
    if found is None:
        raise SystemExit(f"{doc}: no ```python block after {MARK}")
    return found.group(1)


def start_service(
    folder: Path, db: Path, synchronous: str = "FULL"
) -> tuple[subprocess.Popen[str], int]:
    """The documented service, run on ``db`` in a process of its own; it and its port."""
    script = folder / "service.py"
    script.write_text(service_source(), encoding="utf-8")
    env = _env()
    server = subprocess.Popen(  # noqa: S603 - this interpreter, a script written here
        [sys.executable, str(script), str(db), "0", synchronous],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    found = re.search(r"port (\d+)", line)
    if found is None:
        server.kill()
        raise SystemExit(f"the service did not start: {line!r}")
    return server, int(found.group(1))


def stop_service(server: subprocess.Popen[str]) -> None:
    """SIGTERM: the service stops serving, snapshots and closes."""
    server.send_signal(signal.SIGTERM)
    server.communicate(timeout=120)


class Client:
    """A keep-alive HTTP/1.1 connection that sends prepared requests and reads the answers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head_bytes, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = int(head_bytes[9:12])
        size = int(re.search(rb"Content-Length: (\d+)", head_bytes).group(1))  # type: ignore[union-attr]
        while len(self.buffer) < size:
            self.buffer += self._recv()
        answer, self.buffer = self.buffer[:size], self.buffer[size:]
        return status, answer

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the service closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


def phase(
    port: int, clients: int, seconds: float, make: object
) -> tuple[float, list[tuple[int, bytes, bytes]]]:
    """Requests per second of ``clients`` clients each sending ``make(client, n)`` requests
    for ``seconds``; and every (status, request body, answer) of the POSTs."""
    done = [0] * clients
    posts: list[list[tuple[int, bytes, bytes]]] = [[] for _ in range(clients)]
    until = [0.0]
    # Timed from when every client is connected (the action runs before any is released).
    start = threading.Barrier(
        clients + 1, action=lambda: until.__setitem__(0, time.perf_counter() + seconds)
    )

    def run(c: int) -> None:
        client = Client(port)
        start.wait()
        n = 0
        while time.perf_counter() < until[0]:
            method, path, body = make(c, n)
            status, answer = client.request(method, path, body)
            if method == "POST" and path == "/payments":
                posts[c].append((status, body, answer))
            n += 1
        done[c] = n
        client.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - (until[0] - seconds)
    return sum(done) / elapsed, [p for ps in posts for p in ps]


class Workload:
    """The requests of each phase, drawn from the practice's own patients and visits."""

    def __init__(self, ledger: pl.Ledger, seed: int) -> None:
        self.patients = pl.patients(ledger)
        self.visits = {
            p: [r.appointment_id for r in pl.claims_feed(ledger, p)] for p in self.patients
        }
        self.rng = random.Random(seed)
        self.last: dict[int, bytes] = {}
        self.round = 0
        # The do-nothing POST carries a payment's body, so both read as much.
        self.payload = self.body("X" * 12, "P1")

    def body(self, pay_id: str, patient: str) -> bytes:
        fields = {
            "id": pay_id,
            "patient_id": patient,
            "amount": f"{self.rng.randrange(5, 300)}.{self.rng.randrange(100):02d}",
            "received_on": "2025-12-31",
            "method": self.rng.choice(["cash", "credit card", "check"]),
        }
        if self.visits.get(patient) and self.rng.random() < 0.3:
            fields["appointment_id"] = self.rng.choice(self.visits[patient])
        return json.dumps(fields).encode()

    def get_noop(self, _c: int, _n: int) -> tuple[str, str, bytes]:
        return "GET", "/noop", b""

    def post_noop(self, _c: int, _n: int) -> tuple[str, str, bytes]:
        return "POST", "/noop", self.payload

    def dashboard(self, _c: int, _n: int) -> tuple[str, str, bytes]:
        return "GET", f"/patients/{self.rng.choice(self.patients)}/dashboard", b""

    def payment(self, c: int, n: int) -> tuple[str, str, bytes]:
        if n % 10 == 9 and c in self.last:
            return "POST", "/payments", self.last[c]  # one in ten: a resubmission
        self.last[c] = self.body(f"S{self.round}-{c}-{n}", self.rng.choice(self.patients))
        return "POST", "/payments", self.last[c]


def drive(
    port: int, args: argparse.Namespace, work: Workload, say: Callable[..., None]
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Every round's figures, and each acknowledged payment's status (201 or 200)."""
    figures: dict[str, list[float]] = collections.defaultdict(list)
    acknowledged: dict[str, int] = {}
    phase(port, args.clients, 1.0, work.get_noop)  # warm up: threads, connections, caches
    for round_ in range(args.rounds):
        work.round = round_
        get_noop, _ = phase(port, args.clients, args.seconds, work.get_noop)
        dashboard, _ = phase(port, args.clients, args.seconds, work.dashboard)
        post_noop, _ = phase(port, args.clients, args.seconds, work.post_noop)
        payments, posts = phase(port, args.clients, args.seconds, work.payment)
        for status, body, answer in posts:
            if status not in (200, 201):
                raise SystemExit(f"a payment refused: {status} {answer!r}")
            acknowledged[json.loads(body)["id"]] = status
        row = {
            "GET noop": get_noop,
            "dashboard": dashboard,
            "POST noop": post_noop,
            "payment": payments,
            "payment/noop": payments / post_noop,
            "dashboard/noop": dashboard / get_noop,
        }
        for key, value in row.items():
            figures[key].append(value)
        shown = (f"{k} {v:.3f}" if "/" in k else f"{k} {v:,.0f}/s" for k, v in row.items())
        say(f"round {round_ + 1}: " + ", ".join(shown))
    return figures, acknowledged


def build(db: Path, args: argparse.Namespace) -> tuple[pl.Ledger, float, float]:
    """The generated practice saved to ``db``; the time that took, and the time to open it."""
    began = time.perf_counter()
    ledger = generate.practice(events=args.events, seed=args.seed)
    store = open_store(f"sqlite:///{db}", synchronous=args.synchronous)
    store.save("practice", ledger, expected_version=0)
    store.close()
    built = time.perf_counter() - began
    with pl.open_practice(db, synchronous=args.synchronous) as practice:
        if practice.ledger != ledger:
            raise SystemExit("the practice opened is not the one saved")
    # As a service starting opens it: in a fresh process (timed from open_practice to its
    # return), the median of three — one opening on a busy machine is noise.
    opens = [float(_run_python(OPEN, str(db), args.synchronous)) for _ in range(3)]
    return ledger, built, statistics.median(opens)


OPEN = """
import sys, time
import patient_ledger as pl
began = time.perf_counter()
practice = pl.open_practice(sys.argv[1], synchronous=sys.argv[2])
print(time.perf_counter() - began)
practice.close()
"""


def _run_python(code: str, *argv: str) -> str:
    """What ``python -c code argv...`` prints, with this tree's ``src`` first on the path."""
    done = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    return done.stdout.strip()


def _env() -> dict[str, str]:
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", maxsplit=1)[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL", "EXTRA"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    say = functools.partial(print, file=sys.stderr if args.json else sys.stdout)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "clinic.db"
        ledger, built, opened = build(db, args)
        say(
            f"built {len(ledger.events):,} events in {built:.2f} s; opened in {opened:.3f} s "
            f"({opened / built:.3f}x)"
        )
        server, port = start_service(folder, db, args.synchronous)
        try:
            figures, acknowledged = drive(port, args, Workload(ledger, args.seed), say)
        finally:
            stop_service(server)
        with pl.open_practice(db) as practice:
            counts = collections.Counter(
                e.payment.id
                for e in practice.ledger.events[len(ledger.events) :]
                if isinstance(e, pl.PaymentPosted)
            )
            status = practice.status()
    lost = [pay_id for pay_id in acknowledged if counts[pay_id] != 1]
    result = {
        "events": len(ledger.events),
        "synchronous": args.synchronous,
        "clients": args.clients,
        "build_s": built,
        "open_s": opened,
        "open/build": opened / built,
        **{k: statistics.median(v) for k, v in figures.items()},
        "payments_acknowledged": len(acknowledged),
        "payments_created": sum(1 for s in acknowledged.values() if s == 201),
        "lost_or_doubled": len(lost),
        "after_restart": {"events": status.events, "newest_snapshot": status.newest_snapshot},
    }
    say(
        f"median: payment/noop {result['payment/noop']:.3f} (target ≥ 0.6), "
        f"dashboard/noop {result['dashboard/noop']:.3f} (target ≥ 0.9), "
        f"open/build {result['open/build']:.3f} (target ≤ 0.1); "
        f"{len(acknowledged):,} payments acknowledged, {len(lost)} lost or doubled"
    )
    if args.json:
        print(json.dumps(result, indent=2))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
