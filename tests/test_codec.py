"""The fast paths of the journal's text are exact: the same bytes as the slow, obvious ones."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import CURRENCIES

import patient_ledger as pl
from patient_ledger.errors import JournalError
from patient_ledger.money import MAX_MAJOR_UNITS, exponent, minor_text, to_money
from patient_ledger.persist import journal
from patient_ledger.testing import ledgers

_PLACES = sorted({exponent(code) for code in CURRENCIES})


@given(
    st.integers(-(MAX_MAJOR_UNITS * 1000), MAX_MAJOR_UNITS * 1000),
    st.sampled_from([code for code in CURRENCIES if exponent(code) in _PLACES]),
)
def test_minor_text_is_the_exact_amount_of_a_money(minor: int, code: str) -> None:
    assert minor_text(minor, exponent(code)) == str(to_money(minor, code).amount)
    assert Decimal(minor_text(minor, exponent(code))).scaleb(exponent(code)) == minor


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON)
def test_canonical_json_is_what_the_standard_library_writes(value: object) -> None:
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        expected.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 journal can hold it
        return
    assert journal._canonical(value) == expected


@settings(max_examples=40)
@given(ledgers(max_patients=3, max_steps=30))
def test_packed_lines_unpack_to_the_same_bytes(ledger: pl.Ledger) -> None:
    prev = journal.GENESIS
    for seq, line, line_hash in journal.lines(ledger):
        packed_hash, body = journal.pack(line)
        assert packed_hash.hex() == line_hash
        assert len(packed_hash) + len(body) < len(line.encode("utf-8")) / 2
        assert journal.unpack(packed_hash, body, seq, prev) == line
        prev = line_hash


def test_a_body_that_is_not_a_packed_line_is_refused() -> None:
    for body in (b"", b"\x02abc", b"\x01not zlib"):
        with pytest.raises(JournalError, match="line 8"):
            journal.unpack(bytes(32), body, 7, journal.GENESIS)
