"""The ``patient-ledger`` command line (a shell around the core).

Exit codes (also in ``patient-ledger --help``):

* 0 — success;
* 1 — refused: a ledger rule, a bad CSV row, a corrupt journal or broken invariants;
* 2 — bad usage (unknown subcommand or option);
* 3 — a file could not be read or written;
* 4 — ``import-drchrono`` wrote the journal, but some balances do not reconcile with
  DrChrono's (the summary lists them);
* 5 — ``import-drchrono --partial`` wrote a journal from a partial export.

No command replaces a file it did not create unless told: ``demo --journal`` and
``import-drchrono --journal`` write a whole new journal, and refuse an existing file (exit 1,
naming it) unless ``--replace`` is given; ``import`` and ``import-payments`` append to an
existing journal under its writer lock. Each says what it wrote.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from patient_ledger import __version__
from patient_ledger.adapters.imports import Formats
from patient_ledger.apply import replay
from patient_ledger.cli import statements as statements_cli
from patient_ledger.cli.demo import SCENARIOS, run
from patient_ledger.errors import (
    CurrencyMismatchError,
    ExistingFileError,
    InvalidInputError,
    JournalError,
    LedgerError,
)
from patient_ledger.money import currency_code
from patient_ledger.persist import _cache, _files, journal
from patient_ledger.persist.store import Store, _SqlStore, open_store
from patient_ledger.report.render import report_data, report_html, report_text
from patient_ledger.state import Ledger
from patient_ledger.testing import generate
from patient_ledger.views import patients

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_IO, EXIT_UNRECONCILED = 0, 1, 2, 3, 4
#: import-drchrono --partial wrote a journal from an export its pages say is partial.
EXIT_PARTIAL = 5
CSV_HEADER = ["id", "patient_id", "amount", "received_on", "method", "type", "appointment_id"]

_EPILOG = "exit codes: 0 success; 1 refused (a ledger rule, a bad row, a corrupt journal); "
_EPILOG += "2 bad usage; 3 a file could not be read or written "
_EPILOG += "4 import-drchrono wrote the journal but some balances do not reconcile; "
_EPILOG += f"{EXIT_PARTIAL} import-drchrono wrote a journal from a partial export (--partial)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patient-ledger",
        description="The money math of patient payments: allocation, unallocated credit, "
        "refunds and balances.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="play the billing help page's walkthrough and a month at a practice"
    )
    demo.add_argument(
        "--scenario",
        choices=[*SCENARIOS, "all"],
        default="all",
        help="which scenario to play (default: all)",
    )
    demo.add_argument(
        "--colour",
        choices=["auto", "always", "never"],
        default="auto",
        help="highlight the seed's green and yellow boxes (default: on a terminal)",
    )
    demo.add_argument("--journal", type=Path, help="also write the demo's journal to this new file")
    demo.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help="instead, generate a practice of about N events (a realistic mix, the same for "
        "the same --seed) and write it to --journal",
    )
    demo.add_argument("--seed", type=int, default=7, help="the --generate seed (default: 7)")
    demo.add_argument(
        "--in-day-order",
        action="store_true",
        help="with --generate: post every charge on the day it is entered (posted_on), so "
        "that balances --on and dashboards(on=) can cut the journal at any date",
    )
    demo.add_argument(
        "--replace", action="store_true", help="replace the --journal file if it exists"
    )

    report = commands.add_parser("report", help="one patient's dashboard, feed, entries, aging")
    _add_source(report)
    report.add_argument("--patient", required=True, help="the patient id")
    report.add_argument("--format", choices=["text", "json", "html"], default="text")
    report.add_argument(
        "--on",
        type=datetime.date.fromisoformat,
        help="the date aging is computed on, YYYY-MM-DD (default: today)",
    )
    report.add_argument("--colour", choices=["auto", "always", "never"], default="auto")

    verify = commands.add_parser("verify", help="check a journal: chain, replay, invariants")
    _add_source(verify)
    verify.add_argument("--head", help="the hash the journal must end at (kept elsewhere)")

    imports = commands.add_parser(
        "import-payments", help="append payments and refunds from a CSV file, all or nothing"
    )
    imports.add_argument(
        "csv",
        type=Path,
        help="header: " + ",".join(CSV_HEADER) + " (or any header import --payments knows)",
    )
    imports.add_argument(
        "--journal", type=Path, required=True, help="the journal to append to (created if missing)"
    )
    imports.add_argument(
        "--currency",
        help="the currency of a new journal (default: USD); checked against an existing one",
    )
    _add_formats(imports)

    drchrono = commands.add_parser(
        "import-drchrono",
        help="build a journal from DrChrono API exports and reconcile its balances",
    )
    drchrono.add_argument(
        "folder",
        type=Path,
        help="holds appointments.json, line_items.json and patient_payments.json "
        "(each a list, an API page with data or results, or a list of pages)",
    )
    drchrono.add_argument(
        "--journal",
        type=Path,
        required=True,
        help="the new journal to write (an existing file is refused unless --replace)",
    )
    drchrono.add_argument(
        "--replace",
        action="store_true",
        help="replace the --journal file if it exists (the export is a whole practice: it is "
        "never appended to another journal)",
    )
    drchrono.add_argument("--currency", default="USD")
    drchrono.add_argument(
        "--partial",
        action="store_true",
        help="import an export whose pages say records are missing (next, previous or count); "
        f"the summary says what it lacks and the exit code is {EXIT_PARTIAL}",
    )
    _add_import(commands)
    _add_balances(commands)
    _add_auto_allocate(commands)
    _add_plans(commands)
    statements_cli.add_parsers(commands, _add_source)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    handlers = {
        "demo": _demo,
        "report": _report,
        "verify": _verify,
        "import-payments": _import_payments,
        "import-drchrono": _import_drchrono,
        "import": _import,
        "balances": _balances,
        "auto-allocate": _auto_allocate,
        "plans": _plans,
        "statements": _statements,
        "daysheet": _day_sheet,
    }
    stdout = sys.stdout
    sys.stdout = cast("TextIO", _Output(stdout))
    try:
        code = handlers[args.command](args)
        sys.stdout.flush()  # a full disk or a closed reader is told here, not at exit
    except LedgerError as error:
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        sys.stderr.close()
        return EXIT_OK
    except _OutputError as error:
        print(f"cannot write to standard output: {error.strerror or error}", file=sys.stderr)
        return EXIT_IO
    except OSError as error:
        print(
            f"cannot read or write {error.filename or ''}: {error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_IO
    else:
        return code
    finally:
        sys.stdout = stdout


class _OutputError(OSError):
    """A write to standard output failed (a full disk, a closed terminal): the error says so,
    as an error of a file names the file."""


class _Output:
    """A command's standard output: its own stream, whose failed writes and flushes raise
    :class:`_OutputError` (a reader gone away stays a ``BrokenPipeError``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _OutputError(error.errno, error.strerror) from error

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _OutputError(error.errno, error.strerror) from error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _colour(choice: str) -> bool:
    return choice == "always" or (choice == "auto" and sys.stdout.isatty())


def _demo(args: argparse.Namespace) -> int:
    if args.generate is not None:
        return _generate(args)
    if args.journal:
        _refuse_existing(args.journal, "demo", replace=args.replace)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    ledger = run(names, sys.stdout, colour=_colour(args.colour))
    if replay(ledger.events) != ledger:  # pragma: no cover - a broken engine, not bad input
        print("replay of the journal differs from the ledger", file=sys.stderr)
        return EXIT_REFUSED
    print(f"\nJournal: {len(ledger.events)} events; replayed and compared equal.")
    if args.journal:
        replaced = _write_new(args.journal, journal.dumps(ledger), "demo", replace=args.replace)
        print(f"Journal written to {args.journal}{' (replaced)' * replaced}")
    return EXIT_OK


_STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def _add_source(command: argparse.ArgumentParser) -> None:
    """The ledger a command reads: a journal file, or an event store and the journal's name."""
    command.add_argument(
        "journal",
        help="a journal file (JSON Lines), or an event store: a .db/.sqlite file, sqlite:///… "
        "or postgresql://…",
    )
    command.add_argument(
        "--name", default="practice", help="the journal's name in a store (default: practice)"
    )


def _store_url(source: str) -> str | None:
    """The store URL ``source`` names, or None for a journal file."""
    if source.startswith(("sqlite:///", "postgresql://", "postgres://")):
        return source
    if source.endswith(_STORE_SUFFIXES):
        if not Path(source).is_file():  # a store is never created by a command that reads
            raise FileNotFoundError(2, "no such store", source)
        return f"sqlite:///{source}"
    return None


def _load(
    args: argparse.Namespace, *, views: bool = False, patient_id: str | None = None
) -> Ledger:
    """The ledger of the command's source, checked: a journal file's chain, form, replay and
    invariants (from its snapshot cache, beside it, when that matches the file); a store's
    journal from its newest snapshot. ``views``: the ledger is only read by every patient's
    dashboard, or by ``patient_id``'s views (:func:`patient_ledger.persist._cache.load_views`)."""
    url = _store_url(args.journal)
    if url is None:
        if views:
            return _cache.load_views(Path(args.journal), patient_id)
        return _cache.load(Path(args.journal))
    if views:
        return _from_store(url, lambda store: _store_views(store, args.name, patient_id))
    return _from_store(url, lambda store: store.load(args.name))


def _store_views(store: Store, name: str, patient_id: str | None) -> Ledger:
    """A store's ledger for views only, where the store can give one (SQLite, PostgreSQL)."""
    if isinstance(store, _SqlStore):
        return store.load_views(name, patient_id)
    return store.load(name)  # pragma: no cover - every store open_store makes is an _SqlStore


def _from_store(url: str, read: Callable[[Store], Ledger]) -> Ledger:
    store = open_store(url)
    try:
        return read(store)
    finally:
        store.close()


def _generate(args: argparse.Namespace) -> int:
    """``demo --generate N --journal FILE``: a generated practice, written as a journal."""
    if not args.journal:
        raise InvalidInputError("demo --generate N needs --journal FILE to write it to")
    if args.generate < 1:
        raise InvalidInputError(f"demo --generate needs at least 1 event, got {args.generate}")
    _refuse_existing(args.journal, "demo", replace=args.replace)
    ledger = generate.practice(events=args.generate, seed=args.seed, in_day_order=args.in_day_order)
    replaced = _write_new(args.journal, journal.dumps(ledger), "demo", replace=args.replace)
    print(
        f"Generated a practice of {len(ledger.events)} events and {len(patients(ledger))} "
        f"patients (seed {args.seed}); journal written to {args.journal}" + " (replaced)" * replaced
    )
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    ledger = _load(args, views=True, patient_id=args.patient)
    on = args.on or datetime.date.today()  # noqa: DTZ011 - the shell may read the clock
    if args.format == "json":
        print(json.dumps(report_data(ledger, args.patient, on), indent=2))
    elif args.format == "html":
        print(report_html(ledger, args.patient, on))
    else:
        print(report_text(ledger, args.patient, on, colour=_colour(args.colour)))
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    # One load checks it all (chain, form, replay, invariants; a JournalError names the line),
    # from the journal alone: no snapshot or cache is read.
    url = _store_url(args.journal)
    if url is None:
        text = journal.decode(Path(args.journal).read_bytes())
        ledger = journal.loads(text, head=args.head)
    else:
        ledger = _from_store(url, lambda store: store.verify(args.name))
        text = journal.dumps(ledger)
        if args.head is not None and journal.head(text) != args.head:
            raise JournalError(
                f"the journal ends at hash {journal.head(text)[:12]}…, not at the expected head "
                f"{args.head[:12]}…",
                line=len(ledger.events),
            )
    print(
        f"OK: {len(ledger.events)} events, {len(patients(ledger))} patients; chain, replay "
        f"and invariants check out; head {_last_hash(text)}"
    )
    return EXIT_OK


def _add_formats(command: argparse.ArgumentParser) -> None:
    """The options that declare how a practice's files write dates and amounts."""
    from patient_ledger.adapters.imports import AMOUNT_STYLES, DATE_FORMATS  # noqa: PLC0415

    command.add_argument(
        "--date-format",
        choices=DATE_FORMATS,
        help="how the files write dates (default: YYYY-MM-DD; MM/DD/YYYY reads 1/6/2025)",
    )
    command.add_argument(
        "--amounts",
        choices=AMOUNT_STYLES,
        help="how the files write amounts: plain decimals (default) or us: $1,234.56, "
        "-$20.00, ($20.00); exact to the cent either way",
    )


def _import_payments(args: argparse.Namespace) -> int:
    # The file is read as ``import --payments`` reads one: the same reader, headers and rules.
    from patient_ledger.adapters.imports import check_formats  # noqa: PLC0415 - its own subcommand

    formats = check_formats(date=args.date_format, amounts=args.amounts)
    return _import_into(args.journal, {"payments": [args.csv]}, {}, args.currency, formats)


def _import_drchrono(args: argparse.Namespace) -> int:
    from patient_ledger.adapters import drchrono  # noqa: PLC0415 - only this subcommand needs it
    from patient_ledger.report import tables  # noqa: PLC0415 - only this subcommand needs it

    _refuse_existing(args.journal, "import-drchrono", replace=args.replace)
    ledger, summary = drchrono.import_directory(
        str(args.folder), currency=args.currency, partial=args.partial
    )
    text = journal.dumps(ledger)
    replaced = _write_new(args.journal, text, "import-drchrono", replace=args.replace)
    print(
        f"wrote {len(ledger.events)} events for {len(patients(ledger))} patients to "
        f"{tables.printable(str(args.journal))}{' (replaced the file there)' * replaced}"
    )
    for line in summary.lines():  # record ids come from the export: escaped for the terminal
        print(tables.printable(line))
    if not summary.complete:
        return EXIT_PARTIAL
    if summary.reconciled:
        return EXIT_OK
    print(
        f"the journal was written; {len(summary.discrepancies)} figures do not reconcile "
        f"with DrChrono's (exit code {EXIT_UNRECONCILED})"
    )
    return EXIT_UNRECONCILED


# -- patient-ledger import: a practice's own CSV exports -------------------------------------


def _add_import(commands: Any) -> None:
    from patient_ledger.adapters.imports import (  # noqa: PLC0415 - its own subcommand
        FIELDS,
        KINDS,
    )

    command = commands.add_parser(
        "import",
        help="append a practice's CSV exports (visits, charges, payments and refunds, "
        "adjustments) to a journal, all or nothing",
        description="Post CSV exports to a journal in date order (every visit first; then "
        "each day's charges, plans, payments, adjustments, refunds). Columns are found by common "
        "names or mapped with --columns/--column. Dates YYYY-MM-DD and amounts plain "
        "decimals unless --date-format and --amounts (or the TOML's [format]) say otherwise; "
        'words for methods and types map to ours in the TOML: [values.payments.type] "Patient '
        'Payment" = "PAYMENT".',
        epilog="headers recognised without a mapping (any case; spaces or hyphens for _):\n"
        + "\n".join(
            f"  {kind + '.' + f.name:<26} {', '.join(f.names)}{' (required)' * f.required}"
            for kind in KINDS
            for f in FIELDS[kind]
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for kind in KINDS:
        command.add_argument(
            f"--{kind}",
            type=Path,
            action="append",
            default=[],
            metavar="CSV",
            help=f"{kind} export (repeat for several files)",
        )
    command.add_argument(
        "--journal", type=Path, required=True, help="the journal to append to (created if missing)"
    )
    command.add_argument(
        "--columns",
        type=Path,
        metavar="TOML",
        help='header mapping: [kind] field = "Header"; [format] date, amounts; '
        '[values.kind.field] "their word" = "NAME"',
    )
    command.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="KIND.FIELD=HEADER",
        help="map one header, e.g. payments.amount='Amount Paid' (repeatable)",
    )
    _add_formats(command)
    command.add_argument(
        "--currency", help="the currency of a new journal (default: USD; must match an old one)"
    )


def _import(args: argparse.Namespace) -> int:
    from patient_ledger.adapters.imports import (  # noqa: PLC0415 - its own subcommand
        KINDS,
        check_formats,
        check_mapping,
        load_formats,
        load_mapping,
    )

    files = {kind: getattr(args, kind) for kind in KINDS if getattr(args, kind)}
    if not files:
        print("nothing to import: give --visits, --charges, --plans, --payments or "
              "--adjustments", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    mapping: dict[str, dict[str, str]] = load_mapping(args.columns) if args.columns else {}
    for option in args.column:
        name, equals, header = option.partition("=")
        kind, dot, field = name.strip().partition(".")
        if not (equals and dot):
            print(f"--column {option!r}: write KIND.FIELD=HEADER", file=sys.stderr)
            return EXIT_USAGE
        mapping.setdefault(kind, {})[field] = header
    mapping = check_mapping(mapping, source="--column")
    declared = {"date": args.date_format, "amounts": args.amounts}
    formats = load_formats(args.columns, **declared) if args.columns else check_formats(**declared)
    return _import_into(args.journal, files, mapping, args.currency, formats)


def _import_into(
    path: Path,
    files: dict[str, list[Path]],
    mapping: dict[str, dict[str, str]],
    currency: str | None,
    formats: Formats | None,
) -> int:
    """Import CSV files into the journal at ``path`` (created if missing), all or nothing:
    what ``import`` and ``import-payments`` both do."""
    from patient_ledger.adapters.imports import import_files  # noqa: PLC0415 - its own subcommands

    # The journal's lock is held from reading it to replacing it: a second importer waits,
    # then appends to what this one wrote.
    with _files.locked(path):
        read = _files.signature(path)
        ledger = _cache.load(path) if read else Ledger.empty(currency or "USD")
        if currency is not None and currency_code(currency) != ledger.currency:
            raise CurrencyMismatchError(
                f"--currency {currency} does not match the journal's currency {ledger.currency}",
                currency=currency,
            )
        start = len(ledger.events)
        size = sum(file.stat().st_size for paths in files.values() for file in paths)
        progress = _Progress() if size >= 1_000_000 else None  # a bar only where one helps
        try:
            ledger, summary = import_files(
                ledger, files, mapping=mapping, formats=formats, progress=progress
            )
        except LedgerError as error:
            if progress:
                progress.done()
            print(f"refused: {error}", file=sys.stderr)
            state = "is unchanged" if read else "was not created"
            print(f"nothing imported: {path} {state}", file=sys.stderr)
            return EXIT_REFUSED
        if progress:
            progress.done()
        _append_journal(path, ledger, start if read else 0, read)
    print(f"{summary.text()}; written to {path}")
    for line in summary.ignored_lines():
        print(line)
    return EXIT_OK


def _append_journal(path: Path, ledger: Ledger, start: int, read: _files.Signature | None) -> None:
    """Write the ledger's events from ``start`` on after the journal's lines (``start`` 0:
    a new journal), whole or not at all, a line at a time (never the whole text in memory);
    refused if the journal changed since it was ``read``."""
    prev = journal.GENESIS
    if start:
        with path.open(encoding="utf-8") as old:
            for number, line in enumerate(old, 1):
                if line.strip():
                    prev = journal.claimed_hash(line, number)

    def chunks() -> Iterator[str]:
        if start:
            with path.open(encoding="utf-8") as old:
                for line in old:
                    yield line if line.endswith("\n") else line + "\n"  # never glued
        for _, line, _ in journal.lines(ledger, start, prev):
            yield line + "\n"

    _files.replace(path, chunks(), expected=read)


# -- patient-ledger balances: every patient's dashboard ----------------------------------------


_day = statements_cli.date_option("--on")


def _add_balances(commands: Any) -> None:
    day = _day
    command = commands.add_parser(
        "balances", help="every patient's dashboard, a row each (text, CSV or JSON)"
    )
    _add_source(command)
    command.add_argument(
        "--on",
        type=day,
        help="the balances at the end of this day, YYYY-MM-DD (default: the whole journal)",
    )
    command.add_argument("--format", choices=["text", "csv", "json"], default="text")


def _balances(args: argparse.Namespace) -> int:
    from patient_ledger.report import tables  # noqa: PLC0415 - only this subcommand needs it
    from patient_ledger.views import dashboards  # noqa: PLC0415

    every = dashboards(_load(args, views=args.on is None), on=args.on)
    view = tables.DASHBOARD
    if args.format == "json":
        print(json.dumps(tables.keyed(every), indent=2))
    elif args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(tables.csv_header(view, first=[tables.PATIENT]))
        out.writerows(tables.csv_row(view, d, first=[pid]) for pid, d in every.items())
    else:
        cells = [
            tables.text_cells(view, d, first=[tables.printable(pid)]) for pid, d in every.items()
        ]
        print(tables.text_table(view, first=[tables.PATIENT], cells=cells))
    return EXIT_OK


def _statements(args: argparse.Namespace) -> int:
    return statements_cli.run_statements(args, _load)


def _day_sheet(args: argparse.Namespace) -> int:
    return statements_cli.run_day_sheet(args, _load)


def _add_plans(commands: Any) -> None:
    command = commands.add_parser(
        "plans",
        help="the payment plan report: every active plan by next due day (text, CSV or JSON)",
    )
    _add_source(command)
    command.add_argument(
        "--on", type=_day, required=True, help="the day the figures are for, YYYY-MM-DD"
    )
    command.add_argument("--format", choices=["text", "csv", "json"], default="text")


def _plans(args: argparse.Namespace) -> int:
    from patient_ledger.report import tables  # noqa: PLC0415 - only this subcommand needs it
    from patient_ledger.views import plan_report  # noqa: PLC0415

    report = plan_report(_load(args), on=args.on)
    view = tables.PLAN_STATUS
    if args.format == "json":
        print(json.dumps([tables.unstructure(status) for status in report], indent=2))
    elif args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(tables.csv_header(view))
        out.writerows(tables.csv_row(view, status) for status in report)
    else:
        print(tables.text_table(view, report))
    return EXIT_OK


def _last_hash(text: str) -> str:
    """The hash of a checked journal text's last line (the chain continues from it)."""
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    return journal.claimed_hash(last, 0) if last else journal.GENESIS


class _Progress:
    """A rich progress bar on stderr while an import runs, shown only when stderr is a
    terminal (and, for a known total, only a long one); silent otherwise."""

    def __init__(self, total: int | None = None, out: TextIO | None = None) -> None:
        self.out = sys.stderr if out is None else out
        self.bar: Any = None
        self.task: Any = None
        if total is not None:
            self.start("importing", total)

    def start(self, phase: str, total: int | None) -> None:
        """A phase begins (``None``: its number of rows is not known yet)."""
        if not self.out.isatty() or (total is not None and total < 1000):
            self.done()
            return
        if self.bar is None:
            from rich.console import Console  # noqa: PLC0415 - only on a terminal
            from rich.progress import Progress  # noqa: PLC0415

            self.bar = Progress(console=Console(file=self.out), transient=True)
            self.bar.start()
        elif self.task is not None:
            self.bar.update(self.task, visible=False)
        self.task = self.bar.add_task(phase, total=total)

    def advance(self, rows: int = 1) -> None:
        """``rows`` more rows are done."""
        if self.bar is not None:
            self.bar.advance(self.task, rows)

    def step(self, done: int | None = None) -> None:
        """One more row is done (or, with ``done``, the bar is that far: bytes of a file)."""
        if done is None:
            self.advance(1)
        elif self.bar is not None:
            self.bar.update(self.task, completed=done)

    def done(self) -> None:
        """Take the bar off the terminal."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _refuse_existing(path: Path, command: str, *, replace: bool) -> None:
    """Refuse, before any work, to write a new file where one exists (unless ``replace``).

    Raises:
        ExistingFileError: a file (or anything else) is at ``path``.
    """
    if not replace and _files.signature(path) is not None:
        raise ExistingFileError(
            f"{path} already exists and {command} writes a whole new journal: nothing was "
            "written; give --replace to replace it, or another --journal",
            path=str(path),
        )


def _write_new(path: Path, text: str, command: str, *, replace: bool) -> bool:
    """Write ``text`` as the whole of ``path``, all or nothing, under the journal's writer
    lock (through a symlink to its target, keeping its mode; see
    :mod:`patient_ledger.persist._files`). Return True if a file was replaced.

    Raises:
        ExistingFileError: a file is at ``path`` (it may have appeared while the command
            ran) and ``replace`` is false.
    """
    with _files.locked(path):
        _refuse_existing(path, command, replace=replace)
        found = _files.signature(path)
        _files.replace(path, (text,), expected=found)
    return found is not None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


# -- patient-ledger auto-allocate: every patient's credit to their balances due -----------------


def _add_auto_allocate(commands: Any) -> None:
    from patient_ledger.values import AllocationOrder  # noqa: PLC0415 - its own subcommand

    command = commands.add_parser(
        "auto-allocate",
        help="apply every patient's unallocated credit to their balances due, and append it",
    )
    _add_source(command)
    command.add_argument(
        "--on",
        required=True,
        type=_day,
        help="the day it is done, YYYY-MM-DD: no appointment dated after it is paid",
    )
    command.add_argument(
        "--order",
        choices=[order.value.lower() for order in AllocationOrder],
        default=AllocationOrder.OLDEST_FIRST.value.lower(),
        help="oldest_first (default) or smallest_first (whole balances only)",
    )
    command.add_argument("--provider", help="pay only appointments of this provider")


def _auto_allocate(args: argparse.Namespace) -> int:
    from patient_ledger.commands import auto_allocate_all  # noqa: PLC0415 - its own subcommand
    from patient_ledger.values import AllocationOrder  # noqa: PLC0415

    def allocated(ledger: Ledger) -> Ledger:
        order = AllocationOrder(args.order.upper())
        return auto_allocate_all(ledger, on=args.on, order=order, provider=args.provider)

    url = _store_url(args.journal)
    if url is None:
        path = Path(args.journal)
        with _files.locked(path):
            read = _files.signature(path)
            if read is None:
                raise FileNotFoundError(2, "no such journal", str(path))
            before = _cache.load(path)
            after = allocated(before)
            _append_journal(path, after, len(before.events), read)
    else:
        store = open_store(url)
        try:
            before = store.load(args.name)
            after = allocated(before)
            store.save(args.name, after, expected_version=len(before.events))
        finally:
            store.close()
    added = len(after.events) - len(before.events)
    print(f"auto-allocated: {added} events appended for {len(patients(after))} patients")
    return EXIT_OK
