"""The memory and time of ``patient-ledger import`` on a large practice's CSV exports.

    python benchmarks/import_bench.py [ROWS]      # default 1,000,000 rows in all

Writes visits, charges and payments (a quarter, a third and the rest of ROWS; refunds among
the payments) to a temporary folder, runs the import in a child process and prints its peak
resident memory (``ru_maxrss`` of the child) and wall time.
"""

from __future__ import annotations

import datetime
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_exports(folder: Path, rows: int) -> dict[str, Path]:
    visits, charges = rows // 4, rows // 3
    payments = rows - visits - charges
    start = datetime.date(2024, 1, 1)
    paths = {kind: folder / f"{kind}.csv" for kind in ("visits", "charges", "payments")}
    with paths["visits"].open("w") as out:
        out.write("visit_id,patient_id,date\n")
        for n in range(visits):
            day = start + datetime.timedelta(days=n * 700 // visits)
            out.write(f"V{n},P{n % (visits // 4 or 1)},{day}\n")
    with paths["charges"].open("w") as out:
        out.write("charge_id,visit_id,amount,code\n")
        for n in range(charges):
            out.write(f"C{n},V{n % visits},{40 + n % 7 * 10}.00,99213\n")
    with paths["payments"].open("w") as out:
        out.write("payment_id,patient_id,amount,received_on,method,visit_id\n")
        for n in range(payments):
            v = n % visits
            day = start + datetime.timedelta(days=v * 700 // visits)
            if n % 10 == 9:  # a prepayment, then its refund a week later
                out.write(f"T{n},P{v % (visits // 4 or 1)},25.00,{day},CASH,\n")
                later = day + datetime.timedelta(days=7)
                out.write(f"R{n},P{v % (visits // 4 or 1)},-25.00,{later},CASH,\n")
            else:
                out.write(f"T{n},P{v % (visits // 4 or 1)},20.00,{day},CREDIT_CARD,V{v}\n")
    return paths


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        paths = write_exports(Path(folder), rows)
        written = sum(sum(1 for _ in p.open()) - 1 for p in paths.values())
        journal = Path(folder) / "practice.jsonl"
        args = [sys.executable, "-m", "patient_ledger", "import", "--journal", str(journal)]
        for kind, path in paths.items():
            args += [f"--{kind}", str(path)]
        began = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603 - ourselves
        took = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(done.stdout.strip() or done.stderr.strip())
        print(f"rows {written:,}: peak RSS {peak:,.0f} MB, {took:,.0f} s")


if __name__ == "__main__":
    main()
