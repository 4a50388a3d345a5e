"""``python -m patient_ledger``: the command line."""

import sys

from patient_ledger.cli import main

sys.exit(main())
