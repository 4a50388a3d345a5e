"""Adapters to other systems: CSV exports (:mod:`.imports`), DrChrono's API records
(:mod:`.drchrono`), FHIR resources (:mod:`.fhir`), pandas DataFrames (:mod:`.frames`) and
dashboards of shards (:mod:`.batch`).

A shell: it posts through the public commands and reads through the public views.
"""
