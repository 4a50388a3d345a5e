"""``patient-ledger statements`` and ``patient-ledger daysheet`` (SPEC §12; a shell module).

``statements JOURNAL --from D --to D [--patient ID …] [--format F] [--out DIR]``: every
patient with a line in the period or a balance at its end (or the patients named), to standard
output — JSON is an object keyed by patient id — or to DIR, one file per patient plus an index
(patient, period, opening, closing, amount due, credit, plan due, file).
``daysheet JOURNAL (--on D | --from D --to D) [--format F]``: the payments, refunds and
reversals of the days, totals by method and the net, to standard output.

The printed formats — ``html`` (both commands) and ``pdf`` (statements, to ``--out DIR`` only,
with the optional ``pdf`` extra) — show ``--practice`` (one option a line: the name, then the
address) and print on ``--paper`` (letter or a4).

The formats are :data:`~patient_ledger.report.statements.STATEMENT_FORMATS` and
:data:`~patient_ledger.report.statements.DAY_SHEET_FORMATS`; JOURNAL is whatever the other
commands read (a journal file or an event store).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patient_ledger.adapters.imports import parse_date
from patient_ledger.errors import ExistingFileError, InvalidInputError
from patient_ledger.report.render import PAPERS, PDF_MISSING, pdf_available
from patient_ledger.report.statements import (
    BINARY_FORMATS,
    DAY_SHEET_FORMATS,
    INDEX,
    STATEMENT_FORMATS,
    Options,
    Rendered,
    file_names,
)
from patient_ledger.state import Ledger
from patient_ledger.statements import day_sheet, statements

Load = Callable[[argparse.Namespace], Ledger]


def date_option(option: str) -> Callable[[str], datetime.date]:
    """An argparse type reading ``option``'s date strictly, its error an argparse message."""

    def parse(text: str) -> datetime.date:
        try:
            return parse_date(text, option)
        except InvalidInputError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def add_parsers(commands: Any, add_source: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``statements`` and ``daysheet`` to the command line's subcommands."""
    command = commands.add_parser(
        "statements",
        help="patient statements for a period: opening balance, lines, amount due, aging",
    )
    add_source(command)
    command.add_argument(
        "--from", dest="start", type=date_option("--from"), required=True,
        help="the first day of the period, YYYY-MM-DD",
    )  # fmt: skip
    command.add_argument(
        "--to", dest="end", type=date_option("--to"), required=True,
        help="the last day of the period, YYYY-MM-DD",
    )  # fmt: skip
    command.add_argument(
        "--patient", action="append", dest="patients", metavar="ID",
        help="only this patient (repeat for more; default: every patient with a line in the "
        "period or a balance at its end)",
    )  # fmt: skip
    command.add_argument("--format", choices=list(STATEMENT_FORMATS), default="text")
    command.add_argument(
        "--out", type=Path, metavar="DIR",
        help="write one file per patient and an index file into DIR (created if missing) "
        "instead of standard output",
    )  # fmt: skip
    command.add_argument(
        "--replace", action="store_true", help="replace files already in --out DIR"
    )
    _add_printed(command)

    sheet = commands.add_parser(
        "daysheet",
        help="the payments, refunds and reversals of a day or days, totals by method, net",
    )
    add_source(sheet)
    sheet.add_argument("--on", type=date_option("--on"), help="one day, YYYY-MM-DD")
    sheet.add_argument("--from", dest="start", type=date_option("--from"), help="the first day")
    sheet.add_argument("--to", dest="end", type=date_option("--to"), help="the last day")
    sheet.add_argument("--format", choices=list(DAY_SHEET_FORMATS), default="text")
    _add_printed(sheet)


def _add_printed(command: argparse.ArgumentParser) -> None:
    """``--practice`` and ``--paper``: what the printed formats (html, pdf) show and print on."""
    command.add_argument(
        "--practice", action="append", metavar="TEXT",
        help="the practice's name, then its address: one line each (repeat the option for "
        "each line); printed on top of every statement and on its remittance slip",
    )  # fmt: skip
    command.add_argument(
        "--paper", choices=list(PAPERS), default="letter",
        help="the paper of --format html or pdf (default: letter)",
    )  # fmt: skip


def run_statements(args: argparse.Namespace, load: Load) -> int:
    """``patient-ledger statements``: the exit code (the errors are the command line's)."""
    fmt = STATEMENT_FORMATS[args.format]
    options = _options(args)
    if args.format in BINARY_FORMATS:
        if args.out is None:
            print(
                f"patient-ledger statements: --format {args.format} writes one file per "
                "patient: give --out DIR",
                file=sys.stderr,
            )
            return 2
        if not pdf_available():
            print(f"patient-ledger statements: {PDF_MISSING}", file=sys.stderr)
            return 2
    if args.out is not None:
        _refuse_a_file(args.out)
    every = statements(load(args), start=args.start, end=args.end, patient_ids=args.patients)
    if args.out is None:
        _write_stdout(fmt.every(every, options))
        return 0
    names = file_names((s.patient_id for s in every), fmt.suffix)
    files = {names[s.patient_id]: fmt.one(s, options) for s in every}
    rows = [(s, names[s.patient_id]) for s in every]
    files[INDEX + fmt.suffix] = fmt.index(rows, options)
    _write_files(args.out, files, replace=args.replace)
    print(
        f"{len(every)} statements for {args.start.isoformat()} to {args.end.isoformat()} "
        f"written to {args.out} (index: {INDEX + fmt.suffix})"
    )
    return 0


def run_day_sheet(args: argparse.Namespace, load: Load) -> int:
    """``patient-ledger daysheet``: the exit code; 2 (usage) unless exactly ``--on`` or both
    ``--from`` and ``--to`` are given."""
    one_day = args.on is not None and args.start is None and args.end is None
    days = args.on is None and args.start is not None and args.end is not None
    if not (one_day or days):
        print(
            "patient-ledger daysheet: give either --on DAY, or both --from DAY and --to DAY",
            file=sys.stderr,
        )
        return 2
    start, end = (args.on, None) if args.on is not None else (args.start, args.end)
    sheet = day_sheet(load(args), start, end)
    _write_stdout(DAY_SHEET_FORMATS[args.format].render(sheet, _options(args)))
    return 0


def _options(args: argparse.Namespace) -> Options:
    """The rendering options the command line was given (``--practice``, where a format that
    shows it adds the option)."""
    practice = getattr(args, "practice", None)
    return Options(
        practice=None if practice is None else "\n".join(practice),
        paper=getattr(args, "paper", "letter"),
    )


def _write_stdout(rendered: Rendered) -> None:
    if isinstance(rendered, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(rendered)
    else:
        sys.stdout.write(rendered)


def _refuse_a_file(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExistingFileError(f"--out {out} is a file, not a directory", path=str(out))


def _write_files(out: Path, files: dict[str, Rendered], *, replace: bool) -> None:
    """Write each file into ``out`` (created if missing). Unless ``replace``, an existing file
    of the same name is refused before anything is written."""
    out.mkdir(parents=True, exist_ok=True)
    if not replace:
        existing = sorted(name for name in files if (out / name).exists())
        if existing:
            raise ExistingFileError(
                f"{out} already holds {', '.join(existing[:5])}"
                f"{' …' if len(existing) > 5 else ''}: nothing was written; give --replace to "
                "replace them, or another --out",
                path=str(out / existing[0]),
            )
    for name, rendered in files.items():
        data = rendered if isinstance(rendered, bytes) else rendered.encode("utf-8")
        (out / name).write_bytes(data)
