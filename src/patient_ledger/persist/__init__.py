"""Persistence: the journal (JSON Lines), snapshots, the SQLite and PostgreSQL stores, the
snapshot cache beside a journal file, and the practice service that writes to a store.

A shell: it reaches the core through its public names (and :mod:`patient_ledger.state`'s
read interface for snapshots); the core never imports it.
"""
