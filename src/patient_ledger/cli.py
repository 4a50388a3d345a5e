"""The ``patient-ledger`` command line (a shell around the core)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from patient_ledger import __version__
from patient_ledger.apply import replay
from patient_ledger.demo import SCENARIOS, run
from patient_ledger.errors import LedgerError

#: Exit codes: 0 success, 1 a ledger rule refused the input, 2 bad usage (argparse).
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patient-ledger",
        description="The money math of patient payments: allocation, unallocated credit, "
        "refunds and balances.",
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
        help="highlight the seed's green and yellow boxes in colour (default: on a terminal)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    colour = args.colour == "always" or (args.colour == "auto" and sys.stdout.isatty())
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    try:
        ledger = run(names, sys.stdout, colour=colour)
    except LedgerError as error:  # pragma: no cover - the scenarios are valid by construction
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if replay(ledger.events) != ledger:  # pragma: no cover - a broken engine, not bad input
        print("replay of the journal differs from the ledger", file=sys.stderr)
        return EXIT_REFUSED
    print(f"\nJournal: {len(ledger.events)} events; replayed and compared equal.")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
