"""A throwaway PostgreSQL server for the store tests (started only if none is given).

``PATIENT_LEDGER_PG_URL`` names a server to use; otherwise one is started from the Debian
``postgresql`` package's binaries in a temporary folder (as the ``postgres`` user when running
as root) and stopped at the end of the session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_url() -> Iterator[tuple[str | None, str]]:
    """Yield ``(url, "")`` for a usable server, or ``(None, reason)`` when none can be had."""
    given = os.environ.get("PATIENT_LEDGER_PG_URL")
    if given:
        yield given, ""
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        yield None, "no PostgreSQL server binaries (apt-get install postgresql; .ci/run does)"
        return
    initdb, pg_ctl = f"{bins[-1]}/initdb", f"{bins[-1]}/pg_ctl"
    prefix: list[str] = []
    root = tempfile.mkdtemp(prefix="patient-ledger-pg-", dir="/tmp")
    data, sock = Path(root, "data"), Path(root, "sock")
    data.mkdir()
    sock.mkdir()
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None:
            yield None, "running as root without runuser: cannot start PostgreSQL"
            return
        prefix = ["runuser", "-u", "postgres", "--"]
        for path in (root, data, sock):
            shutil.chown(path, "postgres", "postgres")
    port = _free_port()
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *prefix,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                f"{root}/log",
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.SubprocessError, OSError) as error:
        shutil.rmtree(root, ignore_errors=True)
        yield None, f"could not start PostgreSQL: {error}"
        return
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", ""
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
